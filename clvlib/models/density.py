"""The fast path of a fit: a model's log posterior as a cached compiled function.

:func:`compiled_density` packs a plain BG/NBD, MBG/NBD, Pareto/NBD or Gamma-Gamma model (its
priors and compressed rows) into the buffer that the numba kernels of
:mod:`clvlib.models.kernels` read, or returns None for a model they do not cover (covariates,
groups, a prior family without a hand-written density); such models are fitted through their
PyMC graph as before. The fit adapters (:mod:`clvlib.models.samplers`) hand the kernels to
nutpie as C callbacks, or to SciPy's L-BFGS-B for MAP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clvlib.models import kernels

# For each prior family with a kernel: its parameters in kernel order, with PyMC's defaults
# (None: the parameter must be given).
_PRIOR_PARAMS = {
    "HalfFlat": (),
    "LogNormal": (("mu", 0.0), ("sigma", 1.0)),
    "Gamma": (("alpha", None), ("beta", None)),
    "Exponential": (("lam", None),),
    "HalfNormal": (("sigma", 1.0),),
    "Weibull": (("alpha", None), ("beta", None)),
}


def _prior_row(prior) -> list[float] | None:
    """``[kind, p1, p2, shift]`` for a prior the kernels evaluate, else None."""
    spec = _PRIOR_PARAMS.get(prior.dist)
    if spec is None or set(prior.params) - {name for name, _ in spec} or prior.shift < 0:
        return None
    values = [prior.params.get(name, default) for name, default in spec]
    if any(v is None for v in values):
        return None
    values = (values + [0.0, 0.0])[:2]
    return [float(kernels.PRIOR_KINDS[prior.dist]), *values, prior.shift]


def _support_point(prior) -> float:
    """A central value of the prior's excess over its shift (where PyMC starts too)."""
    p = {name: prior.params.get(name, default) for name, default in _PRIOR_PARAMS[prior.dist]}
    if prior.dist == "LogNormal":
        return math.exp(p["mu"] + p["sigma"] ** 2 / 2)
    if prior.dist == "Gamma":
        return p["alpha"] / p["beta"]
    if prior.dist == "Exponential":
        return 1 / p["lam"]
    if prior.dist == "HalfNormal":
        return p["sigma"]
    if prior.dist == "Weibull":
        return p["beta"] * math.gamma(1 + 1 / p["alpha"])
    return 1.0


@dataclass(frozen=True)
class CompiledDensity:
    """A model's log posterior on the unconstrained scale ``y = log(theta - shift)``.

    Attributes
    ----------
    params : tuple of str
        The parameters, in the order of ``y``.
    value_names : tuple of str
        PyMC's names of the unconstrained variables (``r_log__``, ``q_excess_log__``).
    buffer : ndarray
        The kernels' input (see :mod:`clvlib.models.kernels`).
    start : ndarray
        The unconstrained starting point (the priors' central values).
    """

    params: tuple[str, ...]
    value_names: tuple[str, ...]
    buffer: np.ndarray
    start: np.ndarray

    def logp_and_grad(self, y) -> tuple[float, np.ndarray]:
        """The log density and its gradient at the unconstrained point ``y``."""
        return kernels.evaluate(np.asarray(y, dtype=np.float64), self.buffer)

    def values(self, y) -> dict[str, float]:
        """The parameters at the unconstrained point ``y``."""
        shifts = self.buffer[kernels.HEADER + 3:kernels.HEADER + 4 * len(self.params):4]
        return dict(zip(self.params, (shifts + np.exp(y)).tolist(), strict=True))

    def without_jacobian(self) -> CompiledDensity:
        """The same density without the log-Jacobian of the transform: its mode is the
        posterior mode on the parameters' own scale (PyMC's MAP)."""
        buffer = self.buffer.copy()
        buffer[kernels.H_JACOBIAN] = 0.0
        return CompiledDensity(self.params, self.value_names, buffer, self.start)

    def initial_point(self, seed) -> np.ndarray:
        """The start jittered by Uniform(-1, 1) on each coordinate, as PyMC jitters it."""
        rng = np.random.default_rng(seed)
        return self.start + rng.uniform(-1, 1, size=self.start.size)


def compiled_density(model) -> CompiledDensity | None:
    """The compiled log posterior of ``model``, or None when the kernels do not cover it."""
    code = model.kernel
    if code is None or model.indexed:
        return None
    rows = [_prior_row(model.priors[name]) for name in model.params]
    if any(row is None for row in rows):
        return None
    data = model.rows
    weights = np.asarray(data.weights, dtype=float)
    xs, x_weights, x_index = data.distinct("x")
    consts = [0.0, 0.0]
    if code == kernels.GAMMA_GAMMA:
        m = np.asarray(data["m"], dtype=float)
        c1, c2, tables = m, np.log(m), []
        x = np.asarray(data["x"], dtype=float)
        consts = [float(np.sum(weights * x * c2)), float(np.sum(weights * c2))]
    else:
        t_x_values, _, c1 = data.distinct("t_x")
        T_values, _, c2 = data.distinct("T")
        tables = [t_x_values, T_values]
    n_u, n_v = (len(tables[0]), len(tables[1])) if tables else (0, 0)
    parts = [np.ravel(rows), xs, x_weights, data["x"], x_index, c1, c2, weights, *tables]
    body = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])
    header = [code, len(model.params), 1.0, kernels.HEADER + body.size, len(data), len(xs),
              n_u, n_v, *consts]
    buffer = np.ascontiguousarray(np.concatenate([np.asarray(header, dtype=float), body]))
    priors = [model.priors[name] for name in model.params]
    names = tuple(f"{name}_excess_log__" if p.shift else f"{name}_log__"
                  for name, p in zip(model.params, priors, strict=True))
    start = np.log([_support_point(p) for p in priors])
    return CompiledDensity(tuple(model.params), names, buffer, start)


def nutpie_model(density: CompiledDensity):
    """A model nutpie samples, calling the cached kernels (no PyTensor, nothing compiled).

    It is nutpie's own compiled-PyMC-model record with clvlib's callbacks in place of the ones
    nutpie would generate and compile from the PyMC graph in every process; nutpie stores the
    expanded values (the parameters) under their own names.
    """
    from nutpie.compile_pymc import CompiledPyMCModel

    n = len(density.params)
    logp, expand = kernels.nutpie_callbacks(int(density.buffer[kernels.H_MODEL]))
    return CompiledPyMCModel(
        _n_dim=n,
        dims={},
        _coords={"unconstrained_parameter": pd.Index(list(density.value_names))},
        _shapes={name: () for name in density.params},
        compiled_logp_func=logp,
        compiled_expand_func=expand,
        initial_point_func=density.initial_point,
        shared_data={},
        shared_var_keys={},
        user_data=density.buffer,
        n_expanded=n,
        shape_info=(list(density.params), [slice(i, i + 1) for i in range(n)],
                    [np.array([], dtype=np.int64)] * n),
        logp_func=None,
        expand_func=None,
        reparameterized_names=[],
    )
