"""The prediction engine (clvlib.scoring): expected values and posterior predictive draws.

Independent checks: the predictive draws (simulated purchases, dropout and spend) average to
the closed-form expectations of FHL (2005) and Fader & Hardie (2013), which were derived
without simulation; predictive intervals cover simulated holdout purchases as often as the
model says they should; each customer's draws depend only on its id and the seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import cdnow_summary, fake_fit

import clvlib as clv
from clvlib import checks
from clvlib.models import bg_nbd, pareto_nbd
from clvlib.scoring import PREDICTIONS, score_customers

MODELS = {
    clv.BetaGeoModel: {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259},
    clv.ModifiedBetaGeoModel: {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    clv.ParetoNBDModel: {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6650},
}
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _point(model, params):
    """A fit whose posterior is one point (as MAP gives): predictive draws then vary only by
    the customer's own randomness, so Monte Carlo errors are exact binomial/CLT ones."""
    return fake_fit(model, params, spread=0.0, draws=1)


@pytest.mark.parametrize("cls", list(MODELS), ids=lambda c: c.name)
def test_predictive_draws_average_to_the_closed_form_expectations(cls):
    """Base totals over 39 weeks: the mean of 4,000 predictive draws of purchases and of
    discounted spend lies within 4.5 Monte Carlo standard errors of the closed-form expected
    totals (false failure below 1e-5 per comparison, CLT over 4,000 independent draws)."""
    summary = cdnow_summary()
    purchases = _point(cls(summary), MODELS[cls])
    spend = _point(clv.GammaGammaModel(summary), GAMMA_GAMMA)
    scores = score_customers(purchases, spend, horizon=39, n_draws=4000,
                             predictions=PREDICTIONS)
    for expected, predictive in (("expected_purchases", "purchases_predictive"),
                                 ("clv", "clv_predictive")):
        target = scores[expected].total_draws[0]
        draws = scores[predictive].total_draws
        assert len(draws) == 4000
        se = draws.std() / np.sqrt(draws.size)
        assert abs(draws.mean() - target) < 4.5 * se, (expected, draws.mean(), target, se)
        # Per customer too: the predictive mean of the heaviest buyer (x = 29).
        heavy = summary.customers["x"].idxmax()
        assert scores[predictive].per_customer.loc[heavy, "mean"] == pytest.approx(
            scores[expected].per_customer.loc[heavy, "mean"], rel=0.1)
    kinds = {k: p.kind for k, p in scores.items()}
    assert kinds == {"p_alive": "expected", "expected_purchases": "expected", "clv": "expected",
                     "purchases_predictive": "predictive", "clv_predictive": "predictive"}
    assert "predictive interval" in str(scores["clv_predictive"])
    assert "credible interval of the expected value" in str(scores["clv"])


def test_predictive_intervals_are_wider_than_credible_ones():
    """The interval of what a customer will buy holds whole counts and, typically and for the
    base total, is wider than the interval of its expectation (a customer who will almost
    surely not buy has the predictive interval [0, 0], narrower than any credible one)."""
    summary = cdnow_summary()
    model = fake_fit(clv.BetaGeoModel(summary), MODELS[clv.BetaGeoModel], spread=0.05)
    expected = model.expected_purchases(39).per_customer
    predictive = model.predicted_purchases(39).per_customer
    width = lambda t: t["upper"] - t["lower"]  # noqa: E731
    assert width(predictive).median() > 3 * width(expected).median()
    totals = [model.expected_purchases(39).total(), model.predicted_purchases(39).total()]
    assert width(totals[1]) > width(totals[0])
    assert np.array_equal(predictive[["lower", "upper"]], predictive[["lower", "upper"]].round())
    assert (predictive["interval_mass"] >= 0.9).all()


