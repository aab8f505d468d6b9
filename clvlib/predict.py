"""Posterior predictions per customer, computed in chunks so memory stays bounded.

A prediction function maps parameter draws ``(1, S)`` and customer data ``(c, 1)`` to a
``(c, S)`` array (each model's closed forms broadcast either way).
:func:`posterior_predict` evaluates it on the distinct customer rows, a chunk at a time, keeping
per customer only the mean and the credible interval, and per draw only the total over
customers: never a customers x draws matrix of the whole base.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from clvlib.compression import CompressedRows

# Cells (draws x customers) evaluated at once: half a million float64 values, 4 MB per array.
# 4 million (32 MB, new memory to the system at each chunk) scored the CDNOW master's 23,570
# customers (1,000 draws) 12% slower with predictive draws and 1.6 times slower without.
DEFAULT_CHUNK_CELLS = 500_000


def summarize_draws(values: np.ndarray, interval: float):
    """Mean and central credible interval of each row of ``values`` (customers x draws).

    Quantiles are NumPy's default (linear interpolation between order statistics). Written
    with Numba because ``np.quantile`` (and ``np.partition``) over 1,000 draws cost about 20 ns
    per value, which dominated scoring a million customers; a quickselect of the two order
    statistics per row, in parallel over rows, is several times faster.
    """
    n_draws = values.shape[1]
    positions = ((n_draws - 1) * (1 - interval) / 2, (n_draws - 1) * (1 + interval) / 2)
    return _mean_and_quantiles(np.ascontiguousarray(values, dtype=np.float64), *positions)


def predictive_summary(values: np.ndarray, interval: float) -> np.ndarray:
    """Mean, central predictive interval and the share of draws inside it, per customer.

    Quantiles by the inverted empirical CDF, so an interval of counts is made of counts that
    were drawn and holds at least ``interval`` of the draws (``interval_mass`` says how much:
    a customer who will most likely not buy has the interval [0, 0] holding, say, 96%)."""
    lo, hi = np.quantile(values, [(1 - interval) / 2, (1 + interval) / 2], axis=1,
                         method="inverted_cdf")
    mass = ((values >= lo[:, None]) & (values <= hi[:, None])).mean(axis=1)
    return np.column_stack([values.mean(axis=1), lo, hi, mass])


def summarize_product(factors, indices, interval: float, weights=None):
    """Mean, interval and per-draw (weighted) total of a product of gathered factors, per
    customer (``weights``: how many customers each row stands for; default 1).

    Customer ``i``'s draws are ``factors[0][indices[0][i]] * factors[1][indices[1][i]] * ...``
    (each factor is distinct-rows x draws). Fused in one Numba pass so the customers x draws
    product is never built for the whole chunk: CLV = spend x discounted purchases x P(alive).

    Returns
    -------
    mean, lower, upper : ndarray
        Per customer.
    total : ndarray
        Sum over customers, per draw.
    """
    a, b, c = (np.ascontiguousarray(f, dtype=np.float64) for f in factors)
    ia, ib, ic = (np.ascontiguousarray(i, dtype=np.int64) for i in indices)
    n_draws = a.shape[1]
    positions = ((n_draws - 1) * (1 - interval) / 2, (n_draws - 1) * (1 + interval) / 2)
    w = np.ones(ia.size) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    return _product_summary(a, ia, b, ib, c, ic, w, *positions)


# Rows are split into this many blocks, each summed into its own partial total: the per-draw
# total needs a reduction across threads, and per-block partials keep it deterministic.
_BLOCKS = 64


@numba.njit(parallel=True, cache=True)
def _product_summary(a, ia, b, ib, c, ic, w, low_position, high_position):
    n_rows, n_draws = ia.size, a.shape[1]
    mean, lower, upper = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)
    k_low, k_high = int(np.floor(low_position)), int(np.floor(high_position))
    partial_totals = np.zeros((_BLOCKS, n_draws))
    block_size = (n_rows + _BLOCKS - 1) // _BLOCKS
    for block in numba.prange(_BLOCKS):
        row = np.empty(n_draws)
        for i in range(block * block_size, min(n_rows, (block + 1) * block_size)):
            a_i, b_i, c_i = a[ia[i]], b[ib[i]], c[ic[i]]
            row_sum = 0.0
            for k in range(n_draws):
                row[k] = a_i[k] * b_i[k] * c_i[k]
                partial_totals[block, k] += w[i] * row[k]
                row_sum += row[k]
            mean[i] = row_sum / n_draws
            lower[i] = _interpolate(row, _select(row, 0, n_draws - 1, k_low), k_low,
                                    low_position)
            high = _select(row, k_low + 1, n_draws - 1, k_high) if k_high > k_low else row[k_low]
            upper[i] = _interpolate(row, high, k_high, high_position)
    # Loops rather than NumPy's array methods here and below: numba compiles ``sum(axis=0)``,
    # ``mean`` and ``min`` with their error paths in 1-3 s each, paid by every cold process.
    total = np.zeros(n_draws)
    for block in range(_BLOCKS):
        for k in range(n_draws):
            total[k] += partial_totals[block, k]
    return mean, lower, upper, total


@numba.njit(parallel=True, cache=True)
def _mean_and_quantiles(values, low_position, high_position):
    n_rows, n_draws = values.shape
    mean, lower, upper = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)
    k_low, k_high = int(np.floor(low_position)), int(np.floor(high_position))
    for i in numba.prange(n_rows):
        row = np.empty(n_draws)
        row_sum = 0.0
        for k in range(n_draws):
            row[k] = values[i, k]
            row_sum += row[k]
        mean[i] = row_sum / n_draws
        # Select the low order statistic, then the high one among the values above it.
        lower[i] = _interpolate(row, _select(row, 0, n_draws - 1, k_low), k_low, low_position)
        high = _select(row, k_low + 1, n_draws - 1, k_high) if k_high > k_low else row[k_low]
        upper[i] = _interpolate(row, high, k_high, high_position)
    return mean, lower, upper


@numba.njit(cache=True)
def _select(a, lo, hi, k):
    """Hoare's quickselect on a[lo..hi], in place: afterwards a[k] is the k-th smallest and
    everything after position k is at least a[k]."""
    while hi > lo:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return a[k]


@numba.njit(cache=True)
def _interpolate(a, value, k, position):
    """NumPy's linear quantile between the k-th and (k+1)-th order statistics."""
    fraction = position - k
    if fraction == 0.0 or k + 1 >= a.size:
        return value
    following = a[k + 1]
    for j in range(k + 2, a.size):
        following = min(following, a[j])
    return value + fraction * (following - value)


