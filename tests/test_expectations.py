"""Closed-form BG/NBD and Gamma-Gamma predictions (clvlib.models.bg_nbd, .gamma_gamma).

Sources:
- Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2),
  at the MLE r=0.2426, alpha=4.4136, a=0.7929, b=2.4259 on the CDNOW sample: E[X(t)] for
  t = 1, 3, 32, 78 weeks = 0.0532, 0.1506, 1.0437, 1.8576; E[Y(39) | x=2, t_x=30.43,
  T=38.86] = 1.226; P(X(39)=0) = 0.5738 (DESIGN.md section 5). The published parameters are
  rounded to 4 decimals, hence the tolerances of 5e-4 and 1e-3.
- lifetimes 0.11.3 BetaGeoFitter / GammaGammaFitter methods, an independent implementation
  of the same equations (eqs. 8-10 of FHL 2005; eq. 5 of Fader & Hardie 2013).
- For heavy buyers, an independent pure-Python evaluation of FHL eq. (10): the Gauss
  hypergeometric function after Pfaff's transformation to a convergent series, summed with
  math.fsum (tests/test_finite.py adds mpmath references over the whole parameter space).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from helpers import FH_GAMMA_GAMMA, FHL_BG_NBD, lifetimes_beta_geo, lifetimes_gamma_gamma
from scipy import integrate, stats

from clvlib.models import bg_nbd, gamma_gamma, pareto_nbd

FHL = tuple(FHL_BG_NBD.values())
FH = tuple(FH_GAMMA_GAMMA.values())

PARAMS = [FHL, (1.0, 2.0, 1.5, 2.5), (0.05, 30.0, 5.0, 0.3), (3.0, 0.5, 1.2, 12.0)]

HORIZONS = [0.5, 1.0, 3.0, 32.0, 39.0, 78.0, 520.0, 1e4]
# (x, t_x, T): new, typical, heavy, lapsed and loyal customers.
CUSTOMERS = [
    (0, 0.0, 0.0), (0, 0.0, 1.0), (0, 0.0, 38.86), (0, 0.0, 100.0),
    (1, 0.5, 1.0), (1, 38.0, 38.86), (1, 2.0, 100.0),
    (2, 30.43, 38.86), (5, 10.0, 38.86), (10, 38.86, 38.86), (20, 19.43, 38.86),
    (50, 99.0, 100.0), (50, 5.0, 100.0),
    (100, 38.86, 38.86), (100, 19.43, 38.86), (150, 1.0, 1.0),
    (200, 499.0, 500.0), (200, 50.0, 100.0), (500, 100.0, 100.0),
]


def bg_dict(params) -> dict:
    return dict(zip(("r", "alpha", "a", "b"), params, strict=True))


def grid():
    for params in PARAMS:
        for x, t_x, T in CUSTOMERS:
            for t in HORIZONS:
                yield params, x, t_x, T, t


def quietly(fn, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


# --------------------------------------------------------------------------------------------
# Published point checks
# --------------------------------------------------------------------------------------------


def test_fhl_expected_purchases_new_customer():
    """FHL 2005: E[X(t)] = 0.0532, 0.1506, 1.0437, 1.8576 for t = 1, 3, 32, 78 weeks."""
    t = np.array([1.0, 3.0, 32.0, 78.0])
    published = np.array([0.0532, 0.1506, 1.0437, 1.8576])
    np.testing.assert_allclose(bg_nbd.expected_purchases_new(*FHL, t), published, atol=5e-4)


def test_fhl_conditional_expectation_customer_00004():
    """FHL 2005: E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226."""
    value = bg_nbd.expected_purchases(*FHL, 2, 30.43, 38.86, 39.0)
    assert value == pytest.approx(1.226, abs=1e-3)


def test_fhl_probability_of_no_purchase():
    """FHL 2005: P(X(39) = 0) = 0.5738."""
    assert bg_nbd.prob_purchases(*FHL, 39.0, 0) == pytest.approx(0.5738, abs=1e-3)


# --------------------------------------------------------------------------------------------
# Against lifetimes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", PARAMS)
def test_expected_purchases_new_equals_lifetimes(params):
    """E[X(t)] equals lifetimes' expected_number_of_purchases_up_to_time to 1e-8, t up to 1e5."""
    t = np.array([*HORIZONS, 1e5])
    theirs = quietly(lifetimes_beta_geo(bg_dict(params)).
                     expected_number_of_purchases_up_to_time, t)
    ok = np.isfinite(theirs)
    assert ok[:-2].all()  # lifetimes itself is finite to 520 weeks at least
    np.testing.assert_allclose(bg_nbd.expected_purchases_new(*params, t)[ok], theirs[ok],
                               rtol=1e-8)


