"""summarize, CustomerSummary and check_summary.

Published numbers: issue 2 section 3 and DESIGN.md sections 4-5 (Fader, Hardie & Lee 2005
conventions on the CDNOW sample: weeks, calibration 1997-01-01..1997-09-30, holdout to
1998-06-30, same-day purchases merged, x counts repeat purchases). The independent check is
a plain-pandas summary written below from those conventions, not from clvlib's SQL.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import CALIBRATION_END, OBSERVATION_END, cdnow_summary

import clvlib
from clvlib import (
    CLVDataError,
    CustomerSummary,
    TimeUnit,
    check_summary,
    read_transactions,
    summarize,
)

# --------------------------------------------------------------------------------------------
# An independent summary in pandas
# --------------------------------------------------------------------------------------------


def pandas_summary(log: pd.DataFrame, calibration_end: str, observation_end: str | None,
                   unit_days: float) -> pd.DataFrame:
    """FHL (2005) summary from a raw log with columns customer_id, date, amount.

    Same-day rows are merged into one purchase (spend summed); x = distinct calibration days - 1;
    t_x = (last - first calibration day) / unit; T = (calibration_end - first day) / unit;
    monetary = mean day-level spend of the repeat days (NaN without one); holdout repeat days
    and their spend in (calibration_end, observation_end].
    """
    cal_end = pd.Timestamp(calibration_end)
    days = (
        log.assign(day=log["date"].dt.normalize())
        .groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    )
    first = days.groupby("customer_id")["day"].min().rename("first_day")
    days = days.join(first, on="customer_id")
    days = days[days["first_day"] <= cal_end]
    cal = days[days["day"] <= cal_end]
    grouped = cal.groupby("customer_id")
    out = pd.DataFrame({
        "x": grouped.size() - 1,
        "recency_days": (grouped["day"].max() - grouped["first_day"].min()).dt.days,
        "age_days": (cal_end - grouped["first_day"].min()).dt.days,
    })
    repeat = cal[cal["day"] > cal["first_day"]]
    out["monetary"] = repeat.groupby("customer_id")["amount"].mean()
    out["t_x"] = out["recency_days"] / unit_days
    out["T"] = out["age_days"] / unit_days
    out["first_purchase"] = grouped["first_day"].min()
    if observation_end is not None:
        hold = days[(days["day"] > cal_end) & (days["day"] <= pd.Timestamp(observation_end))]
        held = hold.groupby("customer_id")["amount"]
        out["x_holdout"] = held.size().reindex(out.index, fill_value=0)
        out["spend_holdout"] = held.sum().reindex(out.index, fill_value=0.0)
        last = hold.groupby("customer_id")["day"].max().reindex(out.index)
        full_days = (last - out["first_purchase"]).dt.days.fillna(out["recency_days"])
        out["t_x_full"] = full_days / unit_days
    return out.drop(columns=["recency_days", "age_days"]).sort_index()


def assert_matches_pandas(summary: CustomerSummary, reference: pd.DataFrame) -> None:
    ours = summary.customers
    assert list(ours.index) == list(reference.index)
    np.testing.assert_array_equal(ours["x"].to_numpy(), reference["x"].to_numpy())
    for col in ("t_x", "T", "monetary"):
        np.testing.assert_allclose(ours[col].to_numpy(), reference[col].to_numpy(),
                                   rtol=1e-12, atol=0, equal_nan=True, err_msg=col)
    np.testing.assert_array_equal(
        ours["first_purchase"].to_numpy(dtype="datetime64[ns]"),
        reference["first_purchase"].to_numpy(dtype="datetime64[ns]"),
    )
    if "x_holdout" in reference:
        np.testing.assert_array_equal(ours["x_holdout"].to_numpy(),
                                      reference["x_holdout"].to_numpy())
        np.testing.assert_allclose(ours["spend_holdout"].to_numpy(),
                                   reference["spend_holdout"].to_numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ours["t_x_full"].to_numpy(), reference["t_x_full"].to_numpy(),
                                   rtol=1e-12, atol=0, err_msg="t_x_full")


# --------------------------------------------------------------------------------------------
# CDNOW: published counts and the independent computation
# --------------------------------------------------------------------------------------------


def test_cdnow_sample_published_counts():
    """Issue 2 section 3: 2,357 customers, 2,457 calibration and 1,882 holdout repeat purchases."""
    summary = cdnow_summary("cdnow_sample")
    c = summary.customers
    assert len(c) == 2_357
    assert int(c["x"].sum()) == 2_457
    assert int(c["x_holdout"].sum()) == 1_882
    assert summary.holdout_length == pytest.approx(39.0)
    assert summary.time_unit == TimeUnit("week", 7.0)


def test_cdnow_sample_customer_00004():
    """FHL (2005) worked example: x=2, t_x=30.43, T=38.86 (exactly 213/7 and 272/7 weeks)."""
    row = cdnow_summary("cdnow_sample").customers.loc["00004"]
    assert row["x"] == 2
    assert round(row["t_x"], 4) == 30.4286 and round(row["t_x"], 2) == 30.43
    assert round(row["T"], 4) == 38.8571 and round(row["T"], 2) == 38.86
    assert row["t_x"] == 213 / 7 and row["T"] == 272 / 7


@pytest.mark.parametrize("name", ["cdnow_sample", "cdnow_master"])
def test_summary_equals_independent_pandas(name):
    """The whole table equals a plain-pandas computation of the FHL conventions, to 1e-12."""
    summary = cdnow_summary(name)
    raw = clvlib.load_dataset(name)
    reference = pandas_summary(raw, CALIBRATION_END, OBSERVATION_END, 7.0)
    assert_matches_pandas(summary, reference)


def test_cdnow_master_counts():
    """CDNOW master: all 23,570 customers first bought in Q1 1997, so all are summarized."""
    c = cdnow_summary("cdnow_master").customers
    assert len(c) == 23_570
    assert c["first_purchase"].max() <= pd.Timestamp("1997-03-31")
    assert set(c["cohort"]) == {"1997-01", "1997-02", "1997-03"}


def test_cohort_labels():
    """cohort='quarter' and 'year' label the first purchase; unknown cohorts are refused."""
    log = quiet_log("cdnow_sample")
    by_quarter = summarize(log, calibration_end=CALIBRATION_END, cohort="quarter").customers
    assert set(by_quarter["cohort"]) == {"1997-Q1"}
    by_year = summarize(log, calibration_end=CALIBRATION_END, cohort="year").customers
    assert set(by_year["cohort"]) == {"1997"}
    with pytest.raises(ValueError, match="cohort="):
        summarize(log, cohort="week")


def quiet_log(source, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return read_transactions(source, **kwargs)


@pytest.mark.parametrize("unit, factor", [("day", 7.0), ("month", 7.0 / 30.4375)])
def test_time_units_scale_t_x_and_T(unit, factor):
    """t_x and T in days / months are the weekly values times 7 / (7/30.4375); x is unchanged."""
    weeks = cdnow_summary("cdnow_sample").customers
    other = summarize(quiet_log("cdnow_sample"), time_unit=unit, calibration_end=CALIBRATION_END,
                      observation_end=OBSERVATION_END)
    np.testing.assert_array_equal(other.customers["x"], weeks["x"])
    np.testing.assert_allclose(other.customers["t_x"], weeks["t_x"] * factor, rtol=1e-12)
    np.testing.assert_allclose(other.customers["T"], weeks["T"] * factor, rtol=1e-12)
    assert other.holdout_length == pytest.approx(39 * factor)
    assert other.time_unit.name == unit


def test_month_unit_states_its_length():
    """Issue 2 section 3: every output names the unit with its length in days."""
    summary = summarize(quiet_log("cdnow_sample"), time_unit="month",
                        calibration_end=CALIBRATION_END)
    assert summary.describe()["time unit"] == "month (30.4375 days)"
    assert "month (30.4375 days)" in str(summary)


def test_no_holdout_has_no_holdout_columns():
    """Without observation_end: no x_holdout/spend_holdout, has_holdout False, same x, t_x, T."""
    summary = cdnow_summary("cdnow_sample", holdout=False)
    assert not summary.has_holdout
    assert summary.holdout_length is None
    assert "x_holdout" not in summary.customers and "spend_holdout" not in summary.customers
    assert "holdout repeat purchases" not in summary.describe()
    with_holdout = cdnow_summary("cdnow_sample").customers
    columns = ["x", "t_x", "T", "monetary"]
    pd.testing.assert_frame_equal(summary.customers[columns], with_holdout[columns])


def test_default_calibration_end_is_last_day():
    """Without calibration_end the summary runs to the log's last day (1998-06-30)."""
    summary = summarize(quiet_log("cdnow_sample"))
    assert summary.calibration_end == pd.Timestamp("1998-06-30")
    reference = pandas_summary(clvlib.load_dataset("cdnow_sample"), "1998-06-30", None, 7.0)
    assert_matches_pandas(summary, reference)


