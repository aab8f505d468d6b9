"""Pareto/NBD: Schmittlein, Morrison & Colombo (1987), as Fader, Hardie & Lee (2005) write it.

While alive, a customer buys at their own rate ``lambda ~ Gamma(r, alpha)``; they stay for an
exponential lifetime with their own rate ``mu ~ Gamma(s, beta)``, leaving at any time.

Its sections follow the layout of every model module (:mod:`clvlib.models`); its compiled
kernel (:mod:`clvlib.models.kernels`) is held equal to this likelihood.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from scipy.special import gammaln

from clvlib.compression import CompressedRows
from clvlib.futures import FutureGivenAlive
from clvlib.models import bg_nbd, kernels, numerics
from clvlib.models.base import Lifetimes, Likelihood, Mixing, PurchaseExpectations, PurchaseModel

# ============================================================================================
# The likelihood (PyTensor)
# ============================================================================================
# --------------------------------------------------------------------------------------------
# Pareto/NBD: Schmittlein, Morrison & Colombo (1987); likelihood as in Fader, Hardie & Lee (2005),
# "A note on deriving the Pareto/NBD model and related expressions". Purchases are Poisson with
# rate lambda ~ Gamma(r, alpha) while alive; lifetimes are exponential with rate
# mu ~ Gamma(s, beta).
#
#   L = Gamma(r+x) alpha^r beta^s / Gamma(r)
#       * [ (alpha+T)^-(r+x) (beta+T)^-s  +  s * I ],
#   I = integral from t_x to T of (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau.
#
# The usual closed form writes s*I with Gauss hypergeometric functions, whose values overflow
# and whose parameter derivatives are slow and fragile for large x or long ages. Instead I is
# computed by Gauss-Legendre quadrature after a change of variables that makes the integrand
# smooth, so its gradient is plain autodiff of logs and exponentials (written by hand because no
# library offers a differentiable, stable version of this integral):
#   with m = min(alpha, beta) the smaller scale, v = (m+t_x)/(m+tau), u = log v in [u_T, 0],
#   I = (m+t_x)^-k  integral_{u_T}^{0} exp(k u) (1 + c e^u)^-e du,
#   k = r+s+x, c = |alpha-beta|/(m+t_x) >= 0, e = s+1 if alpha <= beta else r+x.
# The integrand over its value at u = 0 is e^(ku) ((1+c)/(1+c e^u))^e <= e^(ku + e log(1+c)),
# so the integral is cut at u = -(L + e log(1+c))/k, where it is below e^-L of its peak. (A cut
# at -L/k - log(1+c), as before 2026-12-05, is the same for alpha > beta, where e is close to k,
# but for alpha < beta and a heavy buyer it reached far below the peak and the 16 nodes missed
# it: 1e-2 off at x = 60, t_x = 2, T = 39, alpha 1, beta 30.) With 16 nodes and L = 25 the
# log-likelihood agrees with adaptive quadrature (mpmath, scipy) to 1e-12 for ordinary customers
# and 1e-7 at x = 200 (tests/test_zoo.py). 16 nodes rather than 20 make a gradient 20% cheaper.
# --------------------------------------------------------------------------------------------
# The rule and cut-off are defined with the compiled kernels, which receive them from there.
from clvlib.models.kernels import PNBD_CUTOFF as _PNBD_CUTOFF  # noqa: E402
from clvlib.models.kernels import PNBD_NODES, PNBD_WEIGHTS  # noqa: E402,F401
from clvlib.priors import Prior
from clvlib.special import log_rising


def _x_part(r, alpha, s, beta, x):
    return pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha) + s * pt.log(beta)


def substitution(xp, r, alpha, s, beta, x, t_x, T):
    """The change of variables above, for NumPy (``xp=np``) or PyTensor (``xp=pt``).

    Returns ``k, e, c, u_low, log_scale``: the integral is
    ``exp(log_scale) * sum_j w_j exp(k u_j - e log1p(c exp(u_j)))`` over Gauss-Legendre nodes
    ``u_j = u_low (1 - xi_j) / 2`` of ``[u_low, 0]`` (weights including ``-u_low / 2``).
    """
    k = r + s + x
    m = xp.minimum(alpha, beta)
    e = xp.where(xp.less_equal(alpha, beta), s + 1, r + x)
    c = xp.abs(alpha - beta) / (m + t_x)
    u_T = xp.log(m + t_x) - xp.log(m + T)
    u_low = xp.maximum(u_T, -(_PNBD_CUTOFF + e * xp.log1p(c)) / k)
    width = xp.maximum(-u_low, 1e-12)  # t_x = T: an empty interval, I = 0 (to 1e-12)
    return k, e, c, u_low, -k * xp.log(m + t_x) + xp.log(width / 2)


def _timing_part(r, alpha, s, beta, x, t_x, T):
    alive_throughout = -(r + x) * pt.log(alpha + T) - s * pt.log(beta + T)
    k, e, c, u_low, log_scale = substitution(pt, r, alpha, s, beta, x, t_x, T)
    u = u_low[..., None] * (1 - PNBD_NODES) / 2  # nodes along a trailing axis
    log_terms = k[..., None] * u - e[..., None] * pt.log1p(c[..., None] * pt.exp(u))
    log_integral = log_scale + numerics.logsumexp(log_terms + np.log(PNBD_WEIGHTS), axis=-1)
    return numerics.logaddexp(alive_throughout, pt.log(s) + log_integral)


def logp(r, alpha, s, beta, x, t_x, T):
    """Pareto/NBD log-likelihood of each customer (Fader, Hardie & Lee 2005 note, eq. 2).

    Parameters
    ----------
    r, alpha : scalar
        Shape and rate of the gamma distribution of purchase rates.
    s, beta : scalar
        Shape and rate of the gamma distribution of dropout rates.
    x, t_x, T : array
        Repeat purchases, recency and age of each customer, in one time unit.
    """
    r, alpha, s, beta = numerics.float64(r, alpha, s, beta)
    x, t_x, T = (pt.as_tensor_variable(v) for v in (x, t_x, T))
    return _x_part(r, alpha, s, beta, x) + _timing_part(
        r, alpha, s, beta, x, t_x, T
    )


def loglike(r, alpha, s, beta, rows: CompressedRows):
    """Total Pareto/NBD log-likelihood of weighted rows with columns ``x``, ``t_x``, ``T``."""
    r, alpha, s, beta = numerics.float64(r, alpha, s, beta)
    xs, x_weights, _ = rows.distinct("x")
    x, t_x, T = (pt.as_tensor_variable(rows[c]) for c in ("x", "t_x", "T"))
    return pt.sum(x_weights * _x_part(r, alpha, s, beta, xs)) + pt.sum(
        rows.weights * _timing_part(r, alpha, s, beta, x, t_x, T)
    )


# ============================================================================================
# Closed forms (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# Pareto/NBD (Fader, Hardie & Lee 2005 note; Schmittlein, Morrison & Colombo 1987)
# --------------------------------------------------------------------------------------------


def _gamma_ratio_term(s, z):
    """(1 - z^(s-1)) / (s - 1) for 0 < z <= 1, stable at s = 1 (where it is -log z)."""
    log_z = np.log(z)
    near_one = np.abs(s - 1) < 1e-8
    safe = np.where(near_one, 2.0, s)
    return np.where(near_one, -log_z, -np.expm1((safe - 1) * log_z) / (safe - 1))


def log_terms(r, alpha, s, beta, x, t_x, T):
    """NumPy: log of the 'alive throughout' and 'dropped out' terms of the likelihood bracket.

    Their log-sum-exp plus the ``x`` part is the log-likelihood; P(alive) is the first term's
    share. Nodes are summed one at a time, so memory stays at the size of the broadcast inputs.
    """
    alive_throughout = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    k, e, c, u_low, log_scale = substitution(np, r, alpha, s, beta, x, t_x, T)
    total = np.full(np.broadcast(k, u_low).shape, -np.inf)
    for node, weight in zip(PNBD_NODES, PNBD_WEIGHTS, strict=True):
        u = u_low * (1 - node) / 2
        total = np.logaddexp(total, k * u - e * np.log1p(c * np.exp(u)) + np.log(weight))
    return alive_throughout, np.log(s) + log_scale + total


def p_alive(r, alpha, s, beta, x, t_x, T):
    """P(alive at T | x, t_x, T) under Pareto/NBD: the likelihood's 'alive' share."""
    alive, dropped = log_terms(r, alpha, s, beta, x, t_x, T)
    return np.exp(alive - np.logaddexp(alive, dropped))


