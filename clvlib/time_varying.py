"""Covariates that change over calendar time: a calendar of periods and what a model reads from it.

Seasons, campaigns, prices and the economy change how often everybody buys and how soon they
leave, on the same calendar dates for all customers. A :class:`CovariateCalendar` holds them:
one row per period (a week, a month: any regular frequency), its start date, and one numeric
column per covariate, the value over the whole period. Built against a customer summary
(:meth:`CovariateCalendar.of`), its periods are placed on the summary's clock: time ``u`` in
the summary's unit from the end of calibration (``u = 0``; a customer is born at ``u = -T``
and bought last at ``t_x - T``). The calendar must cover every first purchase; periods after
the calibration end give predictions their future covariates.

A model with time-varying covariates (:class:`clvlib.ParetoNBDTimeVaryingModel`) also reads,
per customer, the sum of each covariate over the periods of their repeat purchases:
:meth:`CovariateCalendar.with_purchase_sums` adds these to a summary as ``sum:<covariate>``
columns, from the transaction log the summary came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clvlib.errors import CLVDataError
from clvlib.summary import CustomerSummary
from clvlib.timeunits import TimeUnit

#: The calendar column of period start dates, by default.
PERIOD_COLUMN = "period_start"
#: The summary columns of covariate sums over each customer's repeat purchases.
SUM_PREFIX = "sum:"
#: The file a report's step 1 writes its calendar to, among its artifacts.
CALENDAR_FILE = "calendar.parquet"


def saved_calendar(folder: str | Path, summary: CustomerSummary) -> CovariateCalendar | None:
    """The calendar :meth:`CovariateCalendar.save` wrote in ``folder``, on ``summary``'s clock;
    None when there is none (a report without ``calendar_file``)."""
    path = Path(folder) / CALENDAR_FILE
    return CovariateCalendar.of(path, summary) if path.exists() else None


@dataclass(frozen=True)
class CovariateCalendar:
    """Covariate values per calendar period, on a customer summary's clock.

    Attributes
    ----------
    starts : pandas.DatetimeIndex
        Each period's first day, and one more: the day after the last period.
    values : pandas.DataFrame
        One row per period, one numeric column per covariate.
    calibration_end : pandas.Timestamp
        The summary's last calibration day: ``u = 0``.
    time_unit : TimeUnit
        The summary's time unit.
    """

    starts: pd.DatetimeIndex
    values: pd.DataFrame
    calibration_end: pd.Timestamp
    time_unit: TimeUnit

    @classmethod
    def of(cls, table: pd.DataFrame | str | Path, summary: CustomerSummary, *,
           period_column: str = PERIOD_COLUMN) -> CovariateCalendar:
        """A calendar from a table of periods, on ``summary``'s clock, covering its customers.

        Parameters
        ----------
        table : pandas.DataFrame, or the path of a CSV or Parquet file
            One row per period: ``period_column`` (each period's first day; regular, e.g.
            every Monday or every first of a month) and numeric covariate columns.
        summary : CustomerSummary
            The customers it is for (:func:`clvlib.summarize`).

        Raises
        ------
        CLVDataError
            As :meth:`on_clock`, and when the periods start after some customer's first
            purchase.
        """
        if isinstance(table, (str, Path)):
            path = Path(table)
            if not path.exists():
                raise CLVDataError(f"covariate calendar: no file {path}")
            table = (pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq")
                     else pd.read_csv(path))
        calendar = cls.on_clock(table, summary.calibration_end, summary.time_unit,
                                period_column=period_column)
        first = summary.customers["first_purchase"].min()
        if calendar.starts[0] > first:
            raise CLVDataError(f"covariate calendar: the periods start "
                               f"{calendar.starts[0]:%Y-%m-%d}, after the first purchase of "
                               f"some customers ({first:%Y-%m-%d}); the calendar must cover "
                               "every customer's whole history")
        return calendar

    @classmethod
    def on_clock(cls, table: pd.DataFrame, calibration_end, time_unit: str | TimeUnit = "week",
                 *, period_column: str = PERIOD_COLUMN) -> CovariateCalendar:
        """A calendar from a table of periods, on the clock of a calibration ending on
        ``calibration_end`` in ``time_unit`` (for customers not summarized from a log:
        simulated ones, say; :meth:`of` takes both from a summary).

        Raises
        ------
        CLVDataError
            When the period column is missing, the periods are not regular and consecutive,
            a covariate is not numeric or has an empty cell (naming the column and period), or
            the periods end before the end of calibration.
        """
        if period_column not in table.columns:
            raise CLVDataError(f"covariate calendar: no column '{period_column}' of period "
                               f"start dates (columns: {list(table.columns)})")
        frame = table.sort_values(period_column).reset_index(drop=True)
        starts = pd.DatetimeIndex(pd.to_datetime(frame[period_column])).normalize()
        if len(starts) < 3 or starts.has_duplicates:
            raise CLVDataError("covariate calendar: give at least three periods, each start "
                               f"date once (got {len(starts)} rows, "
                               f"{int(starts.duplicated().sum())} repeated)")
        freq = pd.infer_freq(starts)
        if freq is None:
            gaps = pd.Series(starts[1:] - starts[:-1]).dt.days
            raise CLVDataError(
                "covariate calendar: the periods are not regular (gaps between start dates "
                f"range from {gaps.min()} to {gaps.max()} days); give one row per week, month "
                "or other fixed frequency, with no period missing")
        edges = starts.append(pd.DatetimeIndex(
            [starts[-1] + pd.tseries.frequencies.to_offset(freq)]))
        values = frame.drop(columns=[period_column])
        if values.shape[1] == 0:
            raise CLVDataError("covariate calendar: no covariate columns besides "
                               f"'{period_column}'")
        for column in values.columns:
            if pd.api.types.is_bool_dtype(values[column]):
                values[column] = values[column].astype(float)
            elif not pd.api.types.is_numeric_dtype(values[column]):
                raise CLVDataError(f"covariate calendar: column '{column}' is not numeric "
                                   f"(dtype {values[column].dtype}); code it as numbers")
            empty = ~np.isfinite(values[column].to_numpy(float))
            if empty.any():
                raise CLVDataError(f"covariate calendar: column '{column}' is empty or not "
                                   f"finite in {int(empty.sum())} period(s), the first "
                                   f"starting {starts[np.argmax(empty)]:%Y-%m-%d}")
        end = pd.Timestamp(calibration_end).normalize()
        if edges[-1] <= end:
            raise CLVDataError(f"covariate calendar: the periods end {edges[-1]:%Y-%m-%d}, "
                               f"before the end of calibration ({end:%Y-%m-%d})")
        return cls(edges, values.astype(float).set_axis(starts), end, TimeUnit.parse(time_unit))

    def table(self) -> pd.DataFrame:
        """The calendar as a table of periods again (``period_start`` and the covariates), as
        :meth:`of` reads it."""
        return self.values.rename_axis(PERIOD_COLUMN).reset_index()

    @property
    def columns(self) -> list[str]:
        """The covariates' names."""
        return list(self.values.columns)

    @property
    def edges(self) -> np.ndarray:
        """The periods' edges on the summary's clock (time units from the calibration end;
        ``P + 1`` values for ``P`` periods). The end of calibration is day ``calibration_end``
        itself, as ``T`` counts it."""
        days = (self.starts - self.calibration_end).days.to_numpy(float)
        return days / self.time_unit.days

    def matrix(self, columns) -> np.ndarray:
        """The covariates ``columns`` as a ``(periods, len(columns))`` array."""
        unknown = [c for c in columns if c not in self.values.columns]
        if unknown:
            raise CLVDataError(f"covariate calendar has no column(s) {unknown} "
                               f"(its columns: {self.columns})")
        return self.values[list(columns)].to_numpy(float).reshape(len(self.values), -1)

    def period_of(self, dates) -> np.ndarray:
        """The index of the period each date falls in."""
        index = self.starts.searchsorted(pd.DatetimeIndex(dates).normalize(), side="right") - 1
        outside = (index < 0) | (index >= len(self.values))
        if outside.any():
            raise CLVDataError("covariate calendar does not cover "
                               f"{pd.DatetimeIndex(dates)[np.argmax(outside)]:%Y-%m-%d}")
        return index

    def horizon(self) -> float:
        """How far past the calibration end the calendar reaches, in time units."""
        return float(self.edges[-1])

    def check_reach(self, horizon: float, what: str = "horizon") -> None:
        """Raise ``ValueError`` unless the calendar reaches ``horizon`` time units past the
        calibration end (a prediction's covariates must be known for all of it)."""
        if not horizon <= self.horizon() + 1e-9:
            raise ValueError(f"{what}={horizon!r}: the calendar's covariates reach "
                             f"{self.horizon():.4g} {self.time_unit.plural} past the calibration "
                             f"end ({self.calibration_end:%Y-%m-%d}); extend it to predict "
                             "further")

    def save(self, folder: str | Path) -> Path:
        """Write the calendar as ``calendar.parquet`` in ``folder`` (:func:`saved_calendar`
        reads it back against the same summary)."""
        path = Path(folder) / CALENDAR_FILE
        self.table().to_parquet(path)
        return path

    def with_purchase_sums(self, log, summary: CustomerSummary) -> CustomerSummary:
        """``summary`` with a ``sum:<covariate>`` column per covariate: its sum over the
        periods of the customer's calibration repeat purchases (a day with purchases is one
        purchase, as in the summary; 0 without a repeat purchase); with a holdout, also
        ``sum:<covariate>_full``, over calibration and holdout (for the holdout's predictive
        density, :func:`clvlib.comparison.compare_models`).

        Parameters
        ----------
        log : TransactionLog
            The log ``summary`` was made from (:func:`clvlib.read_transactions`).
        summary : CustomerSummary

        Raises
        ------
        CLVDataError
            When the log's purchase days do not match the summary's repeat purchases (a
            summary of another log, or of other dates).
        """
        purchase = "WHERE amount >= 0" if log.has_amounts else ""
        days = log.query(
            "SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST(timestamp AS DATE) AS day "
            f"FROM transactions {purchase} GROUP BY ALL")
        days["day"] = pd.to_datetime(days["day"])
        customers = summary.customers
        first = customers["first_purchase"]
        first.index = first.index.astype(str)
        days = days[days["customer_id"].isin(first.index)]
        repeat = days[days["day"] > days["customer_id"].map(first)]
        x = customers["x"].to_numpy()
        periods = [("", summary.calibration_end, x)]
        if summary.has_holdout:
            periods.append(("_full", summary.observation_end, x + customers["x_holdout"]))
        totals = []
        for suffix, end, expected in periods:
            these = repeat[repeat["day"] <= end]
            counts = these.groupby("customer_id").size().reindex(first.index, fill_value=0)
            differ = counts.to_numpy() != np.asarray(expected)
            if differ.any():
                who = first.index[np.argmax(differ)]
                raise CLVDataError(
                    f"{log.source}: {int(differ.sum())} customer(s) have a different number of "
                    f"repeat purchase days up to {end:%Y-%m-%d} in the log than the summary "
                    f"(the first: {who}, {int(counts[who])} against "
                    f"{int(np.asarray(expected)[np.argmax(differ)])}); make the summary from "
                    "this log with the same calibration and holdout ends")
            z = self.values.to_numpy(float)[self.period_of(these["day"])]
            sums = pd.DataFrame(z, columns=[SUM_PREFIX + c + suffix for c in self.columns])
            sums["customer_id"] = these["customer_id"].to_numpy()
            totals.append(sums.groupby("customer_id").sum()
                          .reindex(first.index, fill_value=0.0).set_axis(customers.index))
        totals = pd.concat(totals, axis=1)
        merged = customers.drop(columns=[c for c in totals.columns if c in customers.columns])
        return summary.with_customers(merged.join(totals))


__all__ = ["PERIOD_COLUMN", "SUM_PREFIX", "CovariateCalendar"]
