"""GGompertz/NBD: likelihood, closed forms, simulator, replication and recovery.

Sources:
- Bemmaor & Glady (2012), Management Science 58(5), Table 2, on the CDNOW sample (calibration to
  1997-09-30, weeks): r 0.553, alpha 10.578, b 0.0002, s 0.603, beta 0.0026, LL -9594.98.
  CLVTools (tests/testthat/test_correctness_ggomnbd.R) quotes them and its own MLE: r 0.55313,
  alpha 10.5758, b 0.0000011, s 0.60682, beta 0.000013, LL -9594.9762. The maximum sits on a
  ridge where b -> 0 with beta / b about 12: on CDNOW the model is the Pareto/NBD (beta 11.67).
- Adler (2022), Management Science, the corrected conditional expectation: (r+x)/(alpha+T)
  P(alive) [F(k/A) - (A/B)^s F(k/B)] / (b s), F(z) = 2F1(1, s; s+1; z), k = beta - 1, A =
  e^{bT} + k, B = e^{b(T+t)} + k (CLVTools' ggomnbd_CET), an independent closed form of ours.
- Adaptive quadrature (scipy.integrate.quad) of the likelihood's integral.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import assert_recovers, cdnow_summary
from scipy import integrate, special, stats

import clvlib as clv
from clvlib.models import ggompertz_nbd as gg
from clvlib.models import pareto_nbd
from clvlib.priors import Prior

TABLE_2 = {"r": 0.553, "alpha": 10.578, "b": 0.0002, "s": 0.603, "beta": 0.0026}
CLVTOOLS = {"r": 0.55313, "alpha": 10.5758, "b": 0.0000011, "s": 0.60682, "beta": 0.000013}
PARAMS = [
    {"r": 0.8, "alpha": 5.0, "b": 0.05, "s": 1.3, "beta": 2.0},
    {"r": 0.55, "alpha": 10.6, "b": 0.001, "s": 0.6, "beta": 0.01},
    {"r": 2.0, "alpha": 1.0, "b": 0.2, "s": 0.4, "beta": 30.0},
]
CUSTOMERS = [(0, 0.0, 39.0), (1, 10.0, 39.0), (5, 30.0, 39.0), (30, 38.0, 39.0),
             (200, 38.5, 39.0), (3, 39.0, 39.0), (2, 0.01, 39.0), (60, 2.0, 39.0)]


def _cdnow():
    frame = cdnow_summary(holdout=True).customers
    return tuple(frame[c].to_numpy(float) for c in ("x", "t_x", "T"))


def _quad_logp(r, alpha, b, s, beta, x, t_x, T):
    """The likelihood with its integral by adaptive quadrature, scaled by (alpha+t_x)^(r+x)."""
    k = r + x

    def density(y):
        return b * s * beta ** s * np.exp(b * y) * (beta + np.expm1(b * y)) ** -(s + 1)

    integral = integrate.quad(lambda y: ((alpha + t_x) / (alpha + y)) ** k * density(y), t_x, T,
                              epsabs=0, epsrel=1e-13, limit=200)[0]
    alive = ((alpha + t_x) / (alpha + T)) ** k * (beta / (beta + np.expm1(b * T))) ** s
    return (special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
            - k * np.log(alpha + t_x) + np.log(alive + integral))


# -- the likelihood ------------------------------------------------------------------------------


def test_cdnow_log_likelihood_at_the_published_estimates():
    x, t_x, T = _cdnow()
    at_clvtools = gg.logp(**CLVTOOLS, x=x, t_x=t_x, T=T).eval().sum()
    assert at_clvtools == pytest.approx(-9594.98, abs=0.01)
    # The paper's rounded b and beta move the total by 0.8 (b and beta only matter as beta / b)
    assert gg.logp(**TABLE_2, x=x, t_x=t_x, T=T).eval().sum() == pytest.approx(-9595.77, abs=0.01)


@pytest.mark.parametrize("params", PARAMS)
def test_logp_equals_adaptive_quadrature(params):
    x, t_x, T = (np.array(v) for v in zip(*CUSTOMERS, strict=True))
    ours = gg.logp(**params, x=x, t_x=t_x, T=T).eval()
    expected = [_quad_logp(**params, x=a, t_x=b, T=c) for a, b, c in CUSTOMERS]
    np.testing.assert_allclose(ours, expected, rtol=1e-9)


def test_small_b_is_the_pareto_nbd():
    """b -> 0 with beta / b fixed: the Gompertz lifetime is exponential with mu ~ Gamma(s,
    beta / b), the Pareto/NBD."""
    x, t_x, T = (np.array(v) for v in zip(*CUSTOMERS, strict=True))
    b = 1e-8
    ours = gg.logp(r=0.55, alpha=10.6, b=b, s=0.6, beta=11.7 * b, x=x, t_x=t_x, T=T).eval()
    pareto = pareto_nbd.logp(0.55, 10.6, 0.6, 11.7, x, t_x, T).eval()
    np.testing.assert_allclose(ours, pareto, rtol=1e-6)


def test_mle_on_cdnow_reaches_the_published_maximum():
    """Flat priors make MAP the MLE: the same maximum as Bemmaor & Glady and CLVTools (LL
    -9594.98), the same r, alpha and s, and beta / b near the Pareto/NBD's beta (the ridge)."""
    flat = {name: Prior("HalfFlat") for name in gg.GGompertzNBDModel.params}
    model = clv.GGompertzNBDModel(cdnow_summary(holdout=True), priors=flat)
    model.fit("map", progressbar=False)
    point = model.point_estimate()
    assert model.log_likelihood() == pytest.approx(-9594.98, abs=0.02)
    for name in ("r", "alpha", "s"):
        assert point[name] == pytest.approx(CLVTOOLS[name], rel=0.01), name
    assert point["beta"] / point["b"] == pytest.approx(11.7, rel=0.15)


