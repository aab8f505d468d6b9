"""Log posterior densities and their gradients, compiled when clvlib is installed (C).

The NUTS and MAP fits of the BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma models (plain, with
covariates or pooled across groups; priors from :data:`PRIOR_KINDS`) evaluate their log
posterior in ``_kernels.c`` instead of through a PyTensor graph compiled in every process.
Everything a fit needs at run time (its priors, links and compressed rows) travels in one
float64 buffer, so one compiled function per model serves every prior, design and data set. The
C file is built by ``pip install`` (a setuptools extension): a first fit on a machine loads it in
milliseconds, where numba compiled the same kernels for 3-5 s per model in every new
environment (issue 14). This module loads it with ctypes and hands nutpie the callbacks'
addresses.

These are the models' likelihoods (``logp`` in each model's module) written a second time, by
hand, with their gradients: no library differentiates them into compiled code a package can ship.
tests/test_kernels.py holds each equal to the PyTensor model's log density and gradient to 1e-10
over a grid of parameters, priors, designs and data.

Parameters indexed by customer. The compressed rows fall into *patterns*: distinct values of
the model's coded covariates and group (one pattern for a plain model). Each pattern ``p`` has
its own likelihood parameters ``P[p, j] = theta_j * exp(eta[p, j])`` (flat arrays, four
numbers per pattern), where ``theta_j`` is the
population parameter and ``eta`` a sum of *link terms* ``value * v[c1] * v[c2]`` over the
model's variables ``v`` (a covariate term: the sign of the link times the covariate, times a
coefficient; a group term: the sign times ``sigma`` times the group's ``z``). The likelihood
kernels return the log-likelihood and its gradient in ``P``; the C file's ``unlink_gradient``
carries that back to the variables.

The buffer (see :func:`clvlib.models.density.compiled_density`): a header of :data:`HEADER`
numbers (model code, number of coordinates of the unconstrained point, whether the
log-Jacobian of the transforms is included, the buffer's length, the number of rows, of
distinct (pattern, ``x``) pairs and of the two value tables, two constants, the number of
likelihood parameters, of patterns and of link terms); four numbers per coordinate (prior kind,
its two parameters, shift); five per link term (pattern, parameter, ``c1``, ``c2`` or -1,
value); then the arrays: the distinct (pattern, ``x``) pairs' ``x``, pattern and weight; per
row (sorted by pattern) ``x``, its pair index, two columns ``c1``, ``c2`` and the row weight;
where each pattern's rows start (one more number than patterns); then the two value tables
``u`` and ``v``, each with the pattern of its entries. For BG/NBD, MBG/NBD and Pareto/NBD,
``c1`` and ``c2`` index the distinct (pattern, ``t_x``) (``u``) and (pattern,
``T``) (``v``); for Gamma-Gamma they hold ``m`` and ``log m``.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.util
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BG_NBD, MBG_NBD, PARETO_NBD, GAMMA_GAMMA = 1, 2, 3, 4
HEADER = 16
# Slots of the header that Python reads or sets (the kernels read them by number).
H_MODEL, H_COORDS, H_JACOBIAN, H_LENGTH = 0, 1, 2, 3
H_PARAMS, H_PATTERNS, H_TERMS = 10, 11, 12
PRIOR_WIDTH, TERM_WIDTH = 4, 5
#: Prior families with a hand-written log density, by code: those below :data:`UNBOUNDED` on
#: the excess over ``shift`` of a positive parameter (sampled as its log), the others on the
#: real line (sampled as they are).
PRIOR_KINDS = {"HalfFlat": 0, "LogNormal": 1, "Gamma": 2, "Exponential": 3, "HalfNormal": 4,
               "Weibull": 5, "Normal": 6, "Flat": 7}
UNBOUNDED = 6
#: The prior code of a group's effect sampled on its own scale ("centered"): ``e ~ Normal(0,
#: sigma)``, with sigma the coordinate named by the prior's first number; the model's variable
#: is the standardized ``z = e / sigma``. The same posterior as sampling ``z`` itself, and an
#: easier one for NUTS when every group has many customers.
CENTERED = 8
# Pareto/NBD: the Gauss-Legendre rule and cut-off of the quadrature of its likelihood
# (clvlib.models.pareto_nbd imports them from here).
PNBD_NODES, PNBD_WEIGHTS = np.polynomial.legendre.leggauss(16)
PNBD_CUTOFF = 25.0
# The kernel integrates each row with the fewest nodes that reach the 16-node rule's precision
# (relative error below 3e-14, checked against adaptive quadrature over 8,000 random integrands):
# a rule of n nodes serves an integrand whose rate times the interval's width is at most
# PNBD_TIER_RATE and whose singularity (of log(1 + c e^u)) lies far enough from the interval
# (the Bernstein-ellipse size |w| at least PNBD_TIER_REACH); the 16-node rule serves the rest.
PNBD_TIER_NODES = (8, 10, 12, 16)
PNBD_TIER_RATE = (3.0, 4.0, 10.0, math.inf)
PNBD_TIER_REACH = (8.0, 4.0, 4.0, 0.0)
_TIER_RULES = [np.polynomial.legendre.leggauss(n) for n in PNBD_TIER_NODES]
PNBD_TIER_HALF = np.concatenate([(1 - nodes) / 2 for nodes, _ in _TIER_RULES])
PNBD_TIER_LOG_WEIGHTS = np.concatenate([np.log(weights) for _, weights in _TIER_RULES])
PNBD_TIER_START = np.cumsum((0,) + PNBD_TIER_NODES)[:-1]
PNBD_TIER_SPECS = np.array([PNBD_TIER_NODES, PNBD_TIER_RATE, PNBD_TIER_REACH,
                            PNBD_TIER_START], dtype=np.float64)


# -- The compiled library ----------------------------------------------------------------------

SOURCE = Path(__file__).with_name("_kernels.c")
_EXTENSION = "clvlib.models._kernels"
_DOUBLE = ctypes.POINTER(ctypes.c_double)
_CALLBACK_NAMES = {BG_NBD: "clv_logp_bg_nbd", MBG_NBD: "clv_logp_mbg_nbd",
                   PARETO_NBD: "clv_logp_pareto_nbd", GAMMA_GAMMA: "clv_logp_gamma_gamma"}


class KernelsNotBuilt(ImportError):
    """The compiled kernels are missing or older than their source."""


@dataclass(frozen=True)
class Callback:
    """A C function nutpie calls: nutpie reads ``address``, as it would from a numba ``cfunc``."""

    name: str
    address: int
    function: ctypes._CFuncPtr


@functools.cache
def _library() -> ctypes.CDLL:
    """The extension built from ``_kernels.c``, loaded once per process, with the Pareto/NBD
    rules set. A build from other source than the C file beside it (an editable install whose
    C file changed since ``pip install``) is refused rather than trusted: the build records the
    SHA-256 of the source it compiled."""
    spec = importlib.util.find_spec(_EXTENSION)
    if spec is None or spec.origin is None:
        raise KernelsNotBuilt(
            "clvlib's compiled kernels (clvlib/models/_kernels.c) are not built: install clvlib "
            "with pip (`make` does: `pip install -e .` in a checkout), which needs a C compiler")
    try:
        lib = ctypes.CDLL(spec.origin)
    except OSError as err:  # a truncated or foreign file
        raise KernelsNotBuilt(f"cannot load clvlib's compiled kernels {spec.origin} ({err}): "
                              "rebuild them with `pip install -e .` (or reinstall clvlib)") from err
    lib.clv_source_sha256.restype = ctypes.c_char_p
    if SOURCE.exists() and (lib.clv_source_sha256().decode()
                            != hashlib.sha256(SOURCE.read_bytes()).hexdigest()):
        raise KernelsNotBuilt(
            f"the compiled kernels {spec.origin} were built from another version of {SOURCE}: "
            "rebuild them with `pip install -e .` (`make` does it when the C file changes)")
    double_p, i64 = _DOUBLE, ctypes.c_int64
    lib.clv_set_tables.restype = i64
    lib.clv_set_tables.argtypes = [i64, double_p, double_p, double_p, ctypes.c_double]
    status = lib.clv_set_tables(PNBD_TIER_HALF.size, _pointer(PNBD_TIER_HALF),
                                _pointer(PNBD_TIER_LOG_WEIGHTS),
                                _pointer(np.ascontiguousarray(PNBD_TIER_SPECS)), PNBD_CUTOFF)
    if status != 0:
        raise KernelsNotBuilt(f"{spec.origin} expects Pareto/NBD rules of another size")
    lib.clv_pointwise_loglik.restype = i64
    lib.clv_pointwise_loglik.argtypes = [i64, i64, double_p, i64, double_p,
                                         ctypes.POINTER(i64), i64, double_p, double_p, double_p,
                                         double_p]
    lib.clv_exp_log_poly.restype = None
    lib.clv_exp_log_poly.argtypes = [i64, double_p, double_p, double_p]
    for name in (*_CALLBACK_NAMES.values(), "clv_expand"):
        getattr(lib, name).restype = i64
    return lib


def built_from() -> str:
    """The SHA-256 of the C source the loaded kernels were built from."""
    return _library().clv_source_sha256().decode()


def _pointer(array: np.ndarray):
    return array.ctypes.data_as(_DOUBLE)


@functools.cache
def nutpie_callbacks(model: int) -> tuple[Callback, Callback]:
    """The C callbacks nutpie calls for a model, ``(logp, expand)``."""
    lib = _library()
    return tuple(Callback(name, ctypes.cast(getattr(lib, name), ctypes.c_void_p).value,
                          getattr(lib, name))
                 for name in (_CALLBACK_NAMES[model], "clv_expand"))


def evaluate(y, buf) -> tuple[float, np.ndarray]:
    """The log density at ``y`` and its gradient, for Python callers (MAP, tests): through the
    model's nutpie callback."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    grad, logp = np.empty(y.size), np.empty(1)
    callback = nutpie_callbacks(int(buf[0]))[0].function
    status = callback(ctypes.c_uint64(y.size), _pointer(y), _pointer(grad), _pointer(logp),
                      buf.ctypes.data_as(ctypes.c_void_p))
    if status == -1:
        raise ValueError(f"the point has {y.size} coordinates; the model has {int(buf[1])}")
    if status == -2:
        raise MemoryError("no memory for the log density's scratch arrays")
    return float(logp[0]), grad


