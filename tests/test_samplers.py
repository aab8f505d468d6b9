"""How clvlib fits a model without a compiled kernel. MAP: PyTensor's Python linker, no
compilation (clvlib.models.samplers.PYTHON_MODE); its optima are held to published numbers in
the models' own tests (GGompertz/NBD, Abe, BG/BB, sBG, BdW); here, what is written by hand for
it: the split of wide sums, the refusal of a density the optimizer could not evaluate, and the
warning when it stops short of the mode. NUTS: the graph nutpie compiles reads the data from
inputs, so that numba compiles it once for every data set of a model (not timed here:
benchmarks/nuts_compile.py). The Laplace approximation: NUTS's posterior where that is near
normal, and refused where the mode is not curved (Pareto/GGG's test holds it to an independent
NumPy approximation through the graph)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from helpers import cdnow_summary
from pytensor.compile import SharedVariable
from pytensor.graph.basic import equal_computations
from pytensor.graph.traversal import ancestors
from tqdm import tqdm

import clvlib as clv
from clvlib.models import ggompertz_nbd as gg
from clvlib.models import pareto_nbd_abe as abe
from clvlib.models.samplers import PYTHON_MODE, _maximize


def test_map_mode_evaluates_sums_and_products_wider_than_numpy_takes():
    # NumPy's ufuncs take at most 32 operands; the Abe model's gradient holds a 32-term sum
    xs = [pt.dscalar(f"x{i}") for i in range(70)]
    total = pt.add(*[x ** 2 for x in xs])
    product = pt.mul(*xs)
    fn = pytensor.function(xs, [total, product, *pytensor.grad(product, xs[:2])], mode=PYTHON_MODE)
    values = np.linspace(0.5, 1.5, 70)
    got = fn(*values)
    assert got[0] == pytest.approx(np.sum(values ** 2), rel=1e-14)
    assert got[1] == pytest.approx(np.prod(values), rel=1e-13)
    assert got[2] == pytest.approx(np.prod(values[1:]), rel=1e-13)
    assert got[3] == pytest.approx(np.prod(values) / values[1], rel=1e-13)
    assert max(len(node.inputs) for node in fn.maker.fgraph.apply_nodes) < 32


def test_map_refuses_a_density_it_cannot_evaluate_rather_than_return_the_start():
    """L-BFGS-B stops at once on a gradient that is not finite and returns where it stands,
    the start: a Pareto/GGG customer who bought on the last day did this to the CDNOW sample's
    MAP fit, which came back at its starting point without a word."""
    bar = tqdm(file=io.StringIO())
    center = np.array([1.0, -2.0])

    def quadratic(y):
        return -float(np.sum((y - center) ** 2)), -2 * (y - center)

    np.testing.assert_allclose(_maximize(quadratic, np.zeros(2), bar), center, atol=1e-6)
    assert bar.n > 1  # each evaluation counted on the bar

    def broken(y):
        return quadratic(y)[0], np.array([np.nan, 1.0])

    with pytest.raises(FloatingPointError, match="gradient .*nan.*check_model"):
        _maximize(broken, np.zeros(2), tqdm(disable=True))


def test_map_warns_when_the_optimizer_stops_short_of_the_mode():
    """Rosenbrock's banana (its mode at (1, 1), a narrow curved valley) in 3 iterations stops
    far from the mode: a warning names the iterations and the gradient still there. A quadratic
    that converges gives none."""
    bar = tqdm(disable=True)

    def banana(y):
        a, b = y
        logp = -((1 - a) ** 2 + 100 * (b - a**2) ** 2)
        return logp, np.array([2 * (1 - a) + 400 * a * (b - a**2), -200 * (b - a**2)])

    with pytest.warns(RuntimeWarning, match=r"stopped after 3 iterations .*gradient is still"):
        y = _maximize(banana, np.array([-1.2, 1.0]), bar, max_iterations=3)
    assert np.max(np.abs(y - 1)) > 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(_maximize(banana, np.array([-1.2, 1.0]), bar), [1, 1],
                                   atol=1e-4)


def _nuts_graph(model):
    """A model's PyMC graph as NUTS compiles it (the data as inputs): its log density, its
    value variables and the shared variables it reads, in the order the graph reads them."""
    pymc_model = model.build(data_as_inputs=True)
    logp = pymc_model.logp()
    shared = [v for v in ancestors([logp]) if isinstance(v, SharedVariable)]
    return pymc_model, logp, pymc_model.value_vars, shared


@pytest.mark.parametrize("name", ["pareto_nbd_abe", "ggompertz_nbd"])
def test_nuts_compiles_one_graph_for_every_data_set_of_a_model(name):
    """numba's on-disk cache is keyed by the graph, constants included: with the data as
    constants each new data set compiled the model anew (Abe's 67 s). With the data as
    inputs, the CDNOW sample and 300 simulated customers give one graph, computation for
    computation (constants included), which differ only in the values of its inputs; none of
    this compiles anything."""
    cls = clv.get_model(name)
    simulate = {"pareto_nbd_abe": lambda T: abe.rvs(0.1, 0.02, 0.9, 1.2, -0.5, T=T, rng=3),
                "ggompertz_nbd": lambda T: gg.rvs(0.6, 10.0, 0.01, 0.6, 2.0, T=T, rng=3)}[name]
    simulated = pd.DataFrame(simulate(np.linspace(30.0, 39.0, 300)))
    first, second = (_nuts_graph(cls(frame)) for frame in (cdnow_summary(), simulated))
    assert len(first[3]) == len(second[3]) >= 1
    assert equal_computations([first[1]], [second[1]], in_xs=first[2] + first[3],
                              in_ys=second[2] + second[3])
    # the data sets differ in what the graph reads, not in the graph
    assert not all(np.array_equal(a.get_value(), b.get_value())
                   for a, b in zip(first[3], second[3], strict=True))


@pytest.mark.parametrize(("name", "options"), [
    ("ggompertz_nbd", {}), ("pareto_nbd_abe", {"dropout_covariates": ["a_covariate"]})],
    ids=["ggompertz_nbd", "pareto_nbd_abe_covariates"])
def test_the_nuts_graph_is_the_model_graph_with_its_data_read_from_inputs(name, options):
    """The same log density and gradient, to the last bits, whether the data are constants
    (MAP, checks) or inputs (NUTS), off the models' start: GGompertz/NBD, and Abe's model with
    a dropout covariate (whose design matrix has two dimensions)."""
    summary = cdnow_summary()
    frame = summary.customers.assign(a_covariate=np.log1p(summary.customers["x"] % 7))
    model = clv.get_model(name)(summary.with_customers(frame), **options)
    values = []
    for pymc_model in (model.build(), _nuts_graph(model)[0]):
        point = {k: v + 0.1 for k, v in pymc_model.initial_point().items()}
        logp = pymc_model.logp()
        fn = pymc_model.compile_fn([logp, *pytensor.grad(logp, pymc_model.value_vars)],
                                   mode=PYTHON_MODE)
        values.append(fn(point))
    for constant, shared in zip(*values, strict=True):
        np.testing.assert_allclose(shared, constant, rtol=1e-13)


def test_a_laplace_fit_is_the_nuts_posterior_where_that_is_near_normal(tmp_path):
    """BG/NBD on the 2,357 CDNOW customers, whose posterior is near normal in the log
    parameters: ``fit("laplace")`` (the compiled density: its mode with the Jacobian, its
    Hessian by differences of the gradient) against NUTS, 4,000 draws each. Each log
    parameter's mean within 0.25 NUTS sd of NUTS's and its sd within 10% (measured: 0.13 sd
    and 2.5% at most; the two fits' sampling noise has sd about 0.025 sd and 1.8%, so the
    bounds are over 4 of them beyond the approximation's own error: a false failure below
    1e-4 for the 8 checks). Its diagnostics, the report's words and its progress line say
    what it is (no R-hat, ESS or "the sampler converged"); the fit cache keeps it."""
    from clvlib import narrative
    from clvlib.progress import fit_label

    summary = cdnow_summary()
    laplace, nuts = clv.BetaGeoModel(summary), clv.BetaGeoModel(summary)
    laplace.fit("laplace", progressbar=False, cache_dir=tmp_path)
    nuts.fit("nuts", progressbar=False)
    a, b = laplace.posterior_draws(), nuts.posterior_draws()
    assert len(a["r"]) == len(b["r"]) == 4000
    for name in clv.BetaGeoModel.params:
        la, lb = np.log(a[name]), np.log(b[name])
        assert abs(la.mean() - lb.mean()) < 0.25 * lb.std(), name
        assert la.std() / lb.std() == pytest.approx(1, abs=0.10), name
    diagnostics = laplace.diagnostics()
    assert diagnostics.ok and diagnostics.table[["r_hat", "ess_bulk"]].isna().all().all()
    assert diagnostics.verdict().startswith("This is the Laplace approximation: 4,000 ")
    assert "fitted by laplace (r=0.24" in str(laplace)
    text = narrative.fit_summary([laplace])
    assert "BG/NBD was fitted by the Laplace approximation" in text
    assert "sampler converged" not in text and "sampler converged" in narrative.fit_summary([nuts])
    assert fit_label(laplace, "laplace", draws=1000, chains=4) == (
        "fitting BG/NBD by the Laplace approximation (4,000 draws at the posterior mode, 1,016 "
        "distinct customer rows)")
    again = clv.BetaGeoModel(summary)
    again.fit("laplace", progressbar=False, cache_dir=tmp_path)
    assert again.cache_hit and np.array_equal(again.posterior_draws()["b"], a["b"])


def test_a_laplace_fit_without_a_curved_mode_is_refused(monkeypatch):
    """Where the Hessian at the mode is not negative definite (normal_draws returns None, as
    its Cholesky factorization fails), the fit says so and what to do instead, rather than
    draw from no distribution or keep a fit."""
    from clvlib.models import laplace

    monkeypatch.setattr(laplace, "normal_draws", lambda *args, **kwargs: None)
    model = clv.BetaGeoModel(cdnow_summary())
    with pytest.raises(ValueError, match="not curved downwards.*fit it by NUTS"):
        model.fit("laplace", progressbar=False)
    assert model.idata is None


def test_a_laplace_fit_keeps_indexed_variables_per_element():
    """A pooled BG/NBD (two groups): the Laplace fit's group effects keep their dimension, in
    the draws and in the diagnostics (one row per group, as a NUTS fit's)."""
    customers = cdnow_summary().customers[["x", "t_x", "T"]]
    groups = np.where(np.arange(len(customers)) % 3 == 0, "A", "B")
    model = clv.BetaGeoModel(customers.assign(grp=groups), group="grp")
    model.fit("laplace", draws=200, chains=2, progressbar=False)
    assert model.posterior_draws()["z_purchase"].shape == (400, 2)
    rows = list(model.diagnostics().table.index)
    assert {"z_purchase[A]", "z_purchase[B]", "z_dropout[A]", "z_dropout[B]"} <= set(rows)
