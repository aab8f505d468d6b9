"""read_transactions: bad input gets a clear error, policies do what their docs say.

Source of the requirements: DESIGN.md section 7 ("bad input gets a clear error that names the
file, column and the first offending rows") and issue 2 section 2. Row numbers count data rows
from 1; the header line is not counted (``clvlib.transactions.ROWS_NOTE``).
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clvlib
from clvlib import CLVDataError, read_transactions, summarize

HEADER = "customer_id,date,amount"


def write_csv(tmp_path: Path, lines: list[str], name: str = "log.csv",
              header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def shown_rows(message: str) -> list[int]:
    """The data-row numbers an error message lists (the index below its ``row`` line)."""
    lines = message.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == ["row"])
    rows = []
    for line in lines[start + 1:]:
        match = re.match(r"^(\d+)\s", line)
        if not match:
            break
        rows.append(int(match.group(1)))
    return rows


def read_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return read_transactions(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# Structural problems: file, columns, emptiness
# --------------------------------------------------------------------------------------------


def test_nonexistent_file_raises_file_not_found(tmp_path):
    """A path that does not exist is a FileNotFoundError naming it (issue 2, section 2)."""
    path = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        read_transactions(path)


def test_missing_column_names_file_column_and_lists_columns(tmp_path):
    """A missing column: the message names the file, the column, and lists the file's columns."""
    path = write_csv(tmp_path, ["a,2020-01-01,1"], header="cust,date,amount")
    with pytest.raises(CLVDataError) as err:
        read_transactions(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "'customer_id' (the customer_id column)" in msg
    assert "the file has columns: 'cust', 'date', 'amount'" in msg


def test_missing_extra_column_is_reported(tmp_path):
    """An extra (covariate) column asked for but absent is a missing column too."""
    path = write_csv(tmp_path, ["a,2020-01-01,1"])
    with pytest.raises(CLVDataError, match=r"'region' \(an extra column\)"):
        read_transactions(path, extra_columns=["region"])


def test_column_mapping_is_used(tmp_path):
    """customer_id=, date=, amount= map the file's own names onto the log's columns."""
    path = write_csv(tmp_path, ["a,2020-01-01,1.5", "b,2020-01-02,2"], header="cust,day,value")
    log = read_transactions(path, customer_id="cust", date="day", amount="value")
    frame = log.to_pandas()
    assert list(frame.columns) == ["customer_id", "timestamp", "amount"]
    assert frame["customer_id"].tolist() == ["a", "b"]
    assert frame["amount"].tolist() == [1.5, 2.0]
    assert frame["timestamp"].tolist() == [pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-02")]


def test_empty_file_zero_bytes(tmp_path):
    """A 0-byte file is refused as empty, naming the file (DESIGN.md section 7: empty data)."""
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(CLVDataError, match=re.escape(str(path)) + ".*empty"):
        read_transactions(path)


def test_header_only_file(tmp_path):
    """A header with no data rows is refused as empty, naming the file."""
    path = tmp_path / "header.csv"
    path.write_text(HEADER + "\n")
    with pytest.raises(CLVDataError, match=re.escape(str(path)) + ".*empty"):
        read_transactions(path)


def test_empty_dataframe():
    """A DataFrame with no rows is refused, under the name given for it."""
    frame = pd.DataFrame({"customer_id": [], "date": [], "amount": []})
    with pytest.raises(CLVDataError, match="my frame.*empty"):
        read_transactions(frame, name="my frame")


def test_unknown_policies_are_rejected(tmp_path):
    """returns= and duplicates= accept only their documented values."""
    path = write_csv(tmp_path, ["a,2020-01-01,1"])
    with pytest.raises(ValueError, match="returns="):
        read_transactions(path, returns="ignore")
    with pytest.raises(ValueError, match="duplicates="):
        read_transactions(path, duplicates="ignore")


# --------------------------------------------------------------------------------------------
# Bad values: each names the file and column and shows the first offending rows
# --------------------------------------------------------------------------------------------


def assert_data_error(path, column: str, what: str, rows: list[int], count: int, **kwargs):
    with pytest.raises(CLVDataError) as err:
        read_transactions(path, **kwargs)
    msg = str(err.value)
    assert msg.startswith(str(path) + ":"), msg
    assert f"column {column!r}" in msg, msg
    assert what in msg, msg
    assert f"{count:,} row(s)" in msg, msg
    assert "header line is not counted" in msg
    assert shown_rows(msg) == rows, msg
    return msg


def test_missing_customer_id_rows(tmp_path):
    """Rows without a customer id are listed by data-row number (rows 2 and 4 here)."""
    lines = ["a,2020-01-01,1", ",2020-01-02,2", "c,2020-01-03,3", " ,2020-01-04,4"]
    path = write_csv(tmp_path, lines)
    assert_data_error(path, "customer_id", "missing customer ids", [2, 4], 2)


def test_unparsable_iso_date_rows(tmp_path):
    """Non-ISO or impossible dates are refused by default, with rows 2 and 3 shown."""
    path = write_csv(
        tmp_path, ["a,2020-01-01,1", "b,01/02/2020,2", "c,2020-02-30,3", "d,2020-03-01,4"]
    )
    msg = assert_data_error(path, "date", "dates that cannot be parsed", [2, 3], 2)
    assert "01/02/2020" in msg and "2020-02-30" in msg
    assert "date_format" in msg


def test_unparsable_date_with_format(tmp_path):
    """With date_format, dates not matching it are refused and the format is named."""
    path = write_csv(tmp_path, ["a,19970101,1", "b,19970230,2", "c,1997-01-03,3", "d,19970104,4"])
    msg = assert_data_error(
        path, "date", "dates that cannot be parsed with format '%Y%m%d'", [2, 3], 2,
        date_format="%Y%m%d",
    )
    assert "19970230" in msg


def test_date_format_parses(tmp_path):
    """A valid date_format turns yyyymmdd text into timestamps (the CDNOW file format)."""
    path = write_csv(tmp_path, ["a,19970101,1", "a,19970115,2"])
    log = read_transactions(path, date_format="%Y%m%d")
    assert log.to_pandas()["timestamp"].tolist() == [
        pd.Timestamp("1997-01-01"), pd.Timestamp("1997-01-15"),
    ]


def test_missing_date_rows(tmp_path):
    """An empty date cell is reported as a missing date, with its row."""
    path = write_csv(tmp_path, ["a,2020-01-01,1", "b,,2", "c,2020-01-03,3"])
    assert_data_error(path, "date", "missing dates", [2], 1)


def test_non_numeric_amount_rows(tmp_path):
    """Text in the amount column is refused, with rows 1 and 3 shown."""
    path = write_csv(tmp_path, ["a,2020-01-01,ten", "b,2020-01-02,2", "c,2020-01-03,$5"])
    msg = assert_data_error(path, "amount", "not finite numbers", [1, 3], 2)
    assert "ten" in msg and "$5" in msg


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_nan_and_inf_amounts_are_refused(tmp_path, bad):
    """NaN and infinite amounts are not amounts: refused, with the row (row 2)."""
    path = write_csv(tmp_path, ["a,2020-01-01,1", f"b,2020-01-02,{bad}", "c,2020-01-03,3"])
    assert_data_error(path, "amount", "not finite numbers", [2], 1)


def test_missing_amount_rows(tmp_path):
    """An empty amount cell is reported as a missing amount."""
    path = write_csv(tmp_path, ["a,2020-01-01,1", "b,2020-01-02,", "c,2020-01-03,3"])
    assert_data_error(path, "amount", "missing amounts", [2], 1)


def test_nan_amount_in_dataframe_is_refused():
    """A DataFrame's NaN and inf amounts are refused too; rows are 1-based positions."""
    frame = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "date": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"]),
        "amount": [1.0, np.nan, 3.0, np.inf],
    })
    with pytest.raises(CLVDataError) as err:
        read_transactions(frame, name="frame")
    assert str(err.value).startswith("frame:")
    assert "column 'amount'" in str(err.value)
    assert shown_rows(str(err.value))[0] == 2


