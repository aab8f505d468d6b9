"""Synthetic customer bases drawn from the models (NumPy), for tests and teaching.

For each model, ``<model>_rvs(params..., ...)`` draws customer summaries (the columns its
likelihood in :mod:`clvlib.likelihoods` reads); :func:`simulate_transactions` draws a whole
transaction log (BG/NBD purchases, Gamma-Gamma spend).
"""

from __future__ import annotations

import numba
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


# --------------------------------------------------------------------------------------------
# BG/NBD (Fader, Hardie & Lee 2005)
# --------------------------------------------------------------------------------------------


def bg_nbd_purchase_times(r, alpha, a, b, T, rng=None):
    """Simulate BG/NBD repeat-purchase times for customers of ages ``T``.

    Each customer draws ``lambda ~ Gamma(r, rate=alpha)`` and ``p ~ Beta(a, b)``, then buys at
    exponential intervals until the age ``T``, dropping out after each repeat purchase with
    probability ``p``. Vectorized over customers, one round per purchase. Parameters may be
    per-customer arrays (covariates: :func:`linked_scale`).

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


# --------------------------------------------------------------------------------------------
# Each customer's future given their history: the posterior predictive of what will happen
# --------------------------------------------------------------------------------------------
# Given the population parameters, a customer's latent traits have a closed-form posterior
# that is a two-part mixture: "alive at T" (probability P(alive)) or "gone". Given alive, the
# likelihood factorizes, so (BG/NBD, FHL 2005 eq. 3) lambda ~ Gamma(r + x, alpha + T) and
# p ~ Beta(a, b + x) (MBG/NBD: b + x + 1, one more coin flip survived); Pareto/NBD: lambda as
# above and mu ~ Gamma(s, beta + T) (memoryless: the remaining lifetime is Exp(mu)). Spend
# (Gamma-Gamma): nu ~ Gamma(p x + q, gamma + x m), and each purchase is worth Gamma(p, nu).
# The future is then drawn as the model tells it: exponential gaps at rate lambda until the
# horizon, a dropout coin after each purchase (or the end of the lifetime), each purchase's
# value discounted from its own time. Written with Numba because the draws are a loop over
# purchases of varying number per customer and draw, which NumPy cannot vectorize without
# materializing the longest customer's purchases for everyone.

FUTURE_KINDS = {"bg_nbd": 0, "mbg_nbd": 1, "pareto_nbd": 2}


def customer_seeds(index: pd.Index, seed: int) -> np.ndarray:
    """One 32-bit seed per customer from its id and ``seed``: a customer's draws do not depend
    on which other customers are scored with it, or in which order (chunks, Spark batches)."""
    # Ids hashed by their text, so that an id read as a string by one engine and as another
    # string type (or a number) by another still gets the same draws.
    text = np.asarray(pd.Index(index).astype(str), dtype=object)
    hashed = pd.util.hash_array(text, categorize=False)
    mixed = hashed ^ np.uint64(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0])
    return (mixed % np.uint64(2**31 - 1)).astype(np.int64)  # the spend stream adds 2**31


def simulate_future(kind: str, params, x, T, p_alive, horizon: float, *, delta: float = 0.0,
                    spend=None, m=None, seeds=None):
    """Draw each customer's future purchases (and discounted spend) once per parameter draw.

    Parameters
    ----------
    kind : {"bg_nbd", "mbg_nbd", "pareto_nbd"}
        The purchase model.
    params : sequence of four ndarray
        Draws of the model's parameters in its order (``r, alpha, a, b`` or
        ``r, alpha, s, beta``): ``(S,)`` or ``(1, S)`` for all customers alike, ``(c, S)`` for
        each customer's own (linked to covariates).
    x, T : ndarray
        ``(c,)`` repeat purchases and age of each customer.
    p_alive : ndarray
        ``(c, S)`` P(alive) of each customer under each draw.
    horizon : float
        How far ahead, in the time unit.
    delta : float
        Continuous discount rate per time unit (:meth:`clvlib.discounting.Discount.per_unit`).
    spend : sequence of three ndarray, optional
        Draws of Gamma-Gamma's ``p, q, gamma`` (shaped as ``params``); with ``m`` (mean repeat
        spend), the
        discounted value of the drawn purchases is returned too.
    seeds : ndarray of int, optional
        One seed per customer (:func:`customer_seeds`); default ``0 .. c-1``.

    Returns
    -------
    counts : ndarray
        ``(c, S)`` purchases in the horizon.
    value : ndarray or None
        ``(c, S)`` their discounted value (with ``spend``).
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    T = np.ascontiguousarray(T, dtype=np.float64)
    c, n_draws = p_alive.shape
    seeds = np.arange(c, dtype=np.int64) if seeds is None else np.asarray(seeds, dtype=np.int64)
    if kind not in FUTURE_KINDS:
        raise ValueError(f"no predictive draws for {kind!r}; models with them: "
                         f"{', '.join(FUTURE_KINDS)}")
    with_spend = spend is not None
    spend = spend if with_spend else (np.ones(n_draws),) * 3

    def per_customer(v):  # (c, S) views: a shared draw is not copied per customer
        return np.broadcast_to(np.asarray(v, dtype=np.float64), (c, n_draws))

    m = np.zeros(c) if m is None else np.ascontiguousarray(m, dtype=np.float64)
    counts, value = _future_kernel(
        FUTURE_KINDS[kind], *(per_customer(v) for v in params),
        x, T, np.ascontiguousarray(p_alive, dtype=np.float64), float(horizon), float(delta),
        *(per_customer(v) for v in spend), m, with_spend, seeds,
    )
    return counts, (value if with_spend else None)