@dataclass(frozen=True)
class Prediction:
    """A posterior prediction: per-customer summaries and per-draw totals over the base.

    Attributes
    ----------
    name : str
        What was predicted, with its horizon and unit (``"expected repeat purchases in 39
        weeks"``).
    per_customer : pandas.DataFrame
        Indexed like the customers; columns ``mean``, ``lower``, ``upper`` (the central
        interval of probability :attr:`interval`); predictive ones also ``interval_mass``, the
        share of the customer's predictive draws inside it (at least :attr:`interval`; more
        for whole-number counts).
    total_draws : ndarray
        The sum over all customers, one value per posterior draw.
    interval : float
        Probability mass of the interval.
    kind : {"expected", "predictive"}
        ``"expected"``: the interval is a credible interval of an expected value (parameter
        uncertainty only). ``"predictive"``: a posterior predictive interval of what will
        happen (the outcome itself is drawn per customer; totals add customers within a draw).
    """

    name: str
    per_customer: pd.DataFrame
    total_draws: np.ndarray
    interval: float
    kind: str = "expected"

    @property
    def interval_name(self) -> str:
        """What the interval is, in words: ``"90% credible interval of the expected value"`` or
        ``"90% predictive interval"``."""
        if self.kind == "predictive":
            return f"{self.interval:.0%} predictive interval"
        return f"{self.interval:.0%} credible interval of the expected value"

    def total(self) -> dict[str, float]:
        """The base total: posterior mean and central credible interval."""
        lo, hi = np.quantile(self.total_draws, [(1 - self.interval) / 2, (1 + self.interval) / 2])
        return {"mean": float(self.total_draws.mean()), "lower": float(lo), "upper": float(hi)}

    def __str__(self) -> str:
        t = self.total()
        return (
            f"{self.name} for {len(self.per_customer):,} customers; base total "
            f"{t['mean']:,.4g} ({self.interval_name} {t['lower']:,.4g} to {t['upper']:,.4g})"
        )


