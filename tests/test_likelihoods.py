"""The PyTensor log-likelihoods of clvlib.models, against published and independent values.

Sources:
- Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2):
  BG/NBD log-likelihood -9582.43 at r=0.2426, alpha=4.4136, a=0.7929, b=2.4259 on the CDNOW
  sample (DESIGN.md section 5).
- lifetimes 0.11.3 (``BetaGeoFitter._negative_log_likelihood``,
  ``GammaGammaFitter._negative_log_likelihood``), an independent NumPy implementation.
- Fader & Hardie (2013), "The Gamma-Gamma model of monetary value": the mean of x purchases
  is Gamma(p x, x nu) given nu ~ Gamma(q, gamma), checked by numerical integration over nu
  (scipy.integrate.quad) and by its closed form (x m / gamma is beta-prime(p x, q)).
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from helpers import (
    FH_GAMMA_GAMMA,
    FHL_BG_NBD,
    FHL_BG_NBD_LL,
    bg_nbd_logp_function,
    cdnow_summary,
    gamma_gamma_logp_function,
    xtT,
)
from scipy import integrate, stats
from scipy.special import gammaln

from clvlib.models import bg_nbd, gamma_gamma, pareto_nbd

# Graphs evaluated at a few points: in the Python mode, without numba's compile of each
# (conftest.py's python_mode).
pytestmark = pytest.mark.usefixtures("python_mode")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, GammaGammaFitter

FHL = tuple(FHL_BG_NBD.values())
FH = tuple(FH_GAMMA_GAMMA.values())

# Parameter sets away from the MLE, to check the formulas rather than one point.
BG_NBD_PARAMS = [
    FHL,
    (1.0, 1.0, 1.0, 1.0),
    (0.05, 30.0, 5.0, 0.3),
    (3.0, 0.5, 0.2, 12.0),
]
GAMMA_GAMMA_PARAMS = [FH, (1.0, 1.5, 2.0), (20.0, 8.0, 0.3)]

# Customers from ordinary to extreme: (x, t_x, T).
EXTREME_CUSTOMERS = np.array([
    [0, 0.0, 0.5],
    [0, 0.0, 500.0],
    [1, 1e-6, 1e4],
    [1, 39.0, 39.0],
    [2, 30.428571, 38.857143],
    [30, 1.0, 78.0],
    [200, 499.0, 500.0],
    [200, 0.5, 500.0],
    [2000, 9999.0, 10000.0],
])


def lifetimes_bg_nbd(params, x, t_x, T):
    """Per-customer BG/NBD log-likelihood from lifetimes (one customer per call)."""
    log_params = np.log(np.asarray(params, dtype=float))
    one = np.ones(1)
    return np.array([
        -BetaGeoFitter._negative_log_likelihood(
            log_params, np.array([xi]), np.array([ti]), np.array([Ti]), one, 0.0
        )
        for xi, ti, Ti in zip(x, t_x, T, strict=True)
    ])


def lifetimes_gamma_gamma(params, x, m):
    """Per-customer Gamma-Gamma log-likelihood from lifetimes (one customer per call)."""
    log_params = np.log(np.asarray(params, dtype=float))
    one = np.ones(1)
    return np.array([
        -GammaGammaFitter._negative_log_likelihood(
            log_params, np.array([xi]), np.array([mi]), one, 0.0
        )
        for xi, mi in zip(x, m, strict=True)
    ])


def repeat_buyers(name="cdnow_sample"):
    c = cdnow_summary(name).customers
    c = c[c["x"] > 0]
    return c["x"].to_numpy(dtype=float), c["monetary"].to_numpy(dtype=float)


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------


def test_bg_nbd_cdnow_log_likelihood_at_fhl_mle():
    """FHL (2005): LL = -9582.43 at the published MLE on the CDNOW sample (to 0.01)."""
    x, t_x, T = xtT(cdnow_summary().customers)
    total = bg_nbd_logp_function()(*FHL, x, t_x, T).sum()
    assert total == pytest.approx(FHL_BG_NBD_LL, abs=0.01)


@pytest.mark.parametrize("params", BG_NBD_PARAMS)
def test_bg_nbd_logp_equals_lifetimes_on_cdnow(params):
    """Per customer, bg_nbd_logp equals lifetimes' BetaGeoFitter log-likelihood to 1e-10
    (distinct CDNOW-sample customers)."""
    c = cdnow_summary().customers[["x", "t_x", "T"]].drop_duplicates()
    x, t_x, T = xtT(c)
    ours = bg_nbd_logp_function()(*params, x, t_x, T)
    np.testing.assert_allclose(ours, lifetimes_bg_nbd(params, x, t_x, T), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("params", BG_NBD_PARAMS)
def test_bg_nbd_logp_equals_lifetimes_on_extreme_customers(params):
    """Heavy, new, old and never-returning customers: same per-customer values as lifetimes."""
    x, t_x, T = EXTREME_CUSTOMERS.T
    ours = bg_nbd_logp_function()(*params, x, t_x, T)
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, lifetimes_bg_nbd(params, x, t_x, T), rtol=1e-10, atol=1e-10)


def test_bg_nbd_logp_by_hand_for_a_one_time_buyer():
    """x = 0: the likelihood is (alpha/(alpha+T))^r (FHL 2005, eq. 6 with x = 0)."""
    r, alpha, a, b = FHL
    T = np.array([0.5, 10.0, 38.857])
    ours = bg_nbd_logp_function()(*FHL, np.zeros(3), np.zeros(3), T)
    np.testing.assert_allclose(ours, r * np.log(alpha / (alpha + T)), rtol=1e-13)


def test_bg_nbd_likelihood_integrates_to_one_over_purchase_histories():
    """An independent property: for T = 2, summing the likelihood of the purchase *times* over
    every history (x = 0, 1, 2, 3, ... with t_1 < ... < t_x < T) gives 1. The BG/NBD likelihood
    depends on the times only through x and t_x, and the volume of {t_1<...<t_{x-1}<t_x} is
    t_x^(x-1)/(x-1)!, so sum_x int_0^T L(x, t_x, T) t_x^(x-1)/(x-1)! dt_x + L(0, 0, T) = 1."""
    T = 2.0
    params = (1.3, 2.0, 1.5, 2.5)
    f = bg_nbd_logp_function()
    total = np.exp(f(*params, np.zeros(1), np.zeros(1), np.array([T])))[0]
    for x in range(1, 60):
        def density(t, x=x):
            logp = f(*params, np.array([float(x)]), np.array([t]), np.array([T]))[0]
            return np.exp(logp + (x - 1) * np.log(t) - gammaln(x))
        total += integrate.quad(density, 0, T, epsabs=1e-13, epsrel=1e-11)[0]
    assert total == pytest.approx(1.0, abs=1e-8)


@cache
def _bg_nbd_value_and_grad():
    r, alpha, a, b = pt.dscalars("r", "alpha", "a", "b")
    x, t_x, T = pt.dvectors("x", "t_x", "T")
    total = bg_nbd.logp(r, alpha, a, b, x, t_x, T).sum()
    grads = pytensor.grad(total, [r, alpha, a, b])
    return pytensor.function([r, alpha, a, b, x, t_x, T], [total, *grads])


@pytest.mark.parametrize("params", [FHL, (1.0, 1.0, 1.0, 1.0), (1e-3, 1e-3, 1e-3, 1e-3)])
@pytest.mark.parametrize("customer", [[200, 499.0, 500.0], [200, 0.001, 500.0], [0, 0.0, 500.0],
                                      [2000, 9999.0, 10000.0], [2, 30.43, 38.86]])
def test_bg_nbd_gradient_is_finite_and_correct(params, customer):
    """pytensor.grad of the BG/NBD log-likelihood is finite for extreme customers (x=200,
    t_x=499, T=500, ...), and equals a central finite difference of lifetimes' value."""
    x, t_x, T = (np.array([float(v)]) for v in customer)
    value, *grad = _bg_nbd_value_and_grad()(*params, x, t_x, T)
    grad = np.array(grad, dtype=float)
    assert np.isfinite(value)
    assert np.isfinite(grad).all(), f"gradient {grad} at {customer} with {params}"
    numeric = []
    for i in range(4):
        h = 1e-4 * params[i]
        up, down = list(params), list(params)
        up[i] += h
        down[i] -= h
        numeric.append((lifetimes_bg_nbd(up, x, t_x, T)[0]
                        - lifetimes_bg_nbd(down, x, t_x, T)[0]) / (2 * h))
    # Finite differences lose about eps * |value| / h to rounding.
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6 * max(1.0, abs(value)))


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", GAMMA_GAMMA_PARAMS)
def test_gamma_gamma_logp_equals_lifetimes_on_cdnow(params):
    """Per customer with x > 0 (CDNOW sample), gamma_gamma_logp equals lifetimes'
    GammaGammaFitter log-likelihood to 1e-10."""
    x, m = repeat_buyers()
    ours = gamma_gamma_logp_function()(*params, x, m)
    np.testing.assert_allclose(ours, lifetimes_gamma_gamma(params, x, m), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("params", GAMMA_GAMMA_PARAMS)
def test_gamma_gamma_logp_equals_beta_prime_density(params):
    """Closed form: S = x m is Gamma(p x, nu) and nu ~ Gamma(q, gamma), so S / gamma is
    beta-prime(p x, q); the density of m is x/gamma times that density at x m / gamma."""
    p, q, gamma = params
    x = np.array([1, 1, 2, 3, 7, 20, 200, 1000], dtype=float)
    m = np.array([0.01, 35.0, 12.5, 100.0, 1.0, 40.0, 1e4, 3.0])
    expected = stats.betaprime.logpdf(x * m / gamma, p * x, q) + np.log(x / gamma)
    np.testing.assert_allclose(gamma_gamma_logp_function()(*params, x, m), expected, rtol=1e-10)


@pytest.mark.parametrize("x, m", [(1, 20.0), (2, 35.5), (5, 12.0), (14, 60.0)])
def test_gamma_gamma_logp_equals_numerical_integration(x, m):
    """FH (2013): integrate Gamma(m; p x, rate x nu) * Gamma(nu; q, rate gamma) over nu
    numerically (scipy.integrate.quad) and compare to exp(gamma_gamma_logp)."""
    p, q, gamma = FH

    def integrand(nu):
        return (stats.gamma.pdf(m, p * x, scale=1 / (x * nu))
                * stats.gamma.pdf(nu, q, scale=1 / gamma))

    scale = q / gamma  # the prior mean of nu; the integrand lives within a few of these
    value = sum(
        integrate.quad(integrand, lo * scale, hi * scale, epsabs=0, epsrel=1e-12, limit=200)[0]
        for lo, hi in [(0, 0.5), (0.5, 2), (2, 10), (10, 200)]
    )
    ours = gamma_gamma_logp_function()(*FH, np.array([float(x)]), np.array([m]))[0]
    assert ours == pytest.approx(np.log(value), abs=1e-9)


def test_gamma_gamma_gradient_is_finite_for_extremes():
    """pytensor.grad of the Gamma-Gamma log-likelihood is finite for large x and tiny/huge m,
    and equals a central finite difference of lifetimes' value."""
    p, q, gamma = pt.dscalars("p", "q", "gamma")
    xs, ms = pt.dvectors("x", "m")
    total = gamma_gamma.logp(p, q, gamma, xs, ms).sum()
    f = pytensor.function([p, q, gamma, xs, ms], [total, *pytensor.grad(total, [p, q, gamma])])
    x = np.array([1.0, 200.0, 5000.0, 3.0])
    m = np.array([1e-4, 1e4, 25.0, 1e6])
    for params in GAMMA_GAMMA_PARAMS:
        value, *grad = f(*params, x, m)
        assert np.isfinite(value) and np.isfinite(grad).all()
        numeric = []
        for i in range(3):
            h = 1e-4 * params[i]
            up, down = list(params), list(params)
            up[i] += h
            down[i] -= h
            numeric.append((lifetimes_gamma_gamma(up, x, m).sum()
                            - lifetimes_gamma_gamma(down, x, m).sum()) / (2 * h))
        np.testing.assert_allclose(grad, numeric, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# Precision of parameters given as plain numbers
# --------------------------------------------------------------------------------------------


def test_python_float_parameters_are_float64():
    """The module promises parameters "may be PyTensor variables or NumPy values"; a user (or a
    teaching notebook) naturally passes plain numbers such as 1.0 or 10.0. Those must give the
    float64 result: the same value as np.float64 parameters, to 1e-13 relative. (PyTensor's
    'custom' cast policy turns Python floats that fit float32 exactly into float32 constants,
    so pt.log(10.0) and pt.gammaln(1.0) are computed in single precision.)"""
    x, t_x, T = xtT(cdnow_summary().customers)
    plain = (1.0, 2.0, 0.5, 3.0)
    as_f64 = tuple(np.float64(v) for v in plain)
    reference = bg_nbd_logp_function()(*plain, x, t_x, T)
    np.testing.assert_allclose(bg_nbd.logp(*as_f64, x, t_x, T).eval(), reference,
                               rtol=1e-13)
    np.testing.assert_allclose(bg_nbd.logp(*plain, x, t_x, T).eval(), reference,
                               rtol=1e-13)
    xs, m = repeat_buyers()
    plain = (2.0, 3.0, 10.0)
    reference = gamma_gamma_logp_function()(*plain, xs, m)
    np.testing.assert_allclose(gamma_gamma.logp(*plain, xs, m).eval(), reference,
                               rtol=1e-13)



def test_pareto_nbd_numpy_log_terms_equal_the_pytensor_logp():
    """The NumPy terms behind Pareto/NBD P(alive) and the PyTensor likelihood share one change
    of variables; their log-sum-exp plus the x part is the logp."""

    x, t_x, T = EXTREME_CUSTOMERS.T
    for r, alpha, s, beta in [(0.5532, 10.5763, 0.6062, 11.6715), (2.0, 0.5, 3.0, 40.0)]:
        alive, dropped = pareto_nbd.log_terms(r, alpha, s, beta, x, t_x, T)
        x_part = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        logp = pareto_nbd.logp(r, alpha, s, beta, x, t_x, T).eval()
        np.testing.assert_allclose(x_part + np.logaddexp(alive, dropped), logp, rtol=1e-12)