def expected_purchases_new(r, alpha, s, beta, t):
    """E[X(t)] for a new customer: r beta / alpha * (1 - (beta/(beta+t))^(s-1)) / (s-1)."""
    return r * beta / alpha * _gamma_ratio_term(s, beta / (beta + t))


def expected_purchases_alive(r, alpha, s, beta, x, T, t):
    """E[Y(t) | alive at T, x, T] under Pareto/NBD: lambda ~ Gamma(r+x, alpha+T) and
    mu ~ Gamma(s, beta+T) given alive, so (r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/
    (beta+T+t))^(s-1)] (FHL 2005 note, eq. 21)."""
    return (r + x) * (beta + T) / (alpha + T) * _gamma_ratio_term(s, (beta + T) / (beta + T + t))


def expected_purchases(r, alpha, s, beta, x, t_x, T, t):
    """E[Y(t) | x, t_x, T] under Pareto/NBD (FHL 2005 note, eq. 21)."""
    return (expected_purchases_alive(r, alpha, s, beta, x, T, t)
            * p_alive(r, alpha, s, beta, x, t_x, T))


_PNBD_TIME_NODES, _PNBD_TIME_WEIGHTS = np.polynomial.legendre.leggauss(40)


def prob_purchases(r, alpha, s, beta, t, n):
    """P(X(t) = n) for a new customer under Pareto/NBD.

    ``NB(n; r, alpha/(alpha+t)) (beta/(beta+t))^s`` (alive throughout) plus the integral over
    the dropout time ``tau`` in ``(0, t)`` of ``s beta^s (beta+tau)^-(s+1) NB(n; r,
    alpha/(alpha+tau))``, by 40-node Gauss-Legendre quadrature in ``w = log(beta + tau)``
    (where the dropout density is ``s beta^s e^{-s w}``): this avoids the hypergeometric
    closed form's overflow, and holds for a small ``beta``, which puts most dropout times
    within ``beta`` of the first purchase (nodes even in ``tau`` missed them: at ``beta =
    0.001`` the probabilities summed to 0.68). Within 1e-9 of adaptive quadrature
    (tests/test_expectations.py).
    """
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    total = np.exp(log_nb(r, alpha, n, t) + s * (np.log(beta) - np.log(beta + t)))
    width = np.log1p(t / beta)  # w runs from log(beta) to log(beta + t)
    for node, weight in zip(_PNBD_TIME_NODES, _PNBD_TIME_WEIGHTS, strict=True):
        above = width * (1 + node) / 2  # w - log(beta)
        tau = beta * np.expm1(above)
        total = total + weight * width / 2 * np.exp(np.log(s) - s * above
                                                    + log_nb(r, alpha, n, tau))
    return total