def test_negative_amount_refused_by_default(tmp_path):
    """A negative amount (a return) is refused unless returns= says what it means (rows 2, 4)."""
    path = write_csv(
        tmp_path, ["a,2020-01-01,10", "a,2020-01-01,-4", "b,2020-01-02,3", "b,2020-01-05,-1"]
    )
    msg = assert_data_error(path, "amount", "negative amounts", [2, 4], 2)
    assert "returns='drop'" in msg and "returns='net'" in msg


def test_error_lists_at_most_five_rows_and_counts_the_rest(tmp_path):
    """Seven bad rows: the count says 7 and only the first five are shown."""
    lines = [f"c{i},2020-01-{i + 1:02d},{'x' if i % 2 else 1}" for i in range(14)]
    path = write_csv(tmp_path, lines)
    assert_data_error(path, "amount", "not finite numbers", [2, 4, 6, 8, 10], 7)


def test_row_numbers_are_right_in_a_large_file(tmp_path):
    """Row numbers stay exact when DuckDB scans a file in parallel (300,000 rows, bad rows
    near the middle and at the very end)."""
    n = 300_000
    frame = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],
        "date": "2020-01-01",
        "amount": "1.5",
    })
    frame.loc[[150_000, n - 1], "date"] = ["not a date", "2020-02-31"]
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    assert_data_error(path, "date", "cannot be parsed", [150_001, n], 2)


