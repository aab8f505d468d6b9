"""Pareto/NBD (Abe 2009): the quadrature likelihood against adaptive quadrature, its limit without
heterogeneity, the closed forms' invariants, the simulator, the prediction engine's draws, and
BTYDplus's published CDNOW posterior."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from helpers import cdnow_summary, fake_fit
from scipy import integrate, stats
from scipy.special import gammaln, pdtrc

import clvlib as clv
from clvlib.models import pareto_nbd_abe as abe

# A population near the CDNOW posterior (weeks), and two others.
POPULATIONS = [
    {"lam": np.exp(-3.54), "mu": np.exp(-3.59), "sigma_lambda": 1.16, "sigma_mu": 1.62,
     "rho": 0.07},
    {"lam": np.exp(-2.5), "mu": np.exp(-3.0), "sigma_lambda": 0.8, "sigma_mu": 1.2,
     "rho": -0.3},
    {"lam": np.exp(-3.0), "mu": np.exp(-4.0), "sigma_lambda": 1.5, "sigma_mu": 2.0,
     "rho": 0.5},
]
ROWS = [(0, 0, 39), (0, 0, 78), (1, 2, 39), (2, 30, 38), (10, 10, 39), (10, 38, 39),
        (50, 39, 39), (30, 5, 39)]


def _individual(lam, mu, x, t_x, T):
    """The Pareto/NBD's likelihood of one customer with known rates (the sum of both terms)."""
    rate = lam + mu
    return lam**x * (np.exp(-rate * T) + mu / rate * (np.exp(-rate * t_x) - np.exp(-rate * T)))


