"""How a model is fitted: the settings of a fit and one adapter per method.

Each adapter takes the clvlib model, the settings and the timings dict to fill, and returns the
fit as an ArviZ DataTree holding the posterior of the model's variables (and, for NUTS, the
sampler statistics). :data:`ADAPTERS` names them. nutpie and MAP evaluate the model's cached
compiled log density (:mod:`clvlib.models.density`) when it has one, else its PyMC graph.
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

Method = Literal["nuts", "map"]
Sampler = Literal["auto", "nutpie", "pymc"]


@dataclass(frozen=True)
class FitSettings:
    """How a model was fitted; stored with the fit so it can be reproduced.

    Attributes
    ----------
    method : {"nuts", "map"}
    draws, tune, chains : int
        Posterior draws and tuning steps per chain, and the number of chains (NUTS only).
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
        return "map" if self.method == "map" else self.resolved().sampler


def fit_map(model, settings: FitSettings, progressbar: bool, timings: dict) -> xr.DataTree:
    """The posterior mode (with flat priors: the maximum-likelihood estimate), as one draw."""
    params = model.variables
    density = compiled_density(model)
    with tqdm(desc=f"MAP of {model.title}", unit=" evaluations", disable=not progressbar,
              file=sys.stderr) as bar:
        if density is not None:
            point = _map_by_kernel(density, bar)
            return from_dict({"posterior": {k: np.asarray(v)[None, None, ...] for k, v in
                                            point.items()}},
                             dims={k: [d] for k, d in density.dims.items()},
                             coords=density.coords)
        pymc_model = model.build()
        point = _map_by_graph(pymc_model, params, settings.random_seed, timings, bar)
    posterior = {name: np.asarray(point[name])[None, None, ...] for name in params}
    dims = {name: list(pymc_model.named_vars_to_dims[name]) for name in params
            if name in pymc_model.named_vars_to_dims}
    coords = {k: list(v) for k, v in pymc_model.coords.items() if v is not None}
    return from_dict({"posterior": posterior}, dims=dims, coords=coords)


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


def _map_by_graph(pymc_model, names, seed, timings: dict, bar) -> dict[str, np.ndarray]:
    """The mode of the PyMC model's log density without the transforms' Jacobian (as PyMC's
    find_MAP), by SciPy's L-BFGS-B from the model's initial point; ``names`` are read back
    on the constrained scale. Fills ``timings["compile_seconds"]``."""
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import join_nonshared_inputs

    t0 = time.perf_counter()
    bar.set_postfix_str("building the log density and its gradient (nothing to compile)")
    value_vars = pymc_model.value_vars
    start = pymc_model.initial_point(random_seed=seed)
    logp = pymc_model.logp(jacobian=False)
    grads = pytensor.grad(logp, value_vars)
    [logp, *grads], joined = join_nonshared_inputs(start, [logp, *grads], value_vars)
    both = pytensor.function([joined], [logp, pt.concatenate([g.ravel() for g in grads])],
                             mode=PYTHON_MODE)
    constrained = {var.name: var for var in pymc_model.unobserved_value_vars}
    values = pytensor.function(value_vars, [constrained[name] for name in names],
                               mode=PYTHON_MODE, on_unused_input="ignore")
    timings["compile_seconds"] = time.perf_counter() - t0

    x0 = np.concatenate([np.ravel(start[v.name]) for v in value_vars]).astype(float)
    y = _maximize(both, x0, bar)
    pieces, at = [], 0
    for var in value_vars:
        shape = np.shape(start[var.name])
        pieces.append(y[at:at + int(np.prod(shape))].reshape(shape))
        at += int(np.prod(shape))
    return dict(zip(names, values(*pieces), strict=True))


def _map_by_kernel(density, bar) -> dict[str, float]:
    """The mode of the density without the transform's Jacobian (as PyMC's find_MAP), by
    SciPy's L-BFGS-B from the priors' central values (PyMC's default method and start)."""
    target = density.without_jacobian()
    return target.values(_maximize(target.logp_and_grad, density.start, bar))


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


ADAPTERS = {"map": fit_map, "nutpie": fit_nutpie, "pymc": fit_pymc}


def _fit_tree(idata: xr.DataTree, params) -> xr.DataTree:
    """The parameters' posterior and the sampler statistics of a sampler's output."""
    stats = idata["sample_stats"].to_dataset()
    # Per-draw messages (object dtype, mostly None) do not round-trip through netCDF.
    stats = stats.drop_vars([v for v in stats.data_vars if stats[v].dtype == object])
    return xr.DataTree.from_dict({
        "posterior": idata["posterior"].to_dataset()[list(params)],
        "sample_stats": stats,
    })
