"""Customer summaries from a transaction log, computed by DuckDB.

One row per customer: frequency ``x`` (repeat purchases), recency ``t_x`` (time of the last
purchase since the first), age ``T`` (time from the first purchase to the end of calibration),
mean repeat spend ``monetary``, first purchase and cohort; with a holdout period, also the
holdout repeat purchases ``x_holdout`` and spend ``spend_holdout``. Purchases on the same day
are merged into one, as in Fader, Hardie & Lee (2005). A count-only log (read with
``amount=None``) gives the same summary without the spend columns.

The summary is defined once, as one SQL plan (:func:`per_customer_sql` and
:func:`summary_select_sql`) that DuckDB runs here and Spark runs in :mod:`clvlib.spark`; the two
engines differ only in what :class:`SqlDialect` renders (quoting, a difference of days, the name
of the log). Mean repeat spend is the spend of the repeat purchase days themselves (the days
after the first, up to the calibration end) divided by their number ``x``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from clvlib.errors import CLVDataError, describe_rows
from clvlib.formatting import duration
from clvlib.timeunits import TimeUnit
from clvlib.transactions import TransactionLog

# First-purchase cohort labels, in SQL that DuckDB and Spark both run.
COHORT_FORMATS = {
    "month": "CAST(year(first_day) AS STRING) || '-' "
             "|| lpad(CAST(month(first_day) AS STRING), 2, '0')",
    "quarter": "CAST(year(first_day) AS STRING) || '-Q' || CAST(quarter(first_day) AS STRING)",
    "year": "CAST(year(first_day) AS STRING)",
}
SUMMARY_COLUMNS = ("x", "t_x", "T")
SPEND_COLUMNS = ("monetary", "spend_holdout")


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer summary statistics, in a stated time unit.

    Attributes
    ----------
    customers : pandas.DataFrame
        Indexed by ``customer_id``; columns ``x``, ``t_x``, ``T``, ``monetary``,
        ``first_purchase``, ``cohort``, and with a holdout ``x_holdout``, ``spend_holdout`` and
        ``t_x_full`` (recency at the end of the holdout, for holdout predictive densities);
        plus any covariates (the value at each customer's first purchase).
    time_unit : TimeUnit
        The unit of ``t_x``, ``T`` and ``holdout_length``.
    calibration_end : pandas.Timestamp
        The last day of the calibration period (inclusive).
    observation_end : pandas.Timestamp or None
        The last day of the holdout period (inclusive); None when there is no holdout.
    source : str
        Where the transactions came from.
    notes : tuple of str
        What was excluded or adjusted on the way (late first purchases, returns, duplicates).
    resolution : float or None
        When set, ``t_x`` and ``T`` were rounded to the nearest multiple of this many time units
        (``1`` = whole weeks when the unit is a week); None for exact (day-level) times.
    """

    customers: pd.DataFrame
    time_unit: TimeUnit
    calibration_end: pd.Timestamp
    observation_end: pd.Timestamp | None = None
    source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    resolution: float | None = None

    @property
    def has_holdout(self) -> bool:
        return self.observation_end is not None

    @property
    def has_amounts(self) -> bool:
        """False for the summary of a count-only log (no ``monetary`` column)."""
        return "monetary" in self.customers.columns

    @property
    def holdout_length(self) -> float | None:
        """Length of the holdout period in :attr:`time_unit` (None without a holdout)."""
        if self.observation_end is None:
            return None
        return self.time_unit.from_days((self.observation_end - self.calibration_end).days)

    def __len__(self) -> int:
        return len(self.customers)

    def describe(self) -> dict:
        """The headline numbers of the summary, for tables and narrative."""
        c = self.customers
        out = {
            "customers": len(c),
            "time unit": str(self.time_unit),
            "calibration end": f"{self.calibration_end:%Y-%m-%d}",
            **({} if self.resolution is None else
               {"time resolution": _amount(self.resolution, self.time_unit)}),
            "calibration repeat purchases": int(c["x"].sum()),
            "share with no repeat purchase": float((c["x"] == 0).mean()),
            "mean repeat purchases": float(c["x"].mean()),
            **({"mean repeat spend": float(c["monetary"].mean())} if self.has_amounts else {}),
        }
        if self.has_holdout:
            out["observation end"] = f"{self.observation_end:%Y-%m-%d}"
            out["holdout length"] = duration(self.holdout_length, self.time_unit.plural)
            out["holdout repeat purchases"] = int(c["x_holdout"].sum())
        return out

    def __str__(self) -> str:
        lines = [f"CustomerSummary of {self.source or 'transactions'}"]
        lines += [f"  {k}: {v:,.4g}" if isinstance(v, float) else f"  {k}: {v:,}"
                  if isinstance(v, int) else f"  {k}: {v}" for k, v in self.describe().items()]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def with_customers(self, customers: pd.DataFrame) -> CustomerSummary:
        """The same summary metadata over another set of rows (e.g. a subset)."""
        return replace(self, customers=customers)

    def to_parquet(self, path: str | Path) -> None:
        """Write the table with its metadata (time unit, dates, notes) to a Parquet file."""
        table = pa.Table.from_pandas(self.customers)
        meta = {
            "time_unit": self.time_unit.name,
            "time_unit_days": self.time_unit.days,
            "calibration_end": str(self.calibration_end.date()),
            "observation_end": None if self.observation_end is None
            else str(self.observation_end.date()),
            "source": self.source,
            "notes": list(self.notes),
            "resolution": self.resolution,
        }
        schema_meta = {**(table.schema.metadata or {}), b"clvlib": json.dumps(meta).encode()}
        pq.write_table(table.replace_schema_metadata(schema_meta), path)

    @classmethod
    def from_parquet(cls, path: str | Path) -> CustomerSummary:
        """Read a summary written by :meth:`to_parquet`."""
        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[b"clvlib"])
        obs = meta["observation_end"]
        return cls(
            customers=table.to_pandas(),
            time_unit=TimeUnit(meta["time_unit"], meta["time_unit_days"]),
            calibration_end=pd.Timestamp(meta["calibration_end"]),
            observation_end=None if obs is None else pd.Timestamp(obs),
            source=meta["source"],
            notes=tuple(meta["notes"]),
            resolution=meta.get("resolution"),
        )