def pointwise_loglik(model, params, x, t_x, T, out):
    """The log-likelihood of each row under each draw: ``out[d, i]`` for the parameters
    ``params[d]`` ((r, alpha, a, b) or (r, alpha, s, beta)) and the row ``(x[i], t_x[i],
    T[i])``, for BG/NBD, MBG/NBD or Pareto/NBD (``model``, a model code); ``out`` is a
    C-contiguous float64 array of shape (draws, rows)."""
    if not (isinstance(out, np.ndarray) and out.dtype == np.float64 and out.flags.c_contiguous
            and out.shape == (len(params), len(x))):
        raise ValueError("out must be a C-contiguous float64 array of shape (draws, rows)")
    lib = _library()
    # The head of a row's log-likelihood depends on x alone: computed once per distinct x.
    values, at = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True)
    at = np.ascontiguousarray(at, dtype=np.int64)
    params = np.ascontiguousarray(params, dtype=np.float64)
    rows = [np.ascontiguousarray(v, dtype=np.float64) for v in (x, t_x, T)]
    n_rows = rows[0].size
    # The draws are split between the cores (ctypes releases the GIL during the call); each
    # value is computed alone, so the split does not change a bit of it.
    parts = [part for part in np.array_split(np.arange(params.shape[0]), max(
        1, min(os.cpu_count() or 1, params.shape[0]))) if part.size]

    def run(part):
        first = int(part[0])
        status = lib.clv_pointwise_loglik(
            model, part.size, _pointer(params[first:]), values.size, _pointer(values),
            at.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), n_rows, *map(_pointer, rows),
            _pointer(out[first:]))
        if status != 0:
            raise MemoryError("no memory for the per-row log-likelihoods")

    with ThreadPoolExecutor(max_workers=max(1, len(parts))) as pool:
        for done in [pool.submit(run, part) for part in parts]:
            done.result()


def exp_and_log_poly(x) -> tuple[np.ndarray, np.ndarray]:
    """The kernels' exp and log in plain arithmetic (``exp_poly``, ``log_poly`` in the C file)
    over an array, for the tests: ``(exp x, log x)``, the log NaN where x <= 0."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    exp_x, log_x = np.empty(x.size), np.empty(x.size)
    _library().clv_exp_log_poly(x.size, _pointer(x), _pointer(exp_x), _pointer(log_x))
    return exp_x, log_x
