"""clvlib.checks on small cases computed by hand, and the calibration of its predictive intervals.

Fast: models are stand-ins (a fixed probability table, or ``fake_fit`` posteriors), no sampling.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import FHL_BG_NBD, fake_fit
from scipy import stats

import clvlib as clv
from clvlib import checks
from clvlib.models import bg_nbd


class FixedProbabilities:
    """A stand-in purchase model: P(X(T) = k) read from a table by age, the same in every draw
    and for every customer (one parameter row)."""

    arrival_dated = False  # a new customer's purchases do not depend on when they arrive

    def __init__(self, table: dict[float, list[float]], customers: pd.DataFrame):
        self.table, self.customers = table, customers
        self.expectations = SimpleNamespace(prob_purchases=self._prob)

    def customer_mix(self, customers, *, n_draws=1000, **_):
        return ({"draw": np.zeros((n_draws, 1))}, np.array([float(len(customers))]),
                np.zeros(len(customers), dtype=int))

    def _prob(self, draw, t, n):
        n, t = np.broadcast_arrays(n, t)
        one = np.vectorize(lambda k, age: self.table[float(age)][int(k)])(n, t)
        return np.broadcast_to(one, np.broadcast_shapes(one.shape, draw.shape))


def _hand_customers():
    """Ten customers of age 1 (x: five 0s, five 1s) and ten of age 2 (x: 0 0 1 1 1 2 3 5 2 0)."""
    x = [0] * 5 + [1] * 5 + [0, 0, 1, 1, 1, 2, 3, 5, 2, 0]
    return pd.DataFrame({"x": x, "t_x": np.where(np.array(x) > 0, 0.5, 0.0),
                         "T": [1.0] * 10 + [2.0] * 10})


def test_frequency_check_expected_counts_and_predictive_interval_by_hand():
    """Age 1: P(0) = P(1) = 1/2; age 2: P(0) = P(1) = 1/4, P(2+) = 1/2. Expected counts
    0: 10/2 + 10/4 = 7.5, 1: 7.5, 2+: 5. The count in "2+" comes from the age-2 customers
    alone, Binomial(10, 1/2), whose 5% and 95% quantiles are 2 and 8 (P(X <= 2) = 0.055,
    P(X <= 7) = 0.945); with 20,000 draws the empirical quantiles land there except with
    probability below 1e-3 (2.9 and 2.9 binomial standard errors of the ECDF)."""
    customers = _hand_customers()
    model = FixedProbabilities({1.0: [0.5, 0.5], 2.0: [0.25, 0.25]}, customers)
    table = checks.frequency_check(model, max_x=2, n_draws=20_000, seed=1)
    assert list(table.index) == ["0", "1", "2+"]
    assert table["actual"].tolist() == [8, 8, 4]
    np.testing.assert_allclose(table["mean"], [7.5, 7.5, 5.0], rtol=1e-12)
    assert (table.loc["2+", "lower"], table.loc["2+", "upper"]) == (2, 8)
    assert stats.binom.cdf(2, 10, 0.5) > 0.05 > stats.binom.cdf(1, 10, 0.5)
    assert table.attrs["interval_kind"] == "predictive"


def test_chi_square_check_by_hand():
    """Draw 1 expects the actual counts (D = 0); draw 2 expects (5, 15): D = 25/5 + 25/15.
    The replicated counts equal the expected ones, so D_rep = 0 in both draws: the replicated
    discrepancy reaches the actual one in draw 1 only, ppp = 1/2."""
    actual = np.array([10, 10])
    expected = np.array([[10.0, 10.0], [5.0, 15.0]])
    result = checks.chi_square_check(actual, expected, expected.copy())
    assert result["chi_square"] == pytest.approx((0 + 25 / 5 + 25 / 15) / 2)
    assert result["ppp"] == 0.5


def test_frequency_check_predictive_intervals_hold_90_percent_of_actual_counts():
    """150 customer bases of 600 simulated from BG/NBD at the FHL estimates, checked against the
    model at those estimates: the share of the 8 counts x 150 bases inside their 90% predictive
    intervals was 0.927 in a pilot of 200 bases (above 0.9 because counts are whole numbers).
    The bounds 0.87 and 0.985 lie 5 standard errors (about 0.011, counting the correlation of
    counts within a base) either side: a false failure below 1 in a million."""
    rng = np.random.default_rng(3)
    T = rng.choice([20.0, 30.0, 39.0], size=600)
    base = pd.DataFrame(bg_nbd.rvs(**FHL_BG_NBD, T=T, rng=rng))
    model = fake_fit(clv.BetaGeoModel(base), FHL_BG_NBD, spread=0.0, draws=1000)
    inside = []
    for i in range(150):
        data = pd.DataFrame(bg_nbd.rvs(**FHL_BG_NBD, T=T, rng=rng))
        table = checks.frequency_check(model, data, n_draws=1000, seed=i)
        inside.append((table["actual"] >= table["lower"]) & (table["actual"] <= table["upper"]))
    coverage = np.mean(inside)
    assert 0.87 <= coverage <= 0.985, coverage


# -- repeat purchases per period and tracking ----------------------------------------------------


def _log(rows, end, observation_end=None):
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    frame["date"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame["date"], unit="D")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = clv.read_transactions(frame)
    return log, clv.summarize(log, time_unit="week", calibration_end=end,
                              observation_end=observation_end)


# A: days 0, 0 (same day: one purchase), 3, 10; B: days 2, 9; C: day 5 only.
ROWS = [("A", 0, 10.0), ("A", 0, 5.0), ("A", 3, 7.0), ("A", 10, 8.0), ("B", 2, 3.0),
        ("B", 9, 4.0), ("C", 5, 6.0), ("C", 14, 1.0)]


def test_repeat_purchases_by_period_by_hand():
    """Through day 13 (two whole weeks): repeats on day 3 (week 0), days 9 and 10 (week 1)."""
    log, summary = _log(ROWS, "2024-01-14")
    table = checks.repeat_purchases_by_period(log, summary)
    assert table["period"].tolist() == [0, 1]
    assert table["repeat_purchases"].tolist() == [1, 2]
    assert table["period_start"].tolist() == [pd.Timestamp("2024-01-01"),
                                              pd.Timestamp("2024-01-08")]


def test_tracking_compares_a_partial_last_week_pro_rata():
    """Calibration to day 13 (two whole weeks), holdout to day 14, one day into week 2 (C's
    repeat purchase): the last period covers 1/7 of a week, and the model's expected purchases
    there cover the same day, from ``sum_i E[X(tau - s_i)]`` at tau = 2 + 1/7 weeks (first
    purchases on days 0, 2, 5)."""
    log, summary = _log(ROWS, "2024-01-14", "2024-01-15")
    actual = checks.repeat_purchases_by_period(log, summary)
    assert actual["repeat_purchases"].tolist() == [1, 2, 1]
    model = fake_fit(clv.BetaGeoModel(summary), FHL_BG_NBD, spread=0.0, draws=20)
    tracking = checks.tracking_check(model, summary, actual, n_draws=20)
    np.testing.assert_allclose(tracking["period_share"], [1, 1, 1 / 7])
    firsts = np.array([0.0, 2.0, 5.0]) / 7
    for period, end in ((0, 1.0), (1, 2.0), (2, 2 + 1 / 7)):
        expected = bg_nbd.expected_purchases_new(**FHL_BG_NBD, t=np.clip(end - firsts, 0, None))
        assert tracking.loc[period, "mean"] == pytest.approx(expected.sum(), rel=1e-10)
    assert tracking["in_holdout"].tolist() == [False, False, True]


def test_tracking_periods_end_with_the_calibration_period():
    """Calibration to day 14 (15 days, not whole weeks): periods are counted back from day 15,
    so period 0 holds days -6 to 0 (only day 0 has data), period 1 days 1-7 and period 2 days
    8-14, the last of the calibration: repeat purchases on day 3 (period 1) and days 9, 10 and
    14 (period 2)."""
    log, summary = _log(ROWS, "2024-01-15")
    actual = checks.repeat_purchases_by_period(log, summary)
    assert checks.period_origin(summary) == pd.Timestamp("2023-12-26")
    assert actual["period_start"].tolist() == [pd.Timestamp("2023-12-26"),
                                               pd.Timestamp("2024-01-02"),
                                               pd.Timestamp("2024-01-09")]
    assert actual["repeat_purchases"].tolist() == [0, 1, 3]
    model = fake_fit(clv.BetaGeoModel(summary), FHL_BG_NBD, spread=0.0, draws=20)
    tracking = checks.tracking_check(model, summary, actual, n_draws=20)
    firsts = (np.array([0.0, 2.0, 5.0]) + 6) / 7
    for period in (0, 1, 2):
        expected = bg_nbd.expected_purchases_new(
            **FHL_BG_NBD, t=np.clip(period + 1 - firsts, 0, None))
        assert tracking.loc[period, "mean"] == pytest.approx(expected.sum(), rel=1e-10)
    assert (tracking["period_share"] == 1).all() and not tracking["in_holdout"].any()


def test_tracking_mape_by_hand_leaves_out_partial_and_empty_periods():
    table = pd.DataFrame({
        "actual": [8, 25, 0, 4, 1], "incremental_mean": [10.0, 20.0, 3.0, 5.0, 5.0],
        "in_holdout": [False, True, True, True, True],
        "period_share": [1.0, 1.0, 1.0, 0.5, 1 / 7],
    })
    # Scored: period 1 (|20 - 25| / 25 = 20%) and period 3 (half a week counts: 25%).
    assert checks.tracking_mape(table) == pytest.approx(22.5)
    assert checks.tracking_periods_scored(table).index.tolist() == [1, 3]
    assert np.isnan(checks.tracking_mape(table.assign(in_holdout=False)))


def test_tracking_holdout_weeks_start_after_the_last_calibration_day():
    """CDNOW: calibration to 1997-09-30 is days 0-272 since 1997-01-01, 39 whole weeks; the
    holdout to 1998-06-30 is the next 39 weeks, all whole."""
    from helpers import cdnow_summary

    summary = cdnow_summary()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = clv.read_transactions("cdnow_sample")
    actual = checks.repeat_purchases_by_period(log, summary)
    model = fake_fit(clv.BetaGeoModel(summary), FHL_BG_NBD, spread=0.0, draws=10)
    tracking = checks.tracking_check(model, summary, actual, n_draws=10)
    assert len(tracking) == 78 and tracking["in_holdout"].sum() == 39
    assert tracking["in_holdout"].idxmax() == 39
    assert (tracking["period_share"] == 1).all()
    holdout = summary.customers["x_holdout"].sum()
    assert tracking.loc[tracking["in_holdout"], "actual"].sum() == holdout


def test_tracking_holdout_totals_equal_the_holdout_whatever_the_calibration_end():
    """A calibration end that is no whole number of weeks after the first purchase (1997-10-03)
    and a holdout of 38.6 weeks: the tracking check's holdout periods hold exactly the holdout's
    repeat purchases, and its calibration periods exactly the calibration's (issue 23: tracking
    said 442 in 41 weeks where the holdout check said 438 in 39.9)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = clv.read_transactions("cdnow_sample")
    summary = clv.summarize(log, time_unit="week", calibration_end="1997-10-03",
                            observation_end="1998-06-30")
    actual = checks.repeat_purchases_by_period(log, summary)
    model = fake_fit(clv.BetaGeoModel(summary), FHL_BG_NBD, spread=0.0, draws=10)
    tracking = checks.tracking_check(model, summary, actual, n_draws=10)
    hold = tracking[tracking["in_holdout"]]
    assert hold["actual"].sum() == summary.customers["x_holdout"].sum()
    assert tracking.loc[~tracking["in_holdout"], "actual"].sum() == summary.customers["x"].sum()
    assert len(hold) == np.ceil(summary.holdout_length)
    assert hold["period_share"].iloc[-1] == pytest.approx(summary.holdout_length % 1)