def summarize(
    log: TransactionLog,
    *,
    time_unit: str | TimeUnit = "week",
    calibration_end: str | pd.Timestamp | None = None,
    observation_end: str | pd.Timestamp | None = None,
    cohort: str = "month",
    resolution: float | None = None,
    covariates=None,
    covariates_id_column: str = "customer_id",
    regularity: bool = False,
) -> CustomerSummary:
    """Summarize a transaction log per customer, with an optional holdout period.

    Parameters
    ----------
    log : TransactionLog
        From :func:`clvlib.read_transactions`.
    time_unit : str or TimeUnit
        ``"day"``, ``"week"`` (default), ``"month"`` (365.25/12 days) or ``"year"``.
    calibration_end : date-like, optional
        Last day (inclusive) of the calibration period; default the last day in the log.
        Customers whose first purchase is later are left out (and counted in the notes).
    observation_end : date-like, optional
        Last day (inclusive) of the holdout period. Without it there is no holdout: the
        summary covers everything up to ``calibration_end``.
    cohort : {"month", "quarter", "year"}
        How to label the first-purchase cohort.
    resolution : float, optional
        Round ``t_x`` and ``T`` to the nearest multiple of this many time units (halves away
        from zero), e.g. ``1`` for whole weeks or ``1/7`` for days when ``time_unit="week"``.
        Customers then share more compressed likelihood rows, so fits of large bases are faster;
        the resolution is recorded in the summary and in every fit to it. Default: exact
        day-level times.
    covariates : DataFrame or path, optional
        Time-invariant customer covariates (a DataFrame, CSV or Parquet file with a
        column of customer ids, ``covariates_id_column``, and one row per customer), joined
        to the summary for models' ``purchase_covariates=``, ``dropout_covariates=`` and
        ``spend_covariates=`` (:func:`clvlib.covariates.attach_covariates`: every summarized
        customer needs a complete row).
    covariates_id_column : str
        The covariate table's column of customer ids (the report passes the log's
        ``customer_id_column``).
    regularity : bool
        Add ``litt``, the sum of the logs of each customer's calibration inter-purchase times
        in the time unit (0 without a repeat purchase), which the regularity models
        (:mod:`clvlib.models.cnbd_k`) read; with a holdout, ``litt_full`` too, over calibration
        and holdout (for holdout predictive densities). Off by default: it costs about a
        quarter more time.

    Returns
    -------
    CustomerSummary

    Raises
    ------
    CLVDataError
        When a date lies outside the log's range or the holdout ends before calibration, or
        the covariate table lacks, repeats or leaves empty a customer's row (naming the column
        and the first customers).

    Examples
    --------
    >>> log = read_transactions("cdnow_sample")  # doctest: +SKIP
    >>> s = summarize(log, calibration_end="1997-09-30", observation_end="1998-06-30")
    ... # doctest: +SKIP
    >>> int(s.customers["x"].sum()), int(s.customers["x_holdout"].sum())  # doctest: +SKIP
    (2457, 1882)
    """
    if not isinstance(log, TransactionLog):
        raise TypeError(f"summarize takes a TransactionLog, not a {type(log).__name__}: read "
                        "the transactions first, clvlib.read_transactions(frame_or_path, "
                        "customer_id=..., date=..., amount=...), which checks them")
    unit = TimeUnit.parse(time_unit)
    if cohort not in COHORT_FORMATS:
        raise ValueError(f"cohort={cohort!r}; choose one of {', '.join(COHORT_FORMATS)}")
    resolution = check_resolution(resolution)
    first, last = log.date_range()
    notes = list(log.notes)
    cal_end, obs_end, end, span = summary_period(
        log.source, first, last, calibration_end, observation_end, notes,
    )
    spec = SummarySpec(cal_end, end, unit, resolution, cohort, obs_end is not None,
                       log.has_amounts, log.extra_columns, regularity)
    con = log.con
    con.execute("CREATE OR REPLACE TEMP TABLE per_customer AS "
                f"WITH {per_customer_sql(DUCKDB, spec)} SELECT * FROM per_customer")
    customers = con.execute(f"{summary_select_sql(DUCKDB, spec)} ORDER BY customer_id").df()
    late = con.execute(late_customers_sql(spec)).fetchall()[0][0]
    after = log.rows_after(end)
    con.execute("DROP TABLE per_customer")
    customers = customers.set_index("customer_id")
    customers["first_purchase"] = pd.to_datetime(customers["first_purchase"])
    notes += excluded_notes(late, after, cal_end, end)
    if customers.empty:
        raise CLVDataError(f"{log.source}: no customer bought by {cal_end:%Y-%m-%d}; {span}")
    if resolution is not None:
        notes.append(resolution_note(resolution, unit))
    if covariates is not None:
        from clvlib.covariates import attach_covariates

        customers = attach_covariates(customers, covariates, id_column=covariates_id_column)
    return CustomerSummary(customers, unit, cal_end, obs_end, log.source, tuple(notes),
                           resolution)