# --------------------------------------------------------------------------------------------
# Small hand-made logs
# --------------------------------------------------------------------------------------------

LINES = [
    "customer_id,date,amount,region",
    "a,2020-01-01 09:00,10,N",
    "a,2020-01-01 17:30,5,S",    # same day: merged into one purchase of 15
    "a,2020-01-04,3,S",
    "a,2020-01-04,4,S",          # merged: 7
    "a,2020-01-08,6,S",
    "a,2020-01-15,9,S",          # holdout
    "b,2020-01-03,5,E",
    "b,2020-01-20,7,W",          # after observation_end: ignored
    "c,2020-01-12,5,X",          # first purchase after calibration_end: excluded
]


@pytest.fixture
def small_log(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("\n".join(LINES) + "\n")
    return read_transactions(path, extra_columns=["region"])


def test_small_log_by_hand(small_log):
    """Hand computation: a has days 1, 4, 8 in calibration -> x=2, t_x=7, T=9, monetary
    (7+6)/2; one holdout day of 9. b has x=0, T=7. c is excluded and counted in the notes."""
    summary = summarize(small_log, time_unit="day", calibration_end="2020-01-10",
                        observation_end="2020-01-15")
    c = summary.customers
    assert list(c.index) == ["a", "b"]
    assert c.loc["a", ["x", "t_x", "T", "monetary", "x_holdout", "spend_holdout"]].tolist() == [
        2, 7.0, 9.0, 6.5, 1, 9.0,
    ]
    b = c.loc["b", ["x", "t_x", "T", "x_holdout", "spend_holdout"]].tolist()
    assert b == [0, 0.0, 7.0, 0, 0.0]
    assert np.isnan(c.loc["b", "monetary"])
    assert ("1 customer(s) first bought after calibration_end 2020-01-10 and are not in the "
            "summary") in summary.notes
    assert "1 transaction row(s) after 2020-01-15 ignored" in summary.notes


def test_a_data_frame_is_refused_with_the_reader_to_use():
    """A raw DataFrame has none of a TransactionLog's checks: the error names the reader."""
    frame = pd.DataFrame({"customer_id": ["a"], "date": ["2020-01-01"], "amount": [5.0]})
    with pytest.raises(TypeError, match=r"not a DataFrame.*clvlib\.read_transactions"):
        summarize(frame, time_unit="day")


def test_late_first_purchase_after_an_early_return_is_counted(tmp_path):
    """returns='net': a customer whose only calibration row is a return and whose first
    purchase comes after calibration_end is left out of the summary (the first purchase
    starts a customer); the notes must count them, as they do under returns='drop'."""
    path = tmp_path / "late.csv"
    path.write_text("customer_id,date,amount\na,2020-01-01,-5\na,2020-01-12,10\n"
                    "b,2020-01-01,1\nb,2020-01-15,1\n")
    note = ("1 customer(s) first bought after calibration_end 2020-01-10 and are not in the "
            "summary")
    for returns in ("drop", "net"):
        summary = summarize(read_transactions(path, returns=returns), calibration_end="2020-01-10")
        assert list(summary.customers.index) == ["b"]
        assert note in summary.notes, (returns, summary.notes)


def test_covariates_take_value_at_first_purchase(small_log):
    """An extra column becomes a covariate with its value at the customer's first purchase
    (a: the 09:00 row 'N', not the 17:30 row 'S'; b: 'E', not its later 'W')."""
    c = summarize(small_log, time_unit="day", calibration_end="2020-01-10").customers
    assert c["region"].to_dict() == {"a": "N", "b": "E"}


def test_calibration_end_outside_data_names_file_and_range(small_log):
    """DESIGN.md section 7: calibration end outside the data is an error naming the file and the
    data range."""
    for end in ["2019-12-31", "2020-01-21", "2030-01-01"]:
        with pytest.raises(CLVDataError) as err:
            summarize(small_log, calibration_end=end)
        msg = str(err.value)
        assert small_log.source in msg
        assert f"calibration_end {end}" in msg
        assert "the log runs from 2020-01-01 to 2020-01-20" in msg


@pytest.mark.parametrize("obs_end", ["2020-01-10", "2020-01-05"])
def test_observation_end_not_after_calibration_end(small_log, obs_end):
    """observation_end <= calibration_end is an error naming both dates."""
    with pytest.raises(CLVDataError, match=f"observation_end {obs_end} must come after "
                                           "calibration_end 2020-01-10"):
        summarize(small_log, calibration_end="2020-01-10", observation_end=obs_end)


def test_observation_end_after_data_is_noted(small_log):
    """A holdout that runs past the last transaction is allowed and noted."""
    summary = summarize(small_log, calibration_end="2020-01-10", observation_end="2020-03-01")
    assert any("after the last transaction (2020-01-20)" in n for n in summary.notes)


def test_bad_dates_and_units_are_refused(small_log):
    """Non-dates and unknown time units are ValueErrors that name the argument."""
    with pytest.raises(ValueError, match="calibration_end="):
        summarize(small_log, calibration_end="not a date")
    with pytest.raises(ValueError, match="unknown time unit 'fortnight'"):
        summarize(small_log, time_unit="fortnight")


def test_time_unit_registry():
    """TimeUnit.parse knows day, week, month (365.25/12 days), year; plurals accepted."""
    assert TimeUnit.parse("weeks") == TimeUnit("week", 7.0)
    assert TimeUnit.parse("Month").days == 30.4375
    assert TimeUnit.parse("year").days == 365.25
    assert TimeUnit.parse("week").per_year == pytest.approx(365.25 / 7)
    assert str(TimeUnit.parse("day")) == "day (1 day)"


# --------------------------------------------------------------------------------------------
# Parquet round trip
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("holdout", [True, False])
def test_parquet_round_trip_is_exact(tmp_path, holdout):
    """to_parquet/from_parquet round-trips the table and its metadata exactly."""
    summary = cdnow_summary("cdnow_sample", holdout=holdout)
    path = tmp_path / "summary.parquet"
    summary.to_parquet(path)
    back = CustomerSummary.from_parquet(path)
    pd.testing.assert_frame_equal(back.customers, summary.customers, check_exact=True)
    assert back.time_unit == summary.time_unit
    assert back.calibration_end == summary.calibration_end
    assert back.observation_end == summary.observation_end
    assert back.source == summary.source
    assert back.notes == summary.notes
    assert back.describe() == summary.describe()


def test_parquet_round_trip_with_covariates(tmp_path, small_log):
    """Covariate columns and the month unit survive the round trip."""
    summary = summarize(small_log, time_unit="month", calibration_end="2020-01-10",
                        observation_end="2020-01-15")
    summary.to_parquet(tmp_path / "s.parquet")
    back = CustomerSummary.from_parquet(tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(back.customers, summary.customers, check_exact=True)
    assert back.time_unit == TimeUnit("month", 30.4375)
    assert back.notes == summary.notes


# --------------------------------------------------------------------------------------------
# check_summary
# --------------------------------------------------------------------------------------------


def good_table() -> pd.DataFrame:
    return pd.DataFrame(
        {"x": [0, 2, 1, 3], "t_x": [0.0, 3.0, 2.0, 6.0], "T": [5.0, 4.0, 6.0, 6.0]},
        index=pd.Index(["c1", "c2", "c3", "c4"], name="customer_id"),
    )


def test_check_summary_accepts_clvlib_summaries():
    """Every clvlib summary passes its own checks, and a good table is returned unchanged."""
    for name in ("cdnow_sample", "cdnow_master"):
        c = cdnow_summary(name).customers
        assert check_summary(c) is c
    table = good_table()
    assert check_summary(table) is table


def test_check_summary_missing_columns():
    """A table without T is refused, naming the missing column and the columns present."""
    with pytest.raises(CLVDataError, match=r"mine: missing column\(s\) \['T'\].*\['x', 't_x'\]"):
        check_summary(good_table().drop(columns="T"), "mine")


def test_check_summary_empty():
    with pytest.raises(CLVDataError, match="empty"):
        check_summary(good_table().iloc[:0])


@pytest.mark.parametrize(
    "change, what, bad_ids",
    [
        ({"t_x": [0.0, 5.0, 7.0, 6.0]}, "t_x > T", ["c2", "c3"]),
        ({"x": [0, 0, 1, 3]}, "x = 0 but t_x > 0", ["c2"]),
        ({"x": [0.0, 2.5, 1.0, 3.0]}, "x: not a whole number", ["c2"]),
        ({"x": [0, 2, -1, 3]}, "negative or infinite", ["c3"]),
        ({"T": [5.0, 4.0, 6.0, -6.0]}, "negative or infinite", ["c4"]),
        ({"T": [5.0, np.inf, 6.0, 6.0]}, "negative or infinite", ["c2"]),
        ({"t_x": [0.0, np.nan, 2.0, 6.0]}, "missing or non-numeric", ["c2"]),
        ({"x": ["0", "two", "1", "3"]}, "missing or non-numeric", ["c2"]),
    ],
)
def test_check_summary_rejects_bad_rows_naming_customers(change, what, bad_ids):
    """DESIGN.md section 7 ("a customer with T < recency"): each problem names the customers."""
    table = good_table().assign(**change)
    with pytest.raises(CLVDataError) as err:
        check_summary(table, "mine")
    msg = str(err.value)
    assert msg.startswith("mine: ")
    assert what in msg
    assert f"{len(bad_ids)} customer(s)" in msg
    listed = [line.split()[0] for line in msg.splitlines()[3:]]
    assert listed == bad_ids


def test_check_summary_t_x_equal_T_is_fine():
    """A last purchase on the last calibration day (t_x == T) is valid."""
    table = good_table()
    assert check_summary(table)["t_x"].iloc[3] == table["T"].iloc[3]


# --------------------------------------------------------------------------------------------
# Mean repeat spend and count-only logs (issue 9 sections 5 and 7, issue 10)
# --------------------------------------------------------------------------------------------


def test_mean_repeat_spend_is_the_mean_of_the_repeat_days():
    """monetary = spend of the days after the first / x. A first day of 1e14 beside repeat days
    of 0.01 and 0.02 gives (0.01 + 0.02) / 2 exactly; total minus first-day spend gave 0.015625.
    A first-day-only customer has no repeat spend (NaN), whatever the first day's amount."""
    frame = pd.DataFrame({"customer_id": ["a", "a", "a", "a", "b"],
                          "date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-03",
                                                  "2020-01-05", "2020-01-02"]),
                          "amount": [6e13, 4e13, 0.01, 0.02, 3.0]})
    c = summarize(read_transactions(frame), calibration_end="2020-01-05").customers
    assert c.loc["a", "x"] == 2 and c.loc["a", "monetary"] == (0.01 + 0.02) / 2
    assert np.isnan(c.loc["b", "monetary"])


