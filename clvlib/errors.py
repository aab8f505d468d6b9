"""Errors clvlib raises on bad input; each message names the file, the column and the rows."""

from __future__ import annotations

import pandas as pd


class CLVDataError(ValueError):
    """Input data that clvlib refuses to use, with a message that says where the problem is."""


def describe_rows(rows: pd.DataFrame, limit: int = 5) -> str:
    """Format the first offending rows of a table for an error message.

    Parameters
    ----------
    rows : pandas.DataFrame
        The offending rows; a ``row`` column (1-based data row number) is shown first if present.
    limit : int
        How many rows to show.
    """
    shown = rows.head(limit)
    if "row" in shown.columns:
        shown = shown.set_index("row")
    text = shown.to_string(max_colwidth=40)
    more = len(rows) - len(shown)
    return text + (f"\n... and {more} more" if more > 0 else "")


class ReportError(RuntimeError):
    """A report run that could not finish; the message says what failed and where."""