def log_nb(r, alpha, n, exposure):
    """log NB(n; r, alpha / (alpha + exposure)): ``n`` purchases in ``exposure`` time units
    while alive, the rate ``lambda ~ Gamma(r, alpha)`` integrated out."""
    return (log_rising(r, n) - gammaln(n + 1) + r * (np.log(alpha) - np.log(alpha + exposure))
            + np.where(n > 0, n * (np.log(np.maximum(exposure, 1e-300))
                                   - np.log(alpha + exposure)), 0.0))


def lifetime_clock(t, params):
    """An exponential lifetime's clock is time itself: ``S(t | mu) = exp(-mu t)``."""
    return np.asarray(t, dtype=float)


def expected_lifetime(mu, params):
    """A customer's expected lifetime given their dropout rate: ``1 / mu``."""
    return 1.0 / np.asarray(mu, dtype=float)


def future_given_alive(r, alpha, s, beta, x, T):
    """Each customer's traits given alive at ``T``: lambda ~ Gamma(r + x, alpha + T), and an
    exponential remaining lifetime (memoryless) with rate mu ~ Gamma(s, beta + T)."""
    return FutureGivenAlive(r + x, alpha + T, life_shape=s, life_rate=beta + T)


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# Pareto/NBD (Schmittlein, Morrison & Colombo 1987)
# --------------------------------------------------------------------------------------------