def count_only_log(tmp_path):
    path = tmp_path / "visits.csv"
    rows = [",".join(line.split(",")[:2]) for line in LINES[1:]]  # small_log without amounts
    path.write_text("\n".join(["customer_id,date", *rows]) + "\n")
    return quiet_log(path, amount=None)


def test_count_only_summary_equals_the_counts_of_the_full_one(tmp_path, small_log):
    """amount=None: the same x, t_x, T, holdout counts and cohorts as the log with amounts,
    no spend columns, a note saying why, and has_amounts False."""
    log = count_only_log(tmp_path)
    assert not log.has_amounts and log.overview()["total_amount"] is None
    assert "amount" not in log.to_pandas().columns
    period = dict(time_unit="day", calibration_end="2020-01-10", observation_end="2020-01-15")
    counts = summarize(log, **period)
    full = summarize(small_log, **period)
    assert not counts.has_amounts and full.has_amounts
    assert list(counts.customers.columns) == [
        c for c in full.customers.columns if c not in ("monetary", "spend_holdout", "region")]
    pd.testing.assert_frame_equal(counts.customers, full.customers[counts.customers.columns])
    assert any("no amount column (a count-only log)" in n for n in counts.notes)
    assert "mean repeat spend" not in counts.describe()
    assert "mean repeat spend" in full.describe()


