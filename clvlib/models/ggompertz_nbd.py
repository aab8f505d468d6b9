"""GGompertz/NBD: the gamma-Gompertz/NBD model of Bemmaor & Glady (2012).

Bemmaor & Glady (2012), "Modeling purchasing behavior with sudden 'death': a flexible customer
lifetime model", Management Science 58(5). While alive, a customer buys at their own rate
``lambda ~ Gamma(r, alpha)``; their lifetime is Gompertz, ``S(t | eta) = exp(-eta (e^{bt} -
1))``, with their own frailty ``eta ~ Gamma(s, beta)`` and a common ``b > 0``: the hazard
``eta b e^{bt}`` rises with age. As ``b -> 0`` with ``beta / b`` fixed it is the Pareto/NBD (an
exponential lifetime with rate ``mu = eta b``, ``mu ~ Gamma(s, beta / b)``). The conditional
expectation follows Adler (2022), "Comment on 'Modeling purchasing behavior with sudden death'",
Management Science, which corrects the paper's (the remaining lifetime of a customer alive at
``T`` has aged).

This model is written in Python only: its likelihood in PyTensor (fits take PyTensor's
automatic gradient; no compiled kernel), its closed forms and simulator in NumPy, from one
function of the integral both share.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from scipy.special import exp1, gammaln

from clvlib.compression import CompressedRows  # noqa: F401  (rows reach logp through the base)
from clvlib.futures import FutureGivenAlive
from clvlib.models import bg_nbd, numerics, pareto_nbd
from clvlib.models.base import Lifetimes, Likelihood, Mixing, PurchaseExpectations, PurchaseModel
from clvlib.priors import Prior

# ============================================================================================
# The likelihood, once for PyTensor and NumPy
# ============================================================================================
# L = Gamma(r+x)/Gamma(r) alpha^r [ (alpha+T)^-(r+x) S(T) + I ],
# I = integral from t_x to T of (alpha+y)^-(r+x) f(y) dy,
# S(t) = (beta / (beta + e^{bt} - 1))^s,  f(y) = b s beta^s e^{by} (beta + e^{by} - 1)^-(s+1)
# (CLVTools' ggomnbd_LL_ind, which integrates I adaptively with GSL). Here I is Gauss-Legendre
# quadrature after the substitution y = (alpha+t_x) e^{v/k} - alpha, k = r + x, which turns the
# steep factor (alpha+y)^-k into e^{-v(1-1/k)} on v in [0, k log((alpha+T)/(alpha+t_x))]:
#   I = (alpha+t_x)^{1-k} / k  integral e^{v(1/k - 1)} f(y(v)) dv,
# cut where e^{-v(1-1/k)} falls below e^-60. Written by hand because no library offers a
# differentiable version of this integral; tests/test_ggompertz_nbd.py holds it equal to
# adaptive quadrature (scipy.integrate.quad) to 1e-9.
# --------------------------------------------------------------------------------------------

#: The likelihood's quadrature (and P(alive)'s, which shares it): 24 nodes agree with adaptive
#: quadrature to 1e-11 on the tests' grid (48 did to 1e-14, at twice the cost of a gradient).
NODES, WEIGHTS = np.polynomial.legendre.leggauss(24)
#: The closed forms' quadrature in the lifetime's clock (NumPy, cheap): the purchase-count
#: distribution of a steeply ageing lifetime needs more nodes to sum to 1 within 1e-7.
CLOCK_NODES, CLOCK_WEIGHTS = np.polynomial.legendre.leggauss(48)
#: The integrand's decay factor at which the integral is cut.
CUTOFF = 60.0


def log_clock(xp, beta, z):
    """log(beta + e^z - 1) without overflow (z = b t >= 0)."""
    f = numerics.functions(xp)
    small = xp.log(beta + f.expm1(xp.minimum(z, 30.0)))
    if xp is np:  # the closed forms' large arrays: the second form only where it is needed
        if not np.any(z > 30):
            return small
        shape = np.shape(small)
        big = np.broadcast_to(z > 30, shape)
        z, beta = np.broadcast_to(z, shape)[big], np.broadcast_to(beta, shape)[big]
        small = np.array(small)
        small[big] = z + np.log1p((beta - 1) * np.exp(-z))
        return small
    return f.where(z > 30, z + f.log1p((beta - 1) * xp.exp(-xp.maximum(z, 30.0))), small)


def log_survival(xp, b, s, beta, t):
    """log S(t) = s log beta - s log(beta + e^{bt} - 1), the share of new customers alive at t."""
    return s * xp.log(beta) - s * log_clock(xp, beta, b * t)


def _log_density(xp, b, s, beta, y):
    """log f(y), the Gompertz lifetime's density mixed over eta ~ Gamma(s, beta)."""
    return (xp.log(b) + xp.log(s) + s * xp.log(beta) + b * y
            - (s + 1) * log_clock(xp, beta, b * y))


