"""Synthetic transaction logs and bases with covariates, for tests, teaching and benchmarks.

Each model draws its own customer summaries (``clvlib.models.<model>.rvs``: the columns its
likelihood reads); here :func:`simulate_transactions` draws a whole transaction log (BG/NBD
purchases, Gamma-Gamma spend) and :func:`linked_scale` gives each customer their parameters
from covariates, for any model's simulator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvlib.models import bg_nbd, gamma_gamma
from clvlib.timeunits import TimeUnit


def simulate_transactions(
    n_customers: int,
    *,
    r: float, alpha: float, a: float, b: float,
    p: float, q: float, gamma: float,
    start: str = "2024-01-01",
    acquisition_days: int = 90,
    end: str = "2025-06-30",
    time_unit: str = "week",
    rng=None,
) -> pd.DataFrame:
    """Draw a transaction log from BG/NBD (purchases) and Gamma-Gamma (spend).

    Customers make their first purchase on a day drawn uniformly from the first
    ``acquisition_days`` days after ``start``; repeat purchases follow BG/NBD with parameters
    ``r, alpha, a, b`` (``alpha`` in ``time_unit``) until ``end``; every purchase's value follows
    Gamma-Gamma with ``p, q, gamma``.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, ``timestamp``, ``amount``; one row per purchase.
    """
    rng = np.random.default_rng(rng)
    unit = TimeUnit.parse(time_unit)
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    first_day = rng.integers(0, acquisition_days, size=n_customers)
    first = start_ts + pd.to_timedelta(first_day, unit="D")
    ages = unit.from_days((end_ts - first) / pd.Timedelta(days=1))
    who, when = bg_nbd.purchase_times(r, alpha, a, b, np.asarray(ages), rng)
    customer = np.concatenate([np.arange(n_customers), who])
    offset_days = np.concatenate([np.zeros(n_customers), unit.to_days(when)])
    timestamps = first.to_numpy()[customer] + pd.to_timedelta(offset_days, unit="D").to_numpy()
    amounts = gamma_gamma.spend_rvs(p, q, gamma, customer, n_customers, rng)
    log = pd.DataFrame({
        "customer_id": [f"C{i:07d}" for i in customer],
        "timestamp": timestamps,
        "amount": np.round(amounts, 2),
    })
    return log.sort_values(["customer_id", "timestamp"], ignore_index=True)


def linked_scale(scale: float, design, coefficients, sign: float = -1.0) -> np.ndarray:
    """Per-customer parameters ``scale * exp(sign * x_i'g)`` for simulating with covariates.

    Every simulator here takes a per-customer array wherever it takes a population parameter,
    so a base with covariates is drawn by passing, e.g., Pareto/NBD's ``alpha_i =
    linked_scale(alpha, X, g_purchase)`` and ``beta_i = linked_scale(beta, X, g_dropout)``
    (the links of the models' ``covariate_links``), and a base with groups by passing each
    customer its group's value.

    Examples
    --------
    >>> linked_scale(2.0, [[0.0], [1.0]], [np.log(2.0)]).round(6).tolist()
    [2.0, 1.0]
    """
    design = np.atleast_2d(np.asarray(design, dtype=float))
    return scale * np.exp(sign * design @ np.asarray(coefficients, dtype=float))


