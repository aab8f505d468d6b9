"""Time resolution: ``summarize(..., resolution=...)`` rounds t_x and T on request.

Source: issue 4 section 2 ("summaries can be rounded to a stated time resolution on request, with
the resolution recorded in the fit") and section 4 ("compressed vs uncompressed posteriors
agree"). The rounding rule is the nearest multiple of the resolution, halves away from zero, done
on whole days: ``round(days / (resolution * unit_days)) * resolution * unit_days / unit_days``.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import CALIBRATION_END, OBSERVATION_END, cdnow_summary

import clvlib
from clvlib import BetaGeoModel, CompressedRows, CustomerSummary

MAP = dict(method="map", progressbar=False)


def read(name: str = "cdnow_sample") -> clvlib.TransactionLog:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the CDNOW files hold exact duplicates
        return clvlib.read_transactions(name)


def rounded(resolution: float, time_unit: str = "week", name: str = "cdnow_sample"):
    log = read(name)
    return clvlib.summarize(log, time_unit=time_unit, calibration_end=CALIBRATION_END,
                            observation_end=OBSERVATION_END, resolution=resolution)


def half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(values + 0.5)


@pytest.mark.parametrize(("resolution", "time_unit"),
                         [(1, "week"), (0.5, "week"), (2, "week"), (1, "month"), (7, "day")])
def test_rounding_is_to_the_nearest_multiple(resolution, time_unit):
    exact = clvlib.summarize(read(), time_unit=time_unit,
                             calibration_end=CALIBRATION_END, observation_end=OBSERVATION_END)
    summary = rounded(resolution, time_unit)
    unit_days = summary.time_unit.days
    res_days = resolution * unit_days
    for column in ("t_x", "T", "t_x_full"):
        days = np.round(exact.customers[column].to_numpy() * unit_days)  # whole days
        expected = half_up(days / res_days) * res_days / unit_days
        got = summary.customers[column].to_numpy()
        np.testing.assert_array_equal(got, expected)
        # A multiple of the resolution, at most half a resolution from the exact time.
        steps = got / resolution
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
        assert np.abs(got - exact.customers[column].to_numpy()).max() <= resolution / 2 + 1e-12
    # Everything else is untouched.
    others = [c for c in exact.customers.columns if c not in ("t_x", "T", "t_x_full")]
    pd.testing.assert_frame_equal(summary.customers[others], exact.customers[others])
    clvlib.check_summary(summary.customers)  # t_x <= T and t_x = 0 when x = 0 still hold


def test_halves_round_up_on_a_small_log():
    """Recencies of 3 and 4 days and ages of 10 and 0 days, in weeks and in steps of 2 days."""
    frame = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "c"],
        "date": ["2024-01-01", "2024-01-04", "2024-01-01", "2024-01-05", "2024-01-11"],
        "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
    })
    log = clvlib.read_transactions(frame)
    weekly = clvlib.summarize(log, calibration_end="2024-01-11", resolution=1)
    assert weekly.customers["t_x"].tolist() == [0.0, 1.0, 0.0]  # 3/7 -> 0, 4/7 -> 1
    assert weekly.customers["T"].tolist() == [1.0, 1.0, 0.0]  # 10/7 -> 1
    two_days = clvlib.summarize(log, calibration_end="2024-01-11", time_unit="day", resolution=2)
    assert two_days.customers["t_x"].tolist() == [4.0, 4.0, 0.0]  # 3/2 = 1.5 -> 2 steps
    assert two_days.customers["T"].tolist() == [10.0, 10.0, 0.0]


def test_days_as_the_resolution_leave_times_exact():
    np.testing.assert_array_equal(rounded(1 / 7).customers[["t_x", "T"]],
                                  cdnow_summary().customers[["t_x", "T"]])


def test_distinct_rows_drop():
    exact = BetaGeoModel(cdnow_summary())
    weekly = BetaGeoModel(rounded(1))
    fortnightly = BetaGeoModel(rounded(2))
    assert len(fortnightly.rows) < len(weekly.rows) < len(exact.rows)
    assert weekly.rows.n_original == exact.rows.n_original == 2357
    # CDNOW sample: 1,016 distinct (x, t_x, T) rows at day level, 682 in whole weeks.
    assert (len(exact.rows), len(weekly.rows)) == (1016, 682)


def test_resolution_is_recorded_in_summary_parquet_and_fit(tmp_path):
    summary = rounded(1)
    assert summary.resolution == 1.0
    assert cdnow_summary().resolution is None
    assert summary.describe()["time resolution"] == "1 week"
    assert "rounded to the nearest 1 week (7 days)" in summary.notes[-1]
    summary.to_parquet(tmp_path / "s.parquet")
    back = CustomerSummary.from_parquet(tmp_path / "s.parquet")
    assert back.resolution == 1.0
    pd.testing.assert_frame_equal(back.customers, summary.customers, check_exact=True)
    cdnow_summary().to_parquet(tmp_path / "exact.parquet")
    assert CustomerSummary.from_parquet(tmp_path / "exact.parquet").resolution is None
    model = BetaGeoModel(back)
    assert model.config()["data"]["resolution"] == 1.0
    model.fit(**MAP)
    assert json.loads(model.idata.attrs["clvlib"])["data"]["resolution"] == 1.0


def test_a_frame_can_carry_its_resolution():
    frame = rounded(1).customers.copy()
    frame.attrs["resolution"] = 1.0
    assert BetaGeoModel(frame).config()["data"]["resolution"] == 1.0


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "week"])
def test_bad_resolutions_are_refused(bad):
    log = read()
    with pytest.raises(ValueError, match="resolution"):
        clvlib.summarize(log, calibration_end=CALIBRATION_END, resolution=bad)


def uncompressed(model: BetaGeoModel) -> BetaGeoModel:
    """The same model with one likelihood row per customer (weights 1, duplicates kept)."""
    frame = model.customers
    n = len(frame)
    model.rows = CompressedRows(
        columns={c: frame[c].to_numpy(dtype=float) for c in model.columns},
        weights=np.ones(n), inverse=np.arange(n),
    )
    return model


def test_compressed_and_uncompressed_map_agree():
    """Weighted distinct rows and one row per customer give the same posterior mode."""
    compressed = BetaGeoModel(cdnow_summary())
    plain = uncompressed(BetaGeoModel(cdnow_summary()))
    assert len(plain.rows) == 2357 > len(compressed.rows)
    compressed.fit(**MAP)
    plain.fit(**MAP)
    a, b = compressed.point_estimate(), plain.point_estimate()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-5), k
    assert compressed.log_likelihood(a) == pytest.approx(plain.log_likelihood(a), rel=1e-10)


def test_weekly_rounding_moves_the_map_little():
    """Rounding to whole weeks (682 rows instead of 1,016) moves BG/NBD's MAP by under 10%, and
    the mean-purchase-rate ratio r/alpha (what drives predictions) by under 2%."""
    exact = BetaGeoModel(cdnow_summary())
    weekly = BetaGeoModel(rounded(1))
    exact.fit(**MAP)
    weekly.fit(**MAP)
    a, b = exact.point_estimate(), weekly.point_estimate()
    for k in a:
        assert b[k] == pytest.approx(a[k], rel=0.10), k
    assert b["r"] / b["alpha"] == pytest.approx(a["r"] / a["alpha"], rel=0.02)
