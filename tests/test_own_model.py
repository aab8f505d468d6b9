"""A model written only in Python, outside clvlib, as a researcher writes one in a notebook:
the NBD model (purchases at a Gamma-mixed Poisson rate, nobody ever leaves; Ehrenberg 1959,
Morrison & Schmittlein 1988), declared in a module with no source file. It fits (MAP and NUTS),
is checked (clvlib.models.verify), compares (PSIS-LOO and the holdout) and predicts (expected
and predictive intervals) through the same API as clvlib's own models, and the fit cache tells
its versions apart.

Its likelihood is checked against SciPy's negative binomial: with no dropout, the likelihood of
(x, t_x, T) is P(X(T) = x) times the density of the purchase times given their number,
x! / T^x.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from helpers import cdnow_summary
from scipy import stats
from scipy.special import gammaln

import clvlib as clv
from clvlib.comparison import compare_models
from clvlib.models.verify import check_model

SOURCE = '''
import numpy as np
import pytensor.tensor as pt
from scipy.special import gammaln

import clvlib as clv
from clvlib.models import FutureGivenAlive, Likelihood, PurchaseExpectations, PurchaseModel


def logp(r, alpha, x, t_x, T):
    return (pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha)
            - (r + x) * pt.log(alpha + T))


def alive_rate(r, alpha, x, T, t):
    return (r + x) / (alpha + T) * t


class NBDModel(PurchaseModel):
    name = "nbd"
    title = "NBD (nobody leaves)"
    params = ("r", "alpha")
    default_priors = {"r": clv.Prior("LogNormal", mu=0, sigma=1),
                      "alpha": clv.Prior("LogNormal", mu=0, sigma=3)}
    likelihood = Likelihood(pointwise=logp)
    dropout_kind = "none"
    report_candidate = False
    expectations = PurchaseExpectations(
        p_alive=lambda r, alpha, x, t_x, T: np.ones(np.broadcast_shapes(
            np.shape(r), np.shape(x))),
        expected_purchases=lambda r, alpha, x, t_x, T, t: alive_rate(r, alpha, x, T, t),
        expected_purchases_alive=alive_rate,
        expected_purchases_new=lambda r, alpha, t: r / alpha * t,
        prob_purchases=lambda r, alpha, t, n: np.exp(
            gammaln(r + n) - gammaln(r) - gammaln(n + 1) + r * np.log(alpha / (alpha + t))
            + n * np.log(t / (alpha + t))),
        future_given_alive=lambda r, alpha, x, T: FutureGivenAlive(r + x, alpha + T),
    )
'''


def _notebook_module(source: str = SOURCE) -> types.ModuleType:
    """The model's definition run as a notebook runs it: in a module with no file."""
    module = types.ModuleType("__main__")
    exec(compile(source, "<notebook cell>", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def nbd_and_bg():
    summary = cdnow_summary(holdout=True)
    nbd = _notebook_module().NBDModel(summary)
    bg = clv.BetaGeoModel(summary)
    for model in (nbd, bg):
        model.fit(draws=300, tune=300, chains=2, random_seed=3, progressbar=False)
    return summary, nbd, bg


def test_its_likelihood_is_the_negative_binomial_count_times_the_order_statistics():
    summary = cdnow_summary(holdout=False)
    frame = summary.customers
    x, T = frame["x"].to_numpy(float), frame["T"].to_numpy(float)
    model = _notebook_module().NBDModel(summary)
    r, alpha = 0.4, 6.0
    ours = model.log_likelihood({"r": r, "alpha": alpha})
    scipy = stats.nbinom.logpmf(x, r, alpha / (alpha + T)) + gammaln(x + 1) - x * np.log(T)
    assert ours == pytest.approx(scipy.sum(), rel=1e-12)


def test_the_check_of_its_one_definition_passes():
    check = check_model(_notebook_module().NBDModel(cdnow_summary()), n_points=3)
    check.raise_for_problems()
    assert check.kernel_error is None  # written in Python only


def test_map_is_its_closed_form_free_maximum():
    summary = cdnow_summary(holdout=False)
    flat = {"r": clv.Prior("HalfFlat"), "alpha": clv.Prior("HalfFlat")}
    model = _notebook_module().NBDModel(summary, priors=flat)
    model.fit("map", progressbar=False)
    best = model.log_likelihood()
    point = model.point_estimate()
    for factor in (0.99, 1.01):  # any move away lowers the likelihood
        assert model.log_likelihood({**point, "r": point["r"] * factor}) < best
        assert model.log_likelihood({**point, "alpha": point["alpha"] * factor}) < best


@pytest.mark.slow
def test_it_fits_compares_and_predicts_through_the_same_api(nbd_and_bg):
    summary, nbd, bg = nbd_and_bg
    assert nbd.diagnostics().ok, nbd.diagnostics().problems()
    comparison = compare_models([nbd, bg], summary)
    # CDNOW's customers do leave: BG/NBD beats the model in which nobody does, on the holdout
    assert comparison.best is bg
    assert set(comparison.table.index) == {nbd.title, bg.title}
    expected = nbd.expected_purchases(39.0, n_draws=200)
    predictive = nbd.predicted_purchases(39.0, n_draws=200)
    assert (expected.per_customer["lower"] <= expected.per_customer["upper"]).all()
    # Nobody leaves: the holdout's predictive total is well above BG/NBD's
    assert predictive.total()["mean"] > bg.predicted_purchases(39.0, n_draws=200).total()["mean"]
    np.testing.assert_allclose(nbd.p_alive(n_draws=50).per_customer["mean"], 1.0)


def test_the_fit_cache_tells_versions_of_a_notebook_model_apart():
    summary = cdnow_summary(holdout=False)
    first = _notebook_module().NBDModel(summary)
    again = _notebook_module().NBDModel(summary)
    changed = _notebook_module(SOURCE.replace("- (r + x) * pt.log(alpha + T))",
                                              "- (r + x) * pt.log(alpha + T) + 0.0)"))
    assert first.cache_key() == again.cache_key()
    assert first.cache_key() != changed.NBDModel(summary).cache_key()


def test_a_covariate_effect_of_a_model_without_its_own_phrase_is_said_by_its_link():
    from types import SimpleNamespace

    from clvlib.heterogeneity import _effect_phrase

    model = SimpleNamespace(name="nbd", covariate_links={"purchase": ("alpha", -1.0)})
    assert _effect_phrase(model, "purchase", "1.4") == (
        "have their alpha divided by 1.4 (purchase covariates)")
    ours = SimpleNamespace(name="bg_nbd", covariate_links={"purchase": ("alpha", -1.0)})
    assert _effect_phrase(ours, "purchase", "1.4") == "buy 1.4 times as often"
