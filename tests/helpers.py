"""Shared, cached inputs for the fast library tests (not fixtures: plain cached functions).

Published numbers are from Fader, Hardie & Lee (2005), "Counting your customers the easy
way", Marketing Science 24(2), as quoted in ../shared/DESIGN.md section 5.
"""

from __future__ import annotations

import warnings
from functools import cache

import arviz as az
import numpy as np
import pytensor
import pytensor.tensor as pt

import clvlib
from clvlib.models import bg_nbd, gamma_gamma

# FHL (2005) BG/NBD maximum-likelihood estimates on the CDNOW sample, weeks, 39-week calibration.
FHL_BG_NBD = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
FHL_BG_NBD_LL = -9582.43
# FHL (2005) Pareto/NBD maximum-likelihood estimates on the same data (DESIGN.md section 5).
FHL_PARETO = {"r": 0.5532, "alpha": 10.5763, "s": 0.6062, "beta": 11.6715}
# Fader & Hardie (2013) Gamma-Gamma estimates on the same customers (x > 0).
FH_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}

CALIBRATION_END = "1997-09-30"
OBSERVATION_END = "1998-06-30"


@cache
def cdnow_summary(name: str = "cdnow_sample", holdout: bool = True) -> clvlib.CustomerSummary:
    """The FHL-convention summary (weeks, calibration to 1997-09-30, holdout to 1998-06-30).

    Cached for the session: callers must not modify the returned table.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the CDNOW files hold exact duplicates
        log = clvlib.read_transactions(name)
    return clvlib.summarize(
        log,
        time_unit="week",
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END if holdout else None,
    )


@cache
def bg_nbd_logp_function():
    """Compiled per-customer BG/NBD log-likelihood: f(r, alpha, a, b, x, t_x, T) -> array."""
    r, alpha, a, b = pt.dscalars("r", "alpha", "a", "b")
    x, t_x, T = pt.dvectors("x", "t_x", "T")
    return pytensor.function(
        [r, alpha, a, b, x, t_x, T], bg_nbd.logp(r, alpha, a, b, x, t_x, T)
    )


@cache
def gamma_gamma_logp_function():
    """Compiled per-customer Gamma-Gamma log-likelihood: f(p, q, gamma, x, m) -> array."""
    p, q, gamma = pt.dscalars("p", "q", "gamma")
    x, m = pt.dvectors("x", "m")
    return pytensor.function([p, q, gamma, x, m], gamma_gamma.logp(p, q, gamma, x, m))


def xtT(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (x, t_x, T) columns of a summary table as float arrays."""
    return (
        frame["x"].to_numpy(dtype=float),
        frame["t_x"].to_numpy(dtype=float),
        frame["T"].to_numpy(dtype=float),
    )


def lifetimes_beta_geo(params: dict):
    """A lifetimes BetaGeoFitter carrying the given parameters (no fitting)."""
    import pandas as pd
    from lifetimes import BetaGeoFitter

    fitter = BetaGeoFitter()
    fitter.params_ = pd.Series(params)[["r", "alpha", "a", "b"]]
    return fitter


def lifetimes_gamma_gamma(params: dict):
    """A lifetimes GammaGammaFitter carrying p, q, gamma (lifetimes calls gamma ``v``)."""
    import pandas as pd
    from lifetimes import GammaGammaFitter

    fitter = GammaGammaFitter()
    fitter.params_ = pd.Series({"p": params["p"], "q": params["q"], "v": params["gamma"]})
    return fitter


def agrees_to_significant_figures(value: float, reference: float, digits: int) -> bool:
    """True when ``value`` is within half a unit of the ``digits``-th significant figure of
    ``reference`` (robust where plain rounding would split 0.52484 and 0.525)."""
    unit = 10.0 ** (np.floor(np.log10(abs(reference))) - digits + 1)
    return abs(value - reference) <= unit / 2


def fake_fit(model, params: dict, spread: float = 0.05, draws: int = 200, seed: int = 1):
    """Attach a cheap stand-in posterior: draws scattered around ``params``."""
    rng = np.random.default_rng(seed)
    model.idata = az.from_dict({"posterior": {
        k: (v * np.exp(spread * rng.standard_normal(draws))).reshape(1, -1)
        for k, v in params.items()
    }})
    return model


# -- statements about posteriors with a known false-failure rate ---------------------------------

# The chance that a recovery test fails although sampler and model are right. Each parameter is
# checked by a z-score of the truth against the posterior on the log scale; under the normal
# approximation of the posterior (Bernstein-von Mises: thousands of customers, weak priors) the
# z-score of the truth is standard normal over simulated bases, so the bound for k parameters is
# the two-sided normal quantile of FALSE_FAILURE / k (a union bound): 4.06 for one parameter,
# 4.42 for seven. Monte Carlo error of the posterior mean (hundreds of effective draws) adds
# under 0.5% to the posterior sd and is covered by the margin.
FALSE_FAILURE = 1e-4


def recovery_z_bound(k: int, rate: float = FALSE_FAILURE) -> float:
    """|z| bound that k standard-normal z-scores all stay inside with probability 1 - rate."""
    from scipy.stats import norm

    return float(norm.isf(rate / (2 * k)))


def recovery_z_scores(draws: dict[str, np.ndarray], truth: dict[str, float]) -> dict[str, float]:
    """(posterior mean - truth) / posterior sd of each positive parameter, on the log scale."""
    return {
        name: float((np.log(draws[name]).mean() - np.log(value)) / np.log(draws[name]).std())
        for name, value in truth.items()
    }


def assert_recovers(draws: dict[str, np.ndarray], truth: dict[str, float], label: str) -> None:
    """Every true value lies within the z bound of its posterior (see FALSE_FAILURE)."""
    bound = recovery_z_bound(len(truth))
    z = recovery_z_scores(draws, truth)
    far = {name: round(score, 2) for name, score in z.items() if not abs(score) <= bound}
    assert far == {}, f"{label}: truth more than {bound:.2f} posterior sd away: {far} (all: {z})"