def test_replicate_lists_the_study():
    from clvlib.replicate import replicate

    result = replicate("bg2012", nuts=False, progress=None)
    assert result.loglik["ggompertz_nbd"]["map_loglik"] == pytest.approx(-9594.98, abs=0.02)


# -- closed forms --------------------------------------------------------------------------------


def test_closed_forms_at_table_2():
    """Mean P(alive) 0.4636, E[X(39)] 1.25551 and E[X(78)] 1.99186 per new customer, computed
    independently with adaptive quadrature when the model was added."""
    x, t_x, T = _cdnow()
    assert gg.p_alive(*TABLE_2.values(), x, t_x, T).mean() == pytest.approx(0.4636, abs=1e-4)
    new = gg.expected_purchases_new(*TABLE_2.values(), t=np.array([39.0, 78.0]))
    np.testing.assert_allclose(new, [1.25551, 1.99186], atol=1e-5)


@pytest.mark.parametrize("params", PARAMS)
def test_conditional_expectation_equals_adlers_closed_form(params):
    r, alpha, b, s, beta = params.values()
    x, t_x, T = (np.array(v, dtype=float) for v in zip(*CUSTOMERS, strict=True))
    t = 39.0
    k = beta - 1
    A, B = np.exp(b * T) + k, np.exp(b * (T + t)) + k

    def F(z):
        return special.hyp2f1(1, s, s + 1, z)

    upper = F(k / A) - (A / B) ** s * F(k / B)
    adler = ((r + x) / (alpha + T) * gg.p_alive(r, alpha, b, s, beta, x, t_x, T)
             * upper / (b * s))
    ours = gg.expected_purchases(r, alpha, b, s, beta, x, t_x, T, t)
    np.testing.assert_allclose(ours, adler, rtol=1e-8)


@pytest.mark.parametrize("params", PARAMS)
def test_purchase_count_distribution_sums_to_one_with_the_expected_mean(params):
    n = np.arange(0, 5000)  # a Gamma(2, 1) rate over 39 weeks reaches hundreds
    for t in (5.0, 39.0):
        p = gg.prob_purchases(*params.values(), t=t, n=n)
        assert p.sum() == pytest.approx(1.0, abs=1e-7)
        assert (n * p).sum() == pytest.approx(
            float(gg.expected_purchases_new(*params.values(), t=t)), rel=1e-6)


# -- the simulator -------------------------------------------------------------------------------


def test_simulated_counts_follow_the_purchase_count_distribution():
    """200,000 simulated customers of age 39: counts 0..9 (and 10+) against P(X(39) = n) by a
    chi-square test that fails with probability 1e-4 when the simulator is right."""
    params = PARAMS[0]
    sims = gg.rvs(*params.values(), T=np.full(200_000, 39.0), rng=5)
    p = gg.prob_purchases(*params.values(), t=39.0, n=np.arange(10))
    expected = 200_000 * np.r_[p, 1 - p.sum()]
    observed = np.r_[np.bincount(np.minimum(sims["x"], 10), minlength=11)]
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, df=10) > 1e-4, chi2


def test_predictive_draws_agree_with_the_expected_purchases():
    """The predictive engine's mean over many draws equals the closed-form expectation: each
    customer's future drawn from the Gompertz remaining lifetime aged T (clvlib.futures)."""
    params = PARAMS[0]
    sims = pd.DataFrame(gg.rvs(*params.values(), T=np.full(400, 39.0), rng=6))
    sims.index = pd.Index([f"c{i}" for i in range(len(sims))], name="customer_id")
    model = clv.GGompertzNBDModel(sims)
    from helpers import fake_fit

    fake_fit(model, params, spread=0.0, draws=4000)
    expected = model.expected_purchases(20.0, n_draws=None).per_customer["mean"]
    predictive = model.predicted_purchases(20.0, n_draws=None).per_customer["mean"]
    # 4,000 draws per customer: the predictive mean's standard error is below 0.06 here; 5
    # standard errors over the base's total (fails with probability below 1e-6)
    assert abs(predictive.sum() - expected.sum()) < 5 * np.sqrt(len(sims) * 4.0 / 4000)
    np.testing.assert_allclose(predictive, expected, atol=0.5)