def log_terms(xp, r, alpha, b, s, beta, x, t_x, T):
    """The two terms of the likelihood, (alive at T, died in (t_x, T]), as logs.

    ``xp`` is ``pytensor.tensor`` (the likelihood) or ``numpy`` (P(alive)); the quadrature runs
    along a trailing axis.
    """
    lgamma = numerics.functions(xp).gammaln
    k = r + x
    common = lgamma(r + x) - lgamma(r) + r * xp.log(alpha)
    alive = common - k * xp.log(alpha + T) + log_survival(xp, b, s, beta, T)
    start = alpha + t_x
    span = k * (xp.log(alpha + T) - xp.log(start))
    decay = xp.maximum(1 - 1 / k, 1e-3)
    # t_x = T: an empty interval; a width of 1e-200 keeps every log finite and adds nothing.
    width = xp.maximum(xp.minimum(span, CUTOFF / decay), 1e-200)
    v = width[..., None] * (1 + NODES) / 2

    def e(value):  # along the nodes' axis
        return value[..., None]

    y = e(start) * xp.exp(v / e(k)) - e(alpha)
    integrand = (v * (1 / e(k) - 1) + _log_density(xp, e(b), e(s), e(beta), y)
                 + np.log(WEIGHTS))
    log_integral = ((1 - k) * xp.log(start) - xp.log(k) + xp.log(width / 2)
                    + numerics.logsumexp_last(xp, integrand))
    return alive, common + log_integral


def logp(r, alpha, b, s, beta, x, t_x, T):
    """GGompertz/NBD log-likelihood of each customer (Bemmaor & Glady 2012).

    Parameters
    ----------
    r, alpha : scalar or array
        Gamma shape and rate of purchase rates.
    b : scalar or array
        The Gompertz lifetime's ageing (per time unit).
    s, beta : scalar or array
        Gamma shape and rate of the lifetime frailty ``eta``.
    x, t_x, T : array
        Repeat purchases, time of the last one, and age.

    Examples
    --------
    >>> round(float(logp(0.55, 10.6, 0.01, 0.6, 1.0, [0], [0], [39]).eval()[0]), 4)
    -0.601
    """
    r, alpha, b, s, beta = numerics.float64(r, alpha, b, s, beta)
    _, (x, t_x, T) = numerics.as_data(x, t_x, T)
    alive, died = log_terms(pt, *(pt.as_tensor_variable(v) for v in (r, alpha, b, s, beta)),
                            x, t_x, T)
    return numerics.logaddexp(alive, died)


# ============================================================================================
# Closed forms (NumPy)
# ============================================================================================


def _numpy_terms(r, alpha, b, s, beta, x, t_x, T):
    shape = np.broadcast_shapes(*(np.shape(v) for v in (r, alpha, b, s, beta, x, t_x, T)))
    args = [np.broadcast_to(np.asarray(v, dtype=float), shape)
            for v in (r, alpha, b, s, beta, x, t_x, T)]
    return log_terms(np, *args)


def p_alive(r, alpha, b, s, beta, x, t_x, T):
    """P(alive at T | x, t_x, T): the 'alive' term over the likelihood (CLVTools' PAlive)."""
    alive, died = _numpy_terms(r, alpha, b, s, beta, x, t_x, T)
    return np.exp(alive - np.logaddexp(alive, died))


