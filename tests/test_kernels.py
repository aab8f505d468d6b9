"""The compiled log densities (clvlib.models.kernels) against the PyMC models they replace.

Each kernel is a second, hand-written copy of a model's likelihood
(clvlib.models.<model>.logp) with its gradient; these tests hold it equal to the PyMC model's log
density and gradient (PyTensor, priors and log-Jacobian included) to 1e-10 over grids of
parameters, priors and data, including the edges: many purchases, t_x = T, alpha = beta and
either side of it for Pareto/NBD.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clvlib
from clvlib.models import kernels
from clvlib.models.density import centered_groups, compiled_density
from clvlib.priors import Prior

# Graphs evaluated at a few points: in the Python mode, without numba's compile of each
# (conftest.py's python_mode).
pytestmark = pytest.mark.usefixtures("python_mode")

ROOT = Path(__file__).resolve().parents[1]
REL = 1e-10


def _purchase_rows() -> pd.DataFrame:
    """CDNOW-like customers plus edge rows: none, many purchases, the last at T, t_x near 0."""
    rng = np.random.default_rng(3)
    n = 300
    T = rng.uniform(30, 40, n).round(2)
    x = rng.negative_binomial(0.3, 0.2, n).clip(0, 60).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0).round(2)
    edges = pd.DataFrame({"x": [0, 200, 3, 5, 1, 40], "t_x": [0, 38.5, 39.0, 0.01, 39.0, 2.0],
                          "T": [39.0, 39.0, 39.0, 39.0, 39.0, 39.0]})
    return pd.concat([pd.DataFrame({"x": x, "t_x": t_x, "T": T}), edges], ignore_index=True)


def _spend_rows() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    x = rng.integers(1, 30, 200).astype(float)
    return pd.DataFrame({"x": x, "t_x": x, "T": 40.0, "monetary": rng.gamma(4, 10, 200)})


PRIOR_SETS = [
    None,  # the defaults (LogNormal; 1 + LogNormal for the Gamma-Gamma q)
    {"dist": "HalfFlat"},
    {"dist": "Gamma", "alpha": 2.0, "beta": 0.5},
    {"dist": "Exponential", "lam": 0.3},
    {"dist": "HalfNormal", "sigma": 5.0},
    {"dist": "Weibull", "alpha": 1.5, "beta": 3.0},
    {"dist": "LogNormal", "mu": 1.0, "sigma": 0.5, "shift": 0.5},
]


def _model(name: str, prior: dict | None):
    cls = clvlib.get_model(name)
    frame = _spend_rows() if name == "gamma_gamma" else _purchase_rows()
    priors = None if prior is None else {p: prior for p in cls.params}
    return cls(frame, priors=priors)


def _points(model, density, n: int, seed: int) -> list[np.ndarray]:
    """Unconstrained points around the start, and for Pareto/NBD ones with alpha = beta."""
    rng = np.random.default_rng(seed)
    points = [density.start + rng.normal(0, 1.2, density.start.size) for _ in range(n)]
    if model.name == "pareto_nbd":
        for y in list(points[:3]):
            y = y.copy()
            y[3] = y[1]  # beta = alpha exactly (both without shift)
            points.append(y)
    return points


@pytest.mark.parametrize("prior", PRIOR_SETS, ids=lambda p: "default" if p is None else p["dist"]
                         + ("+shift" if p and "shift" in p else ""))
@pytest.mark.parametrize("name", ["bg_nbd", "mbg_nbd", "pareto_nbd", "gamma_gamma"])
def test_kernel_equals_the_pymc_log_density_and_gradient(name, prior):
    model = _model(name, prior)
    density = compiled_density(model)
    assert density is not None
    pymc_model = model.build()
    logp, dlogp = pymc_model.compile_logp(), pymc_model.compile_dlogp()
    names = [v.name for v in pymc_model.value_vars]
    assert sorted(names) == sorted(density.value_names)
    order = [names.index(n) for n in density.value_names]
    # PyMC's HalfNormal normalising constant differs from 0.5 log(2/pi) - log(sigma) by 3e-8
    # (a constant: it moves no draw); everything else agrees to rounding.
    constant = 4 * 3.1e-8 if prior and prior["dist"] == "HalfNormal" else 0.0
    for y in _points(model, density, 12, seed=len(name)):
        point = dict(zip(density.value_names, y, strict=True))
        expected, expected_grad = logp(point), np.asarray(dlogp(point))[order]
        value, grad = density.logp_and_grad(y)
        assert value == pytest.approx(expected, rel=REL, abs=REL + constant)
        if model.name == "pareto_nbd" and y[1] == y[3]:
            # alpha = beta: |alpha - beta| has a kink there, so only the derivative along
            # alpha = beta is defined (the kernel takes alpha <= beta's side, PyTensor neither).
            grad = np.array([grad[0], grad[1] + grad[3], grad[2]])
            expected_grad = np.array([expected_grad[0], expected_grad[1] + expected_grad[3],
                                      expected_grad[2]])
        np.testing.assert_allclose(grad, expected_grad, rtol=REL,
                                   atol=REL * max(1.0, abs(expected)))


def test_map_density_leaves_out_the_jacobian():
    model = _model("bg_nbd", None)
    density = compiled_density(model)
    logp = model.build().compile_logp(jacobian=False)
    y = density.start + 0.3
    value, _ = density.without_jacobian().logp_and_grad(y)
    assert value == pytest.approx(logp(dict(zip(density.value_names, y, strict=True))), rel=REL)


def _with_covariates(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a numeric covariate, a categorical one and a region of four levels."""
    rng = np.random.default_rng(7)
    n = len(frame)
    return frame.assign(size=rng.normal(0, 1, n).round(1),
                        channel=rng.choice(["web", "shop", "phone"], n),
                        region=rng.choice(["north", "south", "east", "west"], n))