# --------------------------------------------------------------------------------------------
# Returns policy, checked through the summary it produces
# --------------------------------------------------------------------------------------------

RETURNS_LINES = [
    "a,2020-01-01,10",   # first purchase, partly returned the same day
    "a,2020-01-01,-4",
    "a,2020-01-05,-3",   # a return-only day: not a purchase
    "a,2020-01-08,6",    # the one calibration repeat purchase
    "a,2020-01-15,9",    # holdout purchase, partly returned the same day
    "a,2020-01-15,-2",
    "b,2020-01-03,5",
    "b,2020-01-20,7",
]


def summarize_days(log):
    return summarize(log, time_unit="day", calibration_end="2020-01-10",
                     observation_end="2020-01-20").customers


def test_returns_drop_removes_return_rows(tmp_path):
    """returns='drop': return rows vanish; spend is that of purchases only; noted."""
    log = read_transactions(write_csv(tmp_path, RETURNS_LINES), returns="drop")
    assert log.notes == ["3 return row(s) (negative 'amount') dropped"]
    assert log.overview()["rows"] == 5
    assert (log.to_pandas()["amount"] >= 0).all()
    a = summarize_days(log).loc["a"]
    assert (a["x"], a["t_x"], a["T"]) == (1, 7.0, 9.0)
    assert a["monetary"] == 6.0
    assert (a["x_holdout"], a["spend_holdout"]) == (1, 9.0)


def test_returns_net_nets_same_day_and_return_only_day_is_no_purchase(tmp_path):
    """returns='net': a return lowers its day's spend; a return-only day is not a purchase
    (so x and t_x are as if 2020-01-05 had no row); noted."""
    log = read_transactions(write_csv(tmp_path, RETURNS_LINES), returns="net")
    assert log.notes == [
        "3 return row(s) (negative 'amount') netted against same-day purchases"
    ]
    assert log.overview()["rows"] == 8
    customers = summarize_days(log)
    a = customers.loc["a"]
    assert (a["x"], a["t_x"], a["T"]) == (1, 7.0, 9.0)
    assert a["first_purchase"] == pd.Timestamp("2020-01-01")
    assert a["monetary"] == 6.0
    assert (a["x_holdout"], a["spend_holdout"]) == (1, 7.0)
    b = customers.loc["b"]
    assert (b["x"], b["x_holdout"], b["spend_holdout"]) == (0, 1, 7.0)


def test_return_before_first_purchase_does_not_start_the_customer(tmp_path):
    """returns='net': a customer whose earliest row is a return starts at the first purchase."""
    lines = ["a,2020-01-01,-5", "a,2020-01-03,10", "a,2020-01-06,4", "b,2020-01-01,1"]
    log = read_transactions(write_csv(tmp_path, lines), returns="net")
    a = summarize(log, time_unit="day", calibration_end="2020-01-06").customers.loc["a"]
    assert a["first_purchase"] == pd.Timestamp("2020-01-03")
    assert (a["x"], a["t_x"], a["T"]) == (1, 3.0, 3.0)


