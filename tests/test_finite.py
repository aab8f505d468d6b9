"""Finite, accurate closed forms over the whole parameter space (issue 9, section 4).

A BG/NBD fit with flat priors on a real 600-customer file reached a = 62,556, b = 381,461, and
every prediction came out NaN. Here every closed form of every model is evaluated on grids of
parameters from 1e-3 to 1e6 and must be finite and in range, and the ones that were fragile
(the Gauss hypergeometric functions, ratios of beta and gamma functions) are checked against
independent high-precision references computed with mpmath:

- expectations over a beta distribution straight from their definition, by mpmath's
  tanh-sinh quadrature over the logit of p (16 digits), not through the hypergeometric
  identities the library uses;
- ratios of beta and gamma functions with mpmath's own beta, gamma and incomplete beta.
"""

from __future__ import annotations

import importlib
import itertools
import warnings

import mpmath as mp
import numpy as np
import pytest

from clvlib import predict, special
from clvlib.discounting import purchase_weights
from clvlib.models import bg_bb, bg_nbd, gamma_gamma, kernels, mbg_nbd, pareto_nbd, sbg
from clvlib.models.gamma_gamma import GammaGammaModel

SHAPES = [1e-3, 0.5, 1.0, 30.0, 1e6]
ISSUE = {"r": 0.24, "alpha": 4.4, "a": 62_556.0, "b": 381_461.0}  # the fit that gave NaN


def beta_expectation_reference(g, a, b, dps=16):
    """E[g(p)] over p ~ Beta(a, b) by mpmath quadrature over y = logit(p) on the whole line,
    split at the mode and at multiples of the curvature scale (and of 1/a, 1/b for the slow
    tails of small shapes)."""
    with mp.workdps(dps):
        a, b = mp.mpf(a), mp.mpf(b)
        log_norm = mp.log(mp.beta(a, b))
        mode, scale = mp.log(a / b), mp.sqrt(1 / a + 1 / b)
        cuts = {mode + k * scale for k in (-30, -8, -2, 0, 2, 8, 30)}
        cuts |= {mode - 40 / a, mode + 40 / b}

        def integrand(y):
            p = 1 / (1 + mp.exp(-y))
            if y < 0:
                log_f = a * y - (a + b) * mp.log1p(mp.exp(y))
            else:
                log_f = -b * y - (a + b) * mp.log1p(mp.exp(-y))
            return g(p) * mp.exp(log_f - log_norm)

        return mp.quad(integrand, [-mp.inf, *sorted(cuts), mp.inf])


def purchase_curve_reference(R, u, a, b):
    """E[(1 - (1 + p u)^-R) / p], p ~ Beta(a, b): expected purchases of a live BG/NBD customer
    (lambda ~ Gamma(R, A) integrated out, u = t/A), from the definition."""
    R, u = mp.mpf(R), mp.mpf(u)
    return beta_expectation_reference(lambda p: -mp.expm1(-R * mp.log1p(p * u)) / p, a, b)


# --------------------------------------------------------------------------------------------
# (M)BG/NBD expected purchases: the beta mean of the purchase curve
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("R, u", [(0.24, 0.01), (0.24, 1.0), (500.0, 100.0)])
def test_beta_mean_of_purchase_curve_against_mpmath(R, u):
    """Shapes a, b from 1e-3 to 1e6 (a = 1 included, where the closed form is 0/0); R u from
    2.4e-3 (the power series) to 5e4 (a heavy buyer over a long horizon, where both of SciPy's
    hypergeometric forms overflow for a >= 3). Relative error at most 1e-6 at a = 1 (where the
    closed form is 0/0) and 1e-7 elsewhere (measured on a wider grid: at most 1.7e-7 at
    a = 1 and 1e-8 elsewhere)."""
    failures = []
    for a, b in itertools.product([1e-3, 1.0, 30.0, 1e6], [1e-3, 1.0, 1e6]):
        ours = float(special.beta_mean_of_purchase_curve(R, u, a, b))
        reference = float(purchase_curve_reference(R, u, a, b))
        tolerance = 1e-6 if a == 1.0 else 1e-7
        if not (np.isfinite(ours) and abs(ours / reference - 1) <= tolerance):
            failures.append((a, b, ours, reference))
    assert not failures, failures


