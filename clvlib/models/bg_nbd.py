"""BG/NBD: the beta-geometric/negative-binomial model of Fader, Hardie & Lee (2005).

While alive, a customer buys at their own rate ``lambda ~ Gamma(r, alpha)``; after each repeat
purchase they leave for good with their own probability ``p ~ Beta(a, b)``.

Its sections follow the layout of every model module (:mod:`clvlib.models`); its compiled
kernel (:mod:`clvlib.models.kernels`) is held equal to this likelihood.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from scipy.special import betainc, expit, gammaln

from clvlib.compression import CompressedRows
from clvlib.futures import FutureGivenAlive
from clvlib.models import kernels, numerics
from clvlib.models.base import Likelihood, PurchaseExpectations, PurchaseModel
from clvlib.priors import Prior
from clvlib.special import beta_mean_of_purchase_curve, log_beta_ratio, log_rising

# ============================================================================================
# The likelihood (PyTensor)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", eq. (6).
# Purchases follow a Poisson process with rate lambda ~ Gamma(r, alpha) while the customer is
# alive; after each repeat purchase the customer drops out with probability p ~ Beta(a, b).
# --------------------------------------------------------------------------------------------


def _x_part(r, alpha, a, b, x):
    """The terms of the BG/NBD log-likelihood that depend on the data only through ``x``."""
    return (
        pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha)
        + pt.gammaln(a + b) + pt.gammaln(b + x) - pt.gammaln(b) - pt.gammaln(a + b + x)
    )


def _timing_part(r, a, b, x, log_alpha_t_x, log_alpha_T):
    """log[(alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x)], computed without overflow.

    Takes ``log(alpha + t_x)`` and ``log(alpha + T)`` so totals can compute them per distinct
    value.
    """
    alive_throughout = -(r + x) * log_alpha_T
    # max(x, 1) keeps log(b + x - 1) finite (and its gradient) on rows where x = 0,
    # which the switch then discards.
    dropped_after_last = pt.log(a) - pt.log(b + pt.maximum(x, 1) - 1) - (r + x) * log_alpha_t_x
    return pt.switch(
        pt.gt(x, 0), numerics.logaddexp(alive_throughout, dropped_after_last), alive_throughout
    )


def logp(r, alpha, a, b, x, t_x, T):
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
    r, alpha, a, b = numerics.float64(r, alpha, a, b)
    return _x_part(r, alpha, a, b, x) + _timing_part(
        r, a, b, x, pt.log(alpha + t_x), pt.log(alpha + T)
    )


def loglike(r, alpha, a, b, rows: CompressedRows):
    """Total BG/NBD log-likelihood of weighted rows with columns ``x``, ``t_x``, ``T``."""
    r, alpha, a, b = numerics.float64(r, alpha, a, b)
    xs, x_weights, _ = rows.distinct("x")
    timing = _timing_part(r, a, b, rows["x"], numerics.log_shifted(alpha, rows, "t_x"),
                          numerics.log_shifted(alpha, rows, "T"))
    return pt.sum(x_weights * _x_part(r, alpha, a, b, xs)) + pt.sum(rows.weights * timing)


# ============================================================================================
# Closed forms (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# BG/NBD (Fader, Hardie & Lee 2005)
# --------------------------------------------------------------------------------------------


def _log_dropout_odds(r, alpha, a, b, x, t_x, T):
    """log of a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x): dropped out vs alive, given the data."""
    x_safe = np.maximum(x, 1)
    return (
        np.log(a) - np.log(b + x_safe - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )


def p_alive(r, alpha, a, b, x, t_x, T):
    """P(alive at T | x, t_x, T): FHL 2005 / Fader, Hardie & Lee (2008 note), eq. (1)."""
    odds = _log_dropout_odds(r, alpha, a, b, x, t_x, T)
    return np.where(np.asarray(x) > 0, expit(-odds), 1.0)


def expected_purchases_new(r, alpha, a, b, t):
    """E[X(t)]: expected repeat purchases by a new customer in ``t`` (FHL 2005, eq. 7).

    ``E[(1 - (alpha/(alpha + p t))^r) / p]`` over ``p ~ Beta(a, b)``, the closed form
    ``(a+b-1)/(a-1) [1 - 2F1(r, a-1; a+b-1; -t/alpha)]`` (Pfaff's transformation of eq. 7),
    evaluated where it stays finite by :func:`clvlib.special.beta_mean_of_purchase_curve`.
    """
    t = np.asarray(t, dtype=float)
    return beta_mean_of_purchase_curve(r, t / alpha, a, b)


def expected_purchases_alive(r, alpha, a, b, x, T, t):
    """E[Y(t) | alive at T, x, T]: expected repeat purchases in the next ``t`` of a customer
    known to be alive. It depends on ``x`` and ``T`` only, not on ``t_x``.

    Given alive, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x); E[(1 - e^(-lambda p t))/p]
    is (a+b+x-1)/(a-1) [1 - 2F1(r+x, a-1; a+b+x-1; -t/(alpha+T))] (FHL 2005, eq. 10), see
    :func:`clvlib.special.beta_mean_of_purchase_curve`.
    """
    x, T, t = (np.asarray(v, dtype=float) for v in (x, T, t))
    return beta_mean_of_purchase_curve(r + x, t / (alpha + T), a, b + x)


def expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` (FHL 2005, eq. 10)."""
    return (expected_purchases_alive(r, alpha, a, b, x, T, t)
            * p_alive(r, alpha, a, b, x, t_x, T))