# --------------------------------------------------------------------------------------------
# Duplicates policy
# --------------------------------------------------------------------------------------------

DUP_LINES = [
    "z,2020-01-05,3",
    "b,2020-01-01,1",   # row 2 = row 7
    "a,2020-01-02,2",
    "q,2020-01-03,5",   # row 4 = row 6
    "c,2020-01-01,1",
    "q,2020-01-03,5",
    "b,2020-01-01,1",
    "b,2020-01-01,2",   # same day, different amount: not a duplicate
]


def test_duplicates_keep_counts_warns_and_keeps(tmp_path):
    """duplicates='keep' (default): 2 duplicates counted in notes, warned, rows kept."""
    path = write_csv(tmp_path, DUP_LINES)
    with pytest.warns(UserWarning, match="2 duplicate row"):
        log = read_transactions(path)
    assert log.notes == [
        "2 duplicate row(s), identical in every kept column, kept (duplicates='keep')"
    ]
    assert log.overview()["rows"] == 8
    spend = log.query("SELECT customer_id, sum(amount) AS s FROM transactions GROUP BY 1")
    assert spend.set_index("customer_id")["s"].to_dict()["b"] == 4.0


def test_duplicates_drop_counts_warns_and_drops(tmp_path):
    """duplicates='drop': one of each identical pair is kept; noted and warned."""
    path = write_csv(tmp_path, DUP_LINES)
    with pytest.warns(UserWarning, match="2 duplicate row"):
        log = read_transactions(path, duplicates="drop")
    assert log.notes == [
        "2 duplicate row(s), identical in every kept column, dropped (duplicates='drop')"
    ]
    assert log.overview()["rows"] == 6
    spend = log.query("SELECT customer_id, sum(amount) AS s FROM transactions GROUP BY 1")
    assert spend.set_index("customer_id")["s"].to_dict() == {
        "z": 3.0, "b": 3.0, "a": 2.0, "q": 5.0, "c": 1.0,
    }


def test_duplicates_error_shows_the_duplicated_rows(tmp_path):
    """duplicates='error': refused, naming the file and showing rows 2, 4, 6, 7."""
    path = write_csv(tmp_path, DUP_LINES)
    with pytest.raises(CLVDataError) as err:
        read_transactions(path, duplicates="error")
    msg = str(err.value)
    assert msg.startswith(str(path) + ": 2 duplicate row(s)")
    assert shown_rows(msg) == [2, 4, 6, 7]


@pytest.mark.parametrize("ids", ["integers", "padded text"])
def test_duplicates_counted_alike_for_integer_and_text_ids(tmp_path, ids):
    """Integer ids are hashed raw in the pre-test, text ids trimmed: both count the same rows.

    With text ids, " 7" and "7" are one customer once trimmed, so those two rows are
    duplicates too (3 in all); integer ids 7 and 70 stay apart (2 in all).
    """
    lines = ["7,2020-01-01,1", "70,2020-01-01,1", "7,2020-01-01,1", "8,2020-01-02,2",
             "8,2020-01-02,2", "8,2020-01-02,3"]
    if ids == "padded text":
        lines.append('" 7",2020-01-01,1')
    frame = pd.read_csv(io.StringIO(HEADER + "\n" + "\n".join(lines)),
                        dtype={"customer_id": "int64" if ids == "integers" else "string"})
    with pytest.warns(UserWarning, match=f"{2 if ids == 'integers' else 3} duplicate row"):
        log = read_transactions(frame)
    expected = 2 if ids == "integers" else 3
    assert log.notes == [
        f"{expected} duplicate row(s), identical in every kept column, kept (duplicates='keep')"
    ]