def test_the_issue_fit_gives_finite_accurate_bg_nbd_predictions():
    """a = 62,556, b = 381,461 (r = 0.24, alpha = 4.4): P(alive), E[Y(39) | data] and E[X(t)]
    are finite and equal the mpmath references to 1e-9; the NaN of the issue is gone."""
    r, alpha, a, b = ISSUE.values()
    x, t_x, T = np.array([0.0, 2, 10, 200]), np.array([0.0, 30.43, 38, 38]), np.full(4, 38.86)
    alive = bg_nbd.p_alive(r, alpha, a, b, x, t_x, T)
    expected = bg_nbd.expected_purchases(r, alpha, a, b, x, t_x, T, 39.0)
    new = bg_nbd.expected_purchases_new(r, alpha, a, b, np.array([1.0, 39.0, 520.0]))
    assert np.isfinite(alive).all() and np.isfinite(expected).all() and np.isfinite(new).all()
    with mp.workdps(30):
        for i in range(4):
            odds = (mp.mpf(a) / (b + x[i] - 1) * ((alpha + T[i]) / (alpha + t_x[i])) ** (r + x[i])
                    if x[i] > 0 else 0)
            p_alive = 1 / (1 + odds)
            assert float(alive[i]) == pytest.approx(float(p_alive), rel=1e-9)
            curve = purchase_curve_reference(r + x[i], 39.0 / (alpha + T[i]), a, b + x[i])
            assert float(expected[i]) == pytest.approx(float(curve * p_alive), rel=1e-9)
    for t, value in zip([1.0, 39.0, 520.0], new, strict=True):
        assert float(value) == pytest.approx(float(purchase_curve_reference(r, t / alpha, a, b)),
                                             rel=1e-9)


def test_mbg_nbd_expected_purchases_at_large_shapes_against_mpmath():
    """MBG/NBD: E[X(t)] = E[(1-p) curve(p)] and E[Y(t) | alive] = curve under Beta(a, b+x+1)."""
    r, alpha, a, b = ISSUE.values()
    new = float(mbg_nbd.expected_purchases_new(r, alpha, a, b, 39.0))
    with mp.workdps(20):
        u = mp.mpf(39.0) / alpha
        reference = beta_expectation_reference(
            lambda p: (1 - p) * -mp.expm1(-r * mp.log1p(p * u)) / p, a, b)
    assert new == pytest.approx(float(reference), rel=1e-9)
    alive = float(mbg_nbd.expected_purchases_alive(r, alpha, a, b, 5.0, 38.86, 39.0))
    assert alive == pytest.approx(
        float(purchase_curve_reference(r + 5, 39.0 / (alpha + 38.86), a, b + 6)), rel=1e-9)


def _nbd_new_customer_probability(r, alpha, a, b, t, n, modified):
    """P(X(t) = n) of (M)BG/NBD in mpmath: FHL 2005 eq. (8) and its MBG form."""
    r, alpha, a, b, t = (mp.mpf(v) for v in (r, alpha, a, b, t))
    nb = (mp.gamma(r + n) / (mp.gamma(r) * mp.factorial(n)) * (alpha / (alpha + t)) ** r
          * (t / (alpha + t)) ** n)
    shift = 1 if modified else 0
    alive = mp.beta(a, b + n + shift) / mp.beta(a, b) * nb
    if modified:
        reached = mp.betainc(n, r, 0, t / (alpha + t), regularized=True) if n > 0 else 1
        return alive + mp.beta(a + 1, b + n) / mp.beta(a, b) * reached
    if n == 0:
        return alive
    reached = mp.betainc(n, r, 0, t / (alpha + t), regularized=True)
    return alive + mp.beta(a + 1, b + n - 1) / mp.beta(a, b) * reached


