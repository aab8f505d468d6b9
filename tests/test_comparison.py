"""Model comparison with the uncertainty of its differences, and the holdout log density.

Fast: the fitted posteriors are stand-ins (tests/helpers.py ``fake_fit``: draws scattered around
given parameters), the customers simulated from BG/NBD. References: Vehtari, Gelman & Gabry
(2017), "Practical Bayesian model evaluation using leave-one-out cross-validation and WAIC",
Statistics and Computing 27 (eq. 24: the standard error of a paired difference); ArviZ 1.x
``compare`` (its ``elpd_diff`` and ``dse``) as the independent implementation; Fader, Hardie &
Lee (2005), "Counting your customers the easy way", Marketing Science 24(2) (the BG/NBD
likelihood, eq. 6, and P(alive), eq. A2 of their note "Implementing the BG/NBD model").
"""

from __future__ import annotations

import warnings
from functools import cache

import arviz as az
import numpy as np
import pandas as pd
import pytest
from helpers import fake_fit
from scipy.special import betaln, gammaln, logsumexp

import clvlib as clv
from clvlib import narrative
from clvlib.comparison import (
    CLEAR_MARGIN_SE,
    SMALL_DIFFERENCE,
    compare_models,
    holdout_lpd,
    holdout_lpd_pointwise,
    holdout_rows,
    margin_verdict,
    pointwise_loglik,
    weighted_sum_se,
)
from clvlib.simulate import simulate_transactions

TRUTH = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
# Customers leave after a purchase with probability 2% instead of 24%: a clearly wrong model.
WRONG = {"r": 0.5, "alpha": 6.0, "a": 0.1, "b": 5.0}


@cache
def simulated_summary(n: int = 1000, seed: int = 0) -> clv.CustomerSummary:
    """BG/NBD customers acquired in the first 90 days of 2024, calibration to the end of 2024,
    holdout to 2025-06-30 (26 weeks), weeks."""
    log = simulate_transactions(n, **TRUTH, p=6, q=4, gamma=15, start="2024-01-01",
                                end="2025-06-30", rng=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        transactions = clv.read_transactions(log, date="timestamp")
    return clv.summarize(transactions, time_unit="week", calibration_end="2024-12-31",
                         observation_end="2025-06-30")


def _model(params, title=None, seed=1):
    model = fake_fit(clv.BetaGeoModel(simulated_summary()), params, spread=0.05, seed=seed)
    if title is not None:
        model.title = title
    return model


@cache
def truth_vs_wrong():
    return compare_models([_model(WRONG, "wrong dropout"), _model(TRUTH)], simulated_summary())


# -- the verdict rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("diff, se, verdict", [
    (-31.3, 8.2, "clear"), (31.3, 8.2, "clear"),        # sign does not matter
    (-6.0, 4.1, "too close to call"),                    # under 2 se
    (-3.9, 0.1, "too close to call"),                    # over 2 se but under 4 log points
    (-SMALL_DIFFERENCE, SMALL_DIFFERENCE / CLEAR_MARGIN_SE - 1e-9, "clear"),
    (0.0, 0.0, "too close to call"),
])
def test_margin_verdict_follows_the_stated_thresholds(diff, se, verdict):
    assert margin_verdict(diff, se) == verdict


def test_weighted_sum_se_equals_the_expanded_computation():
    """Compressed rows give the same sum and se as one value per customer (sqrt(n var))."""
    values, weights = np.array([-1.0, -2.5, 0.3]), np.array([3.0, 1.0, 2.0])
    expanded = np.repeat(values, weights.astype(int))
    total, se = weighted_sum_se(values, weights)
    assert total == pytest.approx(expanded.sum(), rel=1e-12)
    assert se == pytest.approx(np.sqrt(len(expanded) * expanded.var()), rel=1e-12)


# -- a clearly wrong model against the truth ------------------------------------------------------


def test_clearly_wrong_model_loses_by_a_clear_margin_on_both_measures():
    """The true parameters against a wrong dropout process, on 1,000 simulated customers.

    False-failure rate: over 20 simulated bases (seeds 0-19) the holdout difference was -107.3
    on average with sd 14.7 (the paired se, 13.7 on average, matched that sd), the PSIS-LOO
    difference -172.4 with sd 20.0 (se 19.6). The test fails only if a difference comes within
    2 se of zero: 5.4 sd from its mean for the holdout density, 6.7 for PSIS-LOO, each below
    1 in 10 million under a normal approximation."""
    comparison = truth_vs_wrong()
    t = comparison.table
    assert comparison.rank_by == "holdout_lpd"
    assert list(t.index) == ["BG/NBD", "wrong dropout"]
    for column in ("elpd_loo", "holdout_lpd"):
        assert t[f"d_{column}"].iloc[0] == 0 and t[f"d_{column}_se"].iloc[0] == 0
        diff, se = t[f"d_{column}"].iloc[1], t[f"d_{column}_se"].iloc[1]
        assert diff == pytest.approx(t[column].iloc[1] - t[column].iloc[0], rel=1e-12)
        assert diff < 0 < se
        assert margin_verdict(diff, se) == "clear", (column, diff, se)
    assert comparison.margin() == (t["d_holdout_lpd"].iloc[1], t["d_holdout_lpd_se"].iloc[1],
                                   "clear")
    text = narrative.comparison(comparison, comparison.best)
    assert text.count("a clear margin") == 2 and "too close to call" not in text


