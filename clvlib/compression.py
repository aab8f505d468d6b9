"""Exact compression: customers with identical summaries share one weighted likelihood term.

The log-likelihood of a customer depends only on a few summary columns (for BG/NBD: x, t_x, T),
so ``sum_i logp(row_i) = sum_k n_k * logp(row_k)`` over the distinct rows ``k`` with counts
``n_k``. The same holds one level down for terms that depend on ``x`` alone, which
:meth:`CompressedRows.distinct` groups further.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# A column of this name in a model's input holds how many customers each row stands for
# (already-compressed data such as the donations file); it weights that row's likelihood.
WEIGHT_COLUMN = "weights"


def row_weights(frame: pd.DataFrame, source: str = "customers") -> np.ndarray | None:
    """The ``weights`` column of ``frame`` as floats, checked; None when there is none.

    A weight is how many customers a row stands for: a finite number >= 0 (0 drops the row
    from every fit and total). The likelihood, the spend model and every base total use it;
    per-customer predictions are per row.

    Raises
    ------
    CLVDataError
        Naming the first rows whose weight is missing, not a number, negative or infinite.
    """
    from clvlib.errors import CLVDataError, describe_rows

    if WEIGHT_COLUMN not in frame.columns:
        return None
    w = pd.to_numeric(frame[WEIGHT_COLUMN], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise CLVDataError(
            f"{source}: column '{WEIGHT_COLUMN}' must hold finite numbers >= 0 (customers per "
            f"row); {int(bad.sum()):,} row(s) do not, the first:\n"
            + describe_rows(frame.loc[bad, [WEIGHT_COLUMN]])
        )
    return w

@dataclass(frozen=True)
class CompressedRows:
    """Distinct rows of some summary columns, with a weight (count) per row.

    Attributes
    ----------
    columns : dict of str to ndarray
        The distinct rows, one array per column.
    weights : ndarray
        How many original rows (or how much input weight) each distinct row stands for.
    inverse : ndarray
        For each original row, the index of its distinct row.
    """

    columns: dict[str, np.ndarray]
    weights: np.ndarray
    inverse: np.ndarray

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, columns: tuple[str, ...] | list[str],
        weights: np.ndarray | None = None,
    ) -> CompressedRows:
        """Compress the given columns of ``frame`` (optionally already weighted)."""
        values = frame[list(columns)].to_numpy(dtype=float)
        distinct, inverse = np.unique(values, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        w = np.ones(len(frame)) if weights is None else np.asarray(weights, dtype=float)
        counts = np.bincount(inverse, weights=w, minlength=len(distinct))
        return cls(
            columns={c: distinct[:, j].copy() for j, c in enumerate(columns)},
            weights=counts,
            inverse=inverse,
        )

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    def __len__(self) -> int:
        return len(self.weights)

    @property
    def n_original(self) -> float:
        """The total weight: the number of customers the rows stand for."""
        return float(self.weights.sum())

    def distinct(self, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct values of one column, their total weights, and each row's value index."""
        values, index = np.unique(self.columns[column], return_inverse=True)
        return values, np.bincount(index, weights=self.weights), index

    def expand(self, per_row: np.ndarray) -> np.ndarray:
        """Map per-distinct-row values (last axis) back to the original rows."""
        return np.take(per_row, self.inverse, axis=-1)

    def __str__(self) -> str:
        return (
            f"CompressedRows: {self.n_original:,.0f} rows of ({', '.join(self.columns)}) "
            f"in {len(self):,} distinct rows"
        )
