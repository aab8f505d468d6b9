"""The malformed-file corpus (tests/data/malformed): every data rule, one small file each.

Source: issue 9 sections 5, 7 and 9 (dates after today or after a stated data end, huge
amounts, UTC offsets, a detected delimiter, messages naming the parameter-file key, binary
files in one sentence, count-only logs) and DESIGN.md section 8 (missing columns, unparsable
dates, negative and non-numeric amounts, duplicates, empty data, calibration end outside the
data, T < recency). The cases and what each must give are in tests/data/malformed/cases.yaml;
tests/test_spark.py runs the same files through the Spark reader.
"""

from __future__ import annotations

import re

import pytest
from malformed import CASES, CORPUS, case_params, check_table, run_case

from clvlib import check_summary, read_transactions, summarize


@pytest.mark.parametrize("case", case_params())
def test_malformed_file(case):
    if case.get("table"):
        check_table(case, check_summary)
    else:
        run_case(case, read_transactions, summarize)


def test_corpus_is_complete_and_documented():
    """At least 20 cases, one file each, every file in the folder used, each in README.md."""
    files = [case["file"] for case in CASES]
    assert len(files) >= 20 and len(set(files)) == len(files)
    present = {p.name for p in CORPUS.iterdir()} - {"README.md", "cases.yaml"}
    assert present == set(files)
    readme = (CORPUS / "README.md").read_text()
    for case in CASES:
        assert f"`{case['file']}`" in readme, case["file"]
        assert case.get("rule"), case["file"]
        assert ("error" in case) != bool(case.get("notes") or case.get("customers")), case


def test_today_is_the_default_data_end(tmp_path):
    """A row dated the day after tomorrow (UTC) is dropped by default, so a row of tomorrow's
    date typed by mistake never sets the end of the data; data_end moves the bound."""
    import pandas as pd

    later = (pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
             + pd.Timedelta(days=2))
    path = tmp_path / "log.csv"
    path.write_text(f"customer_id,date,amount\na,2020-01-01,1\na,{later:%Y-%m-%d},2\n")
    with pytest.warns(UserWarning, match=re.escape("1 row(s) dated after today")):
        log = read_transactions(path)
    assert log.date_range()[1] == pd.Timestamp("2020-01-01")
    kept = read_transactions(path, data_end=later)
    assert kept.date_range()[1] == later and kept.notes == []