def posterior_predict(
    fn: Callable[..., np.ndarray],
    draws: dict[str, np.ndarray],
    rows: CompressedRows,
    index: pd.Index,
    *,
    name: str,
    interval: float = 0.9,
    chunk_size: int | None = None,
) -> Prediction:
    """Evaluate ``fn(**draws, **row_columns)`` per distinct row, in chunks, and summarize.

    Parameters
    ----------
    fn : callable
        Takes parameter arrays of shape ``(1, S)`` and data arrays of shape ``(c, 1)`` as
        keyword arguments, returns ``(c, S)``.
    draws : dict of str to ndarray
        Posterior draws, each of shape ``(S,)``, paired by position.
    rows : CompressedRows
        The distinct customer rows, their weights and each customer's row.
    index : pandas.Index
        Customer ids, in the order of ``rows.inverse``.
    name : str
        What is predicted (for tables and plots).
    interval : float
        Probability of the central credible interval.
    chunk_size : int, optional
        Distinct rows per chunk; by default about 4 million cells per chunk.
    """
    params = {k: np.asarray(v, dtype=float)[None, :] for k, v in draws.items()}
    n_draws = next(iter(params.values())).shape[1]
    step = chunk_size or max(1, DEFAULT_CHUNK_CELLS // n_draws)
    n_rows = len(rows)
    mean, lower, upper = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)
    total = np.zeros(n_draws)
    for start in range(0, n_rows, step):
        chunk = slice(start, min(start + step, n_rows))
        values = fn(**params, **{c: v[chunk, None] for c, v in rows.columns.items()})
        values = np.broadcast_to(values, (chunk.stop - chunk.start, n_draws))
        mean[chunk], lower[chunk], upper[chunk] = summarize_draws(values, interval)
        total += rows.weights[chunk] @ values
    per_customer = pd.DataFrame(
        {"mean": rows.expand(mean), "lower": rows.expand(lower), "upper": rows.expand(upper)},
        index=index,
    )
    return Prediction(name, per_customer, total, interval)


def prediction_table(customers: pd.DataFrame, **predictions: Prediction) -> pd.DataFrame:
    """Customer columns joined with each prediction's ``<name>_mean``, ``_lower``, ``_upper``.

    Examples
    --------
    >>> table = prediction_table(summary.customers[["x", "T"]], clv=value)  # doctest: +SKIP
    >>> list(table.columns)  # doctest: +SKIP
    ['x', 'T', 'clv_mean', 'clv_lower', 'clv_upper']
    """
    parts = [p.per_customer.add_prefix(f"{name}_") for name, p in predictions.items()]
    return customers.join(parts)


def predictions_of(names: dict[str, str], stats: dict, totals: dict, index,
                   interval: float) -> dict[str, Prediction]:
    """The prediction engine's results (:func:`clvlib.scoring.score_customers`): for each
    requested key, its per-customer summaries (mean, lower, upper, and a predictive one's
    ``interval_mass``) and per-draw totals as a :class:`Prediction`, named, and ``predictive``
    for the keys that end so."""
    columns = ["mean", "lower", "upper", "interval_mass"]
    return {
        key: Prediction(name, pd.DataFrame(stats[key], index=index,
                                           columns=columns[:stats[key].shape[1]]),
                        totals[key], interval,
                        kind="predictive" if key.endswith("_predictive") else "expected")
        for key, name in names.items()
    }


def require_finite(values, what: str, params: dict | None = None):
    """Return ``values`` if every one is finite; else raise, naming the quantity and parameters.

    The closed forms here are finite over the whole parameter space a sampler or optimizer can
    reach (tests/test_finite.py); a non-finite value means bad input (a negative age, a NaN in
    the data) or a bug, and must stop a report rather than print ``nan`` or sum to 0.

    Parameters
    ----------
    values : array_like
        The predictions.
    what : str
        What they are, for the message (``"expected purchases in the next 52 weeks"``).
    params : dict, optional
        Parameter draws (name -> array broadcasting against ``values``); the message shows
        those of the first non-finite value.

    Raises
    ------
    FloatingPointError
        With the count of non-finite values, the first one's position and its parameters.

    Examples
    --------
    >>> require_finite(np.array([1.0, np.nan]), "P(alive)", {"r": np.array([0.2, 0.3])})
    Traceback (most recent call last):
    ...
    FloatingPointError: P(alive): 1 of 2 value(s) are not finite (the first, nan, at index (1,), with r=0.3); refusing to report or sum them
    """  # noqa: E501
    values = np.asarray(values)
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    shown = ""
    if params:
        parts = []
        for name, value in params.items():
            value = np.broadcast_to(np.asarray(value, dtype=float), values.shape)
            parts.append(f"{name}={value[first]:.6g}")
        shown = ", with " + ", ".join(parts)
    raise FloatingPointError(
        f"{what}: {int(bad.sum()):,} of {values.size:,} value(s) are not finite (the first, "
        f"{values[first]}, at index {first}{shown}); refusing to report or sum them"
    )
