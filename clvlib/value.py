"""Customer lifetime value with full posterior uncertainty, and how concentrated value is."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvlib import expectations as ex
from clvlib.compression import CompressedRows
from clvlib.models.base import PurchaseModel, _customer_frame
from clvlib.models.gamma_gamma import GammaGammaModel
from clvlib.predict import Prediction, posterior_predict
from clvlib.timeunits import DAYS_PER_YEAR


def discount_schedule(horizon: float, unit_days: float, annual_discount_rate: float):
    """Monthly step ends (in the time unit) up to ``horizon`` and their discount factors.

    Value earned in a step is discounted from the step's end: ``(1 + rate) ** -years``.
    """
    if horizon <= 0:
        raise ValueError(f"horizon={horizon!r} must be positive")
    if annual_discount_rate < 0:
        raise ValueError(f"annual_discount_rate={annual_discount_rate!r} must be >= 0")
    n_steps = max(1, round(horizon * unit_days / (DAYS_PER_YEAR / 12)))
    ends = horizon * np.arange(1, n_steps + 1) / n_steps
    factors = (1 + annual_discount_rate) ** (-ends * unit_days / DAYS_PER_YEAR)
    return ends, factors


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
) -> Prediction:
    """Discounted value of each customer's future purchases, with credible intervals.

    For each posterior draw, CLV is the customer's expected spend per purchase (Gamma-Gamma)
    times their expected purchases in each month of the horizon (the purchase model), each month
    discounted to today. Both models' draws are used, so the interval carries the
    uncertainty of purchases and of spend.

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
        How far ahead to count purchases, in the purchase model's time unit.
    annual_discount_rate : float
        Yearly discount rate, e.g. 0.10 for 10%.
    n_draws : int, optional
        Posterior draws used from each model (default 1000; None for all).
    seed : int
        Picks the draws; the same seed gives the same numbers.
    interval : float
        Probability of the central credible interval.
    """
    unit = purchase_model.time_unit
    ends, factors = discount_schedule(horizon, unit.days, annual_discount_rate)
    frame = purchase_model.customers if customers is None else _customer_frame(customers)
    if "monetary" not in frame.columns:
        raise ValueError("customer_lifetime_value needs a 'monetary' column (mean repeat spend)")
    data = frame.assign(m=frame["monetary"].fillna(0.0))
    rows = CompressedRows.from_frame(data, ("x", "t_x", "T", "m"))
    draws = _paired_draws(
        purchase_model.posterior_draws(n_draws, seed),
        spend_model.posterior_draws(n_draws, seed + 1),
    )

    expected_purchases = purchase_model.expectations.expected_purchases
    purchase_params = purchase_model.params

    def clv(x, t_x, T, m, **draws):
        params = {k: draws[k] for k in purchase_params}
        spend = ex.gamma_gamma_expected_spend(draws["p"], draws["q"], draws["gamma"], x, m)
        purchases = 0.0
        previous = 0.0
        for end, factor in zip(ends, factors, strict=True):
            cumulative = expected_purchases(**params, x=x, t_x=t_x, T=T, t=end)
            purchases = purchases + factor * (cumulative - previous)
            previous = cumulative
        return spend * purchases

    name = (
        f"CLV over the next {horizon:g} {unit.plural} at {annual_discount_rate:.0%} a year"
    )
    return posterior_predict(clv, draws, rows, frame.index, name=name, interval=interval)


def _paired_draws(first: dict, second: dict) -> dict:
    """Pair draws of two independently fitted models (a single MAP draw is repeated)."""
    n1, n2 = len(next(iter(first.values()))), len(next(iter(second.values())))
    n = max(n1, n2) if 1 in (n1, n2) else min(n1, n2)
    pick = lambda d, k: np.resize(d, n) if k == 1 else d[:n]  # noqa: E731
    return {**{k: pick(v, n1) for k, v in first.items()},
            **{k: pick(v, n2) for k, v in second.items()}}


# ---------------------------------------------------------------------------------------------
# Concentration of value
# ---------------------------------------------------------------------------------------------


def lorenz_curve(values) -> pd.DataFrame:
    """Cumulative share of value against cumulative share of customers, least valuable first."""
    v = np.sort(np.clip(np.asarray(values, dtype=float), 0, None))
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
    """Share of total value held by the most valuable ``fraction`` of customers."""
    v = np.sort(np.clip(np.asarray(values, dtype=float), 0, None))[::-1]
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