def purchase_times(r, alpha, s, beta, T, rng=None):
    """Simulate Pareto/NBD repeat-purchase times for customers of ages ``T``.

    Each customer draws ``lambda ~ Gamma(r, rate=alpha)``, ``mu ~ Gamma(s, rate=beta)`` and an
    exponential lifetime with rate ``mu``; purchases are Poisson with rate ``lambda`` until the
    lifetime or ``T`` ends. Returns ``(customer, time)`` arrays as
    :func:`bg_nbd.purchase_times` does.
    """
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    lam = rng.gamma(r, 1.0 / alpha, size=T.size)
    mu = rng.gamma(s, 1.0 / beta, size=T.size)
    end = np.minimum(rng.exponential(1.0, size=T.size) / mu, T)
    return poisson_until(lam, end, rng)


def poisson_until(lam, end, rng):
    """Purchases at rate ``lam`` on ``[0, end]`` for each customer (the individual Pareto/NBD
    process, and GGompertz/NBD's and Abe's, which differ in how ``lam`` and ``end`` are drawn):
    ``(customer, time)`` arrays as :func:`bg_nbd.purchase_times` returns them."""
    counts = rng.poisson(lam * end)
    customer = np.repeat(np.arange(end.size), counts)
    # Given their number, Poisson arrival times are uniform on the observed lifetime.
    return customer, rng.uniform(0.0, 1.0, size=customer.size) * end[customer]


def rvs(r, alpha, s, beta, T, rng=None):
    """Simulate Pareto/NBD summaries ``(x, t_x, T)`` for customers of ages ``T``."""
    T = np.asarray(T, dtype=float)
    return bg_nbd._summaries(*purchase_times(r, alpha, s, beta, T, rng), T)


# ============================================================================================
# The model
# ============================================================================================


class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD model of repeat purchases and unobserved dropout in continuous time.

    While alive, a customer buys at rate ``lambda ~ Gamma(r, alpha)``; they stay alive for an
    exponential lifetime with rate ``mu ~ Gamma(s, beta)``, independent of their purchases.

    Default priors: ``LogNormal(0, 1)`` on the shapes ``r`` and ``s``, wide ``LogNormal(0, 3)``
    on the scales ``alpha`` and ``beta`` (in the time unit).
    """

    name = "pareto_nbd"
    title = "Pareto/NBD"
    story = ("Pareto/NBD (Schmittlein, Morrison & Colombo 1987): while active, customer i buys "
             "at rate lambda_i ~ Gamma(r, alpha); they stay for an exponential lifetime with "
             "their own dropout rate mu_i ~ Gamma(s, beta), leaving at any time, independently "
             "of their purchases.")
    kernel = kernels.PARETO_NBD
    params = ("r", "alpha", "s", "beta")
    default_priors = {
        "r": Prior("LogNormal", mu=0, sigma=1),
        "alpha": Prior("LogNormal", mu=0, sigma=3),
        "s": Prior("LogNormal", mu=0, sigma=1),
        "beta": Prior("LogNormal", mu=0, sigma=3),
    }
    likelihood = Likelihood(pointwise=logp, total=loglike)
    #: alpha_i = alpha exp(-x_i'g_purchase), beta_i = beta exp(-x_i'g_dropout): as CLVTools and
    #: pymc-marketing, so a positive purchase coefficient means buying more often (E[lambda_i] =
    #: r / alpha_i) and a positive dropout coefficient leaving sooner (E[mu_i] = s / beta_i).
    covariate_links = {"purchase": ("alpha", -1.0), "dropout": ("beta", -1.0)}
    dropout_kind = "lifetime"
    dropout_mixing = Mixing("gamma", "s", "beta")
    lifetimes = Lifetimes(clock=lifetime_clock, expected_lifetime=expected_lifetime,
                          frailty="dropout rate")
    expectations = PurchaseExpectations.of_module(globals())
