"""Special functions the closed forms need, in NumPy, accurate over the whole parameter range.

- :func:`log_rising`: ``log (a)_m``, the log of a rising factorial, accurate for large ``a``
  where a difference of log-gammas loses every digit.

These are NumPy only: the PyTensor likelihoods in :mod:`clvlib.likelihoods` use tables of sums
of logarithms instead (exact for the whole-number steps of the data).
"""

from __future__ import annotations

import numpy as np
from scipy import special

# From here up, log Gamma(a+m) - log Gamma(a) is taken inside Stirling's series.
_STIRLING_FROM = 10.0


def _stirling_tail(z):
    """log Gamma(z) - [(z - 1/2) log z - z + log(2 pi)/2] for z >= 10: Stirling's series to
    z^-7, truncation error below 1e-12 (Abramowitz & Stegun 6.1.41)."""
    z2 = z * z
    return (1 / 12 - (1 / 360 - (1 / 1260 - 1 / (1680 * z2)) / z2) / z2) / z


def log_rising(a, m):
    """NumPy: log (a)_m = log Gamma(a+m) - log Gamma(a), accurate for large ``a`` too.

    For ``a >= 10`` the difference is taken inside Stirling's series,
    ``(a - 1/2) log1p(m/a) + m log(a+m) - m + tail(a+m) - tail(a)`` (absolute error below
    1e-12); below, as a difference of log-gammas, which is accurate there.

    Examples
    --------
    >>> round(float(log_rising(1e8, 1.0)), 10)  # log(1e8); a gammaln difference: 18.4206805
    18.420680744
    """
    a, m = np.asarray(a, dtype=float), np.asarray(m, dtype=float)
    big, small = np.maximum(a, _STIRLING_FROM), np.minimum(a, _STIRLING_FROM)
    stirling = ((big - 0.5) * np.log1p(m / big) + m * np.log(big + m) - m
                + _stirling_tail(big + m) - _stirling_tail(big))
    direct = special.gammaln(small + m) - special.gammaln(small)
    return np.where(a >= _STIRLING_FROM, stirling, direct)
