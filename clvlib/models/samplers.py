"""How a model is fitted: the settings of a fit and one adapter per method.

Each adapter takes the clvlib model, the settings and the timings dict to fill, and returns the
fit as an ArviZ DataTree holding the posterior of the model's variables (and, for NUTS, the
sampler statistics). :data:`ADAPTERS` names them. nutpie, MAP and the Laplace approximation
evaluate the model's cached compiled log density (:mod:`clvlib.models.density`) when it has
one, else its PyMC graph.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pymc as pm
import pytensor.scalar as ps
import xarray as xr
from arviz_base import from_dict
from pytensor.compile.mode import get_mode
from pytensor.graph.rewriting.basic import dfs_rewriter, in2out, node_rewriter
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.rewriting.ofg import inline_symbolic_for_fusion
from tqdm import tqdm

from clvlib.models.density import centered_groups, compiled_density, nutpie_model

Method = Literal["nuts", "map", "laplace"]
Sampler = Literal["auto", "nutpie", "pymc"]


@dataclass(frozen=True)
class FitSettings:
    """How a model was fitted; stored with the fit so it can be reproduced.

    Attributes
    ----------
    method : {"nuts", "map", "laplace"}
    draws, tune, chains : int
        Posterior draws and tuning steps per chain (NUTS only), and the number of chains; a
        Laplace fit draws ``chains x draws`` from its approximation.
    sampler : {"nutpie", "pymc"}
        The NUTS implementation used.
    target_accept : float
        NUTS target acceptance rate.
    random_seed : int
    """

    method: str = "nuts"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    sampler: str = "auto"
    target_accept: float = 0.8
    random_seed: int = 20240101

    def resolved(self) -> FitSettings:
        """The settings with ``sampler="auto"`` replaced by the sampler that will run."""
        if self.sampler != "auto":
            return self
        has_nutpie = importlib.util.find_spec("nutpie") is not None
        return FitSettings(**{**asdict(self), "sampler": "nutpie" if has_nutpie else "pymc"})

    @property
    def adapter(self) -> str:
        """The :data:`ADAPTERS` entry that runs these settings."""
        return self.method if self.method in ("map", "laplace") else self.resolved().sampler


def fit_map(model, settings: FitSettings, progressbar: bool, timings: dict) -> xr.DataTree:
    """The posterior mode (with flat priors: the maximum-likelihood estimate), as one draw."""
    with tqdm(desc=f"MAP of {model.title}", unit=" evaluations", disable=not progressbar,
              file=sys.stderr) as bar:
        target = _target(model, settings.random_seed, timings, bar, jacobian=False)
        point = target.values(_maximize(target.logp_and_grad, target.start, bar))
    return target.tree({k: np.asarray(v)[None, None, ...] for k, v in point.items()})


def fit_laplace(model, settings: FitSettings, progressbar: bool, timings: dict) -> xr.DataTree:
    """The Laplace approximation: ``chains x draws`` draws from the normal distribution on the
    unconstrained scale (``log`` of a positive parameter) centred at the mode of the density
    there (the transforms' log-Jacobian included) and with minus its Hessian as precision
    (:func:`clvlib.models.laplace.normal_draws`). Building the density goes to
    ``compile_seconds``, the mode's search to ``mode_seconds``, the Hessian and the draws to
    ``laplace_seconds``.

    Raises
    ------
    ValueError
        When the log density is not curved downwards at the mode in every direction: the
        data and priors leave some direction unbounded, and no normal approximation exists.
    """
    from clvlib.models.laplace import normal_draws

    with tqdm(desc=f"Laplace approximation of {model.title}", unit=" evaluations",
              disable=not progressbar, file=sys.stderr) as bar:
        target = _target(model, settings.random_seed, timings, bar, jacobian=True)
        start = time.perf_counter()
        centre = _maximize(target.logp_and_grad, target.start, bar)
        timings["mode_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        bar.set_postfix_str("the Hessian at the mode", refresh=True)
        n = settings.chains * settings.draws
        y = normal_draws(lambda at: target.logp_and_grad(at)[1], centre, n,
                         np.random.default_rng(settings.random_seed))
    if y is None:
        raise ValueError(
            f"{model.title}: the log density is not curved downwards at its mode in every "
            "direction, so it has no Laplace approximation (the data and priors leave some "
            "parameter unbounded); fit it by NUTS, or give it proper priors")
    rows = [target.values(row) for row in y]
    timings["laplace_seconds"] = time.perf_counter() - start
    return target.tree({name: np.stack([np.asarray(row[name]) for row in rows]).reshape(
        (settings.chains, settings.draws) + np.shape(rows[0][name])) for name in rows[0]})


@dataclass(frozen=True)
class _Target:
    """A model's log density as the optimizer sees it: ``logp_and_grad(y)`` of the
    unconstrained values ``y`` (one vector), where to ``start``, ``values(y)`` (each variable
    on its own scale) and ``tree(posterior)`` (draws of the variables as a fit)."""

    logp_and_grad: object
    start: np.ndarray
    values: object
    dims: dict
    coords: dict

    def tree(self, posterior: dict[str, np.ndarray]) -> xr.DataTree:
        return from_dict({"posterior": posterior}, dims=self.dims, coords=self.coords)


def _target(model, seed: int, timings: dict, bar, jacobian: bool) -> _Target:
    """The model's log density with the transforms' log-Jacobian (the density of the
    unconstrained values, whose mode centres the Laplace approximation) or without it (its
    mode is the posterior mode on the parameters' own scale, PyMC's MAP): the compiled
    density when the model has one (started at the priors' central values, PyMC's default),
    else its PyMC graph (started at the model's initial point)."""
    density = compiled_density(model)
    if density is not None:
        target = density if jacobian else density.without_jacobian()
        return _Target(target.logp_and_grad, density.start, density.values,
                       {k: [d] for k, d in density.dims.items()}, density.coords)
    return _graph_target(model.build(), model.variables, seed, timings, bar, jacobian)


# How a model without a compiled kernel is optimized (and checked: clvlib.models.verify
# evaluates its functions a few times each, in the same mode). PyMC's find_MAP compiles the log
# density and its gradient as two functions with the default linker, numba, and evaluates the
# density twice per step; for a model written in Python only that compilation was most of the fit
# (Pareto/GGG, 300 customers, empty compile caches: 111 s, of which 6 s optimizing). Here one
# function returns both, run by PyTensor's Python linker: each node is a NumPy call and nothing
# is compiled. A step then costs about what numba's does on a few hundred customers and up to
# three times as much on thousands (no fused loops), which a MAP's 30-60 steps repay
# (benchmarks/map_compile.py). Without elementwise fusion: a fused node is run element by
# element in Python mode.
_WIDEST = 32


@node_rewriter([Elemwise])
def _split_wide_sums(fgraph, node):
    """A sum or product of more than 31 terms as a tree of narrower ones: NumPy's ufuncs take
    at most 32 operands, and PyTensor's Python mode refuses the wider node (written here
    because PyTensor's only remedy is its C backend, which compiles)."""
    if not isinstance(node.op.scalar_op, ps.Add | ps.Mul) or len(node.inputs) < _WIDEST:
        return None
    terms = list(node.inputs)
    while len(terms) >= _WIDEST:
        terms = [node.op(*terms[i:i + _WIDEST - 1]) if len(terms[i:i + _WIDEST - 1]) > 1
                 else terms[i] for i in range(0, len(terms), _WIDEST - 1)]
    return [node.op(*terms)]


PYTHON_MODE = get_mode("FAST_COMPILE").excluding(
    # the greedy distribution of products over sums: rewriting Abe's gradient with it took a
    # fifth of its MAP's time, and the Python linker runs the graph no faster for it
    "fusion", "local_greedy_distributor").register(
    # the step of fusion kept: PyTensor's inlining of logsumexp and its kin, whose inner
    # graphs are otherwise compiled in C (2 s each on an empty cache)
    (dfs_rewriter(inline_symbolic_for_fusion), 48.5),
    (in2out(_split_wide_sums), 99))


#: Largest gradient component (log density per unconstrained unit) at which a point where
#: L-BFGS-B stopped without converging is still taken for the mode (at a mode it is 0).
GRADIENT_AT_MODE = 1e-3


def _maximize(logp_and_grad, start: np.ndarray, bar, max_iterations: int = 5000) -> np.ndarray:
    """The maximum of a log density by SciPy's L-BFGS-B from ``start``, each evaluation
    counted on ``bar`` (a tqdm bar) with the log density there. A density or gradient that is
    not finite where the optimizer stopped is an error, not an estimate: L-BFGS-B stops on
    it and would return the point it reached, often the start. Stopped without converging
    (``max_iterations`` reached, or a line search that failed) where the gradient still
    exceeds :data:`GRADIENT_AT_MODE`, it returns the point with a warning that says so."""
    from scipy.optimize import minimize

    def negative(y):
        logp, grad = logp_and_grad(y)
        bar.update()
        bar.set_postfix_str(f"log posterior {float(logp):,.2f}", refresh=False)
        return -logp, -grad

    result = minimize(negative, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iterations})
    logp, grad = -result.fun, -result.jac  # where it stopped, as the optimizer evaluated it
    if not (np.isfinite(logp) and np.all(np.isfinite(grad)) and np.all(np.isfinite(result.x))):
        raise FloatingPointError(
            f"MAP: the log density is {logp} and its gradient {np.round(grad, 4).tolist()} "
            f"after {result.nfev} evaluations ({result.message}): the likelihood cannot be "
            "evaluated there; clvlib.models.check_model(model) checks each row's "
            "log-likelihood and the gradient against finite differences")
    steepest = float(np.max(np.abs(grad), initial=0.0))
    if result.status != 0 and steepest > GRADIENT_AT_MODE:
        warnings.warn(
            f"MAP: L-BFGS-B stopped after {result.nit} iterations ({result.message}) where the "
            f"log density's gradient is still {steepest:.3g} in its largest component (above "
            f"{GRADIENT_AT_MODE:g}): the estimate may not be the mode; a fit by NUTS does not "
            "depend on finding it", RuntimeWarning, stacklevel=4)
    return result.x


def _graph_target(pymc_model, names, seed, timings: dict, bar, jacobian: bool) -> _Target:
    """:func:`_target` of the PyMC model: one function of the log density and its gradient
    (PyTensor's Python linker), ``names`` read back on the constrained scale. Fills
    ``timings["compile_seconds"]``."""
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import join_nonshared_inputs

    t0 = time.perf_counter()
    bar.set_postfix_str("building the log density and its gradient (nothing to compile)")
    value_vars = pymc_model.value_vars
    start = pymc_model.initial_point(random_seed=seed)
    logp = pymc_model.logp(jacobian=jacobian)
    grads = pytensor.grad(logp, value_vars)
    [logp, *grads], joined = join_nonshared_inputs(start, [logp, *grads], value_vars)
    both = pytensor.function([joined], [logp, pt.concatenate([g.ravel() for g in grads])],
                             mode=PYTHON_MODE)
    constrained = {var.name: var for var in pymc_model.unobserved_value_vars}
    values = pytensor.function(value_vars, [constrained[name] for name in names],
                               mode=PYTHON_MODE, on_unused_input="ignore")
    timings["compile_seconds"] = time.perf_counter() - t0
    shapes = [np.shape(start[v.name]) for v in value_vars]
    cuts = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]

    def values_of(y: np.ndarray) -> dict[str, np.ndarray]:
        pieces = [piece.reshape(shape) for piece, shape in zip(np.split(y, cuts), shapes,
                                                               strict=True)]
        return dict(zip(names, values(*pieces), strict=True))

    dims = {name: list(pymc_model.named_vars_to_dims[name]) for name in names
            if name in pymc_model.named_vars_to_dims}
    coords = {k: list(v) for k, v in pymc_model.coords.items() if v is not None}
    x0 = np.concatenate([np.ravel(start[v.name]) for v in value_vars]).astype(float)
    return _Target(both, x0, values_of, dims, coords)