def test_conditional_expectation_equals_lifetimes_on_a_grid():
    """E[Y(t) | x, t_x, T] equals lifetimes' conditional_expected_number_of_purchases_up_to_time
    to 1e-8 over 4 parameter sets x 19 customers (x up to 500) x 8 horizons (to 1e4), wherever
    lifetimes itself is finite; clvlib must be finite everywhere."""
    failures = []
    for params, x, t_x, T, t in grid():
        fitter = lifetimes_beta_geo(bg_dict(params))
        theirs = float(quietly(fitter.conditional_expected_number_of_purchases_up_to_time,
                               t, x, t_x, T))
        ours = float(quietly(bg_nbd.expected_purchases, *params, x, t_x, T, t))
        if not np.isfinite(ours):
            failures.append((params, x, t_x, T, t, ours, theirs))
        elif np.isfinite(theirs) and not math.isclose(ours, theirs, rel_tol=1e-8, abs_tol=1e-300):
            failures.append((params, x, t_x, T, t, ours, theirs))
    assert not failures, f"{len(failures)} mismatches, e.g. {failures[:5]}"


def _hyp2f1_series(a, b, c, z):
    """Gauss 2F1 by its power series (z in [0, 1), converging fast when c - a - b is large)."""
    term, terms, k = 1.0, [1.0], 0
    while True:
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        k += 1
        terms.append(term)
        if k > 5 and abs(term) < 1e-18 * abs(math.fsum(terms)):
            return math.fsum(terms)
        if k > 100_000:
            raise RuntimeError("series did not converge")


def _conditional_expectation_reference(r, alpha, a, b, x, t_x, T, t):
    """FHL eq. (10) with 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t)) ((alpha+T)/(alpha+T+t))^(r+x)
    = 2F1(r+x, a-1; a+b+x-1; -t/(alpha+T)) (Euler) = (1+t/(alpha+T))^(1-a) *
    2F1(a+b-1-r, a-1; a+b+x-1; t/(alpha+T+t)) (Pfaff), a series that converges quickly for
    large x."""
    w = t / (alpha + T + t)
    hyp = (1 + t / (alpha + T)) ** (1 - a) * _hyp2f1_series(a + b - 1 - r, a - 1, a + b + x - 1, w)
    head = (a + b + x - 1) / (a - 1) * (1 - hyp)
    if x == 0:
        return head
    log_odds = math.log(a) - math.log(b + x - 1) + (r + x) * (
        math.log(alpha + T) - math.log(alpha + t_x))
    return head / (1 + math.exp(log_odds)) if log_odds < 700 else 0.0


@pytest.mark.parametrize("x", [20, 100, 200, 500, 2000])
def test_conditional_expectation_for_heavy_buyers_equals_series(x):
    """Heavy buyers (x = 20 ... 2,000), horizons to 1e4, 4 parameter sets: E[Y(t) | x, t_x, T]
    equals the independent series evaluation to 1e-8 (and is finite)."""
    for params, (t_x, T), t in itertools.product(
        PARAMS, [(38.86, 38.86), (19.43, 38.86), (1.0, 1.0), (499.0, 500.0)],
        [1.0, 39.0, 520.0, 1e4],
    ):
        ours = float(quietly(bg_nbd.expected_purchases, *params, x, t_x, T, t))
        reference = _conditional_expectation_reference(*params, x, t_x, T, t)
        assert math.isclose(ours, reference, rel_tol=1e-8, abs_tol=1e-300), (
            f"params={params}, x={x}, t_x={t_x}, T={T}, t={t}: clvlib {ours}, "
            f"reference {reference}"
        )


