"""The malformed-file corpus of tests/data/malformed: its cases and how one is run.

Shared by tests/test_malformed.py (DuckDB) and tests/test_spark.py (the same rules in Spark).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from clvlib import CLVDataError
from clvlib.transactions import REPORT_OPTION_NAMES

CORPUS = Path(__file__).parent / "data" / "malformed"
CASES: list[dict] = yaml.safe_load((CORPUS / "cases.yaml").read_text())


def case_params(spark_only: bool = False) -> list:
    """The cases as pytest parameters, named by file."""
    return [pytest.param(case, id=case["file"]) for case in CASES
            if case.get("spark") or not spark_only]


def read_arguments(case: dict) -> dict:
    """The case's read_transactions arguments (``option_names: report`` spelled out)."""
    read = dict(case.get("read") or {})
    if read.get("option_names") == "report":
        read["option_names"] = REPORT_OPTION_NAMES
    return read


def run_case(case: dict, read, summarize) -> None:
    """Read and summarize the case's file with ``read(path, **kwargs)`` and ``summarize``;
    check the error, notes, values and absent columns the case expects."""
    path = CORPUS / case["file"]

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # asserted through the notes
            log = read(path, **read_arguments(case))
        return summarize(log, **(case.get("summarize") or {}))

    if "error" in case:
        with pytest.raises(CLVDataError) as err:
            run()
        message = str(err.value)
        assert case["error"] in message, message
        assert str(path) in message, message  # the message names the file
        assert "\n" not in message.split(":", 1)[1].split("row(s)")[0], message  # no dump
        return
    summary = run()
    for fragment in case.get("notes") or []:
        assert any(fragment in note for note in summary.notes), (fragment, summary.notes)
    customers = summary.customers
    for customer, values in (case.get("customers") or {}).items():
        for column, expected in values.items():
            assert customers.loc[customer, column] == expected, (customer, column)
    for column in case.get("absent") or []:
        assert column not in customers.columns
    assert np.isfinite(customers[["x", "t_x", "T"]].to_numpy(dtype=float)).all()
    assert customers["T"].max() < 1_000  # no future row became the end of the data


def check_table(case: dict, check) -> None:
    """A customer-summary case: ``check(table, source)`` must raise the case's error."""
    path = CORPUS / case["file"]
    table = pd.read_csv(path, index_col="customer_id")
    with pytest.raises(CLVDataError, match=re.escape(case["error"])):
        check(table, str(path))