@pytest.mark.parametrize("modified", [False, True])
def test_prob_purchases_at_any_shape_against_mpmath(modified):
    """P(X(t) = n) for r, a, b over 1e-3 .. 1e6 (alpha = 4.4, t = 39, n = 0, 1, 5, 50), to 1e-8
    relative (or 1e-300 absolute): ratios of beta functions as rising factorials."""
    fn = mbg_nbd.prob_purchases if modified else bg_nbd.prob_purchases
    n = np.array([0.0, 1, 5, 50])
    failures = []
    with mp.workdps(30):
        for r, a, b in itertools.product([1e-3, 0.24, 1e6], [1e-3, 1.0, 1e6], [1e-3, 1.0, 1e6]):
            ours = fn(r, 4.4, a, b, 39.0, n)
            for k in range(len(n)):
                ref = float(_nbd_new_customer_probability(r, 4.4, a, b, 39.0, int(n[k]), modified))
                if not (np.isfinite(ours[k]) and abs(ours[k] - ref) <= 1e-8 * ref + 1e-300):
                    failures.append((r, a, b, n[k], ours[k], ref))
    assert not failures, failures


# --------------------------------------------------------------------------------------------
# Pareto/NBD
# --------------------------------------------------------------------------------------------


def _pareto_p_alive_reference(r, alpha, s, beta, x, t_x, T):
    """P(alive) = alive term / (alive term + s * integral_{t_x}^{T} ...) (FHL 2005 note)."""
    r, alpha, s, beta, x, t_x, T = (mp.mpf(v) for v in (r, alpha, s, beta, x, t_x, T))
    alive = (alpha + T) ** -(r + x) * (beta + T) ** -s
    dropped = s * mp.quad(lambda tau: (alpha + tau) ** -(r + x) * (beta + tau) ** -(s + 1),
                          [t_x, (t_x + T) / 2, T])
    return alive / (alive + dropped)


def test_pareto_nbd_at_any_shape_against_mpmath():
    """P(alive) and E[X(t)] for r, alpha, s, beta in {1e-3, 1, 1e6} against mpmath: P(alive)
    to 1e-6 relative or 1e-8 absolute (the 16-node rule it shares with the likelihood, measured
    worst 2.6e-7 relative at r = alpha = 1e-3; and at r = 1e6 each log term is -1.4e7, so 1-P
    near 1e-5 keeps about 9e-10 absolute), E[X(t)] to 1e-7."""
    failures = []
    with mp.workdps(25):
        for r, alpha, s, beta in itertools.product([1e-3, 1.0, 1e6], repeat=4):
            for x, t_x, T in [(2.0, 30.0, 39.0), (0.0, 0.0, 39.0)]:
                ours = float(pareto_nbd.p_alive(r, alpha, s, beta, x, t_x, T))
                ref = float(_pareto_p_alive_reference(r, alpha, s, beta, x, t_x, T))
                if not abs(ours - ref) <= 1e-6 * ref + 1e-8:
                    failures.append(("p_alive", r, alpha, s, beta, x, ours, ref))
            new = float(pareto_nbd.expected_purchases_new(r, alpha, s, beta, 39.0))
            R, A, S, B = (mp.mpf(v) for v in (r, alpha, s, beta))
            ref = R * B / A * (1 - (B / (B + 39)) ** (S - 1)) / (S - 1) if s != 1 else (
                R * B / A * mp.log1p(39 / B))
            if not abs(new / float(ref) - 1) <= 1e-7:
                failures.append(("new", r, alpha, s, beta, new, float(ref)))
    assert not failures, failures[:10]