def fit_nutpie(model, settings: FitSettings, progressbar: bool, timings: dict) -> xr.DataTree:
    """NUTS by nutpie: on the model's compiled density when it has one, else on its PyMC graph
    compiled with numba. The time to load the one or compile the other goes to
    ``compile_seconds``."""
    import nutpie

    t0 = time.perf_counter()
    density = compiled_density(model, centered=centered_groups(model))
    compiled = (nutpie_model(density) if density is not None
                else nutpie.compile_pymc_model(model.build(data_as_inputs=True)))
    timings["compile_seconds"] = time.perf_counter() - t0
    timings["compiled_density"] = density is not None
    idata = nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=min(settings.chains, os.cpu_count() or 1),
        seed=settings.random_seed,
        target_accept=settings.target_accept,
        progress_bar=progressbar,
        # Adapts a mass matrix that captures the strong correlation of (r, alpha) and (a, b)
        # in log space: fewer leapfrog steps per draw than a diagonal one.
        adaptation="low_rank",
        save_warmup=False,
    )
    # Keep the parameters; nutpie also returns their unconstrained versions (*_log__).
    return _fit_tree(idata, model.variables)


def fit_pymc(model, settings: FitSettings, progressbar: bool, timings: dict) -> xr.DataTree:
    """NUTS by PyMC's own sampler (named: PyMC 6 would otherwise pick nutpie)."""
    with model.build(data_as_inputs=True), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Potential.*")
        idata = pm.sample(
            nuts_sampler="pymc",
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=min(settings.chains, os.cpu_count() or 1),
            random_seed=settings.random_seed,
            target_accept=settings.target_accept,
            progressbar=progressbar,
            compute_convergence_checks=False,
        )
    return _fit_tree(idata, model.variables)


ADAPTERS = {"map": fit_map, "laplace": fit_laplace, "nutpie": fit_nutpie, "pymc": fit_pymc}


def _fit_tree(idata: xr.DataTree, params) -> xr.DataTree:
    """The parameters' posterior and the sampler statistics of a sampler's output."""
    stats = idata["sample_stats"].to_dataset()
    # Per-draw messages (object dtype, mostly None) do not round-trip through netCDF.
    stats = stats.drop_vars([v for v in stats.data_vars if stats[v].dtype == object])
    return xr.DataTree.from_dict({
        "posterior": idata["posterior"].to_dataset()[list(params)],
        "sample_stats": stats,
    })