def _over_clock(fn, b, s, beta, start, stop):
    """``integral_start^stop g(u) du`` by Gauss-Legendre in the lifetime's clock ``w = log(beta
    + e^{bu} - 1)``, in which the mixed Gompertz density is ``s beta^s e^{-s w}``: smooth where
    a steep ageing (large b) makes it a narrow peak in ``u``. ``g`` decays as ``e^{-s w}`` (a
    survival, a density), so the clock stops 40 / s past ``start`` (a factor e^-40 down):
    beyond, the integral is below 1e-17 of its value, and over a long horizon (DERT's) with
    steep ageing the nodes stay where the integrand is. Arguments broadcast; ``fn(w)`` is
    ``g`` at the clock's nodes ``w`` (along a trailing axis; :func:`_age_at` gives their
    ages): a survival is then ``e^{-s w}`` times a constant, no logarithm per node."""
    w_lo, w_hi = log_clock(np, beta, b * start), log_clock(np, beta, b * stop)
    w_hi = np.minimum(w_hi, w_lo + 40.0 / s)
    w = w_lo[..., None] + (w_hi - w_lo)[..., None] * (1 + CLOCK_NODES) / 2
    # du/dw = e^w / (b (e^w - beta + 1)), in e^-w so that it does not overflow for a large w
    jacobian = 1 / (b[..., None] * (1 + (1 - beta[..., None]) * np.exp(-w)))
    return (w_hi - w_lo) / 2 * ((fn(w) * jacobian) @ CLOCK_WEIGHTS)


def _age_at(w, b, beta):
    """The age ``u`` at which the clock reads ``w``: ``log(e^w - beta + 1) / b``, in e^-w so
    that it does not overflow (b u above 709)."""
    return (w + np.log1p((1 - beta) * np.exp(-w))) / b


def _broadcast(*values):
    shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    return [np.broadcast_to(np.asarray(v, dtype=float), shape) for v in values]


def expected_purchases_new(r, alpha, b, s, beta, t):
    """E[X(t)] for a new customer: E[lambda] E[min(tau, t)] = r/alpha integral_0^t S(u) du."""
    r, alpha, b, s, beta, t = _broadcast(r, alpha, b, s, beta, t)

    def alive(w):  # S(u) = beta^s e^{-s w}
        return np.exp(s[..., None] * (np.log(beta[..., None]) - w))

    return r / alpha * _over_clock(alive, b, s, beta, np.zeros_like(t), t)


def expected_purchases_alive(r, alpha, b, s, beta, x, T, t):
    """E[purchases in (T, T+t] | alive at T] = (r+x)/(alpha+T) integral_0^t S(T+u)/S(T) du
    (Adler 2022: the remaining lifetime has aged by T; the frailty's posterior given alive is
    Gamma(s, beta + e^{bT} - 1))."""
    r, alpha, b, s, beta, x, T, t = _broadcast(r, alpha, b, s, beta, x, T, t)
    at_T = log_clock(np, beta, b * T)

    def ratio(w):  # S(u) / S(T) = e^{-s (w - w_T)}
        return np.exp(s[..., None] * (at_T[..., None] - w))

    return (r + x) / (alpha + T) * _over_clock(ratio, b, s, beta, T, T + t)


def expected_purchases(r, alpha, b, s, beta, x, t_x, T, t):
    """E[purchases in (T, T+t] | x, t_x, T] = P(alive) E[... | alive]."""
    return (p_alive(r, alpha, b, s, beta, x, t_x, T)
            * expected_purchases_alive(r, alpha, b, s, beta, x, T, t))


def prob_purchases(r, alpha, b, s, beta, t, n):
    """P(X(t) = n) for a new customer: the NBD count over the time alive, min(tau, t),
    ``S(t) NB(n; t) + integral_0^t NB(n; u) f(u) du``."""
    r, alpha, b, s, beta, t, n = _broadcast(r, alpha, b, s, beta, t, n)

    def log_nb(r, alpha, n, u):
        return (gammaln(r + n) - gammaln(r) - gammaln(n + 1) + r * np.log(alpha / (alpha + u))
                + n * np.log(np.where(u > 0, u, 1.0) / (alpha + u))
                + np.where((u > 0) | (n == 0), 0.0, -np.inf))

    survive = np.exp(log_survival(np, b, s, beta, t) + log_nb(r, alpha, n, t))

    def died(w):
        e = (Ellipsis, None)
        u = _age_at(w, b[e], beta[e])
        return np.exp(log_nb(r[e], alpha[e], n[e], u)
                      + _log_density(np, b[e], s[e], beta[e], u))

    return survive + _over_clock(died, b, s, beta, np.zeros_like(t), t)


def lifetime_clock(t, params):
    """The Gompertz lifetime's clock: ``S(t | eta) = exp(-eta (e^(bt) - 1))``."""
    return np.expm1(np.asarray(params["b"]) * np.asarray(t, dtype=float))


def expected_lifetime(eta, params):
    """A customer's expected lifetime given their frailty: ``int_0^inf exp(-eta (e^(bt) - 1))
    dt = e^eta E1(eta) / b`` (substituting ``u = eta e^(bt)``)."""
    return scaled_exp1(np.asarray(eta, dtype=float)) / np.asarray(params["b"])


