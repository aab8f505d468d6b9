"""Checks of model input tables shared by the models, with errors that name the column and rows.

The summary-based models validate through :func:`clvlib.summary.check_summary`; the models that
read counts of discrete periods (BG/BB, sBG) use the helpers here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvlib.compression import WEIGHT_COLUMN
from clvlib.errors import CLVDataError, describe_rows

# A period-based model's input without a "time_unit" attribute is counted in years, the
# period of both bundled data sets (annual donations, annual contracts).
DEFAULT_PERIOD = "year"


def with_default_period(data, unit: str = DEFAULT_PERIOD):
    """``data`` with ``attrs["time_unit"]`` set to ``unit`` unless it names one already."""
    if isinstance(data, pd.DataFrame) and "time_unit" not in data.attrs:
        data = data.copy(deep=False)
        data.attrs = {**data.attrs, "time_unit": unit}
    return data


def check_whole_numbers(frame: pd.DataFrame, columns, source: str, title: str) -> pd.DataFrame:
    """The ``columns`` of ``frame`` as non-negative whole numbers, or a clear error.

    Also checks an optional ``weights`` column (finite, non-negative).

    Raises
    ------
    CLVDataError
        Naming the column and the first offending rows.
    """
    if len(frame) == 0:
        raise CLVDataError(f"{source}: the {title} data are empty")
    values = frame[list(columns)].apply(pd.to_numeric, errors="coerce")
    for column in columns:
        v = values[column]
        problems = {
            "missing or non-numeric values": v.isna(),
            "negative or infinite values": (v < 0) | ~np.isfinite(v.fillna(0)),
            "not a whole number": v.notna() & np.isfinite(v.fillna(0)) & (v != np.round(v)),
        }
        for what, bad in problems.items():
            raise_for_rows(bad, frame, list(columns), f"{source}: column '{column}': {what}")
    if WEIGHT_COLUMN in frame.columns:
        w = pd.to_numeric(frame[WEIGHT_COLUMN], errors="coerce")
        bad = w.isna() | ~np.isfinite(w.fillna(0)) | (w < 0)
        raise_for_rows(bad, frame, [*columns, WEIGHT_COLUMN],
                  f"{source}: column '{WEIGHT_COLUMN}': missing, negative or infinite weights")
        values[WEIGHT_COLUMN] = w
    out = frame.copy()
    out[values.columns] = values.astype(float)
    return out


def raise_for_rows(bad: pd.Series, frame: pd.DataFrame, shown: list[str], what: str) -> None:
    """Raise :class:`CLVDataError` saying ``what``, showing the first rows where ``bad``."""
    if bad.any():
        raise CLVDataError(
            f"{what}: {int(bad.sum()):,} row(s); the first:\n"
            + describe_rows(frame.loc[bad, shown])
        )