# The pieces below are shared with the Spark path (clvlib.spark), so both engines check dates,
# bind parameters and word their notes the same way.


def summary_period(source: str, first: pd.Timestamp, last: pd.Timestamp, calibration_end,
                   observation_end, notes: list[str]):
    """Check the calibration and holdout ends against the log's first and last day.

    Returns ``(cal_end, obs_end, end, span)`` (``end`` is the last day summarized) and appends
    a note to ``notes`` when the holdout runs past the data.
    """
    cal_end = last if calibration_end is None else _as_day(calibration_end, "calibration_end")
    obs_end = None if observation_end is None else _as_day(observation_end, "observation_end")
    span = f"the log runs from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    if not first <= cal_end <= last:
        raise CLVDataError(
            f"{source}: calibration_end {cal_end:%Y-%m-%d} is outside the data; {span}"
        )
    if obs_end is not None and obs_end <= cal_end:
        raise CLVDataError(
            f"{source}: observation_end {obs_end:%Y-%m-%d} must come after calibration_end "
            f"{cal_end:%Y-%m-%d}"
        )
    if obs_end is not None and obs_end > last:
        notes.append(
            f"observation_end {obs_end:%Y-%m-%d} is after the last transaction "
            f"({last:%Y-%m-%d}); the holdout assumes no purchases were made in between"
        )
    end = obs_end if obs_end is not None else cal_end
    return cal_end, obs_end, end, span