def scaled_exp1(x):
    """``e^x E1(x)`` for ``x > 0`` without overflow: SciPy's ``exp1`` below 500, and above it
    the asymptotic series ``(1 - 1/x + 2/x^2 - 6/x^3 + 24/x^4) / x`` (relative error below
    1e-12 there)."""
    x = np.asarray(x, dtype=float)
    small = np.minimum(x, 500.0)
    y = 1 / np.maximum(x, 500.0)
    series = y * (1 - y * (1 - y * (2 - y * (6 - 24 * y))))
    return np.where(x < 500.0, np.exp(small) * exp1(small), series)


def future_given_alive(r, alpha, b, s, beta, x, T):
    """Each customer's traits given alive at ``T``: lambda ~ Gamma(r + x, alpha + T), and a
    Gompertz remaining lifetime aged ``T`` with frailty eta ~ Gamma(s, beta + e^{bT} - 1)."""
    return FutureGivenAlive(r + x, alpha + T, life_shape=s,
                            life_rate=beta + np.expm1(b * T), life_b=b, age=T)


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================


def purchase_times(r, alpha, b, s, beta, T, rng=None):
    """Simulate GGompertz/NBD repeat-purchase times for customers of ages ``T``: lambda ~
    Gamma(r, alpha), eta ~ Gamma(s, beta), a Gompertz lifetime tau = log(1 + E/eta) / b
    (E ~ Exp(1)), purchases at rate lambda until min(tau, T)."""
    T = np.asarray(T, dtype=float)
    rng = np.random.default_rng(rng)
    lam = rng.gamma(r, 1.0 / alpha, size=T.size)
    eta = rng.gamma(s, 1.0 / beta, size=T.size)
    end = np.minimum(np.log1p(rng.exponential(1.0, size=T.size) / eta) / b, T)
    return pareto_nbd.poisson_until(lam, end, rng)


def rvs(r, alpha, b, s, beta, T, rng=None):
    """Simulate GGompertz/NBD summaries ``(x, t_x, T)`` for customers of ages ``T``."""
    T = np.asarray(T, dtype=float)
    return bg_nbd._summaries(*purchase_times(r, alpha, b, s, beta, T, rng), T)


# ============================================================================================
# The model
# ============================================================================================


class GGompertzNBDModel(PurchaseModel):
    """GGompertz/NBD model: Poisson purchases and a Gompertz lifetime whose hazard rises with
    age (Bemmaor & Glady 2012).

    Default priors: ``LogNormal(0, 1)`` on the shapes ``r`` and ``s``, wide ``LogNormal(0, 3)``
    on the scales ``alpha`` and ``beta``, and ``LogNormal(-4, 2)`` on the ageing ``b`` per time
    unit (median 0.018; 95% between 0.0004 and 0.9). With ``b`` near 0 the model is the
    Pareto/NBD, and the data then cannot tell ``b`` and ``beta`` apart, only ``beta / b``.
    """

    name = "ggompertz_nbd"
    title = "GGompertz/NBD"
    story = ("GGompertz/NBD (Bemmaor & Glady 2012): while active, customer i buys at rate "
             "lambda_i ~ Gamma(r, alpha); their lifetime is Gompertz, with a hazard "
             "eta_i b e^(bt) that rises with age, eta_i ~ Gamma(s, beta).")
    params = ("r", "alpha", "b", "s", "beta")
    default_priors = {
        "r": Prior("LogNormal", mu=0, sigma=1),
        "alpha": Prior("LogNormal", mu=0, sigma=3),
        "b": Prior("LogNormal", mu=-4, sigma=2),
        "s": Prior("LogNormal", mu=0, sigma=1),
        "beta": Prior("LogNormal", mu=0, sigma=3),
    }
    likelihood = Likelihood(pointwise=logp)
    #: alpha_i = alpha exp(-x_i'g_purchase), beta_i = beta exp(-x_i'g_dropout), as CLVTools.
    covariate_links = {"purchase": ("alpha", -1.0), "dropout": ("beta", -1.0)}
    dropout_kind = "lifetime"
    dropout_mixing = Mixing("gamma", "s", "beta")
    lifetimes = Lifetimes(clock=lifetime_clock, expected_lifetime=expected_lifetime,
                          frailty="frailty (the scale of the hazard)")
    expectations = PurchaseExpectations.of_module(globals())