def test_reference_series_agrees_with_lifetimes():
    """The series reference itself agrees with lifetimes to 1e-9 where both apply."""
    for params, x, t_x, T, t in grid():
        if x < 20 or t > 1e4:
            continue
        fitter = lifetimes_beta_geo(bg_dict(params))
        theirs = float(quietly(fitter.conditional_expected_number_of_purchases_up_to_time,
                               t, x, t_x, T))
        if np.isfinite(theirs):
            reference = _conditional_expectation_reference(*params, x, t_x, T, t)
            assert math.isclose(reference, theirs, rel_tol=1e-9, abs_tol=1e-300)


@pytest.mark.parametrize("params", PARAMS)
def test_p_alive_equals_lifetimes(params):
    """P(alive | x, t_x, T) equals lifetimes' conditional_probability_alive to 1e-10."""
    x, t_x, T = (np.array(col, dtype=float) for col in zip(*CUSTOMERS, strict=True))
    fitter = lifetimes_beta_geo(bg_dict(params))
    theirs = quietly(fitter.conditional_probability_alive, x, t_x, T)
    ours = bg_nbd.p_alive(*params, x, t_x, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-300)
    assert np.all(ours[x == 0] == 1.0)
    assert np.all((ours >= 0) & (ours <= 1))


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("t", [1.0, 39.0, 78.0, 520.0])
def test_prob_purchases_equals_lifetimes(params, t):
    """P(X(t) = n) equals lifetimes' probability_of_n_purchases_up_to_time to 1e-8, n <= 100."""
    fitter = lifetimes_beta_geo(bg_dict(params))
    for n in [*range(0, 20), 50, 100]:
        theirs = float(quietly(fitter.probability_of_n_purchases_up_to_time, t, n))
        ours = float(bg_nbd.prob_purchases(*params, t, n))
        assert math.isclose(ours, theirs, rel_tol=1e-8, abs_tol=1e-15), (n, ours, theirs)


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("t", [1.0, 39.0, 78.0])
def test_prob_purchases_sum_to_one_and_mean_is_expected_purchases(params, t):
    """sum_n P(X(t)=n) = 1, and sum_n n P(X(t)=n) = E[X(t)] (FHL eqs. 8 and 9), to 1e-10."""
    n = np.arange(0, 5000)
    probs = bg_nbd.prob_purchases(*params, t, n)
    assert np.all(probs >= 0)
    assert probs.sum() == pytest.approx(1.0, abs=1e-10)
    if params[2] > 1 or t <= 39:  # a <= 1 gives a heavy tail: the mean converges slowly
        mean = (n * probs).sum()
        assert mean == pytest.approx(bg_nbd.expected_purchases_new(*params, t), rel=1e-8)


def test_conditional_expectation_of_a_brand_new_customer_is_unconditional():
    """With x = 0, t_x = 0, T = 0 (just acquired), E[Y(t) | data] = E[X(t)] (FHL eq. 10)."""
    t = np.array(HORIZONS)
    for params in PARAMS:
        np.testing.assert_allclose(
            bg_nbd.expected_purchases(*params, 0, 0.0, 0.0, t),
            bg_nbd.expected_purchases_new(*params, t), rtol=1e-12,
        )