def _pareto_log_likelihood_reference(r, alpha, s, beta, x, t_x, T):
    """The Pareto/NBD log-likelihood by mpmath, its integral split into 400 pieces (a heavy
    buyer's integrand falls by e^-12 in a week: one tanh-sinh pass over the whole interval
    misses part of it)."""
    r, alpha, s, beta, x, t_x, T = (mp.mpf(v) for v in (r, alpha, s, beta, x, t_x, T))
    common = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) + s * mp.log(beta)
    alive = (alpha + T) ** -(r + x) * (beta + T) ** -s
    cuts = [t_x + (T - t_x) * mp.mpf(i) / 400 for i in range(401)]
    dropped = s * mp.quad(lambda tau: (alpha + tau) ** -(r + x) * (beta + tau) ** -(s + 1), cuts)
    return common + mp.log(alive + dropped)


@pytest.mark.parametrize(("r", "alpha", "s", "beta"), [(2.0, 1.0, 0.4, 30.0),
                                                      (0.55, 2.37, 0.6, 31.8),
                                                      (0.55, 10.6, 0.6, 11.7),
                                                      (1.0, 30.0, 0.8, 1.0)])
def test_pareto_nbd_log_likelihood_of_heavy_buyers_gone_silent(r, alpha, s, beta):
    """Heavy buyers silent for most of their age, alpha far below beta and the other way:
    the likelihood (PyTensor) and the compiled kernel's per-row value agree with mpmath to
    2e-9 relative (measured: 7e-10 at x = 200 with alpha above beta, 3e-12 elsewhere). Before
    the quadrature's cut counted the exponent e (2026-12-05) the first row was 1e-2 off."""
    rows = np.array([(60.0, 2.0, 39.0), (200.0, 5.0, 39.0), (30.0, 1.0, 78.0), (8.0, 0.5, 39.0),
                     (3.0, 38.0, 39.0), (0.0, 0.0, 39.0)])
    x, t_x, T = rows.T
    with mp.workdps(30):
        ref = np.array([float(_pareto_log_likelihood_reference(r, alpha, s, beta, *row))
                        for row in rows])
    ours = pareto_nbd.logp(r, alpha, s, beta, x, t_x, T).eval()
    kernel = np.empty((1, len(x)))
    kernels.pointwise_loglik(kernels.PARETO_NBD, np.array([[r, alpha, s, beta]]), x, t_x, T,
                             kernel)
    np.testing.assert_allclose(ours, ref, rtol=2e-9)
    np.testing.assert_allclose(kernel[0], ref, rtol=2e-9)


# --------------------------------------------------------------------------------------------
# BG/BB, sBG: beta-function ratios and the discounting sum 2F1(1, b; c; z)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("z", [1 / 1.1, 1 / 1.001])
def test_hyp2f1_one_against_mpmath(z):
    """2F1(1, b; c; z) = E[1/(1 - z v)], v ~ Beta(b, c-b), for b and c-b in {1e-3, 1, 1e6}
    (SciPy returns NaN at b = 1e6, c - b = 1e-3): to 1e-7."""
    failures = []
    for b, gap in itertools.product([1e-3, 1.0, 1e6], repeat=2):
        ours = float(special.hyp2f1_one(b, b + gap, z))
        ref = float(beta_expectation_reference(lambda v: 1 / (1 - z * v), b, gap))
        if not (np.isfinite(ours) and abs(ours / ref - 1) <= 1e-7):
            failures.append((b, gap, ours, ref))
    assert not failures, failures