def excluded_notes(late: int, after: int, cal_end: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """Notes on customers who first bought after calibration and rows after the last day."""
    notes = []
    if late:
        notes.append(
            f"{late:,} customer(s) first bought after calibration_end {cal_end:%Y-%m-%d} and are "
            "not in the summary"
        )
    if after:
        notes.append(f"{after:,} transaction row(s) after {end:%Y-%m-%d} ignored")
    return notes


def check_resolution(resolution: float | None) -> float | None:
    """Validate a ``resolution`` argument: None, or a positive finite number (as a float)."""
    if resolution is None:
        return None
    try:
        value = float(resolution)
    except (TypeError, ValueError) as err:
        raise ValueError(f"resolution={resolution!r} must be a positive number or None") from err
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"resolution={resolution!r} must be a positive number or None")
    return value


def resolution_note(resolution: float, unit: TimeUnit) -> str:
    """The note a rounded summary carries."""
    days = resolution * unit.days
    return (f"recency t_x and age T rounded to the nearest {_amount(resolution, unit)} "
            f"({days:.4g} day{'' if days == 1 else 's'})")


def _amount(value: float, unit: TimeUnit) -> str:
    return f"{value:.4g} {unit.name if value == 1 else unit.plural}"


def _as_day(value, name: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name}={value!r} is not a date") from err


# ---------------------------------------------------------------------------------------------
# The summary plan: one SQL text, rendered for DuckDB here and for Spark in clvlib.spark
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlDialect:
    """What the engines that run the summary plan spell differently.

    Parameters
    ----------
    name : str
        The engine.
    quote_char : str
        How an identifier is quoted (doubled inside it).
    days_template : str
        Whole days from ``{start}`` to ``{end}`` (two DATE expressions).
    table : str
        How the plan names the transaction log.
    key : str
        The log's column the plan groups customers by, one-to-one with ``customer_id``.
    key_text : str
        SQL turning ``customer_id`` (holding the key) back into the id's text.
    escape_braces : bool
        Double ``{`` and ``}`` in identifiers (Spark formats the SQL text with the DataFrames
        it refers to).
    """

    name: str
    quote_char: str
    days_template: str
    table: str
    key: str = "customer_id"
    key_text: str = "customer_id"
    escape_braces: bool = False

    def quote(self, identifier: str) -> str:
        q = self.quote_char
        text = q + identifier.replace(q, q + q) + q
        return text.replace("{", "{{").replace("}", "}}") if self.escape_braces else text

    def days_between(self, start: str, end: str) -> str:
        return self.days_template.format(start=start, end=end)


# DuckDB reads the log's ``keyed`` view (clvlib.transactions): an integer id grouped as read.
DUCKDB = SqlDialect("duckdb", '"', "date_diff('day', {start}, {end})", "keyed",
                    key="customer_key", key_text="CAST(customer_id AS VARCHAR)")
SPARK = SqlDialect("spark", "`", "datediff({end}, {start})", "{transactions}",
                   escape_braces=True)


@dataclass(frozen=True)
class SummarySpec:
    """What one summary is asked for: the plan's inputs, shared by both engines."""

    cal_end: pd.Timestamp
    end: pd.Timestamp
    unit: TimeUnit
    resolution: float | None
    cohort: str
    with_holdout: bool
    has_amounts: bool = True
    extra_columns: tuple[str, ...] = ()
    regularity: bool = False


def _date(day: pd.Timestamp) -> str:
    return f"DATE '{day:%Y-%m-%d}'"


def _double(value: float) -> str:
    """A float as an SQL double both engines read exactly (repr round-trips)."""
    return f"CAST({float(value)!r} AS DOUBLE)"


def time_sql(days: str, spec: SummarySpec) -> str:
    """SQL turning a whole number of days into the time unit, at the spec's resolution.

    ``days / unit_days``, or ``round(days / res_days) * res_days / unit_days`` (halves away
    from zero in both engines).
    """
    unit = _double(spec.unit.days)
    if spec.resolution is None:
        return f"{days} / {unit}"
    res = _double(spec.resolution * spec.unit.days)
    return f"round({days} / {res}) * {res} / {unit}"


