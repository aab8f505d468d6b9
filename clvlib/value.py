"""Customer lifetime value with full posterior uncertainty, and how concentrated value is."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvlib.models.base import PurchaseModel
from clvlib.models.gamma_gamma import GammaGammaModel
from clvlib.predict import Prediction
from clvlib.scoring import score_customers


def customer_lifetime_value(
    purchase_model: PurchaseModel,
    spend_model: GammaGammaModel,
    customers=None,
    *,
    horizon: float = 52,
    annual_discount_rate: float = 0.10,
    n_draws: int | None = 1000,
    seed: int = 0,
    interval: float = 0.9,
    predictive: bool = False,
) -> Prediction:
    """Discounted value of each customer's future purchases, with intervals.

    For each posterior draw, expected CLV is the customer's expected spend per purchase
    (Gamma-Gamma) times their expected purchases over the horizon (the purchase model), each
    purchase discounted from when it is expected (:mod:`clvlib.discounting`). Both models'
    draws are used, so the credible interval carries the uncertainty of purchases and of
    spend. With ``predictive=True`` the posterior predictive CLV instead: each customer's
    purchases, dropout and spend drawn, so the interval holds what the customer will actually
    be worth with probability ``interval``. This is the ``"clv"`` (or ``"clv_predictive"``)
    entry of :func:`clvlib.scoring.score_customers`, which also returns P(alive) and
    purchases from the same pass.

    Parameters
    ----------
    purchase_model : PurchaseModel
        Fitted purchase model (BG/NBD, MBG/NBD, Pareto/NBD); ``horizon`` is in its time unit.
    spend_model : GammaGammaModel
        Fitted spend model.
    customers : CustomerSummary or DataFrame, optional
        Customers to value (default: those the purchase model was fitted to); needs ``x``,
        ``t_x``, ``T`` and ``monetary``.
    horizon : float
        How far ahead to count purchases, in the purchase model's time unit; ``numpy.inf``
        for the residual value over the customer's remaining lifetime.
    annual_discount_rate : float
        Annual effective discount rate, e.g. 0.10 for 10% (:class:`clvlib.discounting.Discount`).
    n_draws : int, optional
        Posterior draws used from each model (default 1000; None for all).
    seed : int
        Picks the draws; the same seed gives the same numbers.
    interval : float
        Probability of the central interval.
    predictive : bool
        The posterior predictive CLV instead of the expected one (finite horizons only).
    """
    key = "clv_predictive" if predictive else "clv"
    return score_customers(
        purchase_model, spend_model, customers, horizon=horizon,
        annual_discount_rate=annual_discount_rate, n_draws=n_draws, seed=seed, interval=interval,
        predictions=[key],
    )[key]


# ---------------------------------------------------------------------------------------------
# Concentration of value
# ---------------------------------------------------------------------------------------------


def _concentration_values(values) -> np.ndarray:
    """Values whose concentration can be measured: finite and >= 0 (never clipped, so that a
    figure and a table of the same values agree), with a positive total."""
    v = np.asarray(values, dtype=float)
    if not np.isfinite(v).all():
        raise ValueError(f"{int((~np.isfinite(v)).sum()):,} value(s) are not finite")
    if (v < 0).any():
        raise ValueError(
            f"{int((v < 0).sum()):,} value(s) are negative (the lowest {v.min():,.2f}): shares "
            "of a total are only defined for values >= 0; measure concentration on revenue, or "
            "show negative margins separately"
        )
    if not v.sum() > 0:
        raise ValueError("the values sum to 0: there is no value to be concentrated")
    return v


def lorenz_curve(values) -> pd.DataFrame:
    """Cumulative share of value against cumulative share of customers, least valuable first.

    Raises
    ------
    ValueError
        For negative or non-finite values, or a zero total (see :func:`top_share`).
    """
    v = np.sort(_concentration_values(values))
    total = v.sum()
    return pd.DataFrame({
        "customer_share": np.concatenate([[0.0], np.arange(1, v.size + 1) / v.size]),
        "value_share": np.concatenate([[0.0], np.cumsum(v) / total]),
    })


def gini(values) -> float:
    """Gini coefficient: 0 if every customer is worth the same, near 1 if one holds it all."""
    curve = lorenz_curve(values)
    area = np.trapezoid(curve["value_share"], curve["customer_share"])
    return float(1 - 2 * area)


def top_share(values, fraction: float = 0.1) -> float:
    """Share of total value held by the most valuable ``fraction`` of customers.

    Raises
    ------
    ValueError
        For negative or non-finite values (never clipped: a clipped share would disagree with
        the table beside it), or a zero total.
    """
    v = np.sort(_concentration_values(values))[::-1]
    k = max(1, int(round(fraction * v.size)))
    return float(v[:k].sum() / v.sum())


def decile_table(values: pd.Series) -> pd.DataFrame:
    """Customers in ten equal groups by value, most valuable first, with each group's share."""
    v = values.sort_values(ascending=False)
    decile = np.minimum(np.arange(v.size) * 10 // v.size + 1, 10)
    table = v.groupby(decile).agg(customers="size", mean_value="mean", total_value="sum")
    table["share_of_value"] = table["total_value"] / v.sum()
    table["cumulative_share"] = table["share_of_value"].cumsum()
    table.index.name = "decile"
    return table