@pytest.mark.parametrize("duplicates", ["keep", "drop"])
def test_a_summary_of_integer_ids_is_the_summary_of_their_text(duplicates):
    """Integer ids are grouped as read (clvlib.transactions' ``customer_key``): the summary is
    the one of the same ids given as text, row for row, in the text's order ("10" < "7")."""
    lines = ["7,2020-01-01,1,N", "70,2020-01-01,1,S", "7,2020-01-01,1,N", "8,2020-01-02,2,N",
             "7,2020-02-03,5,S", "10,2020-01-05,4,N", "10,2020-03-01,6,N", "9,2020-02-01,1,S",
             "70,2020-03-02,2,S", "8,2020-03-03,3,N"]
    summaries = []
    for dtype in ("int64", "string"):
        frame = pd.read_csv(io.StringIO(HEADER + ",region\n" + "\n".join(lines)),
                            dtype={"customer_id": dtype})
        with pytest.warns(UserWarning, match="1 duplicate row"):
            log = read_transactions(frame, extra_columns=["region"], duplicates=duplicates)
        summaries.append(summarize(log, calibration_end="2020-02-15", time_unit="day"))
    integers, text = summaries
    assert integers.customers.index.tolist() == ["10", "7", "70", "8", "9"]
    pd.testing.assert_frame_equal(integers.customers, text.customers)


