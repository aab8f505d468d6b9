"""Numerics the likelihoods share: stable log-sum-exp (PyTensor, and NumPy for closed forms
by the same quadrature), per-distinct-value logs, float64 parameters, and exact tables of
rising factorials for whole-number steps."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytensor.tensor as pt
from scipy.special import gammaln

from clvlib.compression import CompressedRows

# PyTensor's own logaddexp and logsumexp are log(sum(exp(.))): they underflow to -inf once the
# terms fall below about -745 (a customer with many purchases over a long age), and the graph
# rewrites that stabilize them do not reach every compiled form or gradient. These are the
# usual max-shifted versions, exact at any magnitude.


def log_shifted(scale, rows: CompressedRows, column: str):
    """``log(scale + rows[column])``, computed once per distinct value and gathered to the rows."""
    values, _, index = rows.distinct(column)
    return pt.log(scale + values)[index]


def float64(*values):
    """Parameters as float64 tensors: PyTensor would make a Python float such as 1.0 float32."""
    return [v if isinstance(v, pt.Variable) else pt.as_tensor_variable(np.float64(v))
            for v in values]


def logaddexp(a, b):
    high = pt.maximum(a, b)
    return high + pt.log1p(pt.exp(-pt.abs(a - b)))


def logsumexp(x, axis: int):
    high = pt.max(x, axis=axis, keepdims=True)
    return pt.squeeze(high, axis=axis) + pt.log(pt.sum(pt.exp(x - high), axis=axis))


def functions(xp) -> SimpleNamespace:
    """The functions a likelihood written once for PyTensor (``xp=pt``) and NumPy (``xp=np``)
    takes under one name each: ``gammaln``, ``where``, ``cumsum``, ``log1p``, ``expm1``."""
    if xp is pt:
        return SimpleNamespace(gammaln=pt.gammaln, where=pt.switch, cumsum=pt.cumsum,
                               log1p=pt.log1p, expm1=pt.expm1)
    return SimpleNamespace(gammaln=gammaln, where=np.where, cumsum=np.cumsum, log1p=np.log1p,
                           expm1=np.expm1)


def clip(xp, value, low, high):
    """``value`` clipped to ``[low, high]``, for PyTensor (``xp=pt``) or NumPy (``xp=np``), as a
    minimum of a maximum: PyTensor's own clip has no NumPy implementation and runs element by
    element in Python mode (:data:`clvlib.models.samplers.PYTHON_MODE`)."""
    return xp.minimum(xp.maximum(value, low), high)


def logsumexp_last(xp, values):
    """Log-sum-exp along the last axis (a quadrature's nodes), for PyTensor (``xp=pt``) or NumPy
    (``xp=np``): one formula for a model's likelihood and its closed forms."""
    if xp is pt:
        return logsumexp(values, axis=-1)
    top = np.max(values, axis=-1)
    return top + np.log(np.sum(np.exp(values - top[..., None]), axis=-1))


def rising_tables(bases, size):
    """PyTensor: log (b)_k = sum_{j<k} log(b+j) for k = 0 .. size-1, for each base b.

    Returns shape ``(len(bases),) + broadcast shape of the bases + (size,)``; ``size`` may be
    symbolic. Exact for any base: a sum of logarithms.
    """
    base = pt.stack(pt.broadcast_arrays(*bases))
    steps = (pt.arange(size - 1).astype("float64") if isinstance(size, pt.Variable)
             else np.arange(size - 1, dtype=float))
    logs = pt.log(pt.shape_padright(base) + steps)
    start = pt.shape_padright(pt.zeros_like(base))
    return pt.concatenate([start, pt.cumsum(logs, axis=-1)], axis=-1)


def gather(table, steps):
    """``table[..., steps]``: whole-number ``steps`` looked up along the table's last axis, its
    other axes broadcast against ``steps`` as NumPy broadcasts (parameter draws against rows)."""
    if isinstance(steps, pt.Variable):
        index = pt.cast(pt.round(steps), "int64")
    else:
        index = pt.as_tensor_variable(np.rint(steps).astype(np.int64))
    if table.ndim == 1:  # scalar parameters: a flat lookup, the fastest gradient
        return table[index.flatten()].reshape(index.shape)
    lead = table.ndim - 1
    if index.ndim > lead:
        table = pt.shape_padleft(table, index.ndim - lead)
    elif index.ndim < lead:
        index = pt.shape_padleft(index, lead - index.ndim)
    return pt.take_along_axis(table, index[..., None], axis=-1)[..., 0]


def as_data(*values):
    """Data as float arrays, or as they are if any is symbolic (then all become tensors)."""
    if any(isinstance(v, pt.Variable) for v in values):
        return True, [pt.as_tensor_variable(v).astype("float64") for v in values]
    return False, [np.asarray(v, dtype=float) for v in values]