def per_customer_sql(dialect: SqlDialect, spec: SummarySpec) -> str:
    """The common table expressions that end in ``per_customer``: one row per customer.

    Without the leading ``WITH``. Every customer who ever bought is here (so those who first
    bought after the calibration end can be counted); the calibration and holdout aggregates
    filter on the day. Customers are grouped by the dialect's key, which ``customer_id`` holds
    here (:func:`summary_select_sql` turns it back into the id's text).

    ``days`` merges each customer's rows of one UTC day into one purchase: a day is a purchase
    if it has a non-negative row (returns, present only when read with ``returns="net"``,
    lower that day's spend). ``x`` counts the calibration days after the first;
    ``repeat_spend`` is the spend of exactly those days: calibration spend less the first day's,
    both exact decimals (in floating point the difference would cancel for huge amounts and
    lose digits in general). An extra column takes its value at the customer's first purchase
    (the earliest non-return row of the first day).
    """
    q = dialect.quote
    cal_end, end = _date(spec.cal_end), _date(spec.end)
    extras = [f"extra_{i}" for i in range(len(spec.extra_columns))]
    tx_items = [f"{dialect.key} AS customer_id", f"CAST({q('timestamp')} AS DATE) AS day",
                f"{q('timestamp')} AS ts"]
    tx_items += ["amount"] if spec.has_amounts else []
    tx_items += [f"{q(c)} AS {e}" for c, e in zip(spec.extra_columns, extras, strict=True)]
    purchase_row = " FILTER (WHERE amount >= 0)" if spec.has_amounts else ""
    # Spend is summed as an exact decimal (amounts are at most MAX_AMOUNT, 9 decimals kept):
    # floating sums depend on the order a parallel engine adds rows in, and the same file must
    # give the same summary, bit for bit, on every run and on both engines.
    day_items = ["customer_id", "day"] + (["sum(CAST(amount AS DECIMAL(38, 9))) AS spend"]
                                          if spec.has_amounts else [])
    day_items += [f"min_by({e}, ts){purchase_row} AS {e}" for e in extras]
    having = "HAVING bool_or(amount >= 0)" if spec.has_amounts else ""
    # Repeat spend is the calibration spend less the first day's, taken in the same pass as the
    # rest (a join of the days with each customer's first day cost as much as the whole pass).
    # The subtraction is exact: both sides are decimals of 9 places and at most 28 digits before
    # the point, and DECIMAL(37, 9) less DECIMAL(37, 9) stays DECIMAL(38, 9) in both engines
    # (Spark would round a DECIMAL(38, 9) difference to 8 places). None when x = 0, as before.
    calibration_spend = f"CAST(sum(spend) FILTER (WHERE day <= {cal_end}) AS DECIMAL(37, 9))"
    first_spend = "CAST(min_by(spend, day) AS DECIMAL(37, 9))"
    spend_items = [
        f"CAST(CASE WHEN count(*) FILTER (WHERE day <= {cal_end}) > 1 "
        f"THEN {calibration_spend} - {first_spend} END AS DOUBLE) AS repeat_spend",
        f"coalesce(CAST(sum(spend) FILTER (WHERE day > {cal_end} AND day <= {end}) "
        "AS DOUBLE), 0.0) AS spend_holdout",
    ] if spec.has_amounts else []
    gap_days = dialect.days_between("lag(day) OVER (PARTITION BY customer_id ORDER BY day)",
                                    "day")
    gap_days_in_unit = f"gap_days / {_double(spec.unit.days)}"
    gap_column = f", {gap_days} AS gap_days" if spec.regularity else ""
    customer_items = [
        "customer_id",
        "min(day) AS first_day",
        f"count(*) FILTER (WHERE day <= {cal_end}) - 1 AS x",
        f"max(day) FILTER (WHERE day <= {cal_end}) AS last_calibration_day",
        # Regularity models (BG/CNBD-k) read the sum of the logs of the calibration period's
        # inter-purchase times in the time unit (BTYDplus's litt; 0 without repeat purchases).
        # Asked for only: the window over each customer's days costs a quarter more time.
        *([f"coalesce(sum(ln({gap_days_in_unit})) FILTER (WHERE day <= {cal_end}), 0.0) "
           "AS litt",
           f"coalesce(sum(ln({gap_days_in_unit})) FILTER (WHERE day <= {end}), 0.0) "
           "AS litt_full"] if spec.regularity else []),
        f"max(day) FILTER (WHERE day <= {end}) AS last_day",
        f"count(*) FILTER (WHERE day > {cal_end} AND day <= {end}) AS x_holdout",
        *spend_items,
        *[f"min_by({e}, day) AS {e}" for e in extras],
    ]
    sep = ",\n               "
    return f"""tx AS (
        SELECT {", ".join(tx_items)}
        FROM {dialect.table}
    ),
    days AS (
        SELECT {", ".join(day_items)}
        FROM tx
        GROUP BY customer_id, day
        {having}
    ),
    gaps AS (
        SELECT *{gap_column}
        FROM days
    ),
    per_customer AS (
        SELECT {sep.join(customer_items)}
        FROM gaps
        GROUP BY customer_id
    )"""