def _normal_pdf(value, mean, sd):
    """The normal density by hand: scipy.stats' pdf costs 30 times as much a call, and the
    nested quadrature below calls it some million times."""
    return math.exp(-0.5 * ((value - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


def _quad_logp(lam, mu, sigma_lambda, sigma_mu, rho, x, t_x, T):
    """The same likelihood by nested adaptive quadrature (SciPy): log lambda outside, log mu
    given log lambda inside, with breakpoints where the integrand peaks."""
    m_u, m_v = np.log(lam), np.log(mu)
    slope, sd_v = rho * sigma_mu / sigma_lambda, sigma_mu * np.sqrt(1 - rho**2)
    shift = x * np.log(max(x, 1) / max(t_x, 1)) - x if x > 0 else 0.0  # keeps values near 1

    def inner(u):
        mv = m_v + slope * (u - m_u)
        lo, hi = mv - 12 * sd_v, mv + 12 * sd_v
        points = [p for p in (mv, -np.log(T), -np.log(max(t_x, 1e-3))) if lo < p < hi]
        return integrate.quad(
            lambda v: _individual(np.exp(u), np.exp(v), x, t_x, T) * np.exp(-shift)
            * _normal_pdf(v, mv, sd_v), lo, hi, points=points, limit=200, epsabs=0,
            epsrel=1e-9)[0]

    peaks = sorted({np.log((x + 0.5) / T), np.log((x + 0.5) / max(t_x, 1e-3)), m_u})
    lo, hi = min(m_u - 10 * sigma_lambda, peaks[0] - 5), max(m_u + 10 * sigma_lambda, peaks[-1] + 5)
    value = integrate.quad(lambda u: inner(u) * _normal_pdf(u, m_u, sigma_lambda), lo, hi,
                           points=peaks, limit=200, epsabs=0, epsrel=1e-8)[0]
    return np.log(value) + shift


def _columns(rows):
    return [np.array(c, dtype=float) for c in zip(*rows, strict=True)]


# SciPy's quadrature reaches its subdivision limit in a few far tails, where the integrand is
# negligible: the agreement asserted below is what matters.
@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("params, tolerance", [(POPULATIONS[0], 5e-5), (POPULATIONS[1], 2e-4)])
def test_logp_equals_nested_adaptive_quadrature(params, tolerance):
    """The adaptive Gauss-Hermite likelihood against SciPy's nested adaptive quadrature:
    customers from none to 50 repeat purchases, alive-looking and long silent."""
    reference = np.array([_quad_logp(*params.values(), *row) for row in ROWS])
    x, t_x, T = _columns(ROWS)
    alive, left = abe.log_terms(np, *(np.full(len(ROWS), v) for v in params.values()), x, t_x, T)
    np.testing.assert_allclose(np.logaddexp(alive, left), reference, atol=tolerance, rtol=0)


def test_pytensor_and_numpy_likelihoods_are_one_function():
    params = POPULATIONS[1]
    x, t_x, T = _columns(ROWS)
    alive, left = abe.log_terms(np, *(np.full(len(ROWS), v) for v in params.values()), x, t_x, T)
    np.testing.assert_allclose(abe.logp(*params.values(), x, t_x, T).eval(),
                               np.logaddexp(alive, left), rtol=1e-12)


def test_without_heterogeneity_it_is_the_pareto_nbd_of_known_rates():
    """Spreads of 1e-4: every customer has the median rates, and the likelihood is the
    individual Pareto/NBD's (to the spreads' second order)."""
    x, t_x, T = _columns(ROWS)
    lam, mu = 0.2, 0.03
    params = (np.full(len(ROWS), v) for v in (lam, mu, 1e-4, 1e-4, 0.3))
    alive, left = abe.log_terms(np, *params, x, t_x, T)
    np.testing.assert_allclose(np.logaddexp(alive, left),
                               np.log(_individual(lam, mu, x, t_x, T)), atol=1e-6)


@pytest.mark.parametrize("params", POPULATIONS[:2])
def test_purchase_count_distribution_sums_to_one_with_the_expected_mean(params):
    # Out to 6,000 purchases: the quadrature's fastest buyers (e^(m + 7 sigma)) make thousands.
    n = np.arange(6000)
    for t in (5.0, 39.0):
        p = abe.prob_purchases(*params.values(), t=t, n=n)
        assert p.sum() == pytest.approx(1.0, abs=1e-8)
        # two quadratures of one mean: the count distribution's 24 x 24 nodes (within 1.1e-5
        # of adaptive quadrature at the first population, t = 39) and the expectation's 96
        assert (n * p).sum() == pytest.approx(
            float(abe.expected_purchases_new(*params.values(), t=t)), rel=2e-5)


def test_counts_found_together_equal_each_count_by_its_own_poisson_tail():
    """prob_purchases finds the counts 0..max(n) together (SciPy's Poisson tail once, summed
    down); the plain formula, the individual distribution with a tail per count averaged over
    the same nodes, agrees to 1e-11, for ages from half a week to eight years. Counts that are
    not whole numbers are refused."""
    w1, w2, log_w = abe.PRIOR_RULE
    n = np.arange(12)
    for p in POPULATIONS:
        u, v = abe.log_rates(*p.values(), w1, w2)
        la, m = np.exp(u)[:, None], np.exp(v)[:, None]
        for t in (0.5, 39.0, 400.0):
            both = la + m
            plain = (np.exp(n * np.log(la * t) - la * t - gammaln(n + 1) - m * t)
                     + (la / both) ** n * (m / both) * pdtrc(n, both * t))
            np.testing.assert_allclose(abe.prob_purchases(*p.values(), t=t, n=n),
                                       np.exp(log_w) @ plain, rtol=1e-11, atol=1e-300)
    with pytest.raises(ValueError, match="whole numbers"):
        abe.prob_purchases(*POPULATIONS[0].values(), t=39.0, n=1.5)


@pytest.mark.parametrize("params", POPULATIONS)
def test_a_new_customers_expected_purchases_equal_adaptive_quadrature(params):
    """E[X(t)] = E[lambda (1 - e^(-mu t)) / mu] as a double integral over the correlated
    normal log rates, by scipy's adaptive quadrature, against the 1-D rule (1e-6)."""
    lam, mu, s_l, s_m, rho = params.values()

    def integrand(z2, z1, t):
        u = np.log(lam) + s_l * z1
        v = np.log(mu) + s_m * (rho * z1 + np.sqrt(1 - rho**2) * z2)
        density = np.exp(-(z1**2 + z2**2) / 2) / (2 * np.pi)
        return density * np.exp(u) * -np.expm1(-np.exp(v) * t) / np.exp(v)

    for t in (1.0, 39.0, 500.0):
        by_quad = integrate.dblquad(integrand, -12, 12, -12, 12, args=(t,), epsabs=0,
                                    epsrel=1e-10)[0]
        assert float(abe.expected_purchases_new(lam, mu, s_l, s_m, rho, t=t)) == pytest.approx(
            by_quad, rel=1e-6), t


def test_simulated_counts_follow_the_purchase_count_distribution():
    """200,000 simulated customers of age 39: counts 0..9 (and 10+) against P(X(39) = n) by a
    chi-square test that fails with probability 1e-4 when the simulator is right."""
    params = POPULATIONS[1]
    sims = abe.rvs(*params.values(), T=np.full(200_000, 39.0), rng=5)
    p = abe.prob_purchases(*params.values(), t=39.0, n=np.arange(10))
    expected = 200_000 * np.r_[p, 1 - p.sum()]
    observed = np.bincount(np.minimum(sims["x"], 10), minlength=11)
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, df=10) > 1e-4, chi2


def test_conditional_expectations_add_up_to_the_populations():
    """Over a population's customers, the expected purchases in (T, T + t] given each one's
    history average to the unconditional E[X(T + t)] - E[X(T)] (the law of total
    expectation), which involves neither P(alive) nor the posterior of the rates: 20,000
    simulated customers, a z-test of the mean that fails with probability 1e-4."""
    params = POPULATIONS[0]
    sims = abe.rvs(*params.values(), T=np.full(20_000, 39.0), rng=8)
    conditional = abe.expected_purchases(*params.values(), sims["x"], sims["t_x"], sims["T"],
                                         26.0)
    target = float(abe.expected_purchases_new(*params.values(), t=65.0)
                   - abe.expected_purchases_new(*params.values(), t=39.0))
    z = (conditional.mean() - target) / (conditional.std() / np.sqrt(conditional.size))
    assert abs(z) < stats.norm.isf(0.5e-4), (conditional.mean(), target, z)


def test_predicts_the_holdout_of_simulated_customers():
    """Customers simulated over 39 + 26 weeks: the expected holdout purchases given each one's
    calibration history against what they did (a z-test over 20,000 customers that fails with
    probability 1e-4); P(alive) = 1 for a customer who bought at T, below it after silence."""
    params = POPULATIONS[0]
    customer, time = abe.purchase_times(*params.values(), T=np.full(20_000, 65.0), rng=9)
    calibration = time <= 39.0
    cal = abe.bg_nbd._summaries(customer[calibration], time[calibration], np.full(20_000, 39.0))
    actual = np.bincount(customer[~calibration], minlength=20_000)
    expected = abe.expected_purchases(*params.values(), cal["x"], cal["t_x"], cal["T"], 26.0)
    z = (actual - expected).sum() / np.sqrt(((actual - expected) ** 2).sum())
    assert abs(z) < stats.norm.isf(0.5e-4), z
    assert abe.p_alive(*params.values(), 3, 39.0, 39.0) == pytest.approx(1.0, abs=1e-9)
    assert abe.p_alive(*params.values(), 3, 5.0, 39.0) < 0.5


def test_predictive_draws_agree_with_the_expected_purchases():
    """The prediction engine draws each customer's rates from the quadrature's points given
    alive: its mean over 4,000 draws equals the closed-form expectation."""
    params = POPULATIONS[0]
    sims = pd.DataFrame(abe.rvs(*params.values(), T=np.full(200, 39.0), rng=6))
    sims.index = pd.Index([f"c{i}" for i in range(len(sims))], name="customer_id")
    model = clv.ParetoNBDAbeModel(sims)
    fake_fit(model, {k: abs(v) for k, v in params.items()}, spread=0.0, draws=4000)
    expected = model.expected_purchases(20.0, n_draws=None).per_customer["mean"]
    predictive = model.predicted_purchases(20.0, n_draws=None).per_customer
    # The predictive mean's standard error over 4,000 draws: at most sqrt(var / 4000) per
    # customer, with var below 4 E + E^2 here; 5 standard errors of the base's total.
    se = np.sqrt(((4 * expected + expected**2) / 4000).sum())
    assert abs(predictive["mean"].sum() - expected.sum()) < 5 * se
    assert (predictive["lower"] <= predictive["mean"]).all()


def test_dert_of_known_rates_is_lambda_over_mu_plus_delta():
    """Spreads of 1e-4 make every customer's rates the medians: DERT (all future purchases, each
    discounted continuously at delta) is then P(alive) lambda / (mu + delta), the closed form the
    valuation needs; the prediction engine's Gauss-Laguerre discounting reaches it."""
    from clvlib.discounting import Discount

    lam, mu = 0.2, 0.03
    customers = pd.DataFrame({"x": [0.0, 2.0, 6.0], "t_x": [0.0, 10.0, 38.0],
                              "T": [39.0, 39.0, 39.0]},
                             index=pd.Index(["a", "b", "c"], name="customer_id"))
    model = fake_fit(clv.ParetoNBDAbeModel(customers),
                     {"lam": lam, "mu": mu, "sigma_lambda": 1e-4, "sigma_mu": 1e-4, "rho": 0.3},
                     spread=0.0, draws=20)
    dert = model.dert(0.10).per_customer["mean"].to_numpy()
    delta = Discount(0.10).per_unit(7.0)
    alive = abe.p_alive(lam, mu, 1e-4, 1e-4, 0.3, customers["x"], customers["t_x"], customers["T"])
    # DERT's 40-node Gauss-Laguerre (clvlib.discounting) is good to about 1e-5 of the value,
    # less where E[Y(t)] saturates within a few weeks (mu / delta = 16 here: 5.8e-5).
    np.testing.assert_allclose(dert, alive * lam / (mu + delta), rtol=1e-4)


@pytest.fixture(scope="module")
def cdnow_abe(tmp_path_factory):
    """Abe's fit to the CDNOW sample as the smoke report makes it (2 x 100 draws after 150
    tuning steps), saved in a fit cache (``cache_path``'s folder): the replication reads it,
    and the report below reads it back instead of sampling again (the model's NUTS costs
    about two minutes on two cores). Its bulk ESS is 120 to 200 per parameter: the Monte Carlo
    error of the medians the replication checks is about a tenth of its 0.1 tolerance."""
    from report_checks import fit_as_the_smoke_report

    model = clv.ParetoNBDAbeModel(cdnow_summary())
    fit_as_the_smoke_report(model, tmp_path_factory.mktemp("abe_fits"))
    return model


# BTYDplus's vignette (abe.mcmc.DrawParameters on the CDNOW sample, calibration to 1997-09-30,
# 7,500 draws): quantiles 2.5%, 50%, 97.5% of the population parameters.
BTYDPLUS_M1 = {
    "log_lambda": (-3.70, -3.54, -3.32),
    "log_mu": (-3.96, -3.59, -3.26),
    "var_log_lambda": (1.10, 1.34, 1.65),
    "cov_log_lambda_log_mu": (-0.20, 0.13, 0.74),
    "var_log_mu": (1.44, 2.62, 5.05),
}


def btydplus_parameters(draws: dict) -> dict:
    """clvlib's draws in BTYDplus's names (``abe.mcmc.DrawParameters``' level 2)."""
    return {
        "log_lambda": np.log(draws["lam"]),
        "log_mu": np.log(draws["mu"]),
        "var_log_lambda": draws["sigma_lambda"] ** 2,
        "cov_log_lambda_log_mu": draws["rho"] * draws["sigma_lambda"] * draws["sigma_mu"],
        "var_log_mu": draws["sigma_mu"] ** 2,
    }


@pytest.mark.slow
def test_cdnow_posterior_replicates_btydplus(cdnow_abe):
    """Abe's model on the CDNOW sample: each posterior median lies inside BTYDplus's published
    95% interval, the means of the log rates and the purchase spread within 0.1 of its
    medians (priors differ: BTYDplus's inverse-Wishart against half-normal spreads)."""
    ours = btydplus_parameters(cdnow_abe.posterior_draws())
    medians = {k: float(np.median(v)) for k, v in ours.items()}
    for name, (lo, _, hi) in BTYDPLUS_M1.items():
        assert lo <= medians[name] <= hi, (name, medians[name], (lo, hi))
    for name in ("log_lambda", "log_mu", "var_log_lambda"):
        assert medians[name] == pytest.approx(BTYDPLUS_M1[name][1], abs=0.1), medians


@pytest.mark.slow
def test_a_report_valued_with_it_ranks_it_above_the_pareto_nbd(tmp_path, monkeypatch,
                                                               cdnow_abe):
    """The smoke report (2 chains x 100 draws) with Pareto/NBD (Abe), a model written in Python
    only, beside the Pareto/NBD as candidates and as the value model; Abe's fit is the
    replication's, read back from the fit cache (the report says so).

    - The comparison (PSIS-LOO and the holdout density, each scored per customer from the
      quadrature likelihood) puts Abe first, clearly: on the CDNOW holdout the correlated
      lognormals lead the independent gammas by about 22 log points, 3.7 standard errors of the
      paired difference (2 x 300 draws, when this was written); "clearly" is beyond 2.
    - Every announced table and figure is there; its lognormal rates and lifetimes are told;
      the correlation of the rates gets its sentence; retention is defined on lognormal
      dropout rates; identification reads rho (a Uniform(-1, 1) prior) on its own scale
      (``assert_whole`` refuses a nan in the prose, which the log of a negative rho was).
    """
    from report_checks import smoke_report_valued_with

    html = smoke_report_valued_with("pareto_nbd_abe", ["pareto_nbd", "pareto_nbd_abe"], tmp_path,
                                    monkeypatch, fit_cache=cdnow_abe.cache_path.parent)
    assert html.count("Read back from the fit cache") == 1
    assert re.search(r"<strong>Pareto/NBD \(Abe\)</strong>:((?!<li>).)*Read back from the fit "
                     "cache", html, flags=re.S)
    assert ("<strong>Pareto/NBD (Abe)</strong> forecasts the held-out purchases best: it leads "
            "over Pareto/NBD clearly") in html
    assert "The sections that follow use <strong>Pareto/NBD (Abe)" in html
    assert "at the average dropout rate a customer would stay" in html
    assert "the correlation between the logs of a customer's purchase rate and dropout rate" in html
    assert "E[exp(-mu year)] over the lognormal dropout rates mu" in html


def test_is_registered_and_a_report_candidate():
    assert clv.get_model("pareto_nbd_abe") is clv.ParetoNBDAbeModel
    assert clv.ParetoNBDAbeModel.report_candidate and clv.ParetoNBDAbeModel.unbounded_horizon


def test_the_reports_figures_read_lognormal_rates_and_lifetimes():
    """What the report's heterogeneity figures and sentences read, against the lognormal's exact
    facts: the median rate is ``lam``; the mean is ``lam e^(sigma^2 / 2)``, which a share
    Phi(sigma / 2) of customers fall below; the expected lifetime ``1 / mu`` is lognormal, with
    median ``1 / mu`` and log10 spread ``sigma_mu / ln 10``."""
    from clvlib.mixing import lifetime_density, lifetime_quantities, purchase_rate_mixture

    p = POPULATIONS[0]
    model = fake_fit(clv.ParetoNBDAbeModel(cdnow_summary()), p, spread=0.0, draws=2)
    s_lam, s_mu = p["sigma_lambda"], p["sigma_mu"]
    rates = purchase_rate_mixture(model, point=True)
    assert rates.ppf(0.5)[0] == pytest.approx(p["lam"], rel=1e-8)
    assert rates.mean()[0] == pytest.approx(p["lam"] * np.exp(s_lam**2 / 2), rel=1e-12)
    assert rates.cdf(rates.mean())[0] == pytest.approx(stats.norm.cdf(s_lam / 2), rel=1e-10)
    lives = lifetime_quantities(model, n_draws=2)
    expected = {"q50": 1 / p["mu"], "at_mean": np.exp(-s_mu**2 / 2) / p["mu"],
                "share_shorter": stats.norm.sf(s_mu / 2),
                "q10": np.exp(-s_mu * stats.norm.ppf(0.9)) / p["mu"],
                "q90": np.exp(s_mu * stats.norm.ppf(0.9)) / p["mu"]}
    for name, value in expected.items():
        np.testing.assert_allclose(lives[name], value, rtol=1e-6, err_msg=name)
    weeks = np.logspace(0, 4, 9)
    np.testing.assert_allclose(
        lifetime_density(model, weeks, n_draws=2),
        np.broadcast_to(stats.norm.pdf(np.log10(weeks), -np.log10(p["mu"]), s_mu / np.log(10)),
                        (2, weeks.size)), rtol=1e-6)


@pytest.mark.parametrize("rho, verdict", [
    (-0.5, "The customers who buy more often tend to stay longer"),
    (0.5, "The customers who buy more often tend to leave sooner"),
    (None, "Whether the customers who buy more often also stay longer, the data cannot tell"),
])
def test_the_report_says_whether_frequent_buyers_stay_longer(rho, verdict):
    """By the correlation's 90% credible interval: wholly below 0, above 0, or around 0."""
    from clvlib.narrative import heterogeneity

    p = POPULATIONS[0] | {"rho": 0.5 if rho is None else rho}
    model = fake_fit(clv.ParetoNBDAbeModel(cdnow_summary()), p, spread=0.05, draws=200)
    if rho is None:  # a posterior around 0 (about -0.04 to 0.04)
        model.idata.posterior["rho"] = model.idata.posterior["rho"] - 0.5
    text = heterogeneity(model)
    assert verdict in text
    draws = model.posterior_draws()["rho"]
    assert f"is {np.mean(draws):.2f} (posterior mean; 90% credible interval" in text
    assert "correlation" not in heterogeneity(
        fake_fit(clv.ParetoNBDModel(cdnow_summary()),
                 {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}, draws=20))
