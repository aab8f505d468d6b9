"""The fast path of a fit: a model's log posterior as a compiled function.

:func:`compiled_density` packs a BG/NBD, MBG/NBD, Pareto/NBD or Gamma-Gamma model (plain, with
covariates or pooled across groups: its priors, links and compressed rows) into the buffer that
the compiled kernels of :mod:`clvlib.models.kernels` read, or returns None for a model they do not
cover (a prior family without a hand-written density, BG/BB, sBG); such models are fitted
through their PyMC graph as before. The fit adapters (:mod:`clvlib.models.samplers`) hand the
kernels to nutpie as C callbacks, or to SciPy's L-BFGS-B for MAP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

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
    "Normal": (("mu", 0.0), ("sigma", 1.0)),
    "Flat": (),
}


def _unbounded(prior) -> bool:
    return kernels.PRIOR_KINDS[prior.dist] >= kernels.UNBOUNDED


def _prior_row(prior) -> list[float] | None:
    """``[kind, p1, p2, shift]`` for a prior the kernels evaluate, else None."""
    spec = _PRIOR_PARAMS.get(prior.dist)
    if spec is None or set(prior.params) - {name for name, _ in spec} or prior.shift < 0:
        return None
    if prior.shift and _unbounded(prior):
        return None
    values = [prior.params.get(name, default) for name, default in spec]
    if any(v is None for v in values):
        return None
    values = (values + [0.0, 0.0])[:2]
    return [float(kernels.PRIOR_KINDS[prior.dist]), *values, prior.shift]


def _start(prior) -> float:
    """The unconstrained start of a prior's variable: the log of a central value of the excess
    over its shift (a positive one), or its mean (a real one), where PyMC starts too."""
    p = {name: prior.params.get(name, default) for name, default in _PRIOR_PARAMS[prior.dist]}
    if prior.dist == "Normal":
        return p["mu"]
    if prior.dist == "Flat":
        return 0.0
    if prior.dist == "LogNormal":
        return p["mu"] + p["sigma"] ** 2 / 2
    if prior.dist == "Gamma":
        return math.log(p["alpha"] / p["beta"])
    if prior.dist == "Exponential":
        return math.log(1 / p["lam"])
    if prior.dist == "HalfNormal":
        return math.log(p["sigma"])
    if prior.dist == "Weibull":
        return math.log(p["beta"] * math.gamma(1 + 1 / p["alpha"]))
    return 0.0


@dataclass(frozen=True)
class CompiledDensity:
    """A model's log posterior on the unconstrained scale (``y = log(theta - shift)`` for a
    positive variable, ``y = theta`` for a real one).

    Attributes
    ----------
    variables : tuple of str
        The model's variables, in the order of ``y`` (a vector variable takes as many
        coordinates as its dimension has labels).
    shapes : tuple of tuple of int
        Each variable's shape (``()`` or ``(K,)``).
    value_names : tuple of str
        PyMC's names of the unconstrained variables (``r_log__``, ``q_excess_log__``,
        ``g_purchase``), one per variable.
    buffer : ndarray
        The kernels' input (see :mod:`clvlib.models.kernels`).
    start : ndarray
        The unconstrained starting point (the priors' central values).
    dims, coords : dict
        The dimension of each vector variable and the labels of each dimension.
    """

    variables: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    value_names: tuple[str, ...]
    buffer: np.ndarray
    start: np.ndarray
    dims: dict[str, str] = field(default_factory=dict)
    coords: dict[str, list[str]] = field(default_factory=dict)

    @property
    def slices(self) -> list[slice]:
        """Each variable's coordinates in ``y``."""
        ends = np.cumsum([int(np.prod(shape)) for shape in self.shapes])
        return [slice(int(end - np.prod(shape)), int(end))
                for end, shape in zip(ends, self.shapes, strict=True)]

    def logp_and_grad(self, y) -> tuple[float, np.ndarray]:
        """The log density and its gradient at the unconstrained point ``y``."""
        return kernels.evaluate(np.asarray(y, dtype=np.float64), self.buffer)

    def values(self, y) -> dict[str, float | np.ndarray]:
        """The variables at the unconstrained point ``y``."""
        rows = self.buffer[kernels.HEADER:kernels.HEADER + kernels.PRIOR_WIDTH * self.start.size]
        kind, shift = rows[0::kernels.PRIOR_WIDTH], rows[3::kernels.PRIOR_WIDTH]
        flat = np.where(kind >= kernels.UNBOUNDED, y, shift + np.exp(y))
        centered = kind == kernels.CENTERED
        flat[centered] = y[centered] / flat[rows[1::kernels.PRIOR_WIDTH][centered].astype(int)]
        return {name: flat[at] if shape else float(flat[at][0])
                for name, shape, at in zip(self.variables, self.shapes, self.slices, strict=True)}

    def without_jacobian(self) -> CompiledDensity:
        """The same density without the log-Jacobian of the transforms: its mode is the
        posterior mode on the parameters' own scale (PyMC's MAP)."""
        buffer = self.buffer.copy()
        buffer[kernels.H_JACOBIAN] = 0.0
        return replace(self, buffer=buffer)

    def initial_point(self, seed) -> np.ndarray:
        """The start jittered by Uniform(-1, 1) on each coordinate, as PyMC jitters it."""
        rng = np.random.default_rng(seed)
        return self.start + rng.uniform(-1, 1, size=self.start.size)


def _patterns(model) -> tuple[np.ndarray, np.ndarray]:
    """Each compressed row's pattern (distinct coded covariates and group) and the patterns'
    values, ``(patterns, design columns)`` (one empty pattern for a plain model)."""
    data = model.rows
    if not model.design_columns:
        return np.zeros(len(data), dtype=np.int64), np.empty((1, 0))
    matrix = np.column_stack([np.asarray(data[c], dtype=float) for c in model.design_columns])
    values, index = np.unique(matrix, axis=0, return_inverse=True)
    return index.ravel(), values


def _link_terms(model, patterns: np.ndarray, offsets: dict[str, int],
                centered: bool) -> list[list[float]]:
    """The link terms ``[pattern, parameter, c1, c2, value]`` of :mod:`kernels`: the covariate
    terms (sign x covariate x coefficient) and group terms (sign x sigma x the group's z, or
    sign x the group's effect when the effects are sampled centered)."""
    columns = list(model.design_columns)
    terms = []
    for role, (name, sign) in model.covariate_links.items():
        j = model.params.index(name)
        design = model.designs.get(role)
        for p, row in enumerate(patterns):
            if design is not None:
                for k, column in enumerate(design.frame_columns):
                    value = row[columns.index(column)]
                    if value != 0:
                        terms.append([p, j, offsets[design.coefficient] + k, -1, sign * value])
            if role in model.pooled_roles:
                group = offsets[f"z_{role}"] + int(row[columns.index(model.GROUP_CODE)])
                terms.append([p, j, group, -1, sign] if centered
                             else [p, j, offsets[f"sigma_{role}"], group, sign])
    return terms


def _pairs(values: np.ndarray, pattern: np.ndarray, weights: np.ndarray | None = None):
    """Distinct (pattern, value) pairs: their values, patterns, total weights and each row's
    pair index."""
    keys = np.column_stack([pattern.astype(float), np.asarray(values, dtype=float)])
    distinct, index = np.unique(keys, axis=0, return_inverse=True)
    index = index.ravel()
    total = np.bincount(index, weights=weights) if weights is not None else None
    return distinct[:, 1], distinct[:, 0], total, index


@dataclass(frozen=True)
class _Rows:
    """The likelihood's columns and weights of the compressed rows, in the kernels' order."""

    columns: dict[str, np.ndarray]
    weights: np.ndarray

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    def __len__(self) -> int:
        return len(self.weights)


#: A pooled model's group effects are sampled centered (:data:`kernels.CENTERED`) when every
#: group has at least this many customers: then the data pin each group's effect far more
#: tightly than the spread does, the case where NUTS struggles with standardized effects.
CENTERED_MIN_CUSTOMERS = 1000


def centered_groups(model) -> bool:
    """Whether NUTS should sample ``model``'s group effects centered (every group large)."""
    standard = [model.priors[f"z_{role}"] for role in model.pooled_roles]
    if not standard or any(p.to_dict() != {"dist": "Normal", "mu": 0.0, "sigma": 1.0}
                           for p in standard):
        return False
    codes = np.asarray(model.rows[model.GROUP_CODE]).astype(np.int64)
    sizes = np.bincount(codes, weights=np.asarray(model.rows.weights, dtype=float),
                        minlength=len(model.group_levels))
    return bool(sizes.min() >= CENTERED_MIN_CUSTOMERS)


def compiled_density(model, centered: bool = False) -> CompiledDensity | None:
    """The compiled log posterior of ``model``, or None when the kernels do not cover it.

    With ``centered``, a pooled model's group effects are sampled on their own scale (the same
    posterior; the variables the fit reports are unchanged); MAP needs the standardized ones,
    whose mode is PyMC's.
    """
    code = model.kernel
    if code is None:
        return None
    shapes = tuple((len(model.coords[model.variable_dims[v]]),) if v in model.variable_dims
                   else () for v in model.variables)
    priors = [model.priors[name] for name in model.variables]
    prior_rows = [_prior_row(p) for p in priors]
    if any(row is None for row in prior_rows):
        return None
    # With centered, each group effect's prior names its spread's coordinate.
    spreads = {f"z_{role}": f"sigma_{role}" for role in model.pooled_roles} if centered else {}
    offsets, coords = {}, []
    for name, shape, row in zip(model.variables, shapes, prior_rows, strict=True):
        offsets[name] = len(coords)
        if name in spreads:
            row = [float(kernels.CENTERED), float(offsets[spreads[name]]), 0.0, 0.0]
        coords += [row] * int(np.prod(shape))
    pattern, pattern_values = _patterns(model)
    terms = _link_terms(model, pattern_values, offsets, centered)
    # The kernels read the rows sorted by pattern (a plain model's order is kept).
    order = np.argsort(pattern, kind="stable")
    pattern = pattern[order]
    data = _Rows({c: np.asarray(model.rows[c])[order] for c in model.columns},
                 np.asarray(model.rows.weights, dtype=float)[order])
    weights = np.asarray(data.weights, dtype=float)
    xs, x_patterns, x_weights, x_index = _pairs(data["x"], pattern, weights)
    consts = [0.0, 0.0]
    if code == kernels.GAMMA_GAMMA:
        m = np.asarray(data["m"], dtype=float)
        c1, c2, tables = m, np.log(m), []
        x = np.asarray(data["x"], dtype=float)
        consts = [float(np.sum(weights * x * c2)), float(np.sum(weights * c2))]
    else:
        u, u_patterns, _, c1 = _pairs(data["t_x"], pattern)
        v, v_patterns, _, c2 = _pairs(data["T"], pattern)
        tables = [u, u_patterns, v, v_patterns]
    n_u, n_v = (len(tables[0]), len(tables[2])) if tables else (0, 0)
    starts = np.concatenate([[0], np.cumsum(np.bincount(pattern, minlength=len(pattern_values)))])
    parts = [np.ravel(coords), np.ravel(terms), xs, x_patterns, x_weights, data["x"], x_index,
             c1, c2, weights, starts, *tables]
    body = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])
    header = np.zeros(kernels.HEADER)
    header[:10] = [code, len(coords), 1.0, kernels.HEADER + body.size, len(data), len(xs),
                   n_u, n_v, *consts]
    header[kernels.H_PARAMS] = len(model.params)
    header[kernels.H_PATTERNS] = len(pattern_values)
    header[kernels.H_TERMS] = len(terms)
    buffer = np.ascontiguousarray(np.concatenate([header, body]))
    names = tuple(name if _unbounded(p) else f"{name}_excess_log__" if p.shift else f"{name}_log__"
                  for name, p in zip(model.variables, priors, strict=True))
    start = np.concatenate([np.full(int(np.prod(shape)), _start(p))
                            for shape, p in zip(shapes, priors, strict=True)])
    dims = {v: model.variable_dims[v] for v in model.variables if v in model.variable_dims}
    return CompiledDensity(tuple(model.variables), shapes, names, buffer, start, dims,
                           {d: list(model.coords[d]) for d in set(dims.values())})


