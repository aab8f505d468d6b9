"""Each model's one definition checked as a researcher's new model would be
(clvlib.models.verify.check_model): finite rows, the fit's total equal to the sum of the rows,
the automatic gradient equal to finite differences of the log posterior, and a compiled kernel
equal to the PyMC graph. And the check fails when a model's pieces disagree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clvlib
from clvlib.models import MODELS, bg_nbd
from clvlib.models.base import Likelihood
from clvlib.models.verify import check_model


def _purchases(n: int = 200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    T = rng.uniform(30, 40, n).round(2)
    x = rng.negative_binomial(0.3, 0.2, n).clip(0, 60).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0).round(2)
    size = rng.normal(0, 1, n)
    # The regularity models' sum of log gaps: x gaps that add up to t_x at most.
    litt = np.where(x > 0, x * np.log(np.maximum(t_x, 0.01) / np.maximum(x, 1)), 0.0)
    return pd.DataFrame({"x": x, "t_x": t_x, "T": T, "litt": litt, "size": size,
                         "region": np.where(rng.random(n) < 0.5, "north", "south")},
                        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))


def _model(name: str, **options):
    cls = MODELS[name]
    if name == "gamma_gamma":
        frame = _purchases()
        frame = frame[frame["x"] > 0].assign(
            monetary=np.random.default_rng(4).gamma(4, 10, int((frame["x"] > 0).sum())))
        return cls(frame, **options)
    if name == "bg_bb":
        return cls(clvlib.load_dataset("donations"), **options)
    if name in ("sbg", "bdw"):
        table = clvlib.load_dataset("sbg_retention")
        if options.get("group"):
            return cls.from_survival_tables(table, ["regular", "highend"], cohort_size=1000,
                                            through=7)
        return cls.from_survival_table(table, "regular", cohort_size=1000, through=7)
    if name == "pareto_ggg":  # its quadratures make each evaluation cost: fewer rows
        return cls(_purchases(60), **options)
    return cls(_purchases(), **options)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_passes_its_own_check(name):
    check = check_model(_model(name), n_points=4)
    check.raise_for_problems()
    assert check.gradient_error < 1e-5
    assert (check.kernel_error is None) == (MODELS[name].kernel is None)


@pytest.mark.parametrize("name", [n for n, cls in MODELS.items()
                                  if "purchase" in cls.covariate_links])
def test_models_with_covariates_and_groups_pass_their_check(name):
    check_model(_model(name, purchase_covariates=["size"], group="region"),
                n_points=3).raise_for_problems()


def test_pooled_contract_models_pass_their_check():
    check_model(_model("sbg", group="cohort"), n_points=3).raise_for_problems()


class _WrongTotal(clvlib.BetaGeoModel):
    """BG/NBD whose 'faster' total forgets the rows' weights: the check must say so."""

    likelihood = Likelihood(pointwise=bg_nbd.logp,
                            total=lambda r, alpha, a, b, rows: bg_nbd.logp(
                                r, alpha, a, b, rows["x"], rows["t_x"], rows["T"]).sum())
    kernel = None


def test_a_total_that_disagrees_with_the_rows_is_named():
    frame = pd.concat([_purchases()] * 2)  # repeated rows: weights of 2
    frame.index = pd.Index([f"c{i}" for i in range(len(frame))], name="customer_id")
    check = check_model(_WrongTotal(frame), n_points=2)
    assert not check.ok
    assert "differs from the sum of the rows" in check.problems[0]
    with pytest.raises(AssertionError, match="BG/NBD: the total"):
        check.raise_for_problems()


def _stopped_gradient_logp(r, alpha, a, b, x, t_x, T):
    """BG/NBD whose gradient through alpha is halved (the value is right): as a hand-written
    gradient with a slip would be."""
    import pytensor.tensor as pt
    from pytensor.compile.builders import OpFromGraph

    v = pt.dscalar()
    slipped = OpFromGraph([v], [v], pullback=lambda inputs, outputs, grads: [grads[0] / 2])
    return bg_nbd.logp(r, slipped(pt.as_tensor_variable(alpha)), a, b, x, t_x, T)


class _WrongGradient(clvlib.BetaGeoModel):
    likelihood = Likelihood(pointwise=_stopped_gradient_logp)
    kernel = None


def test_a_wrong_gradient_is_named_with_its_parameter():
    check = check_model(_WrongGradient(_purchases()), n_points=2)
    assert any("d logp / d alpha_log__" in p for p in check.problems), check.problems
    assert not any("d logp / d r_log__" in p for p in check.problems)


def test_the_points_named_are_the_points_checked():
    """Each problem names the parameter values where it was found: the prior's centre moved by
    Normal(0, spread) on the unconstrained scale (not a fresh draw from the prior), so the
    same seed finds the same problems at the same points."""
    model = _WrongGradient(_purchases())
    check = check_model(model, n_points=1, seed=5)
    start = model.build().initial_point()
    y = {name: float(value) + step for (name, value), step in zip(
        start.items(), np.random.default_rng(5).normal(0, 0.5, len(start)), strict=True)}
    named = f"at r={np.exp(y['r_log__']):.4g}, alpha={np.exp(y['alpha_log__']):.4g}, "
    assert check.problems and all(named in p for p in check.problems), (named, check.problems)
    assert check_model(model, n_points=1, seed=5).problems == check.problems


def _nan_gradient_logp(r, alpha, a, b, x, t_x, T):
    """BG/NBD plus a term that is 0 in value and NaN in gradient (sqrt at 0)."""
    import pytensor.tensor as pt

    return bg_nbd.logp(r, alpha, a, b, x, t_x, T) + pt.sqrt(pt.maximum(alpha - 1e6, 0.0))


class _NaNGradient(clvlib.BetaGeoModel):
    likelihood = Likelihood(pointwise=_nan_gradient_logp)
    kernel = None


def test_a_gradient_that_is_not_a_number_fails_the_check():
    check = check_model(_NaNGradient(_purchases()), n_points=2)
    assert any("d logp / d alpha_log__ is nan" in p for p in check.problems), check.problems