def test_same_model_twice_is_too_close_to_call():
    """Identical posteriors: every paired difference is exactly 0 with se 0."""
    summary = simulated_summary()
    comparison = compare_models([_model(TRUTH), _model(TRUTH, "BG/NBD again")], summary)
    t = comparison.table
    for column in ("d_elpd_loo", "d_elpd_loo_se", "d_holdout_lpd", "d_holdout_lpd_se"):
        assert (t[column] == 0).all(), column
    assert comparison.margin()[2] == "too close to call"
    text = narrative.comparison(comparison, comparison.best)
    assert text.count("too close to call") == 2 and "clear margin" not in text


def test_paired_loo_difference_and_se_equal_arviz_compare():
    """ArviZ's ``compare`` on one log-likelihood column per customer (no compression) gives the
    same elpd difference and standard error of the difference (``dse``)."""
    summary = simulated_summary()
    models = {"wrong dropout": _model(WRONG, "wrong dropout"), "BG/NBD": _model(TRUTH)}
    ours = compare_models(list(models.values()), summary, rank_by="elpd_loo").table
    trees = {}
    for title, model in models.items():
        ll = model.rows.expand(pointwise_loglik(model, model.rows))
        post = model.idata["posterior"].to_dataset()
        trees[title] = az.from_dict({
            "posterior": {k: post[k].to_numpy() for k in model.params},
            "log_likelihood": {"loglike": ll},
        })
    theirs = az.compare(trees, round_to="none")
    for title in models:
        assert ours.loc[title, "elpd_loo"] == pytest.approx(theirs.loc[title, "elpd"], rel=1e-9)
        assert ours.loc[title, "d_elpd_loo"] == pytest.approx(theirs.loc[title, "elpd_diff"],
                                                              rel=1e-9, abs=1e-9)
        assert ours.loc[title, "d_elpd_loo_se"] == pytest.approx(theirs.loc[title, "dse"],
                                                                 rel=1e-9, abs=1e-9)


def test_compare_refuses_ambiguous_titles_and_other_customers():
    summary = simulated_summary()
    with pytest.raises(ValueError, match="distinct titles"):
        compare_models([_model(TRUTH), _model(WRONG)], summary)
    other = fake_fit(clv.BetaGeoModel(summary.customers.iloc[:500]), TRUTH)
    other.title = "fewer customers"
    with pytest.raises(ValueError, match="other customers"):
        compare_models([_model(TRUTH), other], summary)


# -- holdout log predictive density ---------------------------------------------------------------