@pytest.mark.slow
def test_parameter_recovery_by_nuts():
    """4,000 simulated customers acquired over two years, observed for 104 to 208 weeks, with
    lifetimes that age (b = 0.03 per week); NUTS (2 x 500 draws at target_accept 0.9) puts
    every true value within the z bound of its posterior (fails with probability below 1e-4
    when sampler and model are right, see helpers.FALSE_FAILURE).

    Two to four years show enough lifetimes end to separate the frailty's shape s and rate
    beta: the effective sample sizes of b, s and beta are 580 to 730 (seeds 2 and 7). Observed
    for one to two years, they were strongly correlated, and the same draws left their ESS at
    150 to 350 with divergences at 0.9 (2 x 1500 draws at 0.95 were needed, three times the
    time)."""
    truth = {"r": 0.8, "alpha": 6.0, "b": 0.03, "s": 1.5, "beta": 3.0}
    rng = np.random.default_rng(11)
    sims = pd.DataFrame(gg.rvs(*truth.values(), T=rng.uniform(104, 208, 4000).round(1),
                               rng=rng))
    sims["t_x"] = sims["t_x"].round(1)
    model = clv.GGompertzNBDModel(sims)
    model.fit(draws=500, tune=500, chains=2, target_accept=0.9, random_seed=2,
              progressbar=False)
    assert model.diagnostics().ok, model.diagnostics().problems()
    assert_recovers(model.posterior_draws(), truth, "GGompertz/NBD")


def test_expected_lifetime_equals_adaptive_quadrature():
    """e^eta E1(eta) / b against the integral of the survival exp(-eta (e^(bt) - 1))."""
    b = 0.02
    for eta in (1e-6, 0.3, 4.0, 120.0, 499.0, 501.0, 5e4):
        quad = integrate.quad(lambda t, eta=eta: np.exp(-eta * np.expm1(b * t)), 0, np.inf,
                              epsabs=0, epsrel=1e-12, limit=500)[0]
        assert gg.expected_lifetime(eta, {"b": b}) == pytest.approx(quad, rel=1e-9), eta


def test_report_pieces_at_small_b_are_the_pareto_nbds():
    """The report's lifetime sentences, figure and retention shift read the model's lifetime
    clock: at b -> 0 with beta = b * beta_pareto, GGompertz/NBD's are Pareto/NBD's."""
    from clvlib import narrative, plots
    from clvlib.valuation import retention_shift

    frame = cdnow_summary().customers
    pareto = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.7}
    b = 1e-10  # e^(bt) - 1 = bt (1 + 3e-6) for lifetimes up to 1,000 years
    ggompertz = {**pareto, "b": b, "beta": pareto["beta"] * b}
    from helpers import fake_fit

    models = [fake_fit(clv.ParetoNBDModel(frame), pareto, spread=0.0, draws=4),
              fake_fit(clv.GGompertzNBDModel(frame), ggompertz, spread=0.0, draws=4)]
    ours, theirs = (narrative.average_customer(m) for m in reversed(models))
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-4), key
    shifted = [retention_shift(m)({k: np.array([v]) for k, v in p.items()})
               for m, p in zip(models, (pareto, ggompertz), strict=True)]
    assert shifted[1]["beta"][0] / b == pytest.approx(shifted[0]["beta"][0], rel=1e-6)
    import matplotlib.pyplot as plt

    curves = [plots.plot_dropout(m, n_draws=4).lines[0].get_ydata() for m in models]
    plt.close("all")
    np.testing.assert_allclose(curves[1], curves[0], rtol=1e-4, atol=1e-12)
    assert "frailty" in narrative.heterogeneity(models[1])


def test_is_registered_and_a_report_candidate():
    assert clv.get_model("ggompertz_nbd") is clv.GGompertzNBDModel
    assert clv.GGompertzNBDModel.report_candidate


@pytest.mark.parametrize("b", [1e-4, 0.01, 0.1])
def test_expectations_stay_right_over_dert_horizons(b):
    """DERT reads E[X(t)] out to about 24,000 weeks (Gauss-Laguerre at a 10% annual rate): the
    clock's quadrature stops where the survival is e^-40 down, so steep ageing neither
    overflows nor spreads the nodes past the integrand (against adaptive quadrature)."""
    r, alpha, s, beta = 0.55, 10.6, 0.6, 11.7 * b
    for t in (38.5, 500.0, 24_000.0):
        quad = integrate.quad(lambda u: (beta / (beta + np.expm1(b * u))) ** s, 0, t,
                              limit=2000, epsabs=0, epsrel=1e-12)[0] * r / alpha
        assert float(gg.expected_purchases_new(r, alpha, b, s, beta, t)) == pytest.approx(
            quad, rel=1e-6), t