def test_predictions_broadcast_over_draws_and_customers():
    """Draws of shape (S, 1) and data of shape (C,) give (S, C), each cell as if computed alone."""
    draws = np.array(PARAMS)[:, :, None]  # (S, 4, 1)
    r, alpha, a, b = (draws[:, i] for i in range(4))
    x, t_x, T = (np.array(col, dtype=float) for col in zip(*CUSTOMERS[:13], strict=True))
    table = bg_nbd.expected_purchases(r, alpha, a, b, x, t_x, T, 39.0)
    alive = bg_nbd.p_alive(r, alpha, a, b, x, t_x, T)
    assert table.shape == alive.shape == (len(PARAMS), len(x))
    for s, params in enumerate(PARAMS):
        for c in range(len(x)):
            assert table[s, c] == pytest.approx(
                bg_nbd.expected_purchases(*params, x[c], t_x[c], T[c], 39.0), rel=1e-14)
            assert alive[s, c] == pytest.approx(
                bg_nbd.p_alive(*params, x[c], t_x[c], T[c]), rel=1e-14)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [FH, (2.0, 3.0, 10.0), (20.0, 1.5, 0.3)])
def test_gamma_gamma_expected_spend_equals_lifetimes(params):
    """E[M | x, m] equals lifetimes' conditional_expected_average_profit to 1e-12 (FH 2013 eq. 5);
    x = 0 gives the population mean p gamma / (q - 1), whatever m is (NaN included)."""
    x = np.array([1, 2, 3, 7, 20, 200], dtype=float)
    m = np.array([5.0, 35.5, 12.0, 100.0, 1.0, 40.0])
    theirs = lifetimes_gamma_gamma(dict(zip(("p", "q", "gamma"), params, strict=True))) \
        .conditional_expected_average_profit(x, m)
    np.testing.assert_allclose(gamma_gamma.expected_spend(*params, x, m), theirs, rtol=1e-12)
    p, q, gamma = params
    population = gamma_gamma.expected_spend(*params, np.zeros(2), np.array([np.nan, 50.0]))
    np.testing.assert_allclose(population, p * gamma / (q - 1), rtol=1e-14)


def test_gamma_gamma_expected_spend_shrinks_toward_observed_mean():
    """As x grows the expected spend approaches the observed mean m (FH 2013)."""
    x = np.array([1, 10, 100, 10_000], dtype=float)
    spend = gamma_gamma.expected_spend(*FH, x, np.full(4, 80.0))
    gaps = np.abs(spend - 80.0)
    assert np.all(np.diff(gaps) < 0) and gaps[-1] < 0.05


@pytest.mark.parametrize("rates", [(0.55, 10.58, 0.61, 11.67), (2.0, 3.0, 5.0, 50.0),
                                   (0.5, 1.0, 0.3, 0.1), (0.5, 1.0, 0.3, 0.001),
                                   (0.2, 0.5, 0.1, 1e-5)])
def test_pareto_nbd_prob_purchases_agrees_with_adaptive_quadrature(rates):
    """P(X(t) = n) of a new Pareto/NBD customer against SciPy's adaptive quadrature over the
    dropout time (breakpoints at beta, 10 beta, ...), to 1e-9, and summing to 1 over n < 3,000
    (1e-8): at FHL's CDNOW rates and down to beta = 1e-5, which puts most dropout times within
    1e-5 weeks of the first purchase (a rule even in the dropout time summed to 0.68 at beta =
    0.001)."""
    r, alpha, s, beta = rates

    def nb(tau, n):
        return stats.nbinom.pmf(n, r, alpha / (alpha + tau))

    def dropped_at(tau, n):
        return s * beta**s * (beta + tau) ** -(s + 1) * nb(tau, n)

    for t in (1.0, 13.0, 78.0):
        for n in range(6):
            points = [beta * 10.0**k for k in range(8) if beta * 10.0**k < t] or None
            died, _ = integrate.quad(dropped_at, 0, t, args=(n,), points=points, limit=500,
                                     epsabs=1e-15, epsrel=1e-12)
            reference = nb(t, n) * (beta / (beta + t)) ** s + died
            assert pareto_nbd.prob_purchases(*rates, t, n) == pytest.approx(reference, rel=1e-9)
        total = pareto_nbd.prob_purchases(*rates, t, np.arange(3000.0)).sum()
        assert total == pytest.approx(1.0, abs=1e-8)
