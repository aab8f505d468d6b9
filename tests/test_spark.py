"""The Spark path (clvlib.spark) against the local one, in Spark's local mode.

Source: issue 4 section 3 ("the same customer summary computed by Spark ... giving results
identical to the DuckDB path on the same input; scoring a fitted model over a Spark DataFrame of
customers ... identical to local scoring"). The reference is always the local computation on the
same input: clvlib.summarize (DuckDB) and the models' own prediction methods.

Counts, times, dates, cohorts, ids and notes must be equal bit for bit. Money columns (monetary,
spend_holdout) are sums of floating-point amounts that the two engines add in different orders,
so they agree to 1e-12 relative (a few units in the last place), as the DuckDB path does with an
independent pandas computation in test_summary.py. One SparkSession serves the whole module.
"""

from __future__ import annotations

import os
import shutil
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
from helpers import CALIBRATION_END, FH_GAMMA_GAMMA, FHL_BG_NBD, OBSERVATION_END, cdnow_summary
from malformed import CORPUS, case_params, read_arguments, run_case

import clvlib
from clvlib.scoring import PREDICTIONS, score_customers

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[spark]'")
if shutil.which("java") is None:
    # `make test` installs Java (make test-deps), so CI never skips these; elsewhere say why.
    message = ("Spark needs Java 17 or newer on the PATH: `make test-deps` installs it "
               "(apt-get install openjdk-17-jre-headless)")
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)

from clvlib import spark as clvspark  # noqa: E402