INDEXED = {"covariates": lambda roles: {f"{r}_covariates": ["size", "channel"] for r in roles},
           "groups": lambda roles: {"group": "region"},
           "both": lambda roles: {f"{roles[0]}_covariates": ["size"], "group": "region"}}


@pytest.mark.parametrize("kind", list(INDEXED))
@pytest.mark.parametrize("name", ["bg_nbd", "mbg_nbd", "pareto_nbd", "gamma_gamma"])
def test_kernel_with_covariates_and_groups_equals_the_pymc_model(name, kind):
    """Parameters indexed by customer (coefficients, group spreads and effects, their default
    priors and a flat coefficient prior) against the PyMC graph, to 1e-10."""
    cls = clvlib.get_model(name)
    frame = _with_covariates(_spend_rows() if name == "gamma_gamma" else _purchase_rows())
    options = INDEXED[kind](list(cls.covariate_links))
    priors = {"g_" + role: {"dist": "Flat"} for role in cls.covariate_links
              if kind == "covariates" and role == "purchase"}
    model = cls(frame, priors=priors, **options)
    density = compiled_density(model)
    assert density is not None
    pymc_model = model.build()
    logp, dlogp = pymc_model.compile_logp(), pymc_model.compile_dlogp()
    values = {v.name: v for v in pymc_model.value_vars}
    assert sorted(values) == sorted(density.value_names)
    sizes = [int(np.prod(s)) or 1 for s in density.shapes]
    at = np.cumsum([0, *sizes])
    pymc_at = dict(zip(values, np.cumsum([0] + [int(pymc_model.initial_point()[n].size)
                                                   for n in values]), strict=False))
    order = np.concatenate([pymc_at[n] + np.arange(k)
                            for n, k in zip(density.value_names, sizes, strict=True)])
    rng = np.random.default_rng(len(name) + len(kind))
    for _ in range(8):
        y = density.start + rng.normal(0, 0.6, density.start.size)
        point = {n: (y[at[i]] if not density.shapes[i] else y[at[i]:at[i + 1]])
                 for i, n in enumerate(density.value_names)}
        expected, expected_grad = logp(point), np.asarray(dlogp(point))[order]
        value, grad = density.logp_and_grad(y)
        assert value == pytest.approx(expected, rel=REL)
        np.testing.assert_allclose(grad, expected_grad, rtol=REL,
                                   atol=REL * max(1.0, abs(expected)))


@pytest.mark.parametrize("cls", [clvlib.BetaGeoModel, clvlib.ModifiedBetaGeoModel,
                                 clvlib.ParetoNBDModel])
