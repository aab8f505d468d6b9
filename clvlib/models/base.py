"""What every clvlib model shares: priors as data, a PyMC model, fitting, saving, diagnostics.

A model class declares its parameters, the summary columns its likelihood reads, its default
priors, and its likelihood and closed forms (each in the model's own module); everything else
is here, except how a PyMC model is sampled or optimized (:mod:`clvlib.models.samplers`) and how
fits are saved and cached (:mod:`clvlib.models.fit_cache`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from clvlib.compression import CompressedRows, row_weights
from clvlib.covariates import Design, linear_predictor
from clvlib.diagnostics import Diagnostics, Identification, identification
from clvlib.errors import CLVDataError
from clvlib.models import fit_cache
from clvlib.models.samplers import ADAPTERS, PYTHON_MODE, FitSettings, Method, Sampler
from clvlib.predict import Prediction
from clvlib.priors import Prior
from clvlib.progress import bar
from clvlib.scoring import score_customers
from clvlib.summary import CustomerSummary, check_summary, customer_frame
from clvlib.timeunits import TimeUnit


@functools.lru_cache(maxsize=32)
def _pointwise_function(pointwise: Callable, n_params: int, n_columns: int, mode):
    """``pointwise`` compiled once per process and mode, as a function of the draws'
    parameters ``(S, rows)`` and the data columns ``(1, rows)``: the data are inputs, not
    constants, so the leave-one-out rows and both halves of the holdout density share one
    compilation (graph rewriting alone costs seconds for a quadrature likelihood). The default
    mode is PyTensor's Python linker, nothing compiled: numba's compilation cost more than it
    saved (benchmarks/map_compile.py, 500 draws: 2.6-14 times faster on empty caches; on warm
    ones from 0.9 times numba's speed, GGompertz/NBD, to 1.5 times, Pareto/GGG)."""
    import pytensor

    params = [pt.dmatrix(f"param_{i}") for i in range(n_params)]
    data = [pt.tensor(f"column_{i}", dtype="float64", shape=(1, None)) for i in range(n_columns)]
    return pytensor.function([*params, *data], pointwise(*params, *data), mode=mode,
                             on_unused_input="ignore")  # a column the likelihood does not read


def _data_as_inputs(loglike: Callable, params: dict):
    """``loglike(params)`` with the constant arrays of its graph (the data, what the model
    derives from them, its quadrature rules) read from shared variables instead, so that no
    value or length of the data stays in the graph (see :meth:`CLVModel.build`).

    The arrays of each dtype are joined into one shared vector, which one ``Split`` cuts back
    into them at sizes read from a second shared vector: at most two shared variables a dtype,
    because nutpie compiles an uncached wrapper for each shared variable on every fit (Abe's
    model: 31 s with its 17 arrays passed apart, 17 s joined, 16 s with none), and one node a
    dtype, because slicing each array apart cost seconds more of graph rewriting on every fit
    (stacking the arrays of one length as rows of a table cost none, but made the graph depend
    on which lengths a data set happens to share). An array of more than one dimension is
    reshaped back, its first dimension longer than 1 unknown. Built on stand-ins for the
    parameters (the rebuild clones the graph, and a clone of the model's random variables
    would not be the model's), rebuilt without the arrays' types (which would pin each length
    with a SpecifyShape), then put onto the model's variables."""
    import pytensor
    from pytensor.graph.replace import clone_replace, graph_replace
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.variable import TensorConstant

    stand_ins = {name: var.type() for name, var in params.items()}
    graph = loglike(stand_ins)
    by_dtype: dict[str, list] = {}
    for v in ancestors([graph]):
        if isinstance(v, TensorConstant) and v.data.size > 1:
            by_dtype.setdefault(str(v.data.dtype), []).append(v)
    replacements = {}
    for dtype, arrays in by_dtype.items():
        values = pytensor.shared(np.concatenate([np.ravel(v.data) for v in arrays]),
                                 shape=(None,), name=f"data_{dtype}")
        sizes = pytensor.shared(np.array([v.data.size for v in arrays], dtype="int64"),
                                shape=(len(arrays),), name=f"sizes_{dtype}")
        pieces = pt.split(values, sizes, n_splits=len(arrays)) if len(arrays) > 1 else [values]
        for v, piece in zip(arrays, pieces, strict=True):
            if v.ndim > 1:
                long = next(j for j, n in enumerate(v.data.shape) if n > 1)
                piece = piece.reshape([-1 if j == long else n for j, n in
                                       enumerate(v.data.shape)], ndim=v.ndim)
            replacements[v] = piece
    graph = clone_replace(graph, replacements, rebuild_strict=False)
    return graph_replace(graph, {stand_ins[name]: params[name] for name in params}, strict=True)


@dataclass(frozen=True)
class Likelihood:
    """A model's likelihood (PyTensor, in the model's module).

    ``pointwise(*params, *columns)`` is the definition: the log-likelihood of each customer
    row, its parameters by name then the data columns of :attr:`CLVModel.columns`. The fit sums
    it over the weighted rows unless the model gives ``total(*params, rows=rows)``, a faster
    way to the same weighted sum (per distinct value tables, say), which
    :func:`clvlib.models.verify.check_model` holds equal to that sum.
    """

    pointwise: Callable
    total: Callable | None = None


@dataclass(frozen=True)
class PurchaseExpectations:
    """A purchase model's closed forms (NumPy, broadcasting; in the model's module).

    Each takes the model's parameters by name plus data: ``p_alive(x, t_x, T)``,
    ``expected_purchases(x, t_x, T, t)``, ``expected_purchases_alive(x, T, t)`` (the same for a
    customer known to be alive: ``expected_purchases = expected_purchases_alive * p_alive``),
    ``expected_purchases_new(t)`` and ``prob_purchases(t, n)``; ``future_given_alive(x, T)``
    gives a customer's traits given alive at ``T`` (:class:`clvlib.futures.FutureGivenAlive`)
    from which predictive draws of their future are made. The last two read the model's
    :attr:`PurchaseModel.alive_columns` (``x, T``; regularity models add ``t_x``).
    ``expected_purchases_alive`` also takes ``t`` with a leading axis of times beyond the
    others' shape (the prediction engine asks for all the times of a discounted horizon at
    once; a model may share work between them, as Abe's its quadrature nodes).

    Optional: ``discounted_purchases_alive(x, T, delta)`` (the alive columns and a continuous
    discount rate per time unit), ``integral_0^inf exp(-delta t) dE[Y(t) | alive]``, for a
    model whose expected purchases at the far times of an unbounded horizon cost too much (the
    prediction engine otherwise discounts ``expected_purchases_alive`` by Gauss-Laguerre).
    """

    p_alive: Callable
    expected_purchases: Callable
    expected_purchases_alive: Callable
    expected_purchases_new: Callable
    prob_purchases: Callable
    future_given_alive: Callable
    discounted_purchases_alive: Callable | None = None

    @classmethod
    def of_module(cls, namespace: dict, **fixed) -> PurchaseExpectations:
        """The closed forms a model's module defines under the fields' names: write
        ``expectations = PurchaseExpectations.of_module(globals())`` in its class; ``fixed``
        binds keyword arguments every one of them takes (a regularity model's ``k``)."""
        optional = {f.name for f in fields(cls) if f.default is None}
        missing = [f.name for f in fields(cls)
                   if f.name not in optional and not callable(namespace.get(f.name))]
        if missing:
            raise TypeError(f"module {namespace.get('__name__')} defines no {missing}")
        return cls(**{f.name: functools.partial(namespace[f.name], **fixed) if fixed
                      else namespace[f.name] for f in fields(cls)
                      if callable(namespace.get(f.name))})


@dataclass(frozen=True)
class Lifetimes:
    """How long customers stay in a model whose customers leave at the end of a lifetime
    (``dropout_kind == "lifetime"``), for the report's figures, sentences and retention.

    Each customer's frailty ``theta`` scales their hazard, and their survival is ``S(t |
    theta) = exp(-theta c(t))`` on the model's lifetime clock ``c``: ``c(t) = t`` for an
    exponential lifetime (Pareto/NBD and Pareto/NBD (Abe), theta the dropout rate),
    ``e^(bt) - 1`` for a Gompertz one (GGompertz/NBD). The frailty's distribution across
    customers is the model's :attr:`PurchaseModel.dropout_mixing` (``Gamma(s, beta)``: a new
    customer is alive after ``t`` with probability ``(beta / (beta + c(t)))^s``).

    Attributes
    ----------
    clock : callable
        ``clock(t, params)``: ``c(t)`` under parameter values ``params`` (a dict of draws).
    expected_lifetime : callable
        ``expected_lifetime(theta, params)``: a customer's expected lifetime given frailty
        ``theta``, in the time unit, decreasing in ``theta``.
    frailty : str
        What ``theta`` is, for sentences ("dropout rate").
    """

    clock: Callable
    expected_lifetime: Callable
    frailty: str


@dataclass(frozen=True)
class Mixing:
    """How a rate or a probability differs across customers: a distribution family and the
    model parameters that are its two numbers, for the report's figures, sentences and
    retention (:mod:`clvlib.mixing`).

    Attributes
    ----------
    family : {"gamma", "beta", "lognormal"}
        ``"gamma"``: ``Gamma(shape, rate)``; ``"beta"``: ``Beta(a, b)``; ``"lognormal"``: the log
        is ``Normal(log median, sigma)``.
    first, second : str
        The parameters: shape and rate, ``a`` and ``b``, or median and sigma.
    events_per_purchase : int
        For a rate: every how many events of the mixed rate is a purchase ((M)BG/CNBD-k: ``k``,
        so the purchase rate of ``lambda ~ Gamma(r, alpha)`` is ``lambda / k ~ Gamma(r, k
        alpha)``).
    """

    family: str
    first: str
    second: str
    events_per_purchase: int = 1


@dataclass(frozen=True)
class SpendExpectations:
    """A spend model's closed form: ``expected_spend(params..., x, m)``, a customer's expected
    spend per purchase given their ``x`` repeat purchases of mean value ``m``."""

    expected_spend: Callable


class CLVModel:
    """Base class of the clvlib models; use a subclass such as :class:`BetaGeoModel`.

    Parameters
    ----------
    data : CustomerSummary or pandas.DataFrame
        The customers to fit, with the columns the model's likelihood reads.
    priors : dict, optional
        Priors for some or all parameters, as :class:`~clvlib.priors.Prior` or
        ``{"dist": ..., **params}`` dicts; the rest keep :attr:`default_priors`. Covariate
        coefficients are named ``g_purchase``, ``g_dropout`` and ``g_spend`` (default
        ``Normal(0, 1)``; ``Prior("Flat")`` with ``HalfFlat`` population priors makes MAP the
        maximum-likelihood estimate).
    purchase_covariates, dropout_covariates, spend_covariates : list of str, optional
        Covariate columns of the summary (``clvlib.summarize(..., covariates=TABLE)``) that
        scale the parameter of :attr:`covariate_links` for each customer:
        ``theta_i = theta * exp(sign * x_i'g)``. Purchase and dropout for the purchase models,
        spend for Gamma-Gamma.
    covariate_baselines : dict, optional
        The baseline level of categorical covariates, by column (default: the most frequent
        level).
    standardize_covariates : bool
        Standardize numeric covariates (then a coefficient is per standard deviation).
    group : str, optional
        A summary or covariate column (``"cohort"``, a region, a segment): each group gets its
        own value of every parameter of :attr:`covariate_links`, pooled on the log scale,
        ``theta_g = theta * exp(sign * sigma * z_g)`` with ``z_g ~ Normal(0, 1)`` and a learned
        spread ``sigma_<role>`` (default prior ``HalfNormal(1)``): a group with few customers is
        drawn towards the pooled ``theta``. ``sigma = 0`` (complete pooling) or a single group
        gives back the unpooled model's likelihood.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    #: The model's story in one paragraph with its distributions, for the report's appendix.
    story: ClassVar[str] = ""
    likelihood: ClassVar[Likelihood]
    params: ClassVar[tuple[str, ...]]
    columns: ClassVar[tuple[str, ...]]
    default_priors: ClassVar[dict[str, Prior]]
    #: Which parameter each kind of covariate scales, and the sign of the link:
    #: ``role -> (parameter, sign)`` with ``parameter_i = parameter * exp(sign * x_i'g)``.
    covariate_links: ClassVar[dict[str, tuple[str, float]]] = {}
    #: The model's code in :mod:`clvlib.models.kernels` (a cached compiled log density that
    #: fits use when the model is plain and its priors have kernels), or None.
    kernel: ClassVar[int | None] = None
    #: The default prior of every covariate coefficient.
    coefficient_prior: ClassVar[Prior] = Prior("Normal", mu=0, sigma=1)
    #: The default prior of the spread of group effects (log scale) in a pooled model.
    spread_prior: ClassVar[Prior] = Prior("HalfNormal", sigma=1)
    #: The name of the group dimension and of the group codes among the compressed rows.
    GROUP_DIM: ClassVar[str] = "group"
    GROUP_CODE: ClassVar[str] = "group:code"

    def __init__(self, data: CustomerSummary | pd.DataFrame, priors: dict | None = None, *,
                 purchase_covariates=None, dropout_covariates=None, spend_covariates=None,
                 covariate_baselines: dict | None = None, standardize_covariates: bool = False,
                 group: str | None = None):
        if isinstance(data, CustomerSummary):
            self.summary: CustomerSummary | None = data
            customers, source, self.time_unit = data.customers, data.source, data.time_unit
            self.resolution: float | None = data.resolution
        else:
            self.summary, customers, source = None, data, "DataFrame"
            self.time_unit = TimeUnit.parse(data.attrs.get("time_unit", "week"))
            self.resolution = data.attrs.get("resolution")
        self.customers = self.check_data(customers, source)
        self.notes: list[str] = []  # what the model left out of or adjusted in the data
        requested = {"purchase": purchase_covariates, "dropout": dropout_covariates,
                     "spend": spend_covariates}
        self.designs: dict[str, Design] = {}
        for role, columns in requested.items():
            if columns is None:
                continue
            if role not in self.covariate_links:
                takes = ", ".join(f"{r}_covariates" for r in self.covariate_links) or "none"
                raise ValueError(f"{self.title} takes no {role}_covariates (it takes: {takes})")
            self.designs[role] = Design.fit(role, self.customers, columns, covariate_baselines,
                                            standardize_covariates, source)
        self.standardize_covariates = standardize_covariates
        self.group, self.group_levels = group, ()
        if group is not None:
            self.group_levels = self._group_levels(self.customers, group, source)
        if self.indexed:  # a title of its own, to stand beside the plain model in tables
            covariates = [c for c in self.input_columns if c != group]
            parts = ([f"covariates: {', '.join(covariates)}"] if covariates else []) + (
                [f"pooled by {group}"] if group is not None else [])
            self.title = f"{type(self).title} ({'; '.join(parts)})"
        unknown = set(priors or {}) - set(self.variables)
        if unknown:
            raise ValueError(
                f"{self.title}: priors given for unknown parameter(s) {sorted(unknown)}; "
                f"its parameters are {list(self.variables)}"
            )
        self.priors = {
            **self.default_priors,
            **{d.coefficient: self.coefficient_prior for d in self.designs.values()},
            **{f"sigma_{role}": self.spread_prior for role in self.pooled_roles},
            **{f"z_{role}": Prior("Normal", mu=0, sigma=1) for role in self.pooled_roles},
            **{k: Prior.from_dict(v) for k, v in (priors or {}).items()},
        }
        frame = self.likelihood_frame(self.customers)
        for design in self.designs.values():
            frame = frame.join(design.frame(self.customers.loc[frame.index]))
        if self.group is not None:
            frame = frame.assign(**{self.GROUP_CODE: self.group_codes(
                self.customers.loc[frame.index])})
        self.rows = CompressedRows.from_frame(frame, self.columns + self.design_columns,
                                              row_weights(frame, source))
        self.idata: xr.DataTree | None = None
        self.settings: FitSettings | None = None
        self.timings: dict[str, float] = {}
        # Set by fit(cache_dir=...): the cache file, and whether the fit was read from it.
        self.cache_path: Path | None = None
        self.cache_hit: bool | None = None

    # -- what subclasses provide --------------------------------------------------------------

    def check_data(self, customers: pd.DataFrame, source: str) -> pd.DataFrame:
        """Validate the input table (override for models that read other columns)."""
        return check_summary(customers, source)

    def likelihood_frame(self, customers: pd.DataFrame) -> pd.DataFrame:
        """The rows and columns the likelihood reads (override to filter or rename)."""
        return customers

    def loglike(self, params: dict, rows: CompressedRows):
        """Total log-likelihood (a PyTensor scalar) of weighted rows.

        With covariates, each distinct row (summary and covariates) has its own linked
        parameters and the model's pointwise likelihood is weighted and summed.
        """
        if not self.indexed and self.likelihood.total is not None:
            return self.likelihood.total(**{k: params[k] for k in self.params}, rows=rows)
        return pt.sum(rows.weights * self.row_loglike(params, rows))

    def row_loglike(self, params: dict, rows: CompressedRows):
        """Log-likelihood of each row (PyTensor) as the fit sees it: the model's pointwise
        likelihood at the rows' linked parameters where the model is indexed by customer."""
        linked = self.linked_params(params, rows.columns) if self.indexed else params
        data = {c: rows[c] for c in self.columns}
        return self.likelihood.pointwise(**{k: linked[k] for k in self.params}, **data)

    # -- parameters indexed by customer -------------------------------------------------------

    @property
    def pooled_roles(self) -> tuple[str, ...]:
        """The roles whose parameter has a value per group (all of them in a pooled model)."""
        return tuple(self.covariate_links) if getattr(self, "group", None) else ()

    @property
    def variables(self) -> tuple[str, ...]:
        """Every fitted variable: the population parameters, the coefficients, and in a
        pooled model the spread and standardized effects of the groups, by role."""
        return (self.params + tuple(d.coefficient for d in self.designs.values())
                + tuple(f"{kind}_{role}" for role in self.pooled_roles
                        for kind in ("sigma", "z")))

    @property
    def indexed(self) -> bool:
        """Whether some parameter differs across customers (covariates or groups)."""
        return bool(self.designs) or self.group is not None

    @property
    def input_columns(self) -> list[str]:
        """The customer table's covariate and group columns this model reads (to score)."""
        columns = [c.column for d in self.designs.values() for c in d.codings]
        columns += [self.group] if self.group is not None else []
        return list(dict.fromkeys(columns))

    @property
    def design_columns(self) -> tuple[str, ...]:
        """The covariate columns (and group codes) of the compressed rows (empty without)."""
        columns = tuple(c for d in self.designs.values() for c in d.frame_columns)
        return columns + ((self.GROUP_CODE,) if self.group is not None else ())

    @property
    def coords(self) -> dict[str, list[str]]:
        """The named dimensions of indexed variables, with their labels."""
        coords = {d.dim: d.names for d in self.designs.values()}
        if self.group is not None:
            coords[self.GROUP_DIM] = list(self.group_levels)
        return coords

    @property
    def variable_dims(self) -> dict[str, str]:
        """The dimension of each indexed variable."""
        dims = {d.coefficient: d.dim for d in self.designs.values()}
        return dims | {f"z_{role}": self.GROUP_DIM for role in self.pooled_roles}

    def design_matrix(self, customers: pd.DataFrame) -> np.ndarray:
        """All coded covariates (and group codes) of ``customers``, in :attr:`design_columns`
        order (``(customers, 0)`` without covariates or groups)."""
        parts = [d.matrix(customers) for d in self.designs.values()]
        if self.group is not None:
            parts.append(self.group_codes(customers)[:, None])
        return np.column_stack(parts) if parts else np.empty((len(customers), 0))

    @staticmethod
    def _group_levels(customers: pd.DataFrame, group: str, source: str) -> tuple[str, ...]:
        if group not in customers.columns:
            raise CLVDataError(f"{source}: group column '{group}' is not in the customer table "
                               f"(columns: {list(customers.columns)})")
        values = customers[group]
        if values.isna().any():
            first = ", ".join(map(str, values.index[values.isna()][:5]))
            raise CLVDataError(f"{source}: group column '{group}' is empty for "
                               f"{int(values.isna().sum()):,} customer(s), the first: {first}")
        return tuple(sorted(values.astype(str).unique()))

    def group_codes(self, customers: pd.DataFrame) -> np.ndarray:
        """Each customer's group as an index into :attr:`group_levels` (as floats)."""
        if self.group not in customers.columns:
            raise CLVDataError(f"customers to score lack the group column '{self.group}'")
        text = customers[self.group].astype(str)
        codes = pd.Index(self.group_levels).get_indexer(text)
        if (codes < 0).any():
            unknown = sorted(set(text[codes < 0]))[:5]
            raise CLVDataError(f"group column '{self.group}': level(s) {unknown} were not in "
                               f"the fitted data (levels {list(self.group_levels)})")
        return codes.astype(float)

    def linked_params(self, params: dict, columns) -> dict:
        """The likelihood's parameters, linked to covariates where the model has them.

        Parameters
        ----------
        params : dict
            Population parameters and coefficients: PyTensor variables (scalars and ``(K,)``)
            or NumPy posterior draws (``(S,)`` and ``(S, K)``).
        columns : dict of str to ndarray, or ndarray
            The covariate columns by name (as in compressed rows), or a design matrix in
            :attr:`design_columns` order.

        Returns
        -------
        dict
            The parameters of :attr:`params`; a linked one is per row (PyTensor ``(rows,)``,
            NumPy ``(rows, S)``), the others as given (NumPy draws as ``(1, S)``).
        """
        if isinstance(columns, np.ndarray):
            columns = dict(zip(self.design_columns, columns.T, strict=True))
        symbolic = any(isinstance(v, pt.Variable) for v in params.values())
        out = {k: (params[k] if symbolic else np.asarray(params[k], dtype=float)[None, ...])
               for k in self.params}
        for role, (name, sign) in self.covariate_links.items():
            eta = 0.0
            if role in self.designs:
                design = self.designs[role]
                matrix = np.column_stack([columns[c] for c in design.frame_columns])
                eta = linear_predictor(matrix, params[design.coefficient])
            if role in self.pooled_roles:
                eta = eta + self._group_effect(params[f"sigma_{role}"], params[f"z_{role}"],
                                               columns[self.GROUP_CODE], symbolic)
            if role in self.designs or role in self.pooled_roles:
                out[name] = out[name] * (pt.exp(sign * eta) if symbolic else np.exp(sign * eta))
        return out

    #: Draws x rows that :meth:`pointwise_loglik` evaluates at once (fewer for a likelihood
    #: that integrates over many quadrature nodes per row).
    pointwise_cells: ClassVar[int] = 2_000_000

    def pointwise_loglik(self, draws: dict[str, np.ndarray], rows: CompressedRows,
                         columns: tuple[str, ...] | None = None,
                         cells: int | None = None, mode=None) -> np.ndarray:
        """Log-likelihood of each distinct row under each draw, ``(S, rows)``, each row with
        its own parameters (for models indexed by customer; model comparison uses it).

        Parameters
        ----------
        draws : dict of str to ndarray
            Posterior draws of :attr:`variables` (``(S,)`` and ``(S, K)``).
        rows : CompressedRows
            Rows with the likelihood's data columns and :attr:`design_columns`.
        columns : tuple of str, optional
            The rows' columns passed as the likelihood's data (default :attr:`columns`).
        cells : int, optional
            Draws x rows evaluated at once (default :attr:`pointwise_cells`): a chunk of
            draws with every row, or one draw with a block of rows when the rows are more.
        mode : pytensor Mode or str, optional
            How PyTensor runs the graph: by default its Python linker, nothing compiled (see
            ``_pointwise_function``); ``benchmarks/map_compile.py`` passes PyTensor's default
            mode (numba) to measure the difference.
        """
        columns = columns or self.columns
        fn = _pointwise_function(self.likelihood.pointwise, len(self.params), len(columns),
                                 PYTHON_MODE if mode is None else mode)
        data = [np.asarray(rows[c], dtype=float)[None, :] for c in columns]
        n_draws, n_rows = len(draws[self.params[0]]), len(rows)
        out = np.empty((n_draws, n_rows))
        cells = cells or self.pointwise_cells
        # Draws a chunk at a time, all rows; when one draw's rows exceed the cells, one draw
        # and blocks of rows (a quadrature likelihood's intermediates are cells x nodes large:
        # past the cache they cost three times as much per cell).
        step = max(1, cells // max(n_rows, 1))
        block = min(n_rows, max(1, cells))
        design = {c: rows[c] for c in self.design_columns}
        chunks = [(start, at) for start in range(0, n_draws, step)
                  for at in range(0, n_rows, block)]
        for start, at in bar(chunks, f"{self.title}: log-likelihood of {n_rows:,} rows x "
                                     f"{n_draws:,} draws"):
            part = {k: v[start:start + step] for k, v in draws.items()}
            these = slice(at, at + block)
            linked = self.linked_params(part, {c: v[these] for c, v in design.items()})
            size = len(part[self.params[0]])
            width = len(range(n_rows)[these])
            out[start:start + size, these] = fn(*(np.ascontiguousarray(
                np.broadcast_to(linked[k].T, (size, width))) for k in self.params),
                *(d[:, these] for d in data))
        return out

    @staticmethod
    def _group_effect(sigma, z, codes, symbolic: bool):
        """``sigma * z[group]`` per row: PyTensor ``(rows,)`` or NumPy draws ``(rows, S)``."""
        index = np.asarray(codes).astype(np.int64)
        if symbolic:
            return sigma * z[index]
        sigma, z = np.asarray(sigma, dtype=float), np.asarray(z, dtype=float)
        return (sigma[..., None] * z).T[index] if z.ndim == 2 else sigma * z[index]

    # -- the customers' own parameters --------------------------------------------------------

    def customer_mix(self, customers=None, *, draws: dict | None = None,
                     n_draws: int | None = 1000, seed: int = 0):
        """The likelihood's parameters of each distinct covariate (and group) row, per draw.

        Parameters
        ----------
        customers : CustomerSummary or DataFrame, optional
            Whose covariates (default: the customers the model was fitted to).
        draws : dict, optional
            Posterior draws of :attr:`variables` to link (default: :meth:`posterior_draws`
            with ``n_draws`` and ``seed``), e.g. draws changed by a what-if.

        Returns
        -------
        params : dict of str to ndarray
            Each of :attr:`params` as ``(draws, rows)``: one column per distinct row of coded
            covariates and group (a single column for a model without them).
        weights : ndarray
            How many customers have each row (a ``weights`` column counts as many).
        row_of : ndarray of int
            Each customer's row.
        """
        frame = self.customers if customers is None else customer_frame(customers)
        draws = self.posterior_draws(n_draws, seed) if draws is None else draws
        w = row_weights(frame)
        w = np.ones(len(frame)) if w is None else w
        z = self.design_matrix(frame)
        rows, row_of = np.unique(z, axis=0, return_inverse=True)
        row_of = row_of.reshape(-1)
        linked = self.linked_params(draws, rows)  # (1, S) or (rows, S)
        n_rows = len(rows)
        params = {k: np.ascontiguousarray(np.broadcast_to(v, (n_rows, v.shape[1])).T)
                  for k, v in ((k, linked[k]) for k in self.params)}
        weights = np.bincount(row_of, weights=w, minlength=n_rows)
        return params, weights, row_of

    #: Draws x data cells x rows evaluated at once by :meth:`mix_mean`.
    MIX_CELLS: ClassVar[int] = 4_000_000

    def mix_mean(self, function, customers, n_draws: int | None, seed: int, **data):
        """``function(**params, **data)`` averaged over :meth:`customer_mix`'s rows, weighted
        by their customers, per draw: shape ``(draws, *data_shape)``."""
        params, weights, _ = self.customer_mix(customers, n_draws=n_draws, seed=seed)
        shape = np.broadcast_shapes(*(np.shape(v) for v in data.values()))
        data = {k: np.broadcast_to(v, shape)[..., None] for k, v in data.items()}
        n_draws_, n_rows = next(iter(params.values())).shape
        total = np.zeros((n_draws_, *shape))
        step = max(1, self.MIX_CELLS // max(1, n_draws_ * int(np.prod(shape))))
        expand = (slice(None),) + (None,) * len(shape) + (slice(None),)
        for start in range(0, n_rows, step):
            part = slice(start, start + step)
            values = function(**{k: v[:, part][expand] for k, v in params.items()}, **data)
            total += np.asarray(values, dtype=float) @ weights[part]
        return total / weights.sum()

    # -- building and fitting -----------------------------------------------------------------

    def build(self, *, data_as_inputs: bool = False) -> pm.Model:
        """The PyMC model: the priors, and the likelihood as one weighted potential.

        Parameters
        ----------
        data_as_inputs : bool
            Read the likelihood's arrays (the data, what the model derives from them, its
            quadrature rules) from shared variables of unknown length instead of constants.
            numba's on-disk cache is keyed by the graph, constants included: with the data as
            inputs, what nutpie compiles for one data set serves every data set of the same
            model structure (Abe's compilation on a new data set 45 -> 24 s;
            ``benchmarks/nuts_compile.py``). For the NUTS samplers; elsewhere (MAP, checks,
            which compile nothing) constants let PyTensor fold what depends on the data alone.
        """
        dims = self.variable_dims
        with pm.Model(coords=self.coords) as model:
            params = {name: self.priors[name].create(name, dims=dims.get(name))
                      for name in self.variables}
            if data_as_inputs:
                loglike = _data_as_inputs(lambda p: self.loglike(p, self.rows), params)
            else:
                loglike = self.loglike(params, self.rows)
            pm.Potential("loglike", loglike)
        return model

    def fit(
        self,
        method: Method = "nuts",
        *,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        sampler: Sampler = "auto",
        target_accept: float = 0.8,
        random_seed: int = 20240101,
        progressbar: bool = True,
        cache_dir: str | Path | None = None,
    ) -> xr.DataTree:
        """Fit the model by NUTS (posterior draws), MAP (the posterior mode) or the Laplace
        approximation (draws from a normal distribution at the mode).

        Parameters
        ----------
        method : {"nuts", "map", "laplace"}
            NUTS gives the posterior; MAP a point estimate for quick iteration (with flat
            priors it is the maximum-likelihood estimate); ``"laplace"`` ``chains x draws``
            draws from the normal approximation on the unconstrained scale (``log`` of a
            positive parameter) at the posterior mode there, with minus the Hessian as
            precision: intervals in minutes for a model whose NUTS fit takes hours (Pareto/GGG
            on thousands of customers), as good as the posterior is near normal on that scale.
        draws, tune, chains : int
            Posterior draws and tuning steps per chain, and the number of chains.
        sampler : {"auto", "nutpie", "pymc"}
            NUTS implementation; ``"auto"`` uses nutpie when it is installed.
        target_accept : float
            NUTS target acceptance rate; raise it (0.9, 0.95) if there are divergences.
        random_seed : int
            Same data, settings and seed give the same draws.
        progressbar : bool
            Show the sampler's progress.
        cache_dir : str or Path, optional
            A folder of saved fits. The fit is keyed by :meth:`cache_key` (model, priors, fit
            settings, data hash, time unit and resolution, clvlib version and the source of its
            likelihood and model code, sampler package versions): on a hit the saved netCDF
            file is read instead of sampling (the same numbers, bit for bit); on a miss the
            model is fitted and saved there. :attr:`cache_hit` and :attr:`cache_path` say which.

        Returns
        -------
        xarray.DataTree
            ArviZ's container of the fit (groups ``posterior`` and, for NUTS,
            ``sample_stats``); also kept as :attr:`idata`, with the model config in
            ``idata.attrs``.

        Raises
        ------
        ValueError
            For an unknown method, or a Laplace fit whose log density is not curved
            downwards at the mode in every direction (no normal approximation exists).

        Examples
        --------
        >>> model.fit(cache_dir="data/processed/fits")  # doctest: +SKIP
        >>> model.cache_hit  # doctest: +SKIP
        True
        """
        if method not in ("nuts", "map", "laplace"):
            raise ValueError(f"method={method!r}; choose 'nuts', 'map' or 'laplace'")
        settings = FitSettings(
            method, draws, tune, chains, sampler, target_accept, random_seed
        ).resolved()
        self.timings = {}
        self.cache_path, self.cache_hit = None, None
        if cache_dir is not None:
            self.cache_path = Path(cache_dir) / f"{self.name}-{self.cache_key(settings)}.nc"
            start = time.perf_counter()
            cached = fit_cache.load_cached(self.cache_path, self)
            self.cache_hit = cached is not None
            if cached is not None:
                self.idata, self.settings = cached[0], settings
                self.timings = {"fit_seconds": time.perf_counter() - start}
                self.timings.update({f"cached_{k}": v for k, v in cached[1].items()})
                return self.idata
        start = time.perf_counter()
        idata = ADAPTERS[settings.adapter](self, settings, progressbar, self.timings)
        self.timings["fit_seconds"] = time.perf_counter() - start
        idata.attrs["clvlib"] = json.dumps(self.config(settings))
        self.idata, self.settings = idata, settings
        if self.cache_path is not None:
            fit_cache.save_cached(self.cache_path, idata, self.timings)
        return idata

    # -- the fit cache ------------------------------------------------------------------------

    def cache_key(self, settings: FitSettings | None = None) -> str:
        """sha256 of everything that decides a fit's numbers (see ``fit(cache_dir=...)`` and
        :func:`clvlib.models.fit_cache.cache_key`)."""
        return fit_cache.cache_key(self, settings or self.settings or FitSettings())

    # -- reading a fit ------------------------------------------------------------------------

    def _require_fit(self) -> xr.DataTree:
        if self.idata is None:
            raise RuntimeError(f"{self.title} is not fitted yet: call .fit() or load a saved fit")
        return self.idata

    def posterior_draws(self, n: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
        """Posterior draws of each variable, chains stacked; a random subset of ``n`` if given.

        The same ``seed`` picks the same draws for every parameter (they stay paired). A
        scalar parameter gives ``(S,)``; an indexed one keeps its dimension, ``(S, K)``.
        """
        post = self._require_fit().posterior
        flat = {}
        for k in self.variables:
            values = post[k].to_numpy()
            flat[k] = values.reshape((-1,) + values.shape[2:])
        total = len(next(iter(flat.values())))
        if n is not None and n < total:
            pick = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
            flat = {k: v[pick] for k, v in flat.items()}
        return flat

    def population_draws(self, n: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
        """:meth:`posterior_draws` of the population parameters only (:attr:`params`): with
        covariates or groups, those of a customer at the baseline (all coded covariates and
        group effects 0)."""
        draws = self.posterior_draws(n, seed)
        return {k: draws[k] for k in self.params}

    def point_estimate(self) -> dict[str, float]:
        """Posterior means (for MAP fits: the mode); an indexed variable gives an array."""
        return {k: float(v.mean()) if v.ndim == 1 else v.mean(axis=0)
                for k, v in self.posterior_draws().items()}

    def log_likelihood(self, params: dict[str, float] | None = None) -> float:
        """Total log-likelihood of the data at ``params`` (default: the point estimate)."""
        params = params or self.point_estimate()
        value = self.loglike({k: pt.as_tensor_variable(np.asarray(params[k], dtype=np.float64))
                              for k in self.variables}, self.rows)
        return float(value.eval())

    def diagnostics(self) -> Diagnostics:
        """R-hat, bulk and tail ESS, divergences, and a verdict in words."""
        method = self.settings.method if self.settings else "nuts"
        return Diagnostics.from_idata(self._require_fit(), list(self.variables), method)

    def identification(self, warn: bool = True) -> Identification:
        """How much the data moved each parameter from its prior, with a verdict in words
        (:func:`clvlib.diagnostics.identification`); warns when one is weakly identified."""
        return identification(self, warn=warn)

    def config(self, settings: FitSettings | None = None) -> dict:
        """Everything needed to rebuild and refit this model, as JSON-ready data."""
        settings = settings or self.settings
        return {
            "format": fit_cache.FIT_FORMAT,
            "model": self.name,
            "priors": {k: v.to_dict() for k, v in self.priors.items()},
            "covariates": {role: d.to_dict() for role, d in self.designs.items()},
            "standardize_covariates": self.standardize_covariates,
            "group": None if self.group is None else {"column": self.group,
                                                       "levels": list(self.group_levels)},
            "fit": asdict(settings) if settings else None,
            "time_unit": {"name": self.time_unit.name, "days": self.time_unit.days},
            "data": {
                "customers": int(self.rows.n_original),
                "distinct_rows": len(self.rows),
                "sha256": self.data_hash(),
                "resolution": self.resolution,
            },
        }

    @staticmethod
    def options_from_config(config: dict) -> dict:
        """The constructor's covariate and group arguments recorded in a fit's config."""
        options: dict = {}
        baselines = {}
        for role, design in (config.get("covariates") or {}).items():
            options[f"{role}_covariates"] = [c["column"] for c in design["codings"]]
            baselines |= {c["column"]: c["baseline"] for c in design["codings"]
                          if c["kind"] == "categorical"}
        if baselines:
            options["covariate_baselines"] = baselines
        if config.get("standardize_covariates"):
            options["standardize_covariates"] = True
        if config.get("group"):
            options["group"] = config["group"]["column"]
        return options

    def data_hash(self) -> str:
        """sha256 of the (compressed) likelihood data: equal data give equal hashes."""
        h = hashlib.sha256()
        for c in self.columns + self.design_columns:
            h.update(np.ascontiguousarray(self.rows[c]).tobytes())
        h.update(np.ascontiguousarray(self.rows.weights).tobytes())
        return h.hexdigest()

    def save(self, path: str | Path) -> Path:
        """Write the fit (posterior, sampler stats, config) to a netCDF file."""
        path = Path(path)
        self._require_fit().to_netcdf(str(path))
        return path

    def load_fit(self, path: str | Path) -> CLVModel:
        """Attach a fit saved by :meth:`save`; its priors and settings replace this model's.

        Raises
        ------
        ValueError
            When the file holds another model, a fit to different data, or a fit saved in an
            older format (refit the model and save it again).
        """
        idata = fit_cache.read_fit_file(path)
        config = fit_cache.fit_config(idata, path)
        if config["model"] != self.name:
            raise ValueError(f"{path}: holds a {config['model']} fit, not {self.name}")
        if config["data"]["sha256"] != self.data_hash():
            raise ValueError(f"{path}: was fitted to different data than this model's")
        self.priors = {k: Prior.from_dict(v) for k, v in config["priors"].items()}
        self.settings = FitSettings(**config["fit"])
        self.idata = idata
        return self

    def __str__(self) -> str:
        priors = ", ".join(f"{k} ~ {v}" for k, v in self.priors.items())
        state = "not fitted"
        if self.idata is not None:
            est = ", ".join(f"{k}={np.round(v, 4)}" if np.ndim(v) else f"{k}={v:.4g}"
                            for k, v in self.point_estimate().items())
            state = f"fitted by {self.settings.method} ({est})"
        return (
            f"{self.title} on {self.rows.n_original:,.0f} customers ({len(self.rows):,} distinct "
            f"rows), time unit {self.time_unit}; priors: {priors}; {state}"
        )


class PurchaseModel(CLVModel):
    """A model of repeat purchases (and dropout) with per-customer predictions.

    Subclasses name their closed forms in :attr:`expectations`; every per-customer prediction
    goes through the one prediction engine, :func:`clvlib.scoring.score_customers` (chunked,
    with credible intervals of expected values or posterior predictive intervals).
    """

    columns = ("x", "t_x", "T")
    expectations: ClassVar[PurchaseExpectations]
    #: How customers leave, which decides how the dropout process is drawn
    #: (:func:`clvlib.plots.plot_dropout`): ``"probability"``, a chance ``p`` after each
    #: purchase (BG/NBD, MBG/NBD), or ``"lifetime"``, a lifetime whose hazard each customer's
    #: frailty scales (Pareto/NBD, GGompertz/NBD, Pareto/NBD (Abe); see :attr:`lifetimes`).
    dropout_kind: ClassVar[str] = "probability"
    #: For ``dropout_kind == "lifetime"``: the lifetime's clock and expected lifetime.
    lifetimes: ClassVar[Lifetimes | None] = None
    #: How the purchase rate while active differs across customers.
    purchase_mixing: ClassVar[Mixing] = Mixing("gamma", "r", "alpha")
    #: How dropout differs across customers: the dropout probability's (``"probability"``) or
    #: the frailty's (``"lifetime"``) distribution.
    dropout_mixing: ClassVar[Mixing] = Mixing("beta", "a", "b")
    #: How the regularity of the gaps between purchases differs across customers, where the
    #: model lets it (Pareto/GGG: ``k ~ Gamma(k_shape, k_rate)``, gaps Gamma(k, k lambda)
    #: whose coefficient of variation is ``1 / sqrt(k)``); None: it does not differ.
    regularity_mixing: ClassVar[Mixing | None] = None
    #: Whether a new customer's purchases depend on the date they arrive (the time-varying
    #: Pareto/NBD's calendar): then :meth:`expected_purchases_new` and :meth:`prob_purchases`
    #: take ``born``, when they arrive in time units from the calibration end, and the tracking
    #: and frequency checks pass it.
    arrival_dated: ClassVar[bool] = False
    #: The parameter that correlates the purchase rate with the dropout rate across customers,
    #: where the model has one (Pareto/NBD (Abe): ``"rho"``, of their logs); None: independent.
    rate_correlation: ClassVar[str | None] = None
    #: The columns a customer's future given alive depends on, which
    #: ``expected_purchases_alive`` and ``future_given_alive`` read: ``x`` and ``T`` when the
    #: purchase process is memoryless; regularity models add ``t_x``.
    alive_columns: ClassVar[tuple[str, ...]] = ("x", "T")
    #: Whether it predicts over an unbounded horizon (DERT, residual CLV).
    unbounded_horizon: ClassVar[bool] = True
    #: For a model whose customers' futures have no closed form (Pareto/GGG, the time-varying
    #: Pareto/NBD): ``customer_posterior(**draw, **columns)`` (``draw``: a value of each of
    #: :attr:`variables`), each customer's posterior given their history under one parameter
    #: value, with ``chance`` (P(alive)), ``take(index)``, ``future(horizon, keys)`` (one
    #: simulated future from :class:`clvlib.keyed_random.Keys`: each purchase's customer and
    #: time after ``T``), for an unbounded horizon ``discounted(delta, keys)`` (an unbiased
    #: estimate of DERT), and optionally ``expected_purchases(horizon)`` where it has them in
    #: closed form; the prediction engine then simulates the rest
    #: (:mod:`clvlib.simulated_scoring`). None: closed forms.
    customer_posterior: ClassVar[Callable | None] = None
    #: For such a model, whether its posterior gives the expected purchases over a finite
    #: horizon in closed form (``expected_purchases(horizon)``: the time-varying Pareto/NBD's);
    #: the engine then simulates only the CLV, each purchase discounted from its own time.
    closed_form_purchases: ClassVar[bool] = False
    #: How the report fits it (:func:`clvlib.comparison.fit_candidates`): ``"nuts"``, or
    #: ``"laplace"`` for a model whose NUTS fit takes hours (Pareto/GGG).
    report_fit: ClassVar[str] = "nuts"
    #: What the report adds when it explains P(alive) for this model (empty: nothing to add).
    p_alive_caveat: ClassVar[str] = ""
    #: Whether the report can take the model as a candidate: its figures and sentences read
    #: :attr:`purchase_mixing` and :attr:`dropout_mixing` as the rates and dropout customers
    #: differ in, and its valuation needs an unbounded horizon.
    report_candidate: ClassVar[bool] = True
    #: Why not, when it is not (the error :func:`clvlib.comparison.fit_candidates` raises).
    candidate_note: ClassVar[str] = ("the report's figures and sentences on how long customers "
                                     "stay describe dropout after a purchase or a lifetime")

    def p_alive(self, customers=None, *, n_draws: int | None = 1000, seed: int = 0,
                interval: float = 0.9) -> Prediction:
        """Posterior probability that each customer is still alive at the end of calibration."""
        return self.score(customers, "p_alive", n_draws=n_draws, seed=seed, interval=interval)

    def p_alive_draws(self, x, t_x, T, *, customers=None, n_draws: int | None = 1000,
                      seed: int = 0):
        """P(alive) per posterior draw for arrays of ``x, t_x, T``: shape ``(draws, *shape)``.

        With covariates or groups, the mean over the customers' own parameters
        (:meth:`customer_mix`): a customer of this base with that history, of unknown
        covariates drawn as often as they occur.
        """
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
        return self.mix_mean(self.expectations.p_alive, customers, n_draws, seed,
                             x=x, t_x=t_x, T=T)

    def expected_purchases(self, t: float, customers=None, *, n_draws: int | None = 1000,
                           seed: int = 0, interval: float = 0.9) -> Prediction:
        """Expected repeat purchases of each customer in the next ``t`` time units (credible
        interval of the expectation; :meth:`predicted_purchases` for what will happen)."""
        return self.score(customers, "expected_purchases", horizon=t, n_draws=n_draws,
                          seed=seed, interval=interval)

    def predicted_purchases(self, t: float, customers=None, *, n_draws: int | None = 1000,
                            seed: int = 0, interval: float = 0.9) -> Prediction:
        """Posterior predictive repeat purchases in the next ``t`` time units: each customer's
        purchases drawn under each posterior draw, so the interval holds the actual count with
        probability ``interval``."""
        return self.score(customers, "purchases_predictive", horizon=t, n_draws=n_draws,
                          seed=seed, interval=interval)

    def dert(self, annual_discount_rate: float, customers=None, *,
             n_draws: int | None = 1000, seed: int = 0, interval: float = 0.9) -> Prediction:
        """Discounted expected residual transactions (DERT) of each customer: all future
        purchases, each discounted from when it is expected (:mod:`clvlib.discounting`)."""
        return self.score(customers, "expected_purchases", horizon=np.inf,
                          annual_discount_rate=annual_discount_rate, n_draws=n_draws, seed=seed,
                          interval=interval)

    def check_horizon(self, horizon: float) -> None:
        """Raise ``ValueError`` for a horizon this model cannot predict over (the prediction
        engine asks first): an unbounded one for a model without (:attr:`unbounded_horizon`)."""
        if np.isinf(horizon) and not self.unbounded_horizon:
            raise ValueError(f"{self.title} predicts over a finite horizon only (no DERT or "
                             "residual CLV); give a horizon")

    def score(self, customers=None, prediction: str = "p_alive", **options) -> Prediction:
        """One prediction from the prediction engine (:func:`clvlib.scoring.score_customers`)."""
        return score_customers(self, None, customers, predictions=[prediction],
                               **options)[prediction]

    def expected_purchases_new(self, t, *, customers=None, n_draws: int | None = 1000,
                               seed: int = 0):
        """E[X(t)] for a new customer, per posterior draw: shape ``(draws, *t.shape)``.

        A new customer like those already acquired: with covariates or groups, the mean over
        the customers' own parameters (:meth:`customer_mix`), not the baseline customer whose
        coded covariates are all 0.
        """
        t = np.asarray(t, dtype=float)
        return self.mix_mean(self.expectations.expected_purchases_new, customers, n_draws, seed,
                             t=t)

    def prob_purchases(self, n, t, *, customers=None, n_draws: int | None = 1000, seed: int = 0):
        """P(X(t) = n) for a new customer, per draw: shape ``(draws, *broadcast(n, t).shape)``,
        over the customers' own parameters as :meth:`expected_purchases_new`."""
        n, t = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(t, dtype=float))
        return self.mix_mean(self.expectations.prob_purchases, customers, n_draws, seed,
                             t=t, n=n)


class LimitedPredictions:
    """For a purchase model without some of :class:`PurchaseModel`'s predictions (the
    time-varying Pareto/NBD: nothing past its calendar, nothing of a new customer): those it
    does not have raise ``NotImplementedError`` naming what it does predict (:attr:`predicts`)
    and why not this one (:attr:`unavailable`). Put it before :class:`PurchaseModel` among the
    bases."""

    predicts: ClassVar[str] = ""
    unavailable: ClassVar[dict[str, str]] = {
        "dert": "DERT",
        "p_alive_draws": "P(alive) of hypothetical histories",
        "expected_purchases_new": "a new customer's expected purchases",
        "prob_purchases": "a new customer's purchase-count distribution",
    }

    def _not_here(self, method: str):
        raise NotImplementedError(f"{self.title} predicts {self.predicts}; "
                                  f"{self.unavailable[method]} is not available for it")

    def dert(self, *args, **kwargs):
        self._not_here("dert")

    def p_alive_draws(self, *args, **kwargs):
        self._not_here("p_alive_draws")

    def expected_purchases_new(self, *args, **kwargs):
        self._not_here("expected_purchases_new")

    def prob_purchases(self, *args, **kwargs):
        self._not_here("prob_purchases")
