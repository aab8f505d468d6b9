"""Customer summaries and scoring on Apache Spark, for transaction logs beyond one machine.

The same two arrows as the DuckDB path, run by Spark: a transaction log becomes the customer
summary of :func:`clvlib.summarize` (same columns, same same-day merging, same time-unit
arithmetic and rounding, same holdout, same notes), and a fitted model scores a Spark DataFrame of
customers with the very prediction methods used locally (:meth:`PurchaseModel.p_alive`,
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
    CustomerSummary,
    check_resolution,
    excluded_notes,
    resolution_note,
    summary_params,
    summary_period,
    time_sql,
)
from clvlib.timeunits import TimeUnit
from clvlib.transactions import (
    DUPLICATES_POLICIES,
    RETURNS_POLICIES,
    note_duplicates,
    note_returns,
)

try:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as spark_types
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "clvlib.spark needs pyspark: install the extra with pip install 'clvlib[spark]' "
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

# The cohort labels of clvlib.summary.COHORT_FORMATS, in Spark SQL.
SPARK_COHORT_FORMATS = {
    "month": "date_format(first_day, 'yyyy-MM')",
    "quarter": "concat(CAST(year(first_day) AS STRING), '-Q', CAST(quarter(first_day) AS STRING))",
    "year": "CAST(year(first_day) AS STRING)",
}
assert SPARK_COHORT_FORMATS.keys() == COHORT_FORMATS.keys()

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
        Columns ``customer_id`` (string), ``timestamp``, ``amount`` (double) and any extra
        columns, after the returns and duplicates policies.
    source : str
        The files (or a name for a DataFrame) the log came from.
    extra_columns : tuple of str
    notes : list of str
        What validation found and how the policies handled it, worded as on the DuckDB path.
    """

    frame: DataFrame
    source: str
    extra_columns: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def spark(self) -> SparkSession:
        return self.frame.sparkSession

    def overview(self) -> dict:
        """Rows, customers, first and last date and total amount, as ``TransactionLog.overview``."""
        row = self.frame.agg(
            F.count(F.lit(1)), F.countDistinct("customer_id"), F.min(F.to_date("timestamp")),
            F.max(F.to_date("timestamp")), F.sum("amount"),
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
    amount: str = "amount",
    extra_columns: Sequence[str] = (),
    date_format: str | None = None,
    returns: str = "error",
    duplicates: str = "keep",
    file_format: str | None = None,
    csv_options: dict | None = None,
    name: str | None = None,
) -> SparkTransactions:
    """Read and validate a transaction log with Spark, by the rules of clvlib.read_transactions.

    Parameters
    ----------
    source : Spark DataFrame, path, or list of paths
        A DataFrame, or Parquet/CSV files (a folder or glob is fine: Spark reads it).
        CSV files are read with a header and every column as text, as on the DuckDB path.
    spark : SparkSession, optional
        The session to read files with (default: the active one).
    customer_id, date, amount, extra_columns, date_format, returns, duplicates
        As for :func:`clvlib.read_transactions`. ``date_format`` is a ``strptime`` format
        (``"%Y%m%d"``), translated to Spark's pattern.
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
    raw, label = _read_raw(source, spark, file_format, csv_options or {}, name)
    _require_utc(raw.sparkSession)
    extra = tuple(extra_columns)
    present = raw.columns
    required = {"customer_id": customer_id, "date": date, "amount": amount}
    missing = [f"{col!r} (the {role} column)" for role, col in required.items()
               if col not in present]
    missing += [f"{col!r} (an extra column)" for col in extra if col not in present]
    if missing:
        raise CLVDataError(
            f"{label}: missing column(s) {', '.join(missing)}; the file has columns: "
            f"{', '.join(map(repr, present))}. Map yours with customer_id=, date=, amount=."
        )
    typed = raw.select(
        F.trim(F.col(_q(customer_id)).cast("string")).alias("customer_id"),
        _parsed_date(raw, date, date_format).alias("timestamp"),
        F.expr(f"try_cast({_q(amount)} AS DOUBLE)").alias("amount"),
        *[F.col(_q(c)).alias(c) for c in extra],
        F.col(_q(customer_id)).alias("raw_customer_id"),
        F.col(_q(date)).alias("raw_date"),
        F.col(_q(amount)).alias("raw_amount"),
    )
    log = SparkTransactions(frame=typed, source=label, extra_columns=extra)
    n_returns = _check_values(log, customer_id, date, amount, date_format, returns)
    _apply_policies(log, returns, duplicates, amount, n_returns)
    return log


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _read_raw(source, spark, file_format, csv_options, name) -> tuple[DataFrame, str]:
    if isinstance(source, DataFrame):
        return source, name or "DataFrame"
    paths = [str(p) for p in ([source] if isinstance(source, str | Path) else source)]
    spark = spark or SparkSession.getActiveSession()
    if spark is None:
        raise ValueError("no active Spark session: pass spark= (see clvlib.spark.local_session)")
    kind = file_format or (
        "parquet" if Path(paths[0]).suffix.lower() in {".parquet", ".pq"} else "csv"
    )
    label = ", ".join(paths)
    if kind == "parquet":
        frame = spark.read.parquet(*paths)
    elif kind == "csv":
        frame = spark.read.csv(paths, header=True, inferSchema=False, **csv_options)
    else:
        raise ValueError(f"file_format={file_format!r}; choose 'parquet' or 'csv'")
    return frame, label


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
                  returns) -> int:
    """Count each kind of bad value (and returns) in one pass; on a hit, show offending rows."""
    c, ts, a = F.col("customer_id"), F.col("timestamp"), F.col("amount")
    raw_date, raw_amount = F.col("raw_date"), F.col("raw_amount")
    checks = {
        "customer_id": (c.isNull() | (c == ""), f"column {customer_id!r}: missing customer ids"),
        "date_missing": (raw_date.isNull(), f"column {date!r}: missing dates"),
        "date": (
            raw_date.isNotNull() & ts.isNull(),
            f"column {date!r}: dates that cannot be parsed"
            + (f" with format {date_format!r}" if date_format else " (expected ISO 8601, "
               "e.g. 2024-01-31, or pass date_format=)"),
        ),
        "amount_missing": (raw_amount.isNull(), f"column {amount!r}: missing amounts"),
        "amount": (
            raw_amount.isNotNull()
            & (a.isNull() | F.isnan(a) | (F.abs(a) == F.lit(float("inf")))),
            f"column {amount!r}: amounts that are not finite numbers",
        ),
    }
    if returns == "error":
        checks["negative"] = (
            a < 0,
            f"column {amount!r}: negative amounts (returns). Pass returns='drop' to remove them "
            "or returns='net' to net them against the same day's purchases",
        )
    counts = log.frame.agg(
        *[F.count(F.when(cond, 1)).alias(k) for k, (cond, _) in checks.items()],
        F.count(F.when(a < 0, 1)).alias("returns"),
    ).first()
    for key, (cond, message) in checks.items():
        n = counts[key]
        if n:
            rows = (
                log.frame.filter(cond)
                .select(F.col("raw_customer_id").alias(customer_id),
                        F.col("raw_date").alias(date), F.col("raw_amount").alias(amount))
                .limit(5).toPandas()
            )
            raise CLVDataError(
                f"{log.source}: {message}: {n:,} row(s); for example (Spark keeps no row "
                f"numbers):\n" + describe_rows(rows)
            )
    return counts["returns"]


def _apply_policies(log: SparkTransactions, returns: str, duplicates: str, amount: str,
                    n_returns: int):
    kept = ["customer_id", "timestamp", "amount", *log.extra_columns]
    frame = log.frame
    if returns == "drop":
        frame = frame.filter(F.col("amount") >= 0)
    note_returns(log, returns, n_returns, amount)
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


def _spark_summary_sql(extra_columns: tuple[str, ...], cohort: str, with_holdout: bool,
                       rounded: bool) -> str:
    """clvlib.summary._summary_sql in Spark SQL: keep the two in step (tests/test_spark.py)."""

    def units(days: str) -> str:  # the shared arithmetic, with Spark's parameter markers
        return time_sql(days, rounded).replace("$", ":")

    extras_first = "".join(f", min_by({_q(c)}, `timestamp`) AS {_q(c)}" for c in extra_columns)
    extras_select = "".join(f", f.{_q(c)}" for c in extra_columns)
    holdout_cte = """,
        hold AS (
            SELECT customer_id, count(*) AS x_holdout, sum(spend) AS spend_holdout,
                   max(day) AS last_day
            FROM days WHERE day > :cal_end GROUP BY customer_id
        )""" if with_holdout else ""
    full_recency = units("coalesce(datediff(h.last_day, f.first_day), c.recency_days)")
    holdout_select = (
        ", coalesce(h.x_holdout, 0) AS x_holdout, coalesce(h.spend_holdout, 0.0) AS spend_holdout"
        f", {full_recency} AS t_x_full"
        if with_holdout else ""
    )
    holdout_join = "LEFT JOIN hold h USING (customer_id)" if with_holdout else ""
    cohort_sql = SPARK_COHORT_FORMATS[cohort].replace("first_day", "f.first_day")
    return f"""
        WITH tx AS (
            SELECT *, to_date(`timestamp`) AS day FROM {{transactions}}
        ),
        days AS (
            SELECT customer_id, day, sum(amount) AS spend
            FROM tx
            WHERE day <= :end
            GROUP BY customer_id, day
            HAVING bool_or(amount >= 0)
        ),
        firsts AS (
            SELECT customer_id, min(day) AS first_day{extras_first}
            FROM tx WHERE day <= :end AND amount >= 0
            GROUP BY customer_id
        ),
        cal AS (
            SELECT d.customer_id,
                   count(*) - 1 AS x,
                   datediff(max(d.day), min(d.day)) AS recency_days,
                   sum(d.spend) FILTER (WHERE d.day > f.first_day) AS repeat_spend
            FROM days d JOIN firsts f ON d.customer_id = f.customer_id
            WHERE d.day <= :cal_end
            GROUP BY d.customer_id
        ){holdout_cte}
        SELECT c.customer_id,
               CAST(c.x AS BIGINT) AS x,
               {units("c.recency_days")} AS t_x,
               {units("datediff(:cal_end, f.first_day)")} AS T,
               c.repeat_spend / nullif(c.x, 0) AS monetary,
               f.first_day AS first_purchase,
               {cohort_sql} AS cohort
               {holdout_select}{extras_select}
        FROM cal c JOIN firsts f USING (customer_id) {holdout_join}
    """


@dataclass(frozen=True)
class _Plan:
    frame: DataFrame
    unit: TimeUnit
    cal_end: pd.Timestamp
    obs_end: pd.Timestamp | None
    end: pd.Timestamp
    span: str
    params: dict
    notes: list[str]
    resolution: float | None


def _plan(log: SparkTransactions, time_unit, calibration_end, observation_end, cohort,
          resolution) -> _Plan:
    unit = TimeUnit.parse(time_unit)
    if cohort not in SPARK_COHORT_FORMATS:
        raise ValueError(f"cohort={cohort!r}; choose one of {', '.join(SPARK_COHORT_FORMATS)}")
    resolution = check_resolution(resolution)
    _require_utc(log.spark)
    overview = log.overview()
    notes = list(log.notes)
    cal_end, obs_end, end, span = summary_period(
        log.source, overview["first_date"], overview["last_date"], calibration_end,
        observation_end, notes,
    )
    params = summary_params(unit, cal_end, end, resolution)
    sql = _spark_summary_sql(log.extra_columns, cohort, obs_end is not None,
                             resolution is not None)
    frame = log.spark.sql(sql, args=params, transactions=log.frame)
    return _Plan(frame, unit, cal_end, obs_end, end, span, params, notes, resolution)


def summary_frame(
    log: SparkTransactions,
    *,
    time_unit: str | TimeUnit = "week",
    calibration_end: str | pd.Timestamp | None = None,
    observation_end: str | pd.Timestamp | None = None,
    cohort: str = "month",
    resolution: float | None = None,
) -> DataFrame:
    """The customer summary as a Spark DataFrame (not collected), for bases too big to collect.

    The columns are those of :func:`clvlib.summarize` with ``customer_id`` as a column; the
    arguments are the same. Feed it to :func:`score`, or write it out.
    """
    return _plan(log, time_unit, calibration_end, observation_end, cohort, resolution).frame


def summarize(
    log: SparkTransactions,
    *,
    time_unit: str | TimeUnit = "week",
    calibration_end: str | pd.Timestamp | None = None,
    observation_end: str | pd.Timestamp | None = None,
    cohort: str = "month",
    resolution: float | None = None,
) -> CustomerSummary:
    """The customer summary computed by Spark and collected: equal to :func:`clvlib.summarize`.

    Same arguments, columns, index (``customer_id``, sorted), dtypes and notes as the DuckDB
    path on the same transactions.
    """
    plan = _plan(log, time_unit, calibration_end, observation_end, cohort, resolution)
    customers = plan.frame.orderBy("customer_id").toPandas()
    customers = customers.set_index("customer_id")
    customers.index = customers.index.astype("str")
    customers["first_purchase"] = pd.to_datetime(customers["first_purchase"]).astype(
        "datetime64[us]"
    )
    customers["cohort"] = customers["cohort"].astype("str")
    counts = (
        log.frame.withColumn("day", F.to_date("timestamp"))
        .groupBy("customer_id")
        .agg(F.min(F.when(F.col("amount") >= 0, F.col("day"))).alias("first_day"),
             F.count(F.when(F.col("day") > F.lit(plan.end.date()), 1)).alias("n_after"))
        .agg(F.count(F.when(F.col("first_day") > F.lit(plan.cal_end.date()), 1)),
             F.sum("n_after"))
        .first()
    )
    notes = plan.notes + excluded_notes(counts[0], counts[1] or 0, plan.cal_end, plan.end)
    if customers.empty:
        raise CLVDataError(
            f"{log.source}: no customer bought by {plan.cal_end:%Y-%m-%d}; {plan.span}"
        )
    if plan.resolution is not None:
        notes.append(resolution_note(plan.resolution, plan.unit))
    return CustomerSummary(customers, plan.unit, plan.cal_end, plan.obs_end, log.source,
                           tuple(notes), plan.resolution)


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