def test_no_duplicates_no_note_no_warning(tmp_path):
    """A clean file gives no notes and no warning."""
    path = write_csv(tmp_path, ["a,2020-01-01,1", "a,2020-01-02,1"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log = read_transactions(path, duplicates="error")
    assert log.notes == []


def test_duplicates_consider_extra_columns(tmp_path):
    """Rows that differ only in a kept extra column are not duplicates."""
    path = write_csv(tmp_path, ["a,2020-01-01,1,N", "a,2020-01-01,1,S"],
                     header=HEADER + ",region")
    log = read_transactions(path, extra_columns=["region"], duplicates="error")
    assert log.overview()["rows"] == 2


# --------------------------------------------------------------------------------------------
# Sources: CSV, Parquet, DataFrame, registered names
# --------------------------------------------------------------------------------------------

SOURCE_LINES = [
    "a,2020-01-01,10.5,N",
    "b,2020-01-02,3,S",
    "a,2020-01-09,4.25,S",
    "c,2020-02-01,7,E",
    "b,2020-01-02,1,W",
]


def source_frame() -> pd.DataFrame:
    rows = [line.split(",") for line in SOURCE_LINES]
    return pd.DataFrame({
        "customer_id": [r[0] for r in rows],
        "date": pd.to_datetime([r[1] for r in rows]),
        "amount": [float(r[2]) for r in rows],
        "region": [r[3] for r in rows],
    })


def test_extra_columns_kept(tmp_path):
    """extra_columns are kept under their own names, after the three required columns.

    to_pandas orders by every column, so b's two purchases on 2020-01-02 come by amount (1, 3).
    """
    path = write_csv(tmp_path, SOURCE_LINES, header=HEADER + ",region")
    log = read_transactions(path, extra_columns=["region"])
    frame = log.to_pandas()
    assert list(frame.columns) == ["customer_id", "timestamp", "amount", "region"]
    assert frame["region"].tolist() == ["N", "S", "W", "S", "E"]
    assert log.extra_columns == ("region",)


def test_parquet_input_equals_csv_input(tmp_path):
    """A Parquet file (typed dates and amounts) gives the same log as the same data in CSV
    (issue 2 section 2: "a loader for any transaction log (CSV or Parquet)")."""
    csv = write_csv(tmp_path, SOURCE_LINES, header=HEADER + ",region")
    parquet = tmp_path / "log.parquet"
    source_frame().to_parquet(parquet)
    from_csv = read_transactions(csv, extra_columns=["region"])
    from_parquet = read_transactions(parquet, extra_columns=["region"])
    pd.testing.assert_frame_equal(from_parquet.to_pandas(), from_csv.to_pandas())
    assert from_parquet.files == [parquet]


def test_parquet_with_text_dates_and_glob(tmp_path):
    """Parquet with ISO text dates, split over two files read by a glob, equals the CSV."""
    csv = write_csv(tmp_path, SOURCE_LINES, header=HEADER + ",region")
    frame = source_frame().assign(date=lambda d: d["date"].dt.strftime("%Y-%m-%d"))
    (tmp_path / "parts").mkdir()
    frame.iloc[:2].to_parquet(tmp_path / "parts" / "part-0.parquet")
    frame.iloc[2:].to_parquet(tmp_path / "parts" / "part-1.parquet")
    from_glob = read_transactions(tmp_path / "parts" / "*.parquet", extra_columns=["region"])
    from_csv = read_transactions(csv, extra_columns=["region"])
    pd.testing.assert_frame_equal(from_glob.to_pandas(), from_csv.to_pandas())
    assert len(from_glob.files) == 2


def test_dataframe_input_equals_csv_input(tmp_path):
    """A DataFrame source gives the same log as the CSV; its files list is empty."""
    csv = write_csv(tmp_path, SOURCE_LINES, header=HEADER + ",region")
    from_frame = read_transactions(source_frame(), extra_columns=["region"], name="frame")
    from_csv = read_transactions(csv, extra_columns=["region"])
    pd.testing.assert_frame_equal(from_frame.to_pandas(), from_csv.to_pandas())
    assert from_frame.source == "frame"
    assert from_frame.files == []


def test_registered_dataset_name_is_a_source():
    """'cdnow_sample' reads the bundled file: 6,919 rows, 2,357 customers, 1997-01-01 to
    1998-06-30 (data/README.md), the file recorded for provenance, its 21 duplicates noted."""
    with pytest.warns(UserWarning, match="21 duplicate"):
        log = read_transactions("cdnow_sample")
    overview = log.overview()
    assert overview["rows"] == 6_919
    assert overview["customers"] == 2_357
    assert overview["first_date"] == pd.Timestamp("1997-01-01")
    assert overview["last_date"] == pd.Timestamp("1998-06-30")
    assert log.files == [clvlib.DATASETS["cdnow_sample"].path]
    assert "cdnow_sample" in log.source
    assert "quantity" not in log.to_pandas().columns


def test_registered_dataset_extra_columns():
    """A bundled data set's own extra columns (quantity) can be kept as covariates."""
    log = read_quietly("cdnow_master", extra_columns=["quantity"])
    frame = log.to_pandas()
    assert len(frame) == 69_659
    assert frame["customer_id"].nunique() == 23_570
    raw = clvlib.load_dataset("cdnow_master")
    assert int(frame["quantity"].sum()) == int(raw["quantity"].sum())


def test_non_transaction_dataset_is_refused():
    """donations is a summary table, not a transaction log."""
    with pytest.raises(ValueError, match="not a transaction log"):
        read_transactions("donations")


def test_transaction_log_str_mentions_notes(tmp_path):
    """str(log) gives source, rows, customers, dates and the notes."""
    path = write_csv(tmp_path, DUP_LINES)
    log = read_quietly(path)
    text = str(log)
    assert str(path) in text and "8 rows" in text and "5 customers" in text
    assert "2020-01-01 to 2020-01-05" in text
    assert "note: 2 duplicate row(s)" in text


# --------------------------------------------------------------------------------------------
# Issue 9 section 5: quieter problems (the corpus in tests/data/malformed holds one file each)
# --------------------------------------------------------------------------------------------


def test_amounts_up_to_the_limit_are_kept_and_beyond_refused(tmp_path):
    """MAX_AMOUNT (1e15) itself is accepted, in both signs with returns='net'; a larger
    amount is refused naming the rows, so no spend sum can overflow or lose its cents."""
    from clvlib.transactions import MAX_AMOUNT

    ok = write_csv(tmp_path, [f"a,2020-01-01,{MAX_AMOUNT!r}", f"a,2020-01-01,{-MAX_AMOUNT!r}",
                              "a,2020-01-02,1"], name="ok.csv")
    assert read_transactions(ok, returns="net").overview()["total_amount"] == 1.0
    bad = write_csv(tmp_path, ["a,2020-01-01,1", "b,2020-01-01,1.0000001e15",
                               "c,2020-01-01,-1e308"], name="bad.csv")
    assert_data_error(bad, "amount", "amounts above 1e+15 in absolute value", [2, 3], 2,
                      returns="net")


@pytest.mark.parametrize("kind", ["text", "dataframe", "parquet", "date_format"])
def test_utc_offsets_are_converted_to_utc(tmp_path, kind):
    """23:30 at -02:00 on Jan 1 is 01:30 UTC on Jan 2, and 01:00 at +05:00 on Jan 3 is 20:00
    UTC on Jan 2: with 10:00Z on Jan 2, one UTC day, whatever form the timestamps come in."""
    stamps = ["2020-01-01T23:30:00-02:00", "2020-01-02T10:00:00+00:00",
              "2020-01-03T01:00:00+05:00"]
    utc = pd.to_datetime(["2020-01-02 01:30", "2020-01-02 10:00", "2020-01-02 20:00"])
    frame = pd.DataFrame({"customer_id": "a", "date": stamps, "amount": [1.0, 2.0, 3.0]})
    options = {}
    if kind == "text":
        source = tmp_path / "log.csv"
        frame.to_csv(source, index=False)
    elif kind == "dataframe":
        source = frame.assign(date=pd.to_datetime(frame["date"], utc=True, format="ISO8601"))
    elif kind == "parquet":
        source = tmp_path / "log.parquet"
        frame.assign(date=pd.to_datetime(frame["date"], format="ISO8601", utc=True)
                     .dt.tz_convert("America/Sao_Paulo")).to_parquet(source)
    else:
        source = tmp_path / "log.csv"
        frame.assign(date=frame["date"].str.replace(r"(\d\d):(\d\d)$", r"\1\2", regex=True)
                     ).to_csv(source, index=False)
        options = {"date_format": "%Y-%m-%dT%H:%M:%S%z"}
    log = read_transactions(source, **options)
    assert log.to_pandas()["timestamp"].tolist() == list(utc)
    summary = summarize(log)
    assert summary.customers.loc["a", "x"] == 0
    assert summary.calibration_end == pd.Timestamp("2020-01-02")


def test_delimiter_note_only_when_detected_and_not_a_comma(tmp_path):
    """A semicolon file read by detection says so; a comma file, or a delimiter given in
    csv_options, adds no note; both give the same log."""
    semi = tmp_path / "semi.csv"
    semi.write_text("customer_id;date;amount\na;2020-01-01;1.5\nb;2020-01-02;2\n")
    comma = write_csv(tmp_path, ["a,2020-01-01,1.5", "b,2020-01-02,2"])
    detected = read_transactions(semi)
    assert detected.notes == ["the file was read with the delimiter ';', detected from the file"]
    given = read_transactions(semi, csv_options={"sep": ";"})
    assert given.notes == [] and read_transactions(comma).notes == []
    pd.testing.assert_frame_equal(detected.to_pandas(), read_transactions(comma).to_pandas())
    pd.testing.assert_frame_equal(given.to_pandas(), detected.to_pandas())


def test_messages_name_the_report_keys_with_report_option_names(tmp_path):
    """Through the report (option_names=REPORT_OPTION_NAMES), messages name the parameter-file
    keys (amount_column, date_format, returns: drop), not the Python arguments."""
    from clvlib.transactions import REPORT_OPTION_NAMES as KEYS

    path = write_csv(tmp_path, ["a,2020-01-01,1"], header="client,day,total")
    with pytest.raises(CLVDataError) as err:
        read_transactions(path, option_names=KEYS)
    msg = str(err.value)
    assert "'customer_id' (the customer_id column, customer_id_column)" in msg
    assert "'amount' (the amount column, amount_column)" in msg
    assert "Name yours in the parameters customer_id_column, date_column, amount_column." in msg
    assert "customer_id=" not in msg
    mapped = dict(customer_id="client", date="day", amount="total", option_names=KEYS)
    negative = write_csv(tmp_path, ["a,2020-01-01,-1"], name="neg.csv", header="client,day,total")
    with pytest.raises(CLVDataError, match=re.escape(
            "column 'total' (amount_column): negative amounts (returns). Set returns: drop to "
            "remove them or returns: net")):
        read_transactions(negative, **mapped)
    dates = write_csv(tmp_path, ["a,31/01/2020,1"], name="dates.csv", header="client,day,total")
    with pytest.raises(CLVDataError, match=re.escape(
            "column 'day' (date_column): dates that cannot be parsed (expected ISO 8601, e.g. "
            "2024-01-31, or set date_format)")):
        read_transactions(dates, **mapped)


def test_data_end_must_be_a_date(tmp_path):
    path = write_csv(tmp_path, ["a,2020-01-01,1"])
    with pytest.raises(ValueError, match="data_end="):
        read_transactions(path, data_end="soon")