@numba.njit(cache=True)
def _future_kernel(kind, r, alpha, third, fourth, x, T, p_alive, horizon, delta,
                   sp, sq, sgamma, m, with_spend, seeds):
    # Purchases and spend use separate random streams (each customer's seed, then the seed
    # plus 2**31): the purchases drawn are the same whether or not spend is asked for. Each
    # purchase's discount factor is kept until its spend is drawn.
    # The legacy np.random API is the one Numba compiles (hence the noqa: NPY002 below).
    c, n_draws = p_alive.shape
    counts = np.zeros((c, n_draws))
    value = np.zeros((c, n_draws))
    factors = np.empty(1024)
    starts = np.zeros(n_draws + 1, dtype=np.int64)
    for i in range(c):
        np.random.seed(seeds[i])  # noqa: NPY002
        k = 0
        for s in range(n_draws):
            starts[s] = k
            if np.random.random() >= p_alive[i, s]:  # noqa: NPY002
                continue
            lam = np.random.gamma(r[i, s] + x[i], 1.0 / (alpha[i, s] + T[i]))  # noqa: NPY002
            end, p = horizon, 0.0
            if kind == 2:
                mu = np.random.gamma(third[i, s], 1.0 / (fourth[i, s] + T[i]))  # noqa: NPY002
                end = min(horizon, np.random.exponential(1.0 / mu))  # noqa: NPY002
            else:
                extra = 1.0 if kind == 1 else 0.0
                p = np.random.beta(third[i, s], fourth[i, s] + x[i] + extra)  # noqa: NPY002
            t, n = 0.0, 0
            while True:
                t += np.random.exponential(1.0 / lam)  # noqa: NPY002
                if t > end:
                    break
                n += 1
                if with_spend:
                    if k == factors.size:
                        grown = np.empty(2 * factors.size)
                        for j in range(k):  # a loop: slice assignment compiles for 0.5 s
                            grown[j] = factors[j]
                        factors = grown
                    factors[k] = np.exp(-delta * t)
                    k += 1
                if kind != 2 and np.random.random() < p:  # noqa: NPY002
                    break
            counts[i, s] = n
        starts[n_draws] = k
        if not with_spend:
            continue
        np.random.seed(seeds[i] + 2**31)  # noqa: NPY002
        for s in range(n_draws):
            if starts[s + 1] == starts[s]:
                continue
            rate = sgamma[i, s] + x[i] * m[i]
            nu = np.random.gamma(sp[i, s] * x[i] + sq[i, s], 1.0 / rate)  # noqa: NPY002
            total = 0.0
            for j in range(starts[s], starts[s + 1]):
                total += factors[j] * np.random.gamma(sp[i, s], 1.0 / nu)  # noqa: NPY002
            value[i, s] = total
    return counts, value