def summary_select_sql(dialect: SqlDialect, spec: SummarySpec) -> str:
    """The summary's columns, from ``per_customer`` (see :func:`per_customer_sql`).

    Customers who first bought after the calibration end are left out; rows are not ordered.
    """
    q = dialect.quote
    cal_end = _date(spec.cal_end)
    items = [
        f"{dialect.key_text} AS customer_id",
        "CAST(x AS BIGINT) AS x",
        f"{time_sql(dialect.days_between('first_day', 'last_calibration_day'), spec)} AS t_x",
        f"{time_sql(dialect.days_between('first_day', cal_end), spec)} AS T",
    ] + (["litt"] if spec.regularity else [])
    if spec.has_amounts:
        items.append("repeat_spend / nullif(x, 0) AS monetary")
    items += ["first_day AS first_purchase", f"{COHORT_FORMATS[spec.cohort]} AS cohort"]
    if spec.with_holdout:
        items += ["x_holdout"] + (["spend_holdout"] if spec.has_amounts else [])
        items.append(f"{time_sql(dialect.days_between('first_day', 'last_day'), spec)}"
                     " AS t_x_full")
        items += ["litt_full"] if spec.regularity else []
    items += [f"extra_{i} AS {q(c)}" for i, c in enumerate(spec.extra_columns)]
    sep = ",\n           "
    return f"""SELECT {sep.join(items)}
    FROM per_customer
    WHERE first_day <= {cal_end}"""


def late_customers_sql(spec: SummarySpec) -> str:
    """How many customers in ``per_customer`` first bought after the calibration end."""
    return f"SELECT count(*) FROM per_customer WHERE first_day > {_date(spec.cal_end)}"


def check_summary(customers: pd.DataFrame, source: str = "summary") -> pd.DataFrame:
    """Validate a per-customer table with columns ``x``, ``t_x`` and ``T``.

    Models call this on entry, so a summary made elsewhere gets the same checks: the columns
    exist, are finite and non-negative, ``x`` is a whole number, ``t_x <= T``, and ``t_x = 0``
    when ``x = 0``.

    Raises
    ------
    CLVDataError
        Naming the column and the first offending customers.
    """
    missing = [c for c in SUMMARY_COLUMNS if c not in customers.columns]
    if missing:
        raise CLVDataError(
            f"{source}: missing column(s) {missing}; a customer summary needs x (repeat "
            f"purchases), t_x (recency) and T (age); it has {list(customers.columns)}"
        )
    if len(customers) == 0:
        raise CLVDataError(f"{source}: the customer summary is empty")
    values = customers[list(SUMMARY_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    problems = {
        "x, t_x, T: missing or non-numeric values": values.isna().any(axis=1),
        "x, t_x, T: negative or infinite values": (values < 0).any(axis=1)
        | ~np.isfinite(values.fillna(0)).all(axis=1),
        "x: not a whole number": values["x"] != np.round(values["x"]),
        "t_x > T (a last purchase after the end of calibration)":
            values["t_x"] > values["T"] + 1e-9,
        "x = 0 but t_x > 0": (values["x"] == 0) & (values["t_x"] > 0),
    }
    for what, bad in problems.items():
        if bad.any():
            rows = customers.loc[bad, list(SUMMARY_COLUMNS)]
            raise CLVDataError(
                f"{source}: {what}: {int(bad.sum()):,} customer(s); the first:\n"
                + describe_rows(rows)
            )
    return customers


def customer_frame(customers: CustomerSummary | pd.DataFrame) -> pd.DataFrame:
    """The checked table of a :class:`CustomerSummary` or of a DataFrame of customers."""
    if isinstance(customers, CustomerSummary):
        return check_summary(customers.customers, customers.source)
    return check_summary(customers, "customers")
