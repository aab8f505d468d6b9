"""Every likelihood clvlib fits, written once in PyTensor, and a simulator for each.

Each model has three pieces here:

- ``<model>_logp(params..., data...)``: the log-likelihood of each customer (row) as a PyTensor
  expression, in the notation of the paper it comes from. Models use it for pointwise
  log-likelihoods (model comparison) and tests check it against published numbers.
- ``<model>_loglike(params..., rows)``: the total over :class:`~clvlib.compression.CompressedRows`,
  each distinct row weighted by its count. It adds up the same two parts as ``_logp``, but sums
  the part that depends on ``x`` alone over the distinct values of ``x`` (a few dozen) instead of
  over every row: exact, and it removes most ``gammaln`` calls from the sampler's inner loop.
- ``<model>_rvs(params..., ...)``: a simulator (NumPy) drawing customers from the model.

Parameters may be PyTensor variables or NumPy values; data are NumPy arrays.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from clvlib.compression import CompressedRows

# --------------------------------------------------------------------------------------------
# BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", eq. (6).
# Purchases follow a Poisson process with rate lambda ~ Gamma(r, alpha) while the customer is
# alive; after each repeat purchase the customer drops out with probability p ~ Beta(a, b).
# --------------------------------------------------------------------------------------------


def _bg_nbd_x_part(r, alpha, a, b, x):
    """The terms of the BG/NBD log-likelihood that depend on the data only through ``x``."""
    return (
        pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha)
        + pt.gammaln(a + b) + pt.gammaln(b + x) - pt.gammaln(b) - pt.gammaln(a + b + x)
    )


def _bg_nbd_timing_part(r, alpha, a, b, x, t_x, T):
    """log[(alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x)], computed without overflow."""
    alive_throughout = -(r + x) * pt.log(alpha + T)
    # max(x, 1) keeps log(b + x - 1) finite (and its gradient) on rows where x = 0,
    # which the switch then discards.
    dropped_after_last = (
        pt.log(a) - pt.log(b + pt.maximum(x, 1) - 1) - (r + x) * pt.log(alpha + t_x)
    )
    return pt.switch(
        pt.gt(x, 0), pt.logaddexp(alive_throughout, dropped_after_last), alive_throughout
    )


def bg_nbd_logp(r, alpha, a, b, x, t_x, T):
    """BG/NBD log-likelihood of each customer (FHL 2005, eq. 6).

    Parameters
    ----------
    r, alpha : scalar
        Shape and rate of the gamma distribution of purchase rates.
    a, b : scalar
        Shape parameters of the beta distribution of dropout probabilities.
    x, t_x, T : array
        Repeat purchases, recency and age of each customer, in one time unit.

    Returns
    -------
    TensorVariable
        One log-likelihood per customer.
    """
    return _bg_nbd_x_part(r, alpha, a, b, x) + _bg_nbd_timing_part(r, alpha, a, b, x, t_x, T)


def bg_nbd_loglike(r, alpha, a, b, rows: CompressedRows):
    """Total BG/NBD log-likelihood of weighted rows with columns ``x``, ``t_x``, ``T``."""
    xs, x_weights, _ = rows.distinct("x")
    return pt.sum(x_weights * _bg_nbd_x_part(r, alpha, a, b, xs)) + pt.sum(
        rows.weights * _bg_nbd_timing_part(r, alpha, a, b, rows["x"], rows["t_x"], rows["T"])
    )


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
    n = T.size
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    clock = np.zeros(n)
    active = np.arange(n)
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
    customer, time = bg_nbd_purchase_times(r, alpha, a, b, T, rng)
    x = np.bincount(customer, minlength=T.size)
    t_x = np.zeros(T.size)
    np.maximum.at(t_x, customer, time)
    return {"x": x, "t_x": t_x, "T": T}


# --------------------------------------------------------------------------------------------
# Gamma-Gamma spend: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", eq. (4).
# Each transaction's value is Gamma(p, nu); nu ~ Gamma(q, gamma) across customers. Only
# customers with at least one repeat purchase (x > 0) carry information; m is the mean spend
# of their x repeat purchases.
# --------------------------------------------------------------------------------------------


def _gamma_gamma_x_part(p, q, gamma, x):
    px = p * x
    return pt.gammaln(px + q) - pt.gammaln(px) - pt.gammaln(q) + q * pt.log(gamma) + px * pt.log(x)


def _gamma_gamma_spend_part(p, q, gamma, x, m):
    px = p * x
    return (px - 1) * pt.log(m) - (px + q) * pt.log(gamma + x * m)


def gamma_gamma_logp(p, q, gamma, x, m):
    """Gamma-Gamma log-density of each customer's mean spend ``m`` over ``x > 0`` purchases.

    Parameters
    ----------
    p : scalar
        Shape of the gamma distribution of one transaction's value.
    q, gamma : scalar
        Shape and rate of the gamma distribution of the per-customer rate ``nu``.
    x, m : array
        Repeat purchases (all > 0) and their mean value.
    """
    return _gamma_gamma_x_part(p, q, gamma, x) + _gamma_gamma_spend_part(p, q, gamma, x, m)


def gamma_gamma_loglike(p, q, gamma, rows: CompressedRows):
    """Total Gamma-Gamma log-likelihood of weighted rows with columns ``x`` and ``m``."""
    xs, x_weights, _ = rows.distinct("x")
    return pt.sum(x_weights * _gamma_gamma_x_part(p, q, gamma, xs)) + pt.sum(
        rows.weights * _gamma_gamma_spend_part(p, q, gamma, rows["x"], rows["m"])
    )


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