def test_pointwise_loglik_kernels_equal_the_likelihood_graph(cls):
    """The per-row log-likelihoods model comparison uses (kernels.pointwise_loglik) equal the
    PyTensor graph of the model's likelihood to 1e-10, row by row, over 60 parameter draws from
    0.02 to 50 (alpha below, near and above beta for Pareto/NBD) and the edge rows."""
    import pytensor
    import pytensor.tensor as pt

    frame = _purchase_rows()
    model = cls(frame)
    rng = np.random.default_rng(5)
    draws = np.exp(rng.uniform(np.log(0.02), np.log(50), (60, 4)))
    draws[:10, 3] = draws[:10, 1] * (1 + rng.choice([-1, 1], 10) * 10.0 ** -rng.uniform(3, 12, 10))
    draws[10, 3] = draws[10, 1]
    params = [pt.dvector(name) for name in model.params]
    graph = model.likelihood.pointwise(
        *(p[:, None] for p in params),
        *(frame[c].to_numpy(dtype=float)[None, :] for c in ("x", "t_x", "T")))
    expected = pytensor.function(params, graph)(*draws.T)
    out = np.empty((len(draws), len(frame)))
    kernels.pointwise_loglik(model.kernel, draws, *(frame[c].to_numpy(dtype=float)
                                                     for c in ("x", "t_x", "T")), out)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_all_coefficients_at_zero_give_the_plain_density_exactly():
    frame = _with_covariates(_purchase_rows())
    plain = compiled_density(clvlib.ParetoNBDModel(frame))
    linked = compiled_density(clvlib.ParetoNBDModel(
        frame, purchase_covariates=["size", "channel"], dropout_covariates=["size"],
        priors={"g_purchase": {"dist": "Flat"}, "g_dropout": {"dist": "Flat"}}))
    y = plain.start + 0.3
    value, grad = plain.logp_and_grad(y)
    at_zero = np.concatenate([y, np.zeros(linked.start.size - 4)])
    linked_value, linked_grad = linked.logp_and_grad(at_zero)
    assert linked_value == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(linked_grad[:4], grad, rtol=1e-11)


def test_models_the_kernels_do_not_cover_fall_back_to_pymc():
    frame = _purchase_rows()
    odd = clvlib.BetaGeoModel(frame, priors={"r": Prior("HalfCauchy", beta=1)})
    assert compiled_density(odd) is None
    assert compiled_density(clvlib.BetaGeoModel(frame)) is not None


def test_weights_count_as_repeated_rows():
    rows = _purchase_rows().iloc[:50]
    weighted = rows.assign(weights=np.arange(50) % 3)
    repeated = rows.loc[rows.index.repeat(np.arange(50) % 3)].reset_index(drop=True)
    a = compiled_density(clvlib.ParetoNBDModel(weighted))
    b = compiled_density(clvlib.ParetoNBDModel(repeated))
    y = a.start - 0.2
    (va, ga), (vb, gb) = a.logp_and_grad(y), b.logp_and_grad(y)
    assert va == pytest.approx(vb, rel=1e-12)
    np.testing.assert_allclose(ga, gb, rtol=1e-10)


def test_map_by_kernel_is_the_maximum_likelihood_estimate_of_fhl():
    """Flat priors: the MAP fit is FHL 2005's BG/NBD MLE on the CDNOW sample (their Table)."""
    summary = clvlib.summarize(clvlib.read_transactions("cdnow_sample"), time_unit="week",
                               calibration_end="1997-09-30")
    flat = {p: {"dist": "HalfFlat"} for p in ("r", "alpha", "a", "b")}
    model = clvlib.BetaGeoModel(summary, priors=flat)
    model.fit(method="map", progressbar=False)
    estimate = model.point_estimate()
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert estimate[k] == pytest.approx(v, abs=0.0015), k