# -- holdout checks -------------------------------------------------------------------------------


def test_holdout_check_and_errors_by_hand():
    """Group sizes and actual means come straight from the summary; errors are prediction minus
    actual, and the aggregates follow from the per-customer table."""
    from helpers import cdnow_summary

    summary = cdnow_summary()
    model = fake_fit(clv.BetaGeoModel(summary), FHL_BG_NBD, spread=0.02, draws=50)
    table = checks.holdout_check(model, summary, n_draws=50)
    c = summary.customers
    group = np.minimum(c["x"], 7)
    assert table["customers"].tolist() == group.value_counts().sort_index().tolist()
    np.testing.assert_allclose(table["actual"], c.groupby(group)["x_holdout"].mean())
    lo, hi = table["expected_lower"], table["expected_upper"]
    assert (lo <= table["mean"]).all() and (table["mean"] <= hi).all()
    # The predictive interval of a group's mean holds the chance variation of its members'
    # purchases on top of parameter uncertainty: wider than the credible interval.
    assert ((table["upper"] - table["lower"]) > (hi - lo)).all()
    assert table.attrs["interval_kind"] == "predictive"
    per_customer, aggregate = checks.holdout_errors(model, summary, n_draws=50)
    e = per_customer["predicted"] - per_customer["actual"]
    np.testing.assert_allclose(per_customer["error"], e)
    assert aggregate["mae"] == pytest.approx(e.abs().mean())
    assert aggregate["rmse"] == pytest.approx(np.sqrt((e**2).mean()))
    assert aggregate["bias"] == pytest.approx(e.mean())
    # The whole-base conditional forecast equals the groups' forecasts added up.
    assert (table["mean"] * table["customers"]).sum() == pytest.approx(
        per_customer["predicted"].sum(), rel=1e-9)


