"""How a model is fitted: the settings of a fit and one adapter per method.

Each adapter takes the clvlib model, the settings and the timings dict to fill, and returns the
fit as an ArviZ DataTree holding the posterior of the model's variables (and, for NUTS, the
sampler statistics). :data:`ADAPTERS` names them. nutpie and MAP evaluate the model's cached
compiled log density (:mod:`clvlib.models.density`) when it has one, else its PyMC graph.
"""

from __future__ import annotations

import importlib.util
import os
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Literal

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

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
    if density is not None:
        point = _map_by_kernel(density)
        return az.from_dict({"posterior": {k: np.asarray(v)[None, None, ...] for k, v in
                                           point.items()}},
                            dims={k: [d] for k, d in density.dims.items()},
                            coords=density.coords)
    pymc_model = model.build()
    with pymc_model:
        point = pm.find_MAP(progressbar=progressbar, seed=settings.random_seed)
    posterior = {name: np.asarray(point[name])[None, None, ...] for name in params}
    dims = {name: list(pymc_model.named_vars_to_dims[name]) for name in params
            if name in pymc_model.named_vars_to_dims}
    coords = {k: list(v) for k, v in pymc_model.coords.items() if v is not None}
    return az.from_dict({"posterior": posterior}, dims=dims, coords=coords)


def _map_by_kernel(density) -> dict[str, float]:
    """The mode of the density without the transform's Jacobian (as PyMC's find_MAP), by
    SciPy's L-BFGS-B from the priors' central values (PyMC's default method and start)."""
    from scipy.optimize import minimize

    target = density.without_jacobian()

    def negative(y):
        logp, grad = target.logp_and_grad(y)
        return -logp, -grad

    result = minimize(negative, density.start, jac=True, method="L-BFGS-B",
                      options={"maxiter": 5000})
    if not np.all(np.isfinite(result.x)):
        raise FloatingPointError(f"MAP: the optimizer left the parameters' range "
                                 f"({result.message})")
    return target.values(result.x)


def fit_nutpie(model, settings: FitSettings, progressbar: bool, timings: dict) -> xr.DataTree:
    """NUTS by nutpie: on the model's compiled density when it has one, else on its PyMC graph
    compiled with numba. The time to load the one or compile the other goes to
    ``compile_seconds``."""
    import nutpie

    t0 = time.perf_counter()
    density = compiled_density(model, centered=centered_groups(model))
    compiled = (nutpie_model(density) if density is not None
                else nutpie.compile_pymc_model(model.build()))
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
    with model.build(), warnings.catch_warnings():
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
