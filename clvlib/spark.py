"""Customer summaries and scoring on Apache Spark, for transaction logs beyond one machine.

The same two arrows as the DuckDB path, run by Spark: a transaction log becomes the customer
summary of :func:`clvlib.summarize` (the very SQL plan of :mod:`clvlib.summary`, rendered for
Spark: same columns, same same-day merging, same mean repeat spend, same time-unit arithmetic
and rounding, same holdout, same notes; the reader applies the rules of
:func:`clvlib.read_transactions` with the same words), and a fitted model scores a Spark
DataFrame of customers with the very prediction methods used locally (:meth:`PurchaseModel.p_alive`,
:meth:`PurchaseModel.expected_purchases`, :func:`clvlib.customer_lifetime_value`): the posterior
is broadcast once, and each partition is scored in Arrow batches with
:func:`clvlib.predict.posterior_predict`'s bounded-memory chunks.

Install the extra (``pip install "clvlib[spark]"``; Spark 4 needs Java 17 or newer). A purchase's
day is taken in UTC, as on the DuckDB path, so the Spark session's time zone must be UTC
(``spark.sql.session.timeZone=UTC``; :func:`local_session` sets it).

Examples
--------
>>> from clvlib import spark as clvspark  # doctest: +SKIP
>>> session = clvspark.local_session()  # doctest: +SKIP
>>> log = clvspark.read_transactions("s3://bucket/orders/*.parquet", spark=session,
...                                  customer_id="client", date="ts", amount="total")
... # doctest: +SKIP
>>> customers = clvspark.summary_frame(log, calibration_end="2024-06-30")  # doctest: +SKIP
>>> scores = clvspark.score(customers, purchases, spend, horizon=52)  # doctest: +SKIP
>>> scores.write.parquet("s3://bucket/scores/")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from clvlib.errors import CLVDataError, describe_rows
from clvlib.scoring import PREDICTIONS, score_customers
from clvlib.summary import (
    COHORT_FORMATS,
    SPARK,
    CustomerSummary,
    SummarySpec,
    check_resolution,
    excluded_notes,
    late_customers_sql,
    per_customer_sql,
    resolution_note,
    summary_period,
    summary_select_sql,
)
from clvlib.timeunits import TimeUnit
from clvlib.transactions import (
    COUNT_ONLY_NOTE,
    CSV_DELIMITERS,
    DUPLICATES_POLICIES,
    MAX_AMOUNT,
    OFFSET_PATTERN,
    PARQUET_SUFFIXES,
    RETURNS_POLICIES,
    check_columns,
    delimiter_note,
    future_rows,
    not_a_table,
    note_duplicates,
    note_returns,
    offset_note,
    resolve_data_end,
    value_check_messages,
)

try:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as spark_types
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "clvlib.spark needs pyspark: install the extra with pip install 'clvlib-workbench[spark]' "
        "(and Java 17 or newer)"
    ) from err

__all__ = [
    "PREDICTIONS",
    "SparkTransactions",
    "local_session",
    "read_transactions",
    "score",
    "summarize",
    "summary_frame",
]

# strptime directives (the DuckDB path's date_format) and their Java DateTimeFormatter patterns.
STRPTIME_TO_JAVA = {
    "%Y": "yyyy", "%y": "yy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss",
    "%f": "SSSSSS", "%b": "MMM", "%B": "MMMM", "%j": "DDD", "%p": "a", "%I": "hh", "%z": "Z",
}

DATE_TYPES = (spark_types.DateType, spark_types.TimestampType, spark_types.TimestampNTZType)

# What score() can predict: each gives <name>_mean, <name>_lower and <name>_upper columns.


# ---------------------------------------------------------------------------------------------
# A session
# ---------------------------------------------------------------------------------------------


def local_session(cores: int = 2, app_name: str = "clvlib", **conf: str) -> SparkSession:
    """A local-mode Spark session set up as clvlib expects: UTC, workers on this Python.

    For trying things and for tests. On a cluster build the session yourself (``spark-submit``
    or ``SparkSession.builder.master(...)``), with ``spark.sql.session.timeZone=UTC`` and clvlib
    installed on the executors.

    Parameters
    ----------
    cores : int
        Worker threads (``local[cores]``).
    app_name : str
        The application name.
    **conf : str
        Further Spark settings, e.g. ``**{"spark.driver.memory": "4g"}``.
    """
    # Python workers must run this interpreter (the one with clvlib, pyarrow and pandas).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": str(max(2, 2 * cores)),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        **conf,
    }
    builder = SparkSession.builder.master(f"local[{cores}]").appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _require_utc(spark: SparkSession) -> None:
    zone = spark.conf.get("spark.sql.session.timeZone")
    if zone not in ("UTC", "Etc/UTC", "GMT", "Z", "+00:00"):
        raise ValueError(
            f"the Spark session's time zone is {zone!r}; clvlib takes each purchase's day in UTC "
            "(as the DuckDB path does). Set spark.conf.set('spark.sql.session.timeZone', 'UTC')."
        )


# ---------------------------------------------------------------------------------------------
# Transactions
# ---------------------------------------------------------------------------------------------


@dataclass
class SparkTransactions:
    """A validated transaction log as a Spark DataFrame (the Spark twin of TransactionLog).

    Attributes
    ----------
    frame : pyspark.sql.DataFrame
        Columns ``customer_id`` (string), ``timestamp``, ``amount`` (double; absent from a
        count-only log) and any extra columns, after the rules and policies.
    source : str
        The files (or a name for a DataFrame) the log came from.
    extra_columns : tuple of str
    notes : list of str
        What validation found and how the policies handled it, worded as on the DuckDB path.
    has_amounts : bool
        False for a count-only log (read with ``amount=None``).
    """

    frame: DataFrame
    source: str
    extra_columns: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    has_amounts: bool = True

    @property
    def spark(self) -> SparkSession:
        return self.frame.sparkSession

    def overview(self) -> dict:
        """Rows, customers, first and last date and total amount, as ``TransactionLog.overview``."""
        total = F.sum("amount") if self.has_amounts else F.lit(None)
        row = self.frame.agg(
            F.count(F.lit(1)), F.countDistinct("customer_id"), F.min(F.to_date("timestamp")),
            F.max(F.to_date("timestamp")), total,
        ).first()
        keys = ("rows", "customers", "first_date", "last_date", "total_amount")
        out = dict(zip(keys, row, strict=True))
        out["first_date"] = pd.Timestamp(out["first_date"])
        out["last_date"] = pd.Timestamp(out["last_date"])
        return out


def read_transactions(
    source: DataFrame | str | Path | Sequence[str | Path],
    *,
    spark: SparkSession | None = None,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str | None = "amount",
    extra_columns: Sequence[str] = (),
    date_format: str | None = None,
    returns: str = "error",
    duplicates: str = "keep",
    data_end: str | pd.Timestamp | None = None,
    file_format: str | None = None,
    csv_options: dict | None = None,
    name: str | None = None,
) -> SparkTransactions:
    """Read and validate a transaction log with Spark, by the rules of clvlib.read_transactions.

    Parameters
    ----------
    source : Spark DataFrame, path, or list of paths
        A DataFrame, or Parquet/CSV files (a folder or glob is fine: Spark reads it).
        CSV files are read with a header and every column as text, as on the DuckDB path; the
        delimiter (comma, semicolon, tab or bar) is detected from the first line unless
        ``csv_options`` gives ``sep``, and one other than a comma is said in the notes.
    spark : SparkSession, optional
        The session to read files with (default: the active one).
    customer_id, date, amount, extra_columns, date_format, returns, duplicates, data_end
        As for :func:`clvlib.read_transactions` (``amount=None`` for a count-only log; rows
        dated after ``data_end``, default today in UTC, are dropped and noted).
        ``date_format`` is a ``strptime`` format (``"%Y%m%d"``), translated to Spark's pattern.
    file_format : {"parquet", "csv"}, optional
        Default: from the file suffix (``.parquet``/``.pq`` is Parquet, anything else CSV).
    csv_options : dict, optional
        Extra options for ``spark.read.csv`` (``sep``, ...).
    name : str, optional
        How to name a DataFrame source in messages.
    """
    if returns not in RETURNS_POLICIES:
        raise ValueError(f"returns={returns!r}; choose one of {RETURNS_POLICIES}")
    if duplicates not in DUPLICATES_POLICIES:
        raise ValueError(f"duplicates={duplicates!r}; choose one of {DUPLICATES_POLICIES}")
    end, stated = resolve_data_end(data_end)
    raw, label, notes = _read_raw(source, spark, file_format, csv_options or {}, name)
    _require_utc(raw.sparkSession)
    extra = tuple(extra_columns)
    check_columns(label, raw.columns,
                  {"customer_id": customer_id, "date": date, "amount": amount}, extra)
    columns = [
        F.trim(F.col(_q(customer_id)).cast("string")).alias("customer_id"),
        _parsed_date(raw, date, date_format).alias("timestamp"),
    ]
    if amount is not None:
        columns.append(F.expr(f"try_cast({_q(amount)} AS DOUBLE)").alias("amount"))
    columns += [F.col(_q(c)).alias(c) for c in extra]
    columns += [F.col(_q(customer_id)).alias("raw_customer_id"), F.col(_q(date)).alias("raw_date")]
    if amount is not None:
        columns.append(F.col(_q(amount)).alias("raw_amount"))
    log = SparkTransactions(frame=raw.select(*columns), source=label, extra_columns=extra,
                            notes=notes, has_amounts=amount is not None)
    tallies = _check_values(log, customer_id, date, amount, date_format, returns, end)
    if isinstance(raw.schema[date].dataType, spark_types.StringType) and not date_format:
        _note_offsets(log)
    _apply_policies(log, returns, duplicates, amount, tallies, end, stated)
    return log


def _note_offsets(log: SparkTransactions) -> None:
    """Note the UTC offsets of a text date column, as the DuckDB reader does."""
    text = F.trim(F.col("raw_date").cast("string"))
    local = F.to_date(F.try_to_timestamp(F.substring(text, 1, 10), F.lit("yyyy-MM-dd")))
    rows = (log.frame.filter(F.col("timestamp").isNotNull())
            .groupBy(F.regexp_extract(text, OFFSET_PATTERN, 1).alias("offset_text"))
            .agg(F.count(F.lit(1)).alias("n"),
                 F.count(F.when(local != F.to_date("timestamp"), 1)).alias("moved"))
            .collect())
    note = offset_note({r["offset_text"]: r["n"] for r in rows},
                       sum(r["moved"] for r in rows if r["offset_text"]))
    if note:
        log.notes.append(note)


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _read_raw(source, spark, file_format, csv_options, name) -> tuple[DataFrame, str, list]:
    if isinstance(source, DataFrame):
        return source, name or "DataFrame", []
    paths = [str(p) for p in ([source] if isinstance(source, str | Path) else source)]
    spark = spark or SparkSession.getActiveSession()
    if spark is None:
        raise ValueError("no active Spark session: pass spark= (see clvlib.spark.local_session)")
    for path in map(Path, paths):  # local files only: a cluster path is left to Spark
        problem = not_a_table(path) if path.is_file() and path.stat().st_size else None
        if problem:
            raise CLVDataError(problem)
    kind = file_format or (
        "parquet" if Path(paths[0]).suffix.lower() in PARQUET_SUFFIXES else "csv"
    )
    label = ", ".join(paths)
    notes = []
    if kind == "parquet":
        frame = spark.read.parquet(*paths)
    elif kind == "csv":
        options = dict(csv_options)
        if not {"sep", "delimiter"} & set(options):
            options["sep"] = _sniff_delimiter(spark, paths)
            if options["sep"] != ",":
                notes.append(delimiter_note(options["sep"]))
        frame = spark.read.csv(paths, header=True, inferSchema=False, **options)
    else:
        raise ValueError(f"file_format={file_format!r}; choose 'parquet' or 'csv'")
    return frame, label, notes


def _sniff_delimiter(spark: SparkSession, paths: list[str]) -> str:
    """The delimiter of a CSV file's header line: the candidate found most often (ties: comma)."""
    line = spark.read.text(paths).first()
    if line is None:
        return ","
    header = line[0]
    counts = {d: header.count(d) for d in CSV_DELIMITERS}
    best = max(CSV_DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _java_pattern(date_format: str) -> str:
    """A strptime format as a Java DateTimeFormatter pattern (letters in quotes)."""
    out, i = [], 0
    while i < len(date_format):
        if date_format[i] == "%":
            directive = date_format[i:i + 2]
            if directive == "%%":
                out.append("%")
            elif directive in STRPTIME_TO_JAVA:
                out.append(STRPTIME_TO_JAVA[directive])
            else:
                raise ValueError(
                    f"date_format={date_format!r}: {directive!r} has no Spark equivalent here; "
                    f"supported: {', '.join(STRPTIME_TO_JAVA)}"
                )
            i += 2
        else:
            ch = date_format[i]
            out.append(f"'{ch}'" if ch.isalpha() else ("''" if ch == "'" else ch))
            i += 1
    return "".join(out)


def _parsed_date(raw: DataFrame, date: str, date_format: str | None):
    kind = raw.schema[date].dataType
    col = F.col(_q(date))
    if isinstance(kind, DATE_TYPES):
        return col.cast("timestamp")
    text = F.trim(col.cast("string"))
    if date_format:
        return F.try_to_timestamp(text, F.lit(_java_pattern(date_format)))
    return F.try_to_timestamp(text)


def _check_values(log: SparkTransactions, customer_id, date, amount, date_format,
                  returns, data_end: pd.Timestamp) -> dict:
    """Count each kind of bad value in one pass; on a hit, show offending rows.

    The same pass tallies what the policies need: rows, rows dated after ``data_end`` (and the
    latest of their days), and returns among the rest. Returns those tallies.
    """
    c, ts = F.col("customer_id"), F.col("timestamp")
    day = F.to_date("timestamp")
    late = day > F.lit(data_end.date())
    tallies = [F.count(F.lit(1)).alias("rows"), F.count(F.when(late, 1)).alias("future"),
               F.max(F.when(late, day)).alias("latest")]
    if amount is not None:
        tallies.append(F.count(F.when((F.col("amount") < 0) & ~late, 1)).alias("returns"))
    raw_date = F.col("raw_date")
    conditions = {
        "customer_id": c.isNull() | (c == ""),
        "date_missing": raw_date.isNull(),
        "date": raw_date.isNotNull() & ts.isNull(),
    }
    shown = [F.col("raw_customer_id").alias(customer_id), F.col("raw_date").alias(date)]
    if amount is not None:
        a, raw_amount = F.col("amount"), F.col("raw_amount")
        finite = ~F.isnan(a) & (F.abs(a) != F.lit(float("inf")))
        conditions |= {
            "amount_missing": raw_amount.isNull(),
            "amount": raw_amount.isNotNull() & (a.isNull() | ~finite),
            "amount_huge": finite & (F.abs(a) > F.lit(MAX_AMOUNT)),
            "negative": a < 0,
        }
        shown.append(F.col("raw_amount").alias(amount))
    messages = value_check_messages(customer_id, date, amount, date_format, returns)
    checks = {key: (conditions[key], message) for key, message in messages.items()}
    counts = log.frame.agg(
        *[F.count(F.when(cond, 1)).alias(k) for k, (cond, _) in checks.items()], *tallies,
    ).first()
    for key, (cond, message) in checks.items():
        n = counts[key]
        if n:
            rows = log.frame.filter(cond).select(*shown).limit(5).toPandas()
            raise CLVDataError(
                f"{log.source}: {message}: {n:,} row(s); for example (Spark keeps no row "
                f"numbers):\n" + describe_rows(rows)
            )
    found = counts.asDict()
    return {k: found[k] for k in ("rows", "future", "latest", "returns") if k in found}


def _apply_policies(log: SparkTransactions, returns: str, duplicates: str, amount: str | None,
                    tallies: dict, data_end: pd.Timestamp, stated: bool):
    kept = ["customer_id", "timestamp", *(["amount"] if log.has_amounts else []),
            *log.extra_columns]
    frame = log.frame
    future_rows(log, tallies["future"], tallies["rows"], tallies["latest"], data_end, stated)
    if tallies["future"]:
        frame = frame.filter(F.to_date("timestamp") <= F.lit(data_end.date()))
    if returns == "drop" and log.has_amounts:
        frame = frame.filter(F.col("amount") >= 0)
    if log.has_amounts:
        note_returns(log, returns, tallies["returns"], amount)
    else:
        log.notes.append(COUNT_ONLY_NOTE)
    frame = frame.select(*[F.col(_q(c)) for c in kept])
    n_extra = (
        frame.groupBy(*[F.col(_q(c)) for c in kept]).count()
        .agg(F.sum(F.col("count") - 1)).first()[0]
    ) or 0
    if n_extra:

        def examples() -> str:
            rows = (frame.groupBy(*[F.col(_q(c)) for c in kept]).count()
                    .filter(F.col("count") > 1).drop("count").limit(5).toPandas())
            return f"for example:\n{describe_rows(rows)}"

        note_duplicates(log, n_extra, duplicates, examples)
        if duplicates == "drop":
            frame = frame.distinct()
    log.frame = frame


# ---------------------------------------------------------------------------------------------
# Customer summaries
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    frame: DataFrame
    spec: SummarySpec
    obs_end: pd.Timestamp | None
    span: str
    notes: list[str]


def _plan(log: SparkTransactions, time_unit, calibration_end, observation_end, cohort,
          resolution, regularity) -> _Plan:
    unit = TimeUnit.parse(time_unit)
    if cohort not in COHORT_FORMATS:
        raise ValueError(f"cohort={cohort!r}; choose one of {', '.join(COHORT_FORMATS)}")
    resolution = check_resolution(resolution)
    _require_utc(log.spark)
    overview = log.overview()
    notes = list(log.notes)
    cal_end, obs_end, end, span = summary_period(
        log.source, overview["first_date"], overview["last_date"], calibration_end,
        observation_end, notes,
    )
    spec = SummarySpec(cal_end, end, unit, resolution, cohort, obs_end is not None,
                       log.has_amounts, log.extra_columns, regularity)
    sql = f"WITH {per_customer_sql(SPARK, spec)} {summary_select_sql(SPARK, spec)}"
    frame = log.spark.sql(sql, transactions=log.frame)
    return _Plan(frame, spec, obs_end, span, notes)


def summary_frame(
    log: SparkTransactions,
    *,
    time_unit: str | TimeUnit = "week",
    calibration_end: str | pd.Timestamp | None = None,
    observation_end: str | pd.Timestamp | None = None,
    cohort: str = "month",
    resolution: float | None = None,
    regularity: bool = False,
) -> DataFrame:
    """The customer summary as a Spark DataFrame (not collected), for bases too big to collect.

    The columns are those of :func:`clvlib.summarize` with ``customer_id`` as a column; the
    arguments are the same. Feed it to :func:`score`, or write it out.
    """
    return _plan(log, time_unit, calibration_end, observation_end, cohort, resolution,
                 regularity).frame


def summarize(
    log: SparkTransactions,
    *,
    time_unit: str | TimeUnit = "week",
    calibration_end: str | pd.Timestamp | None = None,
    observation_end: str | pd.Timestamp | None = None,
    cohort: str = "month",
    resolution: float | None = None,
    regularity: bool = False,
) -> CustomerSummary:
    """The customer summary computed by Spark and collected: equal to :func:`clvlib.summarize`.

    Same arguments, columns, index (``customer_id``, sorted), dtypes and notes as the DuckDB
    path on the same transactions.
    """
    plan = _plan(log, time_unit, calibration_end, observation_end, cohort, resolution,
                 regularity)
    spec = plan.spec
    customers = plan.frame.orderBy("customer_id").toPandas()
    customers = customers.set_index("customer_id")
    customers.index = customers.index.astype("str")
    customers["first_purchase"] = pd.to_datetime(customers["first_purchase"]).astype(
        "datetime64[us]"
    )
    customers["cohort"] = customers["cohort"].astype("str")
    late = log.spark.sql(f"WITH {per_customer_sql(SPARK, spec)} {late_customers_sql(spec)}",
                         transactions=log.frame).first()[0]
    after = log.frame.filter(F.to_date("timestamp") > F.lit(spec.end.date())).count()
    notes = plan.notes + excluded_notes(late, after, spec.cal_end, spec.end)
    if customers.empty:
        raise CLVDataError(
            f"{log.source}: no customer bought by {spec.cal_end:%Y-%m-%d}; {plan.span}"
        )
    if spec.resolution is not None:
        notes.append(resolution_note(spec.resolution, spec.unit))
    return CustomerSummary(customers, spec.unit, spec.cal_end, plan.obs_end, log.source,
                           tuple(notes), spec.resolution)


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


def _posterior_only(model):
    """A copy of a fitted model that carries its posterior but not its customers (to ship)."""
    light = copy.copy(model)
    light.customers = None
    light.rows = None
    light.summary = None
    posterior = model._require_fit()["posterior"].to_dataset().load()
    light.idata = xr.DataTree.from_dict({"posterior": posterior})
    return light


class _Scorer:
    """Scores one pandas batch of customers with the prediction engine (score_customers)."""

    def __init__(self, purchase_model, spend_model, predictions, horizon, annual_discount_rate,
                 n_draws, seed, interval, customer_id):
        self.purchase = _posterior_only(purchase_model)
        self.spend = None if spend_model is None else _posterior_only(spend_model)
        self.predictions = tuple(predictions)
        self.horizon = float(horizon)
        self.annual_discount_rate = annual_discount_rate
        self.options = {"n_draws": n_draws, "seed": seed, "interval": interval}
        self.customer_id = customer_id

    @property
    def output_columns(self) -> list[str]:
        return [f"{p}_{s}" for p in self.predictions for s in ("mean", "lower", "upper")]

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        frame = batch.set_index(self.customer_id)
        scores = score_customers(self.purchase, self.spend, frame, horizon=self.horizon,
                                 annual_discount_rate=self.annual_discount_rate,
                                 predictions=self.predictions, **self.options)
        out = {self.customer_id: frame.index.to_numpy()}
        for name in self.predictions:
            for stat in ("mean", "lower", "upper"):
                out[f"{name}_{stat}"] = scores[name].per_customer[stat].to_numpy()
        return pd.DataFrame(out)


def score(
    customers: DataFrame,
    purchase_model,
    spend_model=None,
    *,
    horizon: float = 52.0,
    annual_discount_rate: float = 0.10,
    predictions: Sequence[str] | None = None,
    n_draws: int | None = 1000,
    seed: int = 0,
    interval: float = 0.9,
    customer_id: str = "customer_id",
) -> DataFrame:
    """Score a Spark DataFrame of customers with fitted models: the same numbers as locally.

    The models' posteriors are broadcast once; each partition is scored in Arrow batches by
    ``mapInPandas`` calling the prediction engine, :func:`clvlib.scoring.score_customers`, so
    every customer gets what it gives locally with the same ``n_draws``, ``seed`` and
    ``interval`` (predictive draws are seeded by customer id, so they agree too).

    Parameters
    ----------
    customers : pyspark.sql.DataFrame
        One row per customer with ``customer_id`` (or the column named by ``customer_id``),
        ``x``, ``t_x``, ``T``, and ``monetary`` for CLV (e.g. from :func:`summary_frame`).
    purchase_model : PurchaseModel
        A fitted BG/NBD, MBG/NBD or Pareto/NBD model.
    spend_model : GammaGammaModel, optional
        A fitted spend model; needed for ``"clv"``.
    horizon : float
        Horizon of expected purchases and of CLV, in the purchase model's time unit.
    annual_discount_rate : float
        Yearly discount rate of CLV.
    predictions : sequence of str, optional
        Any of :data:`clvlib.scoring.PREDICTIONS` (``"p_alive"``, ``"expected_purchases"``,
        ``"clv"``, ``"purchases_predictive"``, ``"clv_predictive"``). Default: the first three
        with a spend model, the first two without.
    n_draws, seed, interval
        As for the local prediction methods.
    customer_id : str
        The id column, kept in the output.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` and ``<prediction>_mean``, ``_lower``, ``_upper`` for each prediction
        (lazy: nothing runs until it is written or collected).
    """
    if predictions is None:
        predictions = PREDICTIONS[:3] if spend_model is not None else PREDICTIONS[:2]
    unknown = [p for p in predictions if p not in PREDICTIONS]
    if unknown:
        raise ValueError(f"unknown prediction(s) {unknown}; choose from {', '.join(PREDICTIONS)}")
    valued = [p for p in predictions if p.startswith("clv")]
    if valued and spend_model is None:
        raise ValueError(f"predictions include {valued}: pass a fitted spend_model (Gamma-Gamma)")
    needed = [customer_id, "x", "t_x", "T"] + (["monetary"] if valued else [])
    # Covariate and group columns of models whose parameters are indexed by customer.
    for model in (purchase_model, spend_model if valued else None):
        needed += [c for c in getattr(model, "input_columns", []) if c not in needed]
    missing = [c for c in needed if c not in customers.columns]
    if missing:
        raise CLVDataError(
            f"customers: missing column(s) {missing}; it has {customers.columns}"
        )
    scorer = _Scorer(purchase_model, spend_model, predictions, horizon, annual_discount_rate,
                     n_draws, seed, interval, customer_id)
    id_type = customers.schema[customer_id].dataType
    schema = spark_types.StructType(
        [spark_types.StructField(customer_id, id_type)]
        + [spark_types.StructField(c, spark_types.DoubleType()) for c in scorer.output_columns]
    )
    shipped = customers.sparkSession.sparkContext.broadcast(scorer)

    def score_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        run = shipped.value
        for batch in batches:
            if len(batch):
                yield run(batch)

    return customers.select(*[F.col(_q(c)) for c in needed]).mapInPandas(score_batches, schema)