_FIT_SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np, pandas as pd, clvlib
    rng = np.random.default_rng(0)
    x = rng.poisson(2, 200).astype(float)
    frame = pd.DataFrame({"x": x, "t_x": np.where(x > 0, 20.0, 0.0), "T": 30.0})
    fits = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for cls in (clvlib.BetaGeoModel, clvlib.ParetoNBDModel):
            model = cls(frame)
            model.fit(draws=50, tune=50, chains=2, progressbar=False)
            fits[cls.__name__] = (model.timings["compiled_density"],
                                  float(model.point_estimate()["r"]))
    print(json.dumps({"compiled": all(c for c, _ in fits.values()),
                      "warnings": [str(w.message) for w in caught if "kernel" in str(w.message)],
                      "r": [r for _, r in fits.values()]}))
""")


def _fit_in_new_process() -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, "-c", _FIT_SCRIPT], capture_output=True, text=True,
                         cwd=ROOT, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_refit_in_a_new_process_repeats_the_draws():
    """BG/NBD and Pareto/NBD fits in two new processes, by the compiled kernels, draw the same
    numbers to the last bit (same seed, same kernels, whichever core runs which chain)."""
    first = _fit_in_new_process()
    assert first["compiled"] and first["warnings"] == []
    assert _fit_in_new_process()["r"] == first["r"]


def _assert_load_refused(monkeypatch, match: str) -> None:
    """Loading the kernels afresh, with the test's patches, raises KernelsNotBuilt matching
    ``match``; then the patches are undone and the real kernels load again."""
    kernels._library.cache_clear()
    try:
        with pytest.raises(kernels.KernelsNotBuilt, match=match):
            kernels._library()
    finally:
        monkeypatch.undo()
        kernels._library.cache_clear()


def test_a_kernel_build_from_other_source_is_refused(tmp_path, monkeypatch):
    """An editable install whose C file changed since it was built refuses the old build (its
    recorded SHA-256 differs) and says how to rebuild, rather than running stale code."""
    assert len(kernels.built_from()) == 64  # the build recorded its source
    changed = tmp_path / "_kernels.c"
    changed.write_bytes(kernels.SOURCE.read_bytes() + b"/* changed */\n")
    monkeypatch.setattr(kernels, "SOURCE", changed)
    _assert_load_refused(monkeypatch, "pip install -e")
    assert kernels.evaluate(*_start_and_buffer())[0] < 0


def test_a_damaged_kernel_build_is_named_not_loaded(tmp_path, monkeypatch):
    """A compiled-kernels file that is not a loadable library (truncated by a crashed copy)
    stops the fit with the file's name and how to rebuild it."""
    import importlib.machinery

    damaged = tmp_path / "_kernels.so"
    damaged.write_bytes(b"\x7fELF truncated")
    spec = importlib.machinery.ModuleSpec(kernels._EXTENSION, None, origin=str(damaged))
    monkeypatch.setattr(kernels.importlib.util, "find_spec", lambda name: spec)
    _assert_load_refused(monkeypatch, "_kernels.so.*pip install -e")


def test_kernels_never_built_say_how_to_build_them(monkeypatch):
    monkeypatch.setattr(kernels.importlib.util, "find_spec", lambda name: None)
    _assert_load_refused(monkeypatch, "not built.*C compiler")


def _start_and_buffer():
    density = compiled_density(_model("bg_nbd", None))
    return density.start, density.buffer


