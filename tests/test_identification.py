"""Weak identification said in words (clvlib.diagnostics.identification).

A model fitted to one customer converges, and returns little more than its prior: the sampler's
verdict and the data's verdict are different things. On the CDNOW sample (2,357 customers) the
data determine every BG/NBD parameter.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import cdnow_summary

import clvlib as clv
from clvlib.diagnostics import SD_RATIO_MAX, Identification

FIT = {"draws": 500, "tune": 500, "chains": 2, "progressbar": False, "random_seed": 7}


def test_identical_prior_and_posterior_is_weak_and_a_narrow_posterior_is_not():
    """Exact arithmetic on draws: posterior = prior gives ratio 1 and contraction 0; a posterior
    with a tenth of the prior's log-sd gives ratio 0.1 and contraction 0.99."""
    rng = np.random.default_rng(0)
    prior = np.exp(rng.normal(0.0, 1.0, 4000))
    narrow = np.exp(0.1 * np.log(prior) + 2.0)
    result = Identification.from_draws({"a": prior, "r": prior}, {"a": prior, "r": narrow})
    assert result.table.loc["a", "sd_ratio"] == pytest.approx(1.0)
    assert result.table.loc["a", "contraction"] == pytest.approx(0.0, abs=1e-12)
    assert result.table.loc["r", "sd_ratio"] == pytest.approx(0.1)
    assert result.table.loc["r", "contraction"] == pytest.approx(0.99)
    assert result.weak() == ["a"]
    assert "the data barely inform a: its posterior sd is 100% of the prior's" in result.verdict()
    assert len(result.problems()) == 1


def test_each_prior_is_compared_on_the_scale_the_sampler_works_on():
    """The log of a positive parameter (less its shift), the log-odds within a Uniform's or a
    Beta's bounds, a Normal's values as they are; so a correlation with a Uniform(-1, 1) prior
    (Pareto/NBD (Abe)'s rho), negative or not, gets a finite ratio."""
    uniform = clv.Prior("Uniform", lower=-1, upper=1)
    np.testing.assert_allclose(uniform.unbounded([0.0, 0.5, -0.5]), [0.0, np.log(3), -np.log(3)])
    np.testing.assert_allclose(clv.Prior("Beta", alpha=2, beta=2).unbounded(0.8), np.log(4))
    np.testing.assert_allclose(clv.Prior("Gamma", alpha=2, beta=1, shift=1).unbounded(1 + np.e),
                               1.0)
    np.testing.assert_allclose(clv.Prior("Normal", mu=0, sigma=1).unbounded(-2.5), -2.5)
    prior = uniform.draw(4000, seed=3)
    rng = np.random.default_rng(4)
    posterior = np.tanh(-0.2 + 0.05 * rng.standard_normal(4000))  # log-odds sd 0.1: 2 atanh
    result = Identification.from_draws({"rho": prior}, {"rho": posterior},
                                       scales={"rho": uniform.unbounded})
    ratio = result.table.loc["rho", "sd_ratio"]
    assert ratio == pytest.approx(0.1 / np.std(uniform.unbounded(prior)), rel=0.05)
    assert result.ok


def test_flat_priors_are_named_not_measured():
    rng = np.random.default_rng(1)
    draws = np.exp(rng.normal(0.0, 1.0, 1000))
    result = Identification.from_draws({"r": draws}, {"r": draws / 1e3 + 1}, flat=["alpha"])
    assert "alpha had flat priors" in result.verdict()


def test_laplace_spread_of_a_map_fit_is_the_mle_standard_error_of_lifetimes():
    """A MAP fit's spread comes from the Laplace approximation at the mode. With flat priors the
    mode is the MLE and the approximation's sd of log r (etc.) is the MLE's standard error of r
    over r, which lifetimes computes from its own numerical Hessian of the log-likelihood (an
    independent implementation), on the 2,357 CDNOW customers: within 3% (the two
    finite-difference Hessians and lifetimes' optimizer tolerance; 4,000 draws put the sample
    sd within 3.3 sampling sds of the approximation's, 1.1%, except with probability 1e-3)."""
    from lifetimes import BetaGeoFitter

    from clvlib.models.laplace import laplace_draws
    from clvlib.priors import Prior

    summary = cdnow_summary()
    flat = {k: Prior("HalfFlat") for k in ("r", "alpha", "a", "b")}
    model = clv.BetaGeoModel(summary, priors=flat)
    model.fit("map", progressbar=False)
    draws = laplace_draws(model, 4000, seed=3)
    c = summary.customers
    fitter = BetaGeoFitter().fit(c["x"], c["t_x"], c["T"])
    relative_se = fitter.summary["se(coef)"] / fitter.summary["coef"]
    for name in ("r", "alpha", "a", "b"):
        assert np.std(np.log(draws[name])) == pytest.approx(relative_se[name], rel=0.03), name


def test_map_identification_of_the_cdnow_sample_is_informed():
    model = clv.BetaGeoModel(cdnow_summary())
    model.fit("map", progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = model.identification()
    assert result.ok and result.table["sd_ratio"].max() < 0.3


def test_a_map_fit_to_one_customer_or_no_repeat_buyers_is_flagged():
    """MAP on data that cannot identify BG/NBD returns the prior's mode; its Laplace spread is
    nearly the prior's and the verdict says so (the report's fit overview prints it)."""
    one = pd.DataFrame({"x": [2.0], "t_x": [20.0], "T": [30.0]},
                       index=pd.Index(["c1"], name="customer_id"))
    none = pd.DataFrame({"x": np.zeros(200), "t_x": np.zeros(200),
                         "T": np.linspace(1, 52, 200)})
    for customers in (one, none):
        model = clv.BetaGeoModel(customers)
        model.fit("map", progressbar=False)
        with pytest.warns(UserWarning, match="The data do not determine every parameter"):
            result = model.identification()
        assert not result.ok and {"a", "b"} <= set(result.weak())


@pytest.mark.slow
def test_one_customer_is_flagged_as_weakly_identified():
    """One customer with two repeat purchases: NUTS converges, but the posterior of the dropout
    shapes a and b is nearly the prior (posterior log-sd well above half the prior's), and the
    API warns."""
    one = pd.DataFrame({"x": [2.0], "t_x": [30.0], "T": [39.0]},
                       index=pd.Index(["c1"], name="customer_id"))
    model = clv.BetaGeoModel(one)
    model.fit(**FIT)
    with pytest.warns(UserWarning, match="The data do not determine every parameter"):
        result = model.identification()
    assert {"a", "b"} <= set(result.weak())
    assert result.table.loc["a", "sd_ratio"] > SD_RATIO_MAX


@pytest.mark.slow
def test_cdnow_sample_determines_every_bg_nbd_parameter():
    """2,357 CDNOW customers: every posterior log-sd is below half the prior's, no warning."""
    model = clv.BetaGeoModel(cdnow_summary())
    model.fit(**FIT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = model.identification()
    assert result.ok, str(result)
    assert result.table["sd_ratio"].max() < SD_RATIO_MAX
    assert result.verdict().startswith("The data determine the answer")


def test_an_unbounded_mode_identifies_nothing():
    prior = {"r": np.exp(np.random.default_rng(2).normal(0.0, 1.0, 1000))}
    result = Identification.unbounded(prior)
    assert result.weak() == ["r"] and "nothing bounds r" in result.verdict()