def prob_purchases(r, alpha, a, b, t, n):
    """P(X(t) = n): probability a new customer makes ``n`` repeat purchases in ``t`` (FHL eq. 8)."""
    n = np.asarray(n, dtype=float)
    log_t = np.log(t) - np.log(alpha + t)
    log_alpha = np.log(alpha) - np.log(alpha + t)
    # Ratios of beta and gamma functions as rising factorials: differences of log-betas lose
    # every digit for large shapes.
    alive = np.exp(
        log_beta_ratio(a, b, n) + log_rising(r, n) - gammaln(n + 1)
        + r * log_alpha + np.where(n > 0, n * log_t, 0.0)
    )
    # 1 - sum_{j<n} NegBin(j; r, alpha/(alpha+t)) is the regularized incomplete beta below.
    n_safe = np.maximum(n, 1)
    # B(a+1, b+n-1)/B(a, b) = a (b)_{n-1} / (a+b)_n
    dropped = np.exp(np.log(a) + log_rising(b, n_safe - 1) - log_rising(a + b, n_safe)) * betainc(
        n_safe, r, t / (alpha + t)
    )
    return alive + np.where(n > 0, dropped, 0.0)


def future_given_alive(r, alpha, a, b, x, T):
    """Each customer's traits given alive at ``T`` (FHL 2005, eq. 3): lambda ~ Gamma(r + x,
    alpha + T), and a dropout coin after each purchase with p ~ Beta(a, b + x)."""
    return FutureGivenAlive(r + x, alpha + T, coin_a=a, coin_b=b + x)


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# BG/NBD (Fader, Hardie & Lee 2005)
# --------------------------------------------------------------------------------------------


def purchase_times(r, alpha, a, b, T, rng=None):
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


def rvs(r, alpha, a, b, T, rng=None):
    """Simulate BG/NBD summaries ``(x, t_x, T)`` for customers of ages ``T``.

    Returns
    -------
    dict of ndarray
        ``x`` (repeat purchases), ``t_x`` (time of the last one, 0 if none) and ``T``.
    """
    T = np.asarray(T, dtype=float)
    return _summaries(*purchase_times(r, alpha, a, b, T, rng), T)


def _summaries(customer: np.ndarray, time: np.ndarray, T: np.ndarray) -> dict[str, np.ndarray]:
    """``x`` and ``t_x`` per customer from repeat-purchase (customer, time) pairs."""
    x = np.bincount(customer, minlength=T.size)
    t_x = np.zeros(T.size)
    np.maximum.at(t_x, customer, time)
    return {"x": x, "t_x": t_x, "T": T}


# ============================================================================================
# The model
# ============================================================================================


class BetaGeoModel(PurchaseModel):
    """BG/NBD model of repeat purchases in continuous time.

    While alive, a customer buys at rate ``lambda ~ Gamma(r, alpha)``; after each repeat
    purchase they drop out with probability ``p ~ Beta(a, b)``.

    Default priors are weakly informative: ``LogNormal(0, 1)`` on the unit-free shapes
    ``r``, ``a`` and ``b`` (95% between 0.14 and 7.1), and a wide ``LogNormal(0, 3)`` on the
    scale ``alpha``, which is measured in the time unit.

    Examples
    --------
    >>> summary = clvlib.summarize(clvlib.read_transactions("cdnow_sample"),
    ...                            calibration_end="1997-09-30")  # doctest: +SKIP
    >>> model = BetaGeoModel(summary)  # doctest: +SKIP
    >>> model.fit("map", progressbar=False)  # doctest: +SKIP
    """

    name = "bg_nbd"
    title = "BG/NBD"
    story = ("BG/NBD (Fader, Hardie & Lee 2005): while active, customer i buys at their own rate "
             "lambda_i ~ Gamma(r, alpha) per time unit (Poisson purchases); after each repeat "
             "purchase they leave for good with their own probability p_i ~ Beta(a, b).")
    kernel = kernels.BG_NBD
    params = ("r", "alpha", "a", "b")
    default_priors = {
        "r": Prior("LogNormal", mu=0, sigma=1),
        "alpha": Prior("LogNormal", mu=0, sigma=3),
        "a": Prior("LogNormal", mu=0, sigma=1),
        "b": Prior("LogNormal", mu=0, sigma=1),
    }
    likelihood = Likelihood(pointwise=logp, total=loglike)
    #: alpha_i = alpha exp(-x_i'g_purchase), as Pareto/NBD: a positive purchase coefficient
    #: means buying more often (E[lambda_i] = r / alpha_i). a_i = a exp(x_i'g_dropout): one
    #: coefficient per covariate, with the sign of Pareto/NBD's (positive: leaving sooner), and
    #: a plain reading: exp(g) multiplies the odds a_i / b of the mean dropout probability
    #: a_i / (a_i + b) after each purchase. Scaling a and b together would move only the spread
    #: of p, not its mean; a second coefficient per covariate (on b) is rarely identified.
    covariate_links = {"purchase": ("alpha", -1.0), "dropout": ("a", 1.0)}
    p_alive_caveat = (
        "Customers with no repeat purchase count as active in BG/NBD, which only lets customers "
        "leave right after a repeat purchase; MBG/NBD and Pareto/NBD do not assume this."
    )
    expectations = PurchaseExpectations.of_module(globals())
