"""How the report writes numbers: one helper per kind, used by the prose and the figures alike,
so a sentence and the figure beside it print the same number.
"""

from __future__ import annotations

import math

#: At most this many decimals of a percentage are shown to keep a share off 0% or 100%.
MAX_SHARE_DECIMALS = 10


def share(value: float, decimals: int = 0) -> str:
    """A share (0.25) as a percentage ("25%"), rounded honestly.

    A share that is not exactly 0 or 1 never prints as "0%" or "100%": decimals are added
    until the first digit that tells it apart shows (597 of 600 is "99.5%", 1 of 10,000 is
    "0.01%"). Negative shares keep their sign ("-3%"); "-0%" never appears.

    Parameters
    ----------
    value : float
        The share, 1 for all.
    decimals : int
        Decimals of the percentage when they suffice.

    Raises
    ------
    ValueError
        When ``value`` is not finite (a NaN share is an error upstream, not a number to print).

    Examples
    --------
    >>> share(597 / 600)
    '99.5%'
    >>> share(0.0031)
    '0.3%'
    >>> share(0.25, 1)
    '25.0%'
    >>> share(1.0), share(0.0)
    ('100%', '0%')
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"a share must be a finite number, got {value}")
    if value in (0.0, 1.0):
        return f"{value * 100:.{decimals}f}%"
    for digits in range(decimals, MAX_SHARE_DECIMALS + 1):
        text = f"{value * 100:.{digits}f}"
        if float(text) not in (0.0, 100.0):
            return f"{text}%"
    return f"{value * 100:.{MAX_SHARE_DECIMALS}f}%"


def share_of(count: float, total: float, decimals: int = 0) -> str:
    """``count / total`` as :func:`share` writes it (``total`` must be positive)."""
    if not total > 0:
        raise ValueError(f"a share needs a positive total, got {total}")
    return share(count / total, decimals)


def signed_share(value: float, decimals: int = 1) -> str:
    """A relative change with its sign ("+3.2%", "-0.4%"), rounded as :func:`share` does."""
    text = share(value, decimals)
    return text if text.startswith("-") else f"+{text}"


def amount(value: float, decimals: int = 0) -> str:
    """A money amount or count with thousands separators ("12,345")."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"an amount must be a finite number, got {value}")
    text = f"{value:,.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def money(value: float, currency: str = "", decimals: int = 0) -> str:
    """An amount of money with its currency label ("1,234 USD"; no label when ``currency`` is
    empty)."""
    text = amount(value, decimals)
    return f"{text} {currency}" if currency else text


def duration(value: float, unit_plural: str) -> str:
    """A length of time to one decimal ("39.9 weeks")."""
    return f"{amount(value, 1)} {unit_plural}"


def log_points(value: float) -> str:
    """A log density or a difference of them, to a tenth of a log point ("-95,341.2")."""
    return amount(value, 1)
