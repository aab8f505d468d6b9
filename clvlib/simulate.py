"""Synthetic customer bases drawn from the models (NumPy), for tests and teaching.

For each model, ``<model>_rvs(params..., ...)`` draws customer summaries (the columns its
likelihood in :mod:`clvlib.likelihoods` reads); :func:`simulate_transactions` draws a whole
transaction log (BG/NBD purchases, Gamma-Gamma spend).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    who, when = bg_nbd_purchase_times(r, alpha, a, b, np.asarray(ages), rng)
    customer = np.concatenate([np.arange(n_customers), who])
    offset_days = np.concatenate([np.zeros(n_customers), unit.to_days(when)])
    timestamps = first.to_numpy()[customer] + pd.to_timedelta(offset_days, unit="D").to_numpy()
    amounts = gamma_gamma_spend_rvs(p, q, gamma, customer, n_customers, rng)
    log = pd.DataFrame({
        "customer_id": [f"C{i:07d}" for i in customer],
        "timestamp": timestamps,
        "amount": np.round(amounts, 2),
    })
    return log.sort_values(["customer_id", "timestamp"], ignore_index=True)


# --------------------------------------------------------------------------------------------
# BG/NBD (Fader, Hardie & Lee 2005)
# --------------------------------------------------------------------------------------------


def bg_nbd_purchase_times(r, alpha, a, b, T, rng=None):
    """Simulate BG/NBD repeat-purchase times for customers of ages ``T``.

    Each customer draws ``lambda ~ Gamma(r, rate=alpha)`` and ``p ~ Beta(a, b)``, then buys at
    exponential intervals until the age ``T``, dropping out after each repeat purchase with
    probability ``p``. Vectorized over customers, one round per purchase.

    Returns
    -------
    customer : ndarray of int
        The index (into ``T``) of the customer making each repeat purchase.
    time : ndarray of float
        When each repeat purchase happened, measured from the customer's first purchase.
    """
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    lam = rng.gamma(r, 1.0 / alpha, size=T.size)
    return _geometric_dropout_times(lam, rng.beta(a, b, size=T.size), T, rng)


def _geometric_dropout_times(lam, p, T, rng):
    """Poisson purchases at rates ``lam`` until ``T``, dropping out w.p. ``p`` after each."""
    clock = np.zeros(T.size)
    active = np.flatnonzero(T >= 0)
    customers, times = [], []
    while active.size:
        clock[active] += rng.exponential(1.0, size=active.size) / lam[active]
        active = active[clock[active] <= T[active]]
        customers.append(active)
        times.append(clock[active].copy())
        active = active[rng.random(active.size) >= p[active]]
    return np.concatenate(customers), np.concatenate(times)


def bg_nbd_rvs(r, alpha, a, b, T, rng=None):
    """Simulate BG/NBD summaries ``(x, t_x, T)`` for customers of ages ``T``.

    Returns
    -------
    dict of ndarray
        ``x`` (repeat purchases), ``t_x`` (time of the last one, 0 if none) and ``T``.
    """
    T = np.asarray(T, dtype=float)
    return _summaries(*bg_nbd_purchase_times(r, alpha, a, b, T, rng), T)


def _summaries(customer: np.ndarray, time: np.ndarray, T: np.ndarray) -> dict[str, np.ndarray]:
    """``x`` and ``t_x`` per customer from repeat-purchase (customer, time) pairs."""
    x = np.bincount(customer, minlength=T.size)
    t_x = np.zeros(T.size)
    np.maximum.at(t_x, customer, time)
    return {"x": x, "t_x": t_x, "T": T}


# --------------------------------------------------------------------------------------------
# MBG/NBD (Batislam, Denizel & Filiztekin 2007)
# --------------------------------------------------------------------------------------------


def mbg_nbd_rvs(r, alpha, a, b, T, rng=None):
    """Simulate MBG/NBD summaries ``(x, t_x, T)``: BG/NBD with a dropout chance at time 0."""
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    p = rng.beta(a, b, size=T.size)
    gone_at_start = rng.random(T.size) < p
    # Survivors of the first flip buy as BG/NBD customers whose p is already drawn.
    customer, time = _geometric_dropout_times(rng.gamma(r, 1.0 / alpha, size=T.size), p,
                                              np.where(gone_at_start, -1.0, T), rng)
    return _summaries(customer, time, T)


# --------------------------------------------------------------------------------------------
# Pareto/NBD (Schmittlein, Morrison & Colombo 1987)
# --------------------------------------------------------------------------------------------


def pareto_nbd_purchase_times(r, alpha, s, beta, T, rng=None):
    """Simulate Pareto/NBD repeat-purchase times for customers of ages ``T``.

    Each customer draws ``lambda ~ Gamma(r, rate=alpha)``, ``mu ~ Gamma(s, rate=beta)`` and an
    exponential lifetime with rate ``mu``; purchases are Poisson with rate ``lambda`` until the
    lifetime or ``T`` ends. Returns ``(customer, time)`` arrays as
    :func:`bg_nbd_purchase_times` does.
    """
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    lam = rng.gamma(r, 1.0 / alpha, size=T.size)
    mu = rng.gamma(s, 1.0 / beta, size=T.size)
    end = np.minimum(rng.exponential(1.0, size=T.size) / mu, T)
    counts = rng.poisson(lam * end)
    customer = np.repeat(np.arange(T.size), counts)
    # Given their number, Poisson arrival times are uniform on the observed lifetime.
    return customer, rng.uniform(0.0, 1.0, size=customer.size) * end[customer]


def pareto_nbd_rvs(r, alpha, s, beta, T, rng=None):
    """Simulate Pareto/NBD summaries ``(x, t_x, T)`` for customers of ages ``T``."""
    T = np.asarray(T, dtype=float)
    return _summaries(*pareto_nbd_purchase_times(r, alpha, s, beta, T, rng), T)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma spend (Fader, Hardie & Lee 2005; Fader & Hardie 2013)
# --------------------------------------------------------------------------------------------


def gamma_gamma_spend_rvs(p, q, gamma, customer, n_customers=None, rng=None):
    """Simulate the value of each transaction made by the customers in ``customer``.

    Each customer draws ``nu ~ Gamma(q, rate=gamma)``; each of their transactions is worth
    ``Gamma(p, rate=nu)``.

    Parameters
    ----------
    customer : array of int
        The customer index of each transaction (repeats allowed).
    n_customers : int, optional
        Number of customers (default ``customer.max() + 1``).
    """
    rng = np.random.default_rng(rng)
    customer = np.asarray(customer)
    n = int(customer.max()) + 1 if n_customers is None else n_customers
    nu = rng.gamma(q, 1.0 / gamma, size=n)
    return rng.gamma(p, 1.0, size=customer.size) / nu[customer]


def gamma_gamma_rvs(p, q, gamma, x, rng=None):
    """Simulate mean spends ``m`` for customers with ``x > 0`` repeat purchases."""
    rng = np.random.default_rng(rng)
    x = np.asarray(x)
    customer = np.repeat(np.arange(x.size), x)
    spend = gamma_gamma_spend_rvs(p, q, gamma, customer, x.size, rng)
    return np.bincount(customer, weights=spend, minlength=x.size) / x


# --------------------------------------------------------------------------------------------
# BG/BB (Fader, Hardie & Shang 2010)
# --------------------------------------------------------------------------------------------


def bg_bb_rvs(alpha, beta, gamma, delta, n, rng=None):
    """Simulate BG/BB summaries ``(x, t_x, n)`` for customers with ``n`` opportunities each.

    Each customer draws ``p ~ Beta(alpha, beta)`` and ``theta ~ Beta(gamma, delta)``. At the
    start of every opportunity a living customer drops out with probability ``theta``; if
    still alive they transact with probability ``p``. Vectorized over customers, one round per
    opportunity.

    Returns
    -------
    dict of ndarray
        ``x`` (transactions), ``t_x`` (opportunity of the last one, 0 if none) and ``n``.

    Examples
    --------
    >>> sim = bg_bb_rvs(1.204, 0.750, 0.657, 2.783, n=[6] * 1000, rng=1)
    >>> sorted(sim)
    ['n', 't_x', 'x']
    """
    rng = np.random.default_rng(rng)
    n = np.asarray(n, dtype=int).reshape(-1)
    p = rng.beta(alpha, beta, size=n.size)
    # The opportunity at whose start the customer drops out (1, 2, ...): alive before it.
    dropout = rng.geometric(rng.beta(gamma, delta, size=n.size))
    x = np.zeros(n.size, dtype=int)
    t_x = np.zeros(n.size, dtype=int)
    for t in range(1, int(n.max(initial=0)) + 1):
        buys = (t < dropout) & (t <= n) & (rng.random(n.size) < p)
        x += buys
        t_x[buys] = t
    return {"x": x, "t_x": t_x, "n": n}


# --------------------------------------------------------------------------------------------
# sBG (Fader & Hardie 2007)
# --------------------------------------------------------------------------------------------


def sbg_churn_times(alpha, beta, size, rng=None):
    """Simulate sBG lifetimes: the period (1, 2, ...) at whose end each customer churns."""
    rng = np.random.default_rng(rng)
    return rng.geometric(rng.beta(alpha, beta, size=size))


def sbg_rvs(alpha, beta, horizon, rng=None):
    """Simulate individual sBG churn records for customers observed for ``horizon`` periods.

    Returns
    -------
    dict of ndarray
        ``duration`` (the churn period, or ``horizon`` for customers still active) and
        ``churned`` (1 if the customer churned by the end of ``horizon``).

    Examples
    --------
    >>> records = sbg_rvs(0.704, 1.182, horizon=[7] * 1000, rng=1)
    >>> int(records["duration"].max())
    7
    """
    horizon = np.asarray(horizon, dtype=int).reshape(-1)
    lifetime = sbg_churn_times(alpha, beta, horizon.size, rng)
    churned = lifetime <= horizon
    return {"duration": np.where(churned, lifetime, horizon), "churned": churned.astype(int)}