def test_count_only_summary_round_trips_and_fits_purchase_models_only(tmp_path):
    """A count-only summary survives Parquet; a purchase model takes it; Gamma-Gamma says it
    needs a 'monetary' column."""
    summary = summarize(count_only_log(tmp_path), time_unit="day", calibration_end="2020-01-10")
    summary.to_parquet(tmp_path / "s.parquet")
    back = CustomerSummary.from_parquet(tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(back.customers, summary.customers, check_exact=True)
    assert not back.has_amounts
    clvlib.BetaGeoModel(summary)
    with pytest.raises(CLVDataError, match="'monetary'"):
        clvlib.GammaGammaModel(summary)


def test_repeat_purchases_by_period_of_a_count_only_log(tmp_path, small_log):
    """The tracking check counts the same repeat purchases with or without amounts."""
    from clvlib import checks

    period = dict(time_unit="day", calibration_end="2020-01-10", observation_end="2020-01-15")
    counts = checks.repeat_purchases_by_period(
        count_only_log(tmp_path), summarize(count_only_log(tmp_path), **period))
    full = checks.repeat_purchases_by_period(small_log, summarize(small_log, **period))
    pd.testing.assert_frame_equal(counts, full)


def test_one_summary_plan_for_both_engines():
    """Issue 10: DuckDB and Spark run one SQL text; only the dialect's spellings differ
    (identifier quotes, the name of the log, the difference of two days, the key customers
    are grouped by and its text)."""
    import re

    from clvlib.summary import (
        DUCKDB,
        SPARK,
        SummarySpec,
        late_customers_sql,
        per_customer_sql,
        summary_select_sql,
    )

    spec = SummarySpec(pd.Timestamp("2020-01-10"), pd.Timestamp("2020-01-15"),
                       TimeUnit.parse("week"), 0.5, "month", True, True, ("region",))

    def text(dialect):
        return f"WITH {per_customer_sql(dialect, spec)} {summary_select_sql(dialect, spec)}"

    spark = text(SPARK).replace("`", '"').replace("{transactions}", "keyed")
    spark = spark.replace("SELECT customer_id AS customer_id",
                          "SELECT customer_key AS customer_id", 1)  # the tx rows
    spark = spark.replace("SELECT customer_id AS customer_id",
                          "SELECT CAST(customer_id AS VARCHAR) AS customer_id", 1)  # the summary
    spark = re.sub(r"datediff\(([^,()]+), ([^,()]+)\)", r"date_diff('day', \2, \1)", spark)
    assert spark == text(DUCKDB)
    assert "repeat_spend / nullif(x, 0) AS monetary" in spark
    assert ("CAST(sum(spend) FILTER (WHERE day <= DATE '2020-01-10') AS DECIMAL(37, 9)) - "
            "CAST(min_by(spend, day) AS DECIMAL(37, 9))") in spark
    assert late_customers_sql(spec).startswith("SELECT count(*) FROM per_customer")


def test_the_same_file_gives_the_same_summary_bit_for_bit():
    """Spend is summed as an exact decimal, so the order in which DuckDB's threads add rows
    cannot change a last bit (it did: a refit of Gamma-Gamma missed the fit cache on a rerun
    of the same report because mean repeat spend differed by 1e-14)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        runs = [clvlib.summarize(clvlib.read_transactions("cdnow_master"),
                                 calibration_end="1997-09-30", observation_end="1998-06-30")
                .customers for _ in range(3)]
    for other in runs[1:]:
        for column in ("monetary", "spend_holdout"):
            np.testing.assert_array_equal(other[column].to_numpy(), runs[0][column].to_numpy())