def _simulated_base(cls, params, n, seed, calibration=39.0, holdout=39.0):
    """Customers acquired over 12 weeks, observed to the calibration end and over a holdout."""
    rng = np.random.default_rng(seed)
    T = calibration - rng.uniform(0, 12, size=n)
    if cls is clv.ModifiedBetaGeoModel:  # summaries over calibration + holdout, then split
        raise AssertionError("use the BG/NBD or Pareto/NBD simulators here")
    times = bg_nbd.purchase_times if cls is clv.BetaGeoModel else pareto_nbd.purchase_times
    customer, time = times(*params.values(), T + holdout, rng=rng)
    cal = time <= T[customer]
    x = np.bincount(customer[cal], minlength=n)
    t_x = np.zeros(n)
    np.maximum.at(t_x, customer[cal], time[cal])
    frame = pd.DataFrame({"x": x, "t_x": t_x, "T": T,
                          "x_holdout": np.bincount(customer[~cal], minlength=n)},
                         index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    return clv.CustomerSummary(frame, clv.TimeUnit.parse("week"), pd.Timestamp("2024-09-30"),
                               observation_end=pd.Timestamp("2024-09-30") + pd.Timedelta(
                                   weeks=holdout))


@pytest.mark.parametrize("cls", [clv.BetaGeoModel, clv.ParetoNBDModel], ids=lambda c: c.name)
def test_holdout_coverage_is_what_the_model_says_on_simulated_data(cls):
    """On 3,000 customers simulated from the model, the share whose holdout purchases fall in
    their 90% predictive interval is within 4.4 standard errors of the share the model
    expects (false failure below 1e-5: customers are independent given the true parameters,
    which the point posterior holds), and it is at least the nominal 90% less that margin."""
    params = MODELS[cls]
    summary = _simulated_base(cls, params, 3000, seed=11)
    model = _point(cls(summary), params)
    coverage = checks.holdout_coverage(model, summary, n_draws=2000)
    assert coverage.customers == 3000
    assert abs(coverage.z) < 4.4, str(coverage)
    assert coverage.expected >= 0.9
    assert coverage.inside > 0.9 - 4.4 * coverage.standard_error
    assert "predictive interval" in str(coverage)


def test_a_wrong_model_is_caught_by_holdout_coverage():
    """Purchase rates ten times too low: actual holdout purchases leave the intervals far more
    often than the model expects (z = -14.6 measured; the right model's |z| < 4.4 above)."""
    params = MODELS[clv.BetaGeoModel]
    summary = _simulated_base(clv.BetaGeoModel, params, 3000, seed=12)
    wrong = _point(clv.BetaGeoModel(summary), {**params, "alpha": params["alpha"] * 10})
    assert checks.holdout_coverage(wrong, summary, n_draws=2000).z < -10


def test_draws_depend_on_the_customer_and_seed_not_on_chunks_or_neighbours():
    summary = cdnow_summary()
    model = fake_fit(clv.BetaGeoModel(summary), MODELS[clv.BetaGeoModel], spread=0.05)
    spend = fake_fit(clv.GammaGammaModel(summary), GAMMA_GAMMA, spread=0.05)
    keys = ["purchases_predictive", "clv_predictive", "expected_purchases", "clv"]
    whole = score_customers(model, spend, predictions=keys, n_draws=200)
    # 100 customers a chunk: 24 chunks, each with its own distinct rows and pairs
    chunked = score_customers(model, spend, predictions=keys, n_draws=200, chunk_cells=20_000)
    some = summary.customers.iloc[::7]
    alone = score_customers(model, spend, some, predictions=keys, n_draws=200)
    for key in keys:
        pd.testing.assert_frame_equal(chunked[key].per_customer, whole[key].per_customer,
                                      rtol=1e-12)
        pd.testing.assert_frame_equal(alone[key].per_customer,
                                      whole[key].per_customer.loc[some.index], rtol=1e-12)
    other = score_customers(model, spend, predictions=keys[:1], n_draws=200, seed=1)
    assert not other["purchases_predictive"].per_customer.equals(
        whole["purchases_predictive"].per_customer)


def test_a_map_fit_still_gets_many_predictive_draws():
    summary = cdnow_summary()
    model = _point(clv.BetaGeoModel(summary), MODELS[clv.BetaGeoModel])
    prediction = model.predicted_purchases(39)
    assert len(prediction.total_draws) == 1000
    t = prediction.total()
    assert t["lower"] < t["mean"] < t["upper"]


def test_non_finite_predictions_raise_and_name_the_parameters():
    """A draw where the closed forms fail gives a clear error, never NaN in a table or a
    total that sums to 0."""
    summary = cdnow_summary()
    model = _point(clv.BetaGeoModel(summary), {"r": 0.24, "alpha": 4.4, "a": np.nan, "b": 2.4})
    with pytest.raises(FloatingPointError, match=r"P\(alive\).*not finite.*a=nan"):
        model.p_alive()


def test_unknown_and_incomplete_requests_are_refused():
    summary = cdnow_summary()
    model = _point(clv.BetaGeoModel(summary), MODELS[clv.BetaGeoModel])
    with pytest.raises(ValueError, match="unknown prediction"):
        score_customers(model, predictions=["value"])
    with pytest.raises(ValueError, match="spend model"):
        score_customers(model, predictions=["clv_predictive"])
    with pytest.raises(ValueError, match="finite horizon"):
        score_customers(model, horizon=np.inf, predictions=["purchases_predictive"])


def test_dert_is_the_unbounded_discounted_expectation():
    """DERT from the engine equals the discounted expected purchases over a very long horizon
    and exceeds those over any finite one."""
    summary = cdnow_summary()
    model = _point(clv.ParetoNBDModel(summary), MODELS[clv.ParetoNBDModel])
    dert = model.dert(0.1).per_customer["mean"]
    long = score_customers(model, horizon=52 * 200, annual_discount_rate=0.1,
                           predictions=["expected_purchases"])
    assert "DERT" in model.dert(0.1).name
    assert (dert > model.expected_purchases(52).per_customer["mean"] * 0.9).all()
    # E[Y] over 200 years, undiscounted, exceeds the discounted total.
    assert (long["expected_purchases"].per_customer["mean"] > dert).all()


def test_weights_count_in_every_total_and_in_the_spend_model():
    """A row with weight 2 counts as two customers: in the purchase and the spend likelihoods
    (equal to the table with every row twice) and in every base total; per-customer numbers
    are per row. Bad weights are refused, naming the rows."""
    customers = cdnow_summary().customers[["x", "t_x", "T", "monetary"]]
    weighted = customers.assign(weights=2.0)
    doubled = pd.concat([customers, customers.set_axis(customers.index + "b")])
    for cls, params in ((clv.BetaGeoModel, MODELS[clv.BetaGeoModel]),
                        (clv.GammaGammaModel, GAMMA_GAMMA)):
        assert cls(weighted).log_likelihood(params) == pytest.approx(
            cls(doubled).log_likelihood(params), rel=1e-12)
    purchases = _point(clv.BetaGeoModel(customers), MODELS[clv.BetaGeoModel])
    spend = _point(clv.GammaGammaModel(customers), GAMMA_GAMMA)
    keys = ["p_alive", "expected_purchases", "clv", "purchases_predictive", "clv_predictive"]
    once = score_customers(purchases, spend, customers, predictions=keys, n_draws=100)
    twice = score_customers(purchases, spend, weighted, predictions=keys, n_draws=100)
    for key in keys:
        np.testing.assert_allclose(twice[key].total_draws, 2 * once[key].total_draws,
                                   rtol=1e-12)
        pd.testing.assert_frame_equal(twice[key].per_customer, once[key].per_customer)
    for bad in (-1.0, np.nan, np.inf):
        frame = weighted.copy()
        frame.iloc[3, frame.columns.get_loc("weights")] = bad
        with pytest.raises(clv.CLVDataError, match=r"'weights' must hold finite numbers"):
            clv.BetaGeoModel(frame)


# Parameter draws (three each) of every purchase model the engine scores by its closed forms.
CLOSED_FORM_DRAWS = {
    "bg_nbd": {"r": [0.24, 0.5, 2.0], "alpha": [4.4, 1.0, 30.0], "a": [0.79, 2.0, 0.3],
               "b": [2.4, 0.5, 9.0]},
    "mbg_nbd": {"r": [0.52, 0.5, 2.0], "alpha": [6.2, 1.0, 30.0], "a": [0.89, 2.0, 0.3],
                "b": [1.6, 0.5, 9.0]},
    "pareto_nbd": {"r": [0.55, 2.0, 0.8], "alpha": [10.6, 1.0, 5.0], "s": [0.61, 0.4, 1.3],
                   "beta": [11.7, 30.0, 2.0]},
    "pareto_nbd_abe": {"lam": [0.03, 0.1, 0.01], "mu": [0.03, 0.01, 0.2],
                       "sigma_lambda": [1.1, 0.5, 2.0], "sigma_mu": [1.6, 0.3, 1.0],
                       "rho": [0.05, -0.6, 0.8]},
    "ggompertz_nbd": {"r": [0.55, 2.0, 0.8], "alpha": [10.6, 1.0, 5.0], "b": [2e-4, 0.05, 0.3],
                      "s": [0.6, 0.4, 1.3], "beta": [0.0026, 3.0, 0.5]},
    "bg_cnbd_2": {"r": [0.24, 0.5, 2.0], "alpha": [4.4, 1.0, 30.0], "a": [0.79, 2.0, 0.3],
                  "b": [2.4, 0.5, 9.0]},
    "mbg_cnbd_3": {"r": [0.52, 0.5, 2.0], "alpha": [6.2, 1.0, 30.0], "a": [0.89, 2.0, 0.3],
                   "b": [1.6, 0.5, 9.0]},
}


@pytest.mark.parametrize("name", list(CLOSED_FORM_DRAWS))
def test_expected_purchases_alive_takes_every_horizon_time_at_once(name):
    """The engine asks a model's ``expected_purchases_alive`` for all the times of a discounted
    horizon in one call (``t`` with a leading axis, scoring._alive_at_times); each model
    gives, to rounding, what it gives one time at a time: customers of the CDNOW sample x
    three parameter draws x the 17 times of a 52-week horizon, in blocks of pairs too."""
    from clvlib.discounting import purchase_weights
    from clvlib.scoring import _alive_at_times

    model = clv.get_model(name)
    customers = cdnow_summary().customers.iloc[::10]
    data = {c: customers[c].to_numpy(dtype=float)[:, None] for c in model.alive_columns}
    assert len(data) == (3 if "cnbd" in name else 2)
    params = {k: np.asarray(v)[None, :] for k, v in CLOSED_FORM_DRAWS[name].items()}
    times, _ = purchase_weights(52, 7, 0.1)
    one_at_a_time = np.stack([model.expectations.expected_purchases_alive(**params, **data, t=t)
                              for t in times])
    assert one_at_a_time.shape == (len(times), len(customers), 3)
    assert np.isfinite(one_at_a_time).all() and (np.diff(one_at_a_time, axis=0) > 0).all()
    at_once = model.expectations.expected_purchases_alive(**params, **data,
                                                          t=times[:, None, None])
    np.testing.assert_allclose(at_once, one_at_a_time, rtol=1e-12, atol=0)
    in_blocks = _alive_at_times(model.expectations.expected_purchases_alive, params, data,
                                times, cells=len(times) * 3 * 7)  # 7 pairs a block
    np.testing.assert_allclose(in_blocks, one_at_a_time, rtol=1e-12, atol=0)
