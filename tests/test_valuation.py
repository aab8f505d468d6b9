"""Acquisition value, customer equity and customer-based corporate valuation (clvlib.valuation).

Hand computations integrate the closed forms independently (scipy.integrate.quad) and sum the
valuation's parts by the formulas of the module docstring; fits are stand-ins pinned at the
published CDNOW estimates (tests/helpers.py), so nothing here samples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import FH_GAMMA_GAMMA, FHL_BG_NBD, cdnow_summary, fake_fit
from scipy import integrate, stats

import clvlib as clv
from clvlib import valuation as val
from clvlib.discounting import Discount

PARETO = {"r": 0.5532, "alpha": 10.5763, "s": 0.6062, "beta": 11.6715}
ABE = {"lam": np.exp(-3.54), "mu": np.exp(-3.59), "sigma_lambda": 1.16, "sigma_mu": 1.62,
       "rho": 0.07}  # near BTYDplus's CDNOW medians (weeks)
RATE = 0.10
# The unbounded horizon is integrated by 40-node Gauss-Laguerre (clvlib.discounting): about 2e-4
# relative error for a new customer, whose expected purchases rise steeply in the first weeks.
LAGUERRE_REL = 5e-4


def small_base(n: int = 60):
    summary = cdnow_summary()
    return summary.with_customers(summary.customers.iloc[:n])


def models(cls=clv.BetaGeoModel, params=FHL_BG_NBD, spread=0.0, n: int = 60, draws=50):
    summary = small_base(n)
    purchases = fake_fit(cls(summary), params, spread=spread, draws=draws)
    spend = fake_fit(clv.GammaGammaModel(summary), FH_GAMMA_GAMMA, spread=spread, draws=draws,
                     seed=2)
    return summary, purchases, spend


def test_acquisition_value_of_pareto_nbd_matches_a_hand_integral():
    """A new Pareto/NBD customer buys at rate r/alpha while alive, alive at t with probability
    (beta/(beta+t))^s: DERT_new = integral exp(-delta t) r/alpha (beta/(beta+t))^s dt."""
    _, purchases, spend = models(clv.ParetoNBDModel, PARETO)
    delta = Discount(RATE).per_unit(7.0)
    p = PARETO
    dert, _ = integrate.quad(
        lambda t: np.exp(-delta * t) * p["r"] / p["alpha"]
        * (p["beta"] / (p["beta"] + t)) ** p["s"], 0, np.inf, limit=500)
    g = FH_GAMMA_GAMMA
    mean_spend = g["p"] * g["gamma"] / (g["q"] - 1)
    value = val.acquisition_value(purchases, spend, margin=0.3, annual_discount_rate=RATE)
    assert value.purchases_draws == pytest.approx(dert, rel=LAGUERRE_REL)
    assert value.summary()["mean"] == pytest.approx(0.3 * mean_spend * (1 + dert),
                                                    rel=LAGUERRE_REL)
    np.testing.assert_allclose(value.draws, 0.3 * value.spend_draws * (1 + value.purchases_draws))
    without_first = val.acquisition_value(purchases, spend, margin=0.3, first_purchase=False)
    np.testing.assert_allclose(without_first.draws, 0.3 * mean_spend * value.purchases_draws)


def test_acquisition_value_of_bg_nbd_matches_integration_by_parts():
    """integral exp(-delta t) dE[X(t)] = delta integral exp(-delta t) E[X(t)] dt (E[X(0)] = 0),
    with E[X(t)] the FHL (2005) closed form, integrated by quad."""
    _, purchases, spend = models()
    delta = Discount(RATE).per_unit(7.0)

    def expected(t):
        return float(purchases.expected_purchases_new(np.array(t), n_draws=1)[0])

    dert, _ = integrate.quad(lambda t: delta * np.exp(-delta * t) * expected(t), 0, np.inf,
                             limit=500)
    value = val.acquisition_value(purchases, spend, annual_discount_rate=RATE)
    assert value.purchases_draws == pytest.approx(dert, rel=LAGUERRE_REL)


def test_a_finite_horizon_acquisition_value_grows_to_the_unbounded_one():
    _, purchases, spend = models()
    unbounded = val.acquisition_value(purchases, spend).summary()["mean"]
    values = [val.acquisition_value(purchases, spend, horizon=h).summary()["mean"]
              for h in (52, 520, 5200, 52000)]
    assert np.all(np.diff(values) > 0)
    assert values[-1] == pytest.approx(unbounded, rel=1e-4)


def test_population_mean_spend_needs_q_above_one():
    with pytest.raises(ValueError, match="needs q > 1; 1 posterior draw"):
        val.population_mean_spend({"p": np.array([6.0, 6.0]), "q": np.array([3.0, 0.9]),
                                   "gamma": np.array([15.0, 15.0])})


def test_clv_over_a_growing_horizon_converges_to_customer_equity():
    summary, purchases, spend = models(spread=0.05, n=40, draws=20)
    equity = val.customer_equity(purchases, spend, margin=0.3, n_draws=20)
    totals = []
    for years in (1, 10, 50, 200):
        clv_h = clv.customer_lifetime_value(purchases, spend, horizon=52 * years, n_draws=20)
        totals.append(0.3 * clv_h.total_draws)
    gaps = [np.abs(t - equity.total_draws).max() / equity.total_draws.max() for t in totals]
    assert np.all(np.diff(gaps) < 0)
    assert gaps[-1] < 1e-4
    # Per customer too, and the margin scales the engine's residual CLV.
    residual = clv.customer_lifetime_value(purchases, spend, horizon=np.inf, n_draws=20)
    np.testing.assert_allclose(equity.per_customer["mean"], 0.3 * residual.per_customer["mean"])


def test_predictive_customer_equity_averages_to_the_expected_one():
    """Drawing each customer's purchases, dropout and spend until the discount factor is 1e-6:
    the mean over 4,000 draws of the base total lies within 4.5 Monte Carlo standard errors
    (false failure below 1e-5) plus the unbounded quadrature's stated error of the expected
    equity, at a point posterior; its interval is wider than the credible one."""
    _, purchases, spend = models(spread=0.0, n=60, draws=1)
    expected = val.customer_equity(purchases, spend, margin=0.3)
    predictive = val.customer_equity(purchases, spend, margin=0.3, predictive=True,
                                     n_draws=4000)
    assert predictive.kind == "predictive" and len(predictive.total_draws) == 4000
    draws, target = predictive.total_draws, expected.total_draws[0]
    se = draws.std() / np.sqrt(draws.size)
    assert abs(draws.mean() - target) < 4.5 * se + LAGUERRE_REL * target
    t = predictive.total()
    assert t["lower"] < target < t["upper"]
    # the margin scales the amounts, not the probability that each interval holds
    unscaled = val.customer_equity(purchases, spend, margin=1.0, predictive=True, n_draws=4000)
    np.testing.assert_array_equal(predictive.per_customer["interval_mass"],
                                  unscaled.per_customer["interval_mass"])
    np.testing.assert_allclose(predictive.per_customer["mean"],
                               0.3 * unscaled.per_customer["mean"], rtol=1e-12)


def test_cohort_factor_and_fixed_costs_match_numerical_integrals():
    a = val.ValuationAssumptions(acquisition_growth=0.04, annual_discount_rate=0.1,
                                 acquisition_years=15, fixed_costs_per_year=1.0,
                                 new_customers_per_year=1)
    integral, _ = integrate.quad(lambda t: (1.04 / 1.1) ** t, 0, 15)
    assert a.cohort_factor() == pytest.approx(integral, rel=1e-10)
    forever = val.ValuationAssumptions(acquisition_growth=0.04, new_customers_per_year=1)
    integral, _ = integrate.quad(lambda t: (1.04 / 1.1) ** t, 0, np.inf)
    assert forever.cohort_factor() == pytest.approx(integral, rel=1e-8)
    integral, _ = integrate.quad(lambda t: 1.1 ** -t, 0, np.inf)
    assert a.fixed_cost_factor() == pytest.approx(integral, rel=1e-8)
    flat = val.ValuationAssumptions(acquisition_growth=0.1, acquisition_years=7,
                                    new_customers_per_year=1)
    assert flat.cohort_factor() == pytest.approx(7.0)


def test_corporate_valuation_equals_a_hand_computation():
    """Operating value = existing equity + N (AV - C) / log((1+r)/(1+g)) - F / log(1+r)."""
    summary, purchases, spend = models()
    a = val.ValuationAssumptions(margin=0.25, annual_discount_rate=0.08,
                                 new_customers_per_year=1000, acquisition_growth=0.02,
                                 acquisition_cost=5.0, fixed_costs_per_year=2000.0,
                                 net_debt=10_000.0, shares_outstanding=500)
    result = val.corporate_valuation(purchases, spend, a, n_draws=50)
    existing = val.customer_equity(purchases, spend, margin=0.25, annual_discount_rate=0.08,
                                   n_draws=50).total_draws
    new = val.acquisition_value(purchases, spend, margin=0.25, annual_discount_rate=0.08,
                                n_draws=50).draws
    future = 1000 * (new - 5.0) / np.log(1.08 / 1.02)
    fixed = 2000.0 / np.log(1.08)
    operating = existing + future - fixed
    parts = result.components
    np.testing.assert_allclose(parts["existing customers"], existing)
    np.testing.assert_allclose(parts["future customers"], future)
    np.testing.assert_allclose(parts["operating value"], operating)
    np.testing.assert_allclose(parts["equity value"], operating - 10_000)
    np.testing.assert_allclose(parts["value per share"], (operating - 10_000) / 500)
    assert set(result.table().index) == set(parts.columns)
    assert "operating value" in str(result)
    table = a.table()
    assert table.loc["margin", "value"] == "25%"
    assert table.loc["acquisition_years", "value"] == "for ever"


def test_assumptions_are_validated():
    with pytest.raises(ValueError, match="must be below the discount rate"):
        val.ValuationAssumptions(acquisition_growth=0.1, annual_discount_rate=0.1,
                                 new_customers_per_year=10)
    with pytest.raises(ValueError, match="margin"):
        val.ValuationAssumptions(margin=0)
    with pytest.raises(ValueError, match=r"unknown valuation assumption\(s\) \['marjin'\]"):
        val.ValuationAssumptions.from_params(marjin=0.3)


def _lognormal_survival_by_quad(median, sigma, clock):
    """E[exp(-mu clock)] over log mu ~ Normal(log median, sigma), by adaptive quadrature with a
    breakpoint where the survival falls."""
    mid = -np.log(median * clock) / sigma
    return integrate.quad(lambda z: np.exp(-median * clock * np.exp(sigma * z))
                          * stats.norm.pdf(z), -40, 40, points=[mid] if abs(mid) < 40 else None,
                          epsabs=1e-15, epsrel=1e-13, limit=500)[0]


@pytest.mark.parametrize("cls, params", [(clv.BetaGeoModel, FHL_BG_NBD),
                                         (clv.ParetoNBDModel, PARETO),
                                         (clv.ParetoNBDAbeModel, ABE)])
def test_retention_shift_raises_retention_by_one_point(cls, params):
    _, purchases, _ = models(cls, params, spread=0.05)
    draws = purchases.posterior_draws()
    shifted = val.retention_shift(purchases, 0.01)(draws)
    year = 365.25 / 7
    if cls is clv.BetaGeoModel:
        def retention(d):
            return d["b"] / (d["a"] + d["b"])
    elif cls is clv.ParetoNBDModel:
        def retention(d):
            return (d["beta"] / (d["beta"] + year)) ** d["s"]
    else:
        def retention(d):
            return np.array([_lognormal_survival_by_quad(m, s, year)
                             for m, s in zip(d["mu"][:20], d["sigma_mu"][:20], strict=True)])
        assert all(np.array_equal(shifted[k], draws[k]) for k in draws if k != "mu")
        assert (shifted["mu"] < draws["mu"]).all()
    np.testing.assert_allclose(retention(shifted) - retention(draws), 0.01, rtol=1e-9)


@pytest.mark.parametrize("sigma", [0.1, 1.0, 2.0, 4.0])
def test_lognormal_survival_agrees_with_adaptive_quadrature(sigma):
    """The new-customer survival that defines retention under lognormal dropout rates."""
    scale = np.logspace(-4, 4, 9)
    np.testing.assert_allclose(val._lognormal_survival(scale, sigma, 1.0),
                               [_lognormal_survival_by_quad(a, sigma, 1.0) for a in scale],
                               rtol=0, atol=1e-13)


def test_sensitivities_have_the_right_sign_and_size():
    summary, purchases, spend = models(spread=0.05)
    a = val.ValuationAssumptions(new_customers_per_year=500, acquisition_cost=2.0,
                                 fixed_costs_per_year=100.0)
    table = val.sensitivities(purchases, spend, a, n_draws=50)
    assert table.loc["base case", "change"] == 0
    assert (table.drop(index="base case")["change lower"] > 0).all()
    base = val.corporate_valuation(purchases, spend, a, n_draws=50).components
    # +10% acquisition adds exactly 10% of the future cohorts' value.
    assert table.loc["acquisition +10%", "change"] == pytest.approx(
        0.1 * base["future customers"].mean())
    # +10% spend: every amount, so margins on existing and new customers, rise by 10%.
    expected = 0.1 * (base["existing customers"] + 500 * a.cohort_factor()
                      * (base["future customers"] / (500 * a.cohort_factor()) + 2.0))
    assert table.loc["spend per purchase +10%", "change"] == pytest.approx(expected.mean())


def test_acquisition_value_by_cohort_adds_up_to_the_base():
    summary, purchases, spend = models(n=120)
    table, draws = val.acquisition_value_by_cohort(purchases, spend, summary, margin=0.5,
                                                   n_draws=50)
    assert table["customers"].sum() == 120
    equity = val.customer_equity(purchases, spend, margin=0.5, n_draws=50).total_draws
    np.testing.assert_allclose(sum(draws.values()), equity, rtol=1e-12)
    assert (table["residual value per customer"] * table["customers"]).sum() == pytest.approx(
        equity.mean(), rel=1e-9)
    a = val.ValuationAssumptions(margin=0.5, new_customers_per_year=10)
    given = val.corporate_valuation(purchases, spend, a, n_draws=50, existing=sum(draws.values()))
    computed = val.corporate_valuation(purchases, spend, a, n_draws=50)
    pd.testing.assert_frame_equal(given.components, computed.components, rtol=1e-12)
    with pytest.raises(ValueError, match="no column 'region'"):
        val.acquisition_value_by_cohort(purchases, spend, summary, by="region")


def _acquired(first_days, end: str = "2024-12-31"):
    """A summary-like object: customers whose first purchases fall on the given days of 2023-24
    (days since 2023-01-01), calibration to ``end``."""
    from types import SimpleNamespace

    first = pd.Timestamp("2023-01-01") + pd.to_timedelta(np.asarray(first_days), unit="D")
    return SimpleNamespace(customers=pd.DataFrame({"first_purchase": first}),
                           calibration_end=pd.Timestamp(end))


def test_acquisition_rate_counts_the_last_year_of_steady_acquisitions():
    """Two years of 10 new customers a day: the last 365 days hold 3,650 of them, 3,650 / (365 /
    365.25) a year, with the Poisson 90% interval of that count."""
    from scipy import stats

    rate = val.acquisition_rate(_acquired(np.repeat(np.arange(731), 10)))
    assert rate.estimated and rate.customers == 3650
    assert rate.per_year == pytest.approx(3650 * 365.25 / 365)
    assert rate.lower == pytest.approx(stats.poisson.ppf(0.05, 3650) * 365.25 / 365)
    assert rate.start == pd.Timestamp("2024-01-02") and rate.end == pd.Timestamp("2024-12-31")
    assert "3,652 new customers a year" in str(rate)


def test_acquisition_rate_is_not_told_by_a_cohort():
    """CDNOW's customers all first bought in 12 weeks of 1997; a file of customers who all first
    bought on one day; a cohort acquired over 400 days that stopped 120 days before the end;
    too few customers: none tells a yearly rate, each says why."""
    cdnow = val.acquisition_rate(cdnow_summary())
    assert not cdnow.estimated and cdnow.per_year is None
    assert "2,357 customers first bought within 84 days" in cdnow.reason
    one_day = val.acquisition_rate(_acquired(np.full(500, 700)))
    assert "the 500 customers all first bought on 01 December 2024" in one_day.reason
    closed = val.acquisition_rate(_acquired(np.repeat(np.arange(611), 3)))
    assert ("no customer made a first purchase after 02 September 2024, 120 days before"
            in closed.reason)
    few = val.acquisition_rate(_acquired(np.arange(0, 731, 10)))
    assert "only 37 customers" in few.reason


def test_valuation_text_warns_when_the_data_cannot_tell_or_the_future_dominates():
    from clvlib import decision_text

    summary, purchases, spend = models()
    equity = val.customer_equity(purchases, spend, margin=0.3, n_draws=50).total()
    none = val.corporate_valuation(purchases, spend, val.ValuationAssumptions(margin=0.3),
                                   n_draws=50)
    rate = val.acquisition_rate(summary)
    text = decision_text.valuation(none, equity, equity, 52, "weeks", "USD", rate=rate)
    assert text.startswith("> **Warning: the firm's value below counts the existing customers "
                           "only.**") and rate.reason in text
    assert "Without future customers, the **operating value is" in text
    assert none.future_share() == 0 and "make up" not in text
    many = val.corporate_valuation(
        purchases, spend, val.ValuationAssumptions(margin=0.3, new_customers_per_year=5000),
        n_draws=50)
    text = decision_text.valuation(many, equity, equity, 52, "weeks", "USD")
    assert many.future_share() > 0.99
    assert f"**Warning: future customers make up {many.future_share():.0%}" in text
    assert "(an assumption of the parameters file)" in text