def test_bg_bb_p_alive_at_any_shape_against_mpmath():
    """BG/BB P(alive) (FHS 2010) for shapes in {1e-3, 1, 1e6}^4, with mpmath's beta: 1e-8."""
    customers = [(0, 0, 6), (2, 4, 6), (6, 6, 6)]
    failures = []
    with mp.workdps(30):
        for al, be, ga, de in itertools.product([1e-3, 1.0, 1e6], repeat=4):
            al_, be_, ga_, de_ = (mp.mpf(v) for v in (al, be, ga, de))
            for x, t_x, n in customers:
                head = mp.beta(al_ + x, be_ + n - x) / mp.beta(al_, be_)
                alive = head * mp.beta(ga_, de_ + n) / mp.beta(ga_, de_)
                dropped = sum(mp.beta(al_ + x, be_ + t_x - x + i) / mp.beta(al_, be_)
                              * mp.beta(ga_ + 1, de_ + t_x + i) / mp.beta(ga_, de_)
                              for i in range(n - t_x))
                ref = alive / (alive + dropped) * (de_ + n) / (ga_ + de_ + n)
                ours = float(bg_bb.p_alive(al, be, ga, de, x, t_x, n))
                if not abs(ours - float(ref)) <= 1e-8 * float(ref) + 1e-300:
                    failures.append((al, be, ga, de, x, ours, float(ref)))
    assert not failures, failures[:10]


def test_sbg_survival_and_derl_at_any_shape():
    """sBG S(t) against mpmath's beta ratio (1e-9), and DERL finite and at least the one
    undiscounted payment times the renewal rate, for shapes in {1e-3, 0.5, 1, 30, 1e6}."""
    with mp.workdps(30):
        for a, b in itertools.product(SHAPES, repeat=2):
            for t in (1, 7, 100):
                ref = mp.beta(a, mp.mpf(b) + t) / mp.beta(a, b)
                assert float(sbg.survival(a, b, t)) == pytest.approx(float(ref), rel=1e-9)
            derl = sbg.derl(a, b, 0.1, np.array([1.0, 5, 100]))
            assert np.isfinite(derl).all()
            assert np.all(derl >= sbg.retention_rate(a, b, np.array([1.0, 5, 100])) - 1e-12)


# --------------------------------------------------------------------------------------------
# Every closed form finite and in range on a grid of every parameter from 1e-3 to 1e6
# --------------------------------------------------------------------------------------------

GRID = np.array(list(itertools.product([1e-3, 1.0, 1e6], repeat=4)))  # 81 sets
PARAMS = [GRID[:, i:i + 1] for i in range(4)]
X, T_X, T = np.array([0.0, 1, 10, 300]), np.array([0.0, 5, 38, 200]), np.array([39.0, 39, 39, 300])


def _assert_finite(name, values, low=0.0, high=np.inf):
    values = np.asarray(values)
    bad = ~(np.isfinite(values) & (values >= low - 1e-12) & (values <= high + 1e-9))
    assert not bad.any(), f"{name}: {int(bad.sum())} of {values.size} out of range, first at " \
        f"parameters {GRID[np.argwhere(bad)[0][0]].tolist()}"


@pytest.mark.parametrize("model", ["bg_nbd", "mbg_nbd", "pareto_nbd"])
def test_purchase_model_closed_forms_are_finite_everywhere(model):
    """P(alive), E[Y(t) | data], E[X(t)], P(X(t)=n) and DERT for 81 parameter sets (each of 4
    parameters in {1e-3, 1, 1e6}), customers up to x = 300 and T = 300, t up to 1e4."""
    module = importlib.import_module(f"clvlib.models.{model}")
    fns = {k: getattr(module, k) for k in
           ("p_alive", "expected_purchases", "expected_purchases_new", "prob_purchases")}
    _assert_finite("P(alive)", fns["p_alive"](*PARAMS, X, T_X, T), 0, 1)
    for t in (1.0, 52.0, 1e4):
        _assert_finite(f"E[Y({t})]", fns["expected_purchases"](*PARAMS, X, T_X, T, t))
        _assert_finite(f"E[X({t})]", fns["expected_purchases_new"](*PARAMS, np.array([t])))
        _assert_finite(f"P(X({t})=n)", fns["prob_purchases"](*PARAMS, t, np.array([0.0, 5, 100])),
                       0, 1)
    names = ("r", "alpha", "a", "b") if model != "pareto_nbd" else ("r", "alpha", "s", "beta")
    times, weights = purchase_weights(np.inf, 7.0, 0.1)  # DERT: the unbounded horizon
    params = dict(zip(names, PARAMS, strict=True))
    dert = sum(w * fns["expected_purchases"](**params, x=X, t_x=T_X, T=T, t=t)
               for t, w in zip(times, weights, strict=True))
    _assert_finite("DERT", dert)