def _bg_nbd_loglik(r, alpha, a, b, x, t_x, T):
    """BG/NBD log-likelihood of one customer history, FHL (2005) eq. 6, written in NumPy."""
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    dropped = np.where(
        x > 0,
        betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return common + np.logaddexp(alive, dropped)


def _draws(model):
    post = model.idata["posterior"].to_dataset()
    return {k: post[k].to_numpy().reshape(-1, 1) for k in model.params}


def test_holdout_lpd_equals_a_direct_per_customer_computation():
    """Per customer (no compression), per draw: log L(whole period) - log L(calibration), then
    the log of the posterior mean of its exponential; summed over customers. So does
    ``compare_models``, which takes the calibration part from its leave-one-out evaluation."""
    summary = simulated_summary()
    model = _model(TRUTH)
    c = summary.customers
    x, t_x, T = (c[k].to_numpy(dtype=float)[None, :] for k in ("x", "t_x", "T"))
    x_full = x + c["x_holdout"].to_numpy()[None, :]
    t_x_full = c["t_x_full"].to_numpy(dtype=float)[None, :]
    d = _draws(model)
    ratio = (_bg_nbd_loglik(**d, x=x_full, t_x=t_x_full, T=T + summary.holdout_length)
             - _bg_nbd_loglik(**d, x=x, t_x=t_x, T=T))
    per_customer = logsumexp(ratio, axis=0) - np.log(ratio.shape[0])
    assert holdout_lpd(model, summary) == pytest.approx(per_customer.sum(), rel=1e-10)
    assert compare_models([model], summary).table.loc[model.title, "holdout_lpd"] == (
        pytest.approx(per_customer.sum(), rel=1e-10))
    rows = holdout_rows(summary)
    np.testing.assert_allclose(rows.expand(holdout_lpd_pointwise(model, rows)), per_customer,
                               rtol=1e-9, atol=1e-10)


def test_holdout_density_of_no_purchase_is_the_closed_form_probability():
    """For a customer without holdout purchases the density is P(no purchase in the holdout |
    history) = 1 - P(alive) + P(alive) ((alpha + T) / (alpha + T + tau))^(r + x): alive
    BG/NBD customers cannot drop out without buying, and given the history and alive, the rate
    is Gamma(r + x, alpha + T). An independent route: P(alive) in closed form, not likelihoods."""
    summary = simulated_summary()
    model = _model(TRUTH)
    rows = holdout_rows(summary)
    quiet = rows["x_full"] == rows["x"]
    assert quiet.sum() > 100
    x, t_x, T = (rows[k][quiet][None, :] for k in ("x", "t_x", "T"))
    d = _draws(model)
    r, alpha, a, b = d["r"], d["alpha"], d["a"], d["b"]
    ratio = ((alpha + T) / (alpha + t_x)) ** (r + x)
    odds = np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * ratio, 0.0)
    p_alive = 1 / (1 + odds)
    tau = summary.holdout_length
    p_none = 1 - p_alive + p_alive * ((alpha + T) / (alpha + T + tau)) ** (r + x)
    np.testing.assert_allclose(holdout_lpd_pointwise(model, rows)[quiet],
                               np.log(p_none.mean(axis=0)), rtol=1e-9)


def test_holdout_lpd_needs_a_holdout():
    summary = simulated_summary()
    no_holdout = clv.CustomerSummary(summary.customers, summary.time_unit,
                                     summary.calibration_end)
    with pytest.raises(ValueError, match="holdout"):
        holdout_lpd(_model(TRUTH), no_holdout)


def test_comparison_without_holdout_ranks_by_loo_and_says_so():
    summary = simulated_summary()
    no_holdout = clv.CustomerSummary(summary.customers.drop(
        columns=["x_holdout", "spend_holdout", "t_x_full"]), summary.time_unit,
        summary.calibration_end)
    models = [fake_fit(clv.BetaGeoModel(no_holdout), TRUTH),
              fake_fit(clv.BetaGeoModel(no_holdout), WRONG)]
    models[1].title = "wrong dropout"
    comparison = compare_models(models, no_holdout)
    assert comparison.rank_by == "elpd_loo"
    assert "holdout_lpd" not in comparison.table and "d_elpd_loo_se" in comparison.table
    assert isinstance(comparison.table, pd.DataFrame)
    assert "PSIS-LOO expected log predictive density" in narrative.comparison(comparison,
                                                                               comparison.best)


# -- weighted rows ---------------------------------------------------------------------------------


def weighted_summary() -> clv.CustomerSummary:
    """The simulated customers with identical (calibration, holdout) histories merged into one
    row each, weighted by how many they are."""
    summary = simulated_summary()
    keys = ["x", "t_x", "T", "x_holdout", "t_x_full"]
    c = summary.customers
    merged = c.groupby(keys, as_index=False, sort=False).first()
    merged["weights"] = c.groupby(keys, sort=False).size().to_numpy()
    merged.index = pd.Index([f"row{i}" for i in range(len(merged))], name="customer_id")
    assert len(merged) < len(c) * 0.8 and merged["weights"].sum() == len(c)
    return clv.CustomerSummary(merged, summary.time_unit, summary.calibration_end,
                               summary.observation_end, source="merged")


def test_weighted_rows_compare_as_the_customers_they_stand_for():
    """Merging identical customers into weighted rows changes no difference or standard error
    (the same stand-in posteriors: fake_fit draws depend on the seed only)."""
    merged = weighted_summary()
    wrong = fake_fit(clv.BetaGeoModel(merged), WRONG, spread=0.05, seed=1)
    wrong.title = "wrong dropout"
    weighted = compare_models([wrong, fake_fit(clv.BetaGeoModel(merged), TRUTH, spread=0.05,
                                               seed=1)], merged)
    expanded = truth_vs_wrong()
    for column in ("elpd_loo", "d_elpd_loo", "d_elpd_loo_se", "holdout_lpd", "d_holdout_lpd",
                   "d_holdout_lpd_se", "p_loo", "mae", "rmse", "bias", "correlation"):
        np.testing.assert_allclose(weighted.table[column].to_numpy(),
                                   expanded.table[column].to_numpy(), rtol=1e-8, atol=1e-9,
                                   err_msg=column)