# Floating sums, which the engines may add in different orders.
MONEY = ("monetary", "spend_holdout", "litt", "litt_full")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def spark():
    session = clvspark.local_session(cores=2, app_name="clvlib-tests",
                                     **{"spark.sql.shuffle.partitions": "2"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def duck_log(source, **kwargs) -> clvlib.TransactionLog:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the CDNOW files hold exact duplicates
        return clvlib.read_transactions(source, **kwargs)


def spark_log(source, spark, **kwargs) -> clvspark.SparkTransactions:
    if isinstance(source, pd.DataFrame):
        source = spark.createDataFrame(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return clvspark.read_transactions(source, spark=spark, **kwargs)


def assert_same_summary(ours: clvlib.CustomerSummary, reference: clvlib.CustomerSummary):
    a, b = ours.customers, reference.customers
    assert list(a.columns) == list(b.columns)
    assert a.index.equals(b.index) and a.index.name == b.index.name
    assert dict(a.dtypes) == dict(b.dtypes)
    exact = [c for c in b.columns if c not in MONEY]
    pd.testing.assert_frame_equal(a[exact], b[exact], check_exact=True)
    for column in (c for c in MONEY if c in b.columns):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-12, atol=0, equal_nan=True,
                                   err_msg=column)
        assert (a[column].isna() == b[column].isna()).all()
    assert ours.notes == reference.notes
    assert (ours.time_unit, ours.calibration_end, ours.observation_end, ours.resolution) == (
        reference.time_unit, reference.calibration_end, reference.observation_end,
        reference.resolution)


# --------------------------------------------------------------------------------------------
# Summaries: Spark SQL equals DuckDB
# --------------------------------------------------------------------------------------------


def test_cdnow_master_summary_equals_duckdb(spark):
    """The FHL summary with holdout of the 23,570 CDNOW customers, from the same DataFrame."""
    raw = clvlib.load_dataset("cdnow_master")
    ours = clvspark.summarize(spark_log(raw, spark), calibration_end=CALIBRATION_END,
                              observation_end=OBSERVATION_END)
    assert_same_summary(ours, cdnow_summary("cdnow_master"))
    assert len(ours.customers) == 23_570


@pytest.mark.parametrize(
    ("options"),
    [
        {"time_unit": "day", "cohort": "quarter", "calibration_end": None},
        {"time_unit": "month", "cohort": "year", "resolution": 1,
         "observation_end": OBSERVATION_END, "regularity": True},
    ],
    ids=["days-quarter-default-end", "months-rounded-year-holdout"],
)
def test_units_cohorts_resolution_and_no_holdout(spark, options):
    options = {"calibration_end": CALIBRATION_END, **options}
    raw = clvlib.load_dataset("cdnow_sample")
    ours = clvspark.summarize(spark_log(raw, spark), **options)
    reference = clvlib.summarize(duck_log("cdnow_sample"), **options)
    assert_same_summary(ours, reference)


@pytest.fixture(scope="module")
def cdnow_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cdnow_files")
    raw = clvlib.load_dataset("cdnow_sample")[["customer_id", "date", "amount"]]
    raw.to_parquet(folder / "log.parquet", index=False)
    text = raw.assign(date=raw["date"].dt.strftime("%Y%m%d"))
    text.to_csv(folder / "log.csv", index=False)
    return folder


@pytest.mark.parametrize(("file", "options"),
                         [("log.parquet", {}), ("log.csv", {"date_format": "%Y%m%d"})])
def test_files_read_by_both_engines_give_equal_summaries(spark, cdnow_files, file, options):
    path = cdnow_files / file
    ours = clvspark.summarize(spark_log(str(path), spark, **options),
                              calibration_end=CALIBRATION_END, observation_end=OBSERVATION_END)
    reference = clvlib.summarize(duck_log(path, **options), calibration_end=CALIBRATION_END,
                                 observation_end=OBSERVATION_END)
    assert ours.source == reference.source == str(path)
    assert_same_summary(ours, reference)
    assert len(ours.customers) == 2357


@pytest.fixture(scope="module")
def tricky_log() -> pd.DataFrame:
    """Same-day rows with times, a return that nets a day, a day of only returns, a late
    first purchase after an early return, a covariate, and rows after the holdout."""
    rows = [
        ("a", "2020-01-01 09:00:00", 10.0, "web"),
        ("a", "2020-01-01 17:30:00", 5.0, "web"),    # same day: merged, spend 15
        ("a", "2020-01-03 08:00:00", 20.0, "shop"),
        ("a", "2020-01-03 10:00:00", -5.0, "shop"),  # a return netted on its day: spend 15
        ("a", "2020-01-07 12:00:00", -8.0, "shop"),  # only a return: not a purchase
        ("a", "2020-01-12 12:00:00", 7.5, "web"),    # holdout
        ("b", "2020-01-02 00:00:00", 3.0, "shop"),
        ("b", "2020-01-09 23:59:59", 4.0, "web"),
        ("c", "2020-01-04 08:00:00", -2.0, "web"),   # early return, first purchase later
        ("c", "2020-01-11 08:00:00", 9.0, "web"),
        ("d", "2020-01-05 12:00:00", 1.0, "shop"),
        ("d", "2020-01-20 12:00:00", 1.0, "shop"),   # after observation_end: ignored
    ]
    frame = pd.DataFrame(rows, columns=["client", "when", "value", "channel"])
    frame["when"] = pd.to_datetime(frame["when"])
    return frame


@pytest.mark.parametrize(("returns", "resolution"), [("net", None), ("drop", 0.5)])
def test_tricky_log_equals_duckdb(spark, tricky_log, returns, resolution):
    read = dict(customer_id="client", date="when", amount="value", extra_columns=["channel"],
                returns=returns)
    period = dict(calibration_end="2020-01-10", observation_end="2020-01-15",
                  time_unit="week", resolution=resolution)
    ours = clvspark.summarize(spark_log(tricky_log, spark, **read), **period)
    reference = clvlib.summarize(duck_log(tricky_log, **read), **period)
    assert_same_summary(ours, reference)
    assert list(ours.customers.index) == ["a", "b", "d"]
    assert ours.customers.loc["a", "channel"] == "web"
    if returns == "net":
        assert ours.customers.loc["a", "x"] == 1 and ours.customers.loc["a", "monetary"] == 15.0


def test_summary_frame_stays_in_spark_and_matches(spark):
    log = spark_log(clvlib.load_dataset("cdnow_sample"), spark)
    frame = clvspark.summary_frame(log, calibration_end=CALIBRATION_END,
                                   observation_end=OBSERVATION_END)
    from pyspark.sql import DataFrame

    assert isinstance(frame, DataFrame)
    reference = cdnow_summary("cdnow_sample").customers
    assert frame.columns == ["customer_id", *reference.columns]
    assert frame.count() == len(reference)


def test_mean_repeat_spend_is_the_mean_of_the_repeat_days(spark):
    """Mean repeat spend is the spend of the repeat days over x, in both engines: a first day
    of 1e14 next to repeat days of 0.01 and 0.02 gives (0.01 + 0.02) / 2 exactly, where total
    minus first-day spend ((1e14 + 0.01 + 0.02) - 1e14) / 2 gives 0.015625."""
    frame = pd.DataFrame({"customer_id": ["a", "a", "a", "a", "b"],
                          "date": ["2020-01-01", "2020-01-01", "2020-01-03", "2020-01-05",
                                   "2020-01-02"],
                          "amount": [6e13, 4e13, 0.01, 0.02, 3.0]})
    period = dict(calibration_end="2020-01-05", time_unit="day")
    reference = clvlib.summarize(duck_log(frame), **period)
    ours = clvspark.summarize(spark_log(frame, spark), **period)
    assert_same_summary(ours, reference)
    for summary in (ours, reference):
        assert summary.customers.loc["a", "monetary"] == (0.01 + 0.02) / 2
        assert summary.customers.loc["a", "x"] == 2
        assert np.isnan(summary.customers.loc["b", "monetary"])


@pytest.mark.parametrize("case", case_params(spark_only=True))
def test_malformed_corpus_in_spark(spark, case):
    """Each rule of the malformed-file corpus (tests/data/malformed) holds in Spark, with the
    same words, and where a summary comes out it equals the DuckDB one (notes included)."""

    def read(path, **kwargs):
        return clvspark.read_transactions(str(path), spark=spark, **kwargs)

    run_case(case, read, clvspark.summarize)
    if "error" not in case:
        options = case.get("summarize") or {}
        path = CORPUS / case["file"]
        ours = clvspark.summarize(spark_log(str(path), spark, **read_arguments(case)), **options)
        reference = clvlib.summarize(duck_log(path, **read_arguments(case)), **options)
        assert_same_summary(ours, reference)


# --------------------------------------------------------------------------------------------
# Validation: the same refusals as read_transactions
# --------------------------------------------------------------------------------------------


def small(**changes) -> pd.DataFrame:
    frame = pd.DataFrame({"customer_id": ["a", "a", "b"],
                          "date": ["2020-01-01", "2020-01-05", "2020-01-02"],
                          "amount": ["1.5", "2.0", "3.0"]})
    for column, (row, value) in changes.items():
        frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize(
    ("frame", "options", "match"),
    [
        (small().drop(columns="amount"), {}, r"missing column\(s\) 'amount' \(the amount column\)"),
        (small(date=(1, "2020-13-45")), {}, "column 'date': dates that cannot be parsed"),
        (small(amount=(2, "-3.0")), {}, "column 'amount': negative amounts"),
        (small(amount=(0, "abc")), {}, "column 'amount': amounts that are not finite numbers"),
        (small(customer_id=(0, "  ")), {}, "column 'customer_id': missing customer ids"),
        (small(date=(0, "01/01/2020")), {"date_format": "%Y-%m-%d"},
         "dates that cannot be parsed with format '%Y-%m-%d'"),
    ],
    ids=["missing-column", "bad-date", "negative", "not-a-number", "blank-id", "format"],
)
def test_bad_input_is_refused_like_duckdb(spark, frame, options, match):
    with pytest.raises(clvlib.CLVDataError, match=match):
        clvlib.read_transactions(frame, **options)
    with pytest.raises(clvlib.CLVDataError, match=match):
        clvspark.read_transactions(spark.createDataFrame(frame), **options)


def test_duplicates_policies(spark):
    frame = pd.concat([small(), small().iloc[[0]]], ignore_index=True)
    with pytest.raises(clvlib.CLVDataError, match="1 duplicate row"):
        clvspark.read_transactions(spark.createDataFrame(frame), duplicates="error")
    with pytest.warns(UserWarning, match="1 duplicate row"):
        kept = clvspark.read_transactions(spark.createDataFrame(frame))
    assert kept.frame.count() == 4
    with pytest.warns(UserWarning):
        dropped = clvspark.read_transactions(spark.createDataFrame(frame), duplicates="drop")
    assert dropped.frame.count() == 3
    assert dropped.notes == duck_log(frame, duplicates="drop").notes


def test_session_time_zone_must_be_utc(spark):
    spark.conf.set("spark.sql.session.timeZone", "Europe/Paris")
    try:
        with pytest.raises(ValueError, match="time zone"):
            clvspark.read_transactions(spark.createDataFrame(small()))
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_date_formats_translate_to_spark_patterns():
    assert clvspark._java_pattern("%Y%m%d") == "yyyyMMdd"
    assert clvspark._java_pattern("%d/%m/%Y %H:%M") == "dd/MM/yyyy HH:mm"
    assert clvspark._java_pattern("%Y-%m-%dT%H:%M:%S") == "yyyy-MM-dd'T'HH:mm:ss"
    with pytest.raises(ValueError, match="no Spark equivalent"):
        clvspark._java_pattern("%U")


# --------------------------------------------------------------------------------------------
# Scoring: mapInPandas over a Spark DataFrame equals local scoring
# --------------------------------------------------------------------------------------------


def with_posterior(model, centre: dict, seed: int, n_chains: int = 2, n_draws: int = 300):
    """Attach a cheap stand-in posterior: log-normal draws around published estimates."""
    rng = np.random.default_rng(seed)
    posterior = {k: v * np.exp(0.05 * rng.standard_normal((n_chains, n_draws)))
                 for k, v in centre.items()}
    model.idata = az.from_dict({"posterior": posterior})
    return model


@pytest.fixture(scope="module")
def fitted():
    summary = cdnow_summary("cdnow_sample")
    purchases = with_posterior(clvlib.BetaGeoModel(summary), FHL_BG_NBD, seed=1)
    spend = with_posterior(clvlib.GammaGammaModel(summary), FH_GAMMA_GAMMA, seed=2)
    return summary, purchases, spend


def test_spark_scoring_equals_local_scoring(spark, fitted):
    summary, purchases, spend = fitted
    customers = spark.createDataFrame(summary.customers.reset_index()).repartition(3)
    options = dict(n_draws=200, seed=5, interval=0.8)
    predictions = list(PREDICTIONS)  # expected and predictive (seeded by customer id)
    scores = clvspark.score(customers, purchases, spend, horizon=39, predictions=predictions,
                            **options).toPandas()
    scores = scores.set_index("customer_id").sort_index()
    assert list(scores.index) == list(summary.customers.index)
    local = {
        "p_alive": purchases.p_alive(summary, **options),
        "expected_purchases": purchases.expected_purchases(39, summary, **options),
        "clv": clvlib.customer_lifetime_value(purchases, spend, summary, horizon=39, **options),
        "purchases_predictive": purchases.predicted_purchases(39, summary, **options),
        "clv_predictive": clvlib.customer_lifetime_value(purchases, spend, summary, horizon=39,
                                                         predictive=True, **options),
    }
    for name, prediction in local.items():
        for stat in ("mean", "lower", "upper"):
            np.testing.assert_array_equal(
                scores[f"{name}_{stat}"].to_numpy(),
                prediction.per_customer[stat].to_numpy(), err_msg=f"{name}_{stat}",
            )


def test_spark_scoring_uses_each_customers_covariates(spark):
    """Spark scoring ships the covariate columns and equals local scoring, column by column
    (tests/test_covariates.py's customers and stand-in posterior; here for this file's session)."""
    from test_covariates import covariate_model, fake_covariate_fit, simulated_base

    base = simulated_base().iloc[:300]
    model = fake_covariate_fit(covariate_model(base))
    scores = clvspark.score(spark.createDataFrame(base.reset_index()).repartition(2), model,
                            horizon=13, predictions=["p_alive", "expected_purchases"],
                            n_draws=50, seed=2).toPandas()
    scores = scores.set_index("customer_id").sort_index()
    local = score_customers(model, horizon=13, n_draws=50, seed=2)
    for name in ("p_alive", "expected_purchases"):
        np.testing.assert_array_equal(scores[f"{name}_mean"].to_numpy(),
                                      local[name].per_customer["mean"].to_numpy())


def test_spark_scoring_of_the_spark_summary_in_small_batches(spark, fitted):
    """Summary and scoring both in Spark, Arrow batches of 100 customers: still local numbers."""
    summary, purchases, _ = fitted
    log = spark_log(clvlib.load_dataset("cdnow_sample"), spark)
    frame = clvspark.summary_frame(log, calibration_end=CALIBRATION_END,
                                   observation_end=OBSERVATION_END)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "100")
    try:
        scores = clvspark.score(frame, purchases, horizon=52, n_draws=None).toPandas()
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert list(scores.columns) == ["customer_id"] + [
        f"{p}_{s}" for p in ("p_alive", "expected_purchases") for s in ("mean", "lower", "upper")]
    scores = scores.set_index("customer_id").sort_index()
    local = purchases.expected_purchases(52, summary, n_draws=None).per_customer
    np.testing.assert_array_equal(scores["expected_purchases_mean"], local["mean"])
    np.testing.assert_array_equal(scores["expected_purchases_upper"], local["upper"])


def test_score_refuses_what_it_cannot_do(spark, fitted):
    summary, purchases, _ = fitted
    customers = spark.createDataFrame(summary.customers.reset_index())
    with pytest.raises(ValueError, match="spend_model"):
        clvspark.score(customers, purchases, predictions=["clv"])
    with pytest.raises(ValueError, match="unknown prediction"):
        clvspark.score(customers, purchases, predictions=["p_dead"])
    with pytest.raises(clvlib.CLVDataError, match="missing column"):
        clvspark.score(customers.drop("t_x"), purchases)