def test_bg_bb_and_sbg_closed_forms_are_finite_everywhere():
    x, t_x, n = np.array([0.0, 1, 3, 6]), np.array([0.0, 1, 5, 6]), np.full(4, 6.0)
    _assert_finite("BG/BB P(alive)", bg_bb.p_alive(*PARAMS, x, t_x, n), 0, 1)
    _assert_finite("BG/BB E[X]", bg_bb.expected_purchases(*PARAMS, x, t_x, n, 5))
    _assert_finite("BG/BB E[X(n)]", bg_bb.expected_purchases_new(*PARAMS, np.array([1.0, 50])))
    _assert_finite("BG/BB P(X(n)=x)", bg_bb.prob_purchases(*PARAMS, 6.0, np.array([0.0, 6])),
                   0, 1)
    _assert_finite("BG/BB DERT", bg_bb.dert(*PARAMS, x, t_x, n, 0.1))
    a, b, t = PARAMS[0], PARAMS[1], np.array([1.0, 7, 100])
    _assert_finite("sBG S(t)", sbg.survival(a, b, t), 0, 1)
    _assert_finite("sBG P(T=t)", sbg.churn_probability(a, b, t), 0, 1)
    _assert_finite("sBG DERL", sbg.derl(a, b, 0.1, t))


# --------------------------------------------------------------------------------------------
# Gamma-Gamma with q <= 1, and non-finite predictions refused
# --------------------------------------------------------------------------------------------


def test_gamma_gamma_refuses_an_infinite_expected_spend():
    """q <= 1: a customer without repeat purchases has no finite expected spend (the mean of
    1/nu, nu ~ Gamma(q, gamma)); the function raises, naming p, q and x, instead of returning
    p gamma / (q - 1) <= 0. With x > 0 and p x + q > 1 the value stays defined."""
    x, m = np.array([0.0, 3.0]), np.array([np.nan, 20.0])
    with pytest.raises(ValueError, match=r"needs p x \+ q > 1.*q=0\.8, x=0"):
        gamma_gamma.expected_spend(2.0, 0.8, 10.0, x, m)
    spend = gamma_gamma.expected_spend(2.0, 0.8, 10.0, x[1:], m[1:])
    assert spend == pytest.approx(2.0 * (10.0 + 60.0) / (6.0 - 0.2))


def test_gamma_gamma_default_prior_keeps_q_above_one():
    """The default prior on q is 1 + LogNormal(0, 3): every draw is above 1."""
    prior = GammaGammaModel.default_priors["q"]
    assert str(prior) == "1 + LogNormal(mu=0, sigma=3)"
    assert prior.draw(2000, seed=3).min() > 1.0


def test_require_finite_names_the_quantity_and_the_parameters():
    values = np.array([[1.0, 2.0], [np.inf, 3.0]])
    params = {"a": np.array([[0.5], [62556.0]]), "b": np.array([[2.0], [381461.0]])}
    with pytest.raises(FloatingPointError, match=r"expected purchases: 1 of 4 value\(s\) are "
                       r"not finite \(the first, inf, at index \(1, 0\), with a=62556, b=381461\)"):
        predict.require_finite(values, "expected purchases", params)
    finite = np.array([0.0, 1.0])
    assert predict.require_finite(finite, "P(alive)") is not None


def test_warnings_are_not_raised_by_the_closed_forms():
    """The stable forms do not rely on silenced overflow: no RuntimeWarning at the issue's fit."""
    r, alpha, a, b = ISSUE.values()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bg_nbd.expected_purchases(r, alpha, a, b, np.array([0.0, 2, 200]),
                                     np.array([0.0, 30, 38]), np.full(3, 39.0), 52.0)