def test_exp_and_log_in_arithmetic_agree_with_numpy_to_one_ulp():
    """The C file's exp_poly and log_poly (vectorizable stand-ins for libm's exp and log) over
    the arguments the kernels give them: exp over [-708, 709], log over positive normal numbers
    and just above 1 (log(1 + c e^u), log(1 + e^-|z|)); exp stays NaN on NaN."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-708, 709, 100_000), np.linspace(-1, 1, 20_001)])
    assert np.max(np.abs(kernels.exp_and_log_poly(x)[0] / np.exp(x) - 1)) <= 2.3e-16
    y = np.concatenate([np.exp(rng.uniform(-700, 700, 100_000)), np.linspace(1, 3, 20_001),
                        1 + np.logspace(-16, 0, 1_000)])
    log_y = kernels.exp_and_log_poly(y)[1]
    assert np.max(np.abs(log_y - np.log(y)) / np.maximum(np.abs(np.log(y)), 1)) <= 2.3e-16
    assert np.isnan(kernels.exp_and_log_poly(np.array([np.nan]))[0][0])


def test_pareto_nbd_node_tiers_keep_the_16_node_precision():
    """The Pareto/NBD kernel integrates a row with 8, 10 or 12 nodes where its integrand is
    gentle (kernels.PNBD_TIER_*): over 3,000 random integrands (within the kernel's cut-off),
    each smaller rule the tiers pick agrees with adaptive quadrature to 3e-14."""
    import warnings

    from scipy.integrate import quad

    rng = np.random.default_rng(11)
    used = set()
    for _ in range(3000):
        k, e = np.exp(rng.uniform(np.log(0.05), np.log(80), 2))
        c = np.exp(rng.uniform(np.log(1e-4), np.log(50)))
        width = min(np.exp(rng.uniform(np.log(1e-3), np.log(6))),
                    kernels.PNBD_CUTOFF / k + np.log1p(c))
        rate = max(k, e * c / (1 + c)) * width
        reach = np.hypot(width - 2 * np.log(c), 2 * np.pi) / width
        tier = next(i for i in range(4) if i == 3 or (
            rate <= kernels.PNBD_TIER_RATE[i] and reach >= kernels.PNBD_TIER_REACH[i]))
        used.add(tier)
        if tier == 3:
            continue  # the 16-node rule of the PyTensor likelihood itself

        def f(u, k=k, e=e, c=c):
            return np.exp(k * u - e * np.log1p(c * np.exp(u)))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exact = quad(f, -width, 0, epsabs=0, epsrel=2e-14, limit=200)[0]
        nodes, weights = np.polynomial.legendre.leggauss(kernels.PNBD_TIER_NODES[tier])
        rule = width / 2 * np.sum(weights * f(-width * (1 - nodes) / 2))
        assert rule == pytest.approx(exact, rel=3e-14), (k, e, c, width, tier)
    assert used == {0, 1, 2, 3}


def test_centered_group_effects_are_the_same_posterior():
    """Group effects sampled on their own scale, e = sigma z (large groups): the density is the
    standardized one (itself equal to PyMC's) at z = e / sigma, less the log-Jacobian (log sigma
    per group and role), and its gradient follows by the chain rule."""
    model = clvlib.BetaGeoModel(_with_covariates(_purchase_rows()), group="region")
    standard = compiled_density(model)
    centered = compiled_density(model, centered=True)
    n_groups = len(model.group_levels)
    at = dict(zip(standard.variables, np.cumsum([0] + [int(np.prod(s)) for s in
                                                      standard.shapes]), strict=False))
    rng = np.random.default_rng(2)
    for _ in range(6):
        y = centered.start + rng.normal(0, 0.6, centered.start.size)
        y_std = y.copy()
        value, grad = centered.logp_and_grad(y)
        jacobian = 0.0
        for role in ("purchase", "dropout"):
            s, z = at[f"sigma_{role}"], slice(at[f"z_{role}"], at[f"z_{role}"] + n_groups)
            y_std[z] = y[z] / np.exp(y[s])
            jacobian += n_groups * y[s]
        value_std, grad_std = standard.logp_and_grad(y_std)
        assert value == pytest.approx(value_std - jacobian, rel=1e-12)
        expected = grad_std.copy()
        for role in ("purchase", "dropout"):
            s, z = at[f"sigma_{role}"], slice(at[f"z_{role}"], at[f"z_{role}"] + n_groups)
            expected[z] = grad_std[z] / np.exp(y[s])
            expected[s] = grad_std[s] - np.sum(grad_std[z] * y_std[z]) - n_groups
        np.testing.assert_allclose(grad, expected, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(centered.values(y)["z_dropout"],
                                   y_std[at["z_dropout"]:at["z_dropout"] + n_groups], rtol=1e-14)


def test_nuts_samples_group_effects_centered_only_when_every_group_is_large():
    frame = _with_covariates(_purchase_rows())
    assert not centered_groups(clvlib.BetaGeoModel(frame, group="region"))
    big = frame.assign(weights=1000.0)
    assert centered_groups(clvlib.BetaGeoModel(big, group="region"))
    odd = clvlib.BetaGeoModel(big, group="region",
                              priors={"z_purchase": {"dist": "Normal", "mu": 0, "sigma": 2}})
    assert not centered_groups(odd)
    assert not centered_groups(clvlib.BetaGeoModel(big))