def test_holdout_checks_need_a_holdout():
    from helpers import cdnow_summary

    summary = cdnow_summary(holdout=False)
    model = fake_fit(clv.BetaGeoModel(summary), FHL_BG_NBD)
    for check in (checks.holdout_check, checks.p_alive_calibration, checks.holdout_errors):
        with pytest.raises(ValueError, match="holdout"):
            check(model, summary)


def test_p_alive_grid_and_calibration():
    """BG/NBD: a customer without repeat purchases is alive for sure (P(alive) = 1 at x = 0);
    P(alive) rises with recency. Calibration groups split the customers into tenths by
    predicted P(alive), in increasing order."""
    from helpers import cdnow_summary

    summary = cdnow_summary()
    model = fake_fit(clv.BetaGeoModel(summary), FHL_BG_NBD, spread=0.02, draws=50)
    grid = checks.p_alive_grid(model, 39.0, max_x=5, n_recency=6, n_draws=50)
    assert grid.shape == (6, 6)
    np.testing.assert_allclose(grid.loc[0], 1.0)
    assert (np.diff(grid.loc[3].to_numpy()) > 0).all()
    table = checks.p_alive_calibration(model, summary, n_draws=50)
    assert len(table) == 10 and table["customers"].sum() == len(summary.customers)
    assert table["customers"].max() - table["customers"].min() <= 1
    assert table["mean_p_alive"].is_monotonic_increasing


