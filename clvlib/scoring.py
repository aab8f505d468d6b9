"""Scoring a customer base in one pass: P(alive), expected purchases and CLV with intervals.

Every purchase model factors its conditional expectation as
``E[Y(t) | x, t_x, T] = E[Y(t) | alive, x, T] * P(alive | x, t_x, T)``. The first factor, the
expensive one (a hypergeometric function for (M)BG/NBD), depends on ``(x, T)`` only, so it is
computed once per distinct ``(x, T)`` pair and draw; P(alive) is computed once per distinct
``(x, t_x, T)`` row; only CLV, which also needs each customer's spend, is computed per customer.
Customers are processed in chunks sorted by ``(x, T, t_x)``, so memory stays at a few chunks of
customers x draws whatever the size of the base.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvlib import expectations as ex
from clvlib.models.base import PurchaseModel, _customer_frame
from clvlib.models.gamma_gamma import GammaGammaModel
from clvlib.predict import DEFAULT_CHUNK_CELLS, Prediction, summarize_draws, summarize_product
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


def paired_draws(first: dict, second: dict) -> dict:
    """Pair draws of two independently fitted models (a single MAP draw is repeated)."""
    n1, n2 = len(next(iter(first.values()))), len(next(iter(second.values())))
    n = max(n1, n2) if 1 in (n1, n2) else min(n1, n2)

    def pick(values, size):
        return np.resize(values, n) if size == 1 else values[:n]

    return {**{k: pick(v, n1) for k, v in first.items()},
            **{k: pick(v, n2) for k, v in second.items()}}


def score_customers(
    purchase_model: PurchaseModel,
    spend_model: GammaGammaModel | None = None,
    customers=None,
    *,
    horizon: float = 52,
    annual_discount_rate: float = 0.10,
    n_draws: int | None = 1000,
    seed: int = 0,
    interval: float = 0.9,
    chunk_cells: int = DEFAULT_CHUNK_CELLS,
) -> dict[str, Prediction]:
    """P(alive), expected purchases over ``horizon`` and (with a spend model) CLV, per customer.

    CLV is, per posterior draw, the customer's expected spend per purchase (Gamma-Gamma) times
    their expected purchases in each month of the horizon, each month discounted to today at
    ``annual_discount_rate``. Draws of both models are used, so intervals carry the
    uncertainty of purchases and of spend.

    Parameters
    ----------
    purchase_model : PurchaseModel
        Fitted BG/NBD, MBG/NBD or Pareto/NBD; ``horizon`` is in its time unit.
    spend_model : GammaGammaModel, optional
        Fitted spend model; without it there is no CLV.
    customers : CustomerSummary or DataFrame, optional
        Customers to score (default: those the purchase model was fitted to); CLV needs a
        ``monetary`` column.
    n_draws : int, optional
        Posterior draws used from each model (default 1000; None for all).
    seed : int
        Picks the draws; the same seed gives the same numbers.
    interval : float
        Probability of the central credible intervals.
    chunk_cells : int
        Customers x draws evaluated at once (memory: about 40 bytes per cell).

    Returns
    -------
    dict of Prediction
        ``"p_alive"``, ``"expected_purchases"`` and, with a spend model, ``"clv"``.

    Examples
    --------
    >>> scores = score_customers(bg_nbd, gamma_gamma, horizon=52)  # doctest: +SKIP
    >>> scores["clv"].per_customer.nlargest(5, "mean")  # doctest: +SKIP
    """
    frame = purchase_model.customers if customers is None else _customer_frame(customers)
    unit = purchase_model.time_unit
    ends, factors = discount_schedule(horizon, unit.days, annual_discount_rate)
    draws = purchase_model.posterior_draws(n_draws, seed)
    if spend_model is not None:
        if "monetary" not in frame.columns:
            raise ValueError("CLV needs a 'monetary' column (mean repeat spend per customer)")
        draws = paired_draws(draws, spend_model.posterior_draws(n_draws, seed + 1))
    n = len(next(iter(draws.values())))
    params = {k: draws[k][None, :] for k in purchase_model.params}
    spend = {k: draws[k][None, :] for k in ("p", "q", "gamma")} if spend_model else None
    model = purchase_model.expectations

    x = frame["x"].to_numpy(dtype=float)
    t_x, T = frame["t_x"].to_numpy(dtype=float), frame["T"].to_numpy(dtype=float)
    m = frame["monetary"].fillna(0.0).to_numpy(dtype=float) if spend_model else None
    order = np.lexsort((t_x, T, x))
    names = {"p_alive": "P(alive)",
             "expected_purchases": f"expected repeat purchases in the next {horizon:g} "
                                   f"{unit.plural}"}
    if spend_model is not None:
        names["clv"] = (f"CLV over the next {horizon:g} {unit.plural} at "
                        f"{annual_discount_rate:.0%} a year")
    stats = {k: np.empty((len(frame), 3)) for k in names}
    totals = {k: np.zeros(n) for k in names}
    step = max(1, chunk_cells // n)
    for start in range(0, len(frame), step):
        chunk = order[start:start + step]
        cx, ctx, cT = x[chunk], t_x[chunk], T[chunk]
        # E[Y | alive] per distinct (x, T): at the horizon, and summed over discounted months.
        pairs, pair_of = np.unique(np.column_stack([cx, cT]), axis=0, return_inverse=True)
        px, pT = pairs[:, :1], pairs[:, 1:]
        alive_at = [model.expected_purchases_alive(**params, x=px, T=pT, t=t) for t in ends]
        # P(alive) per distinct (x, t_x, T) row of the chunk.
        rows, row_of = np.unique(np.column_stack([cx, ctx, cT]), axis=0, return_inverse=True)
        p_alive = model.p_alive(**params, x=rows[:, :1], t_x=rows[:, 1:2], T=rows[:, 2:])
        row_pair = pair_of[np.unique(row_of, return_index=True)[1]]
        purchases = alive_at[-1][row_pair] * p_alive
        weights = np.bincount(row_of, minlength=len(rows))
        for key, values in (("p_alive", p_alive), ("expected_purchases", purchases)):
            mean, lo, hi = summarize_draws(values, interval)
            stats[key][chunk] = np.column_stack([mean, lo, hi])[row_of]
            totals[key] += weights @ values
        if spend_model is not None:
            discounted = factors[0] * alive_at[0]
            for k in range(1, len(ends)):
                discounted += factors[k] * (alive_at[k] - alive_at[k - 1])
            per_purchase = ex.gamma_gamma_expected_spend(**spend, x=cx[:, None], m=m[chunk, None])
            *summary, total = summarize_product(
                (per_purchase, discounted, p_alive),
                (np.arange(len(chunk)), pair_of, row_of), interval,
            )
            stats["clv"][chunk] = np.column_stack(summary)
            totals["clv"] += total
    return {
        key: Prediction(names[key], pd.DataFrame(stats[key], index=frame.index,
                                                 columns=["mean", "lower", "upper"]),
                        totals[key], interval)
        for key in names
    }