def nutpie_model(density: CompiledDensity):
    """A model nutpie samples, calling the cached kernels (no PyTensor, nothing compiled).

    It is nutpie's own compiled-PyMC-model record with clvlib's callbacks in place of the ones
    nutpie would generate and compile from the PyMC graph in every process; nutpie stores the
    expanded values (the variables) under their own names and dimensions.
    """
    from nutpie.compile_pymc import CompiledPyMCModel

    n = density.start.size
    logp, expand = kernels.nutpie_callbacks(int(density.buffer[kernels.H_MODEL]))
    labels = [label for value, shape in zip(density.value_names, density.shapes, strict=True)
              for label in ([value] if not shape else [f"{value}_{i}" for i in range(shape[0])])]
    coords = {d: pd.Index(v) for d, v in density.coords.items()}
    return CompiledPyMCModel(
        _n_dim=n,
        dims={v: (d,) for v, d in density.dims.items()},
        _coords={"unconstrained_parameter": pd.Index(labels), **coords},
        _shapes=dict(zip(density.variables, density.shapes, strict=True)),
        compiled_logp_func=logp,
        compiled_expand_func=expand,
        initial_point_func=density.initial_point,
        shared_data={},
        shared_var_keys={},
        user_data=density.buffer,
        n_expanded=n,
        shape_info=(list(density.variables), density.slices,
                    [np.array(shape, dtype=np.int64) for shape in density.shapes]),
        logp_func=None,
        expand_func=None,
        reparameterized_names=[],
    )