# -- weighted rows ---------------------------------------------------------------------------------


def test_checks_count_weighted_rows_as_the_customers_they_stand_for():
    """CDNOW's customers with identical histories merged into weighted rows: the frequency check
    (its predictive draws too: the same counts per age and the same seed), the holdout groups'
    sizes, actual and expected means, and the holdout errors are unchanged."""
    from helpers import cdnow_summary

    summary = cdnow_summary()
    keys = ["x", "t_x", "T", "x_holdout", "t_x_full"]
    c = summary.customers
    merged = c.groupby(keys, as_index=False, sort=False).first()
    merged["weights"] = c.groupby(keys, sort=False).size().to_numpy()
    merged.index = pd.Index([f"row{i}" for i in range(len(merged))], name="customer_id")
    weighted = clv.CustomerSummary(merged, summary.time_unit, summary.calibration_end,
                                   summary.observation_end, source="merged")
    assert len(merged) < 0.6 * len(c)
    plain = fake_fit(clv.BetaGeoModel(summary), FHL_BG_NBD, spread=0.03, draws=60)
    rows = fake_fit(clv.BetaGeoModel(weighted), FHL_BG_NBD, spread=0.03, draws=60)
    pd.testing.assert_frame_equal(checks.frequency_check(rows, n_draws=60),
                                  checks.frequency_check(plain, n_draws=60))
    a, b = (checks.holdout_check(m, s, n_draws=60) for m, s in ((rows, weighted),
                                                                  (plain, summary)))
    for column in ("customers", "actual", "mean", "expected_lower", "expected_upper"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-9, err_msg=column)
    errors = [checks.holdout_errors(m, s, n_draws=60)[1] for m, s in ((rows, weighted),
                                                                       (plain, summary))]
    assert errors[0] == pytest.approx(errors[1], rel=1e-9)
    with pytest.raises(ValueError, match="weights"):
        checks.p_alive_calibration(rows, weighted)
    with pytest.raises(ValueError, match="whole numbers"):
        checks.frequency_check(rows, merged.assign(weights=merged["weights"] * 0.5))
