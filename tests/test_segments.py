"""Strategy segments, the win-back list and relationship stages (clvlib.segments), and the
period-over-period comparison of two report runs (clvlib.periods)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import FH_GAMMA_GAMMA, FHL_BG_NBD, cdnow_summary, fake_fit

import clvlib as clv
from clvlib import periods
from clvlib import segments as sg
from clvlib.report import ReportError, _check_previous, pipeline_steps
from clvlib.scoring import score_customers


def scored(summary, n_draws=50, seed=3):
    purchases = fake_fit(clv.BetaGeoModel(summary), FHL_BG_NBD, spread=0.05, draws=n_draws)
    spend = fake_fit(clv.GammaGammaModel(summary), FH_GAMMA_GAMMA, spread=0.05, draws=n_draws,
                     seed=2)
    scores = score_customers(purchases, spend, horizon=52, n_draws=n_draws, seed=seed)
    frame = sg.decision_frame(summary, scores["p_alive"], scores["clv"],
                              scores["expected_purchases"])
    return purchases, spend, scores, sg.assign_segments(frame)


@pytest.fixture(scope="module")
def cdnow():
    summary = cdnow_summary()
    purchases, spend, scores, segmented = scored(summary)
    table, draws = sg.segment_table(purchases, spend, summary, segmented, n_draws=50, seed=3)
    return {"summary": summary, "scores": scores, "segmented": segmented, "table": table,
            "draws": draws}


def test_segments_partition_the_base(cdnow):
    segmented, table = cdnow["segmented"], cdnow["table"]
    assert segmented["segment"].notna().all()
    assert len(segmented) == len(cdnow["summary"].customers)
    body = table.drop(index="total")
    assert body["customers"].sum() == len(segmented)
    assert body["share of customers"].sum() == pytest.approx(1.0)
    assert body["share of value"].sum() == pytest.approx(1.0)
    # Every segment present on CDNOW except start (all customers were acquired by March 1997).
    assert body.loc["start", "customers"] == 0
    assert (body.drop(index="start")["customers"] > 0).all()


def test_segment_values_add_up_to_the_base_in_every_draw(cdnow):
    draws = cdnow["draws"]
    parts = sum(v for k, v in draws.items() if k != "total")
    np.testing.assert_allclose(parts, cdnow["scores"]["clv"].total_draws, rtol=1e-12)
    # And a segment's value is the sum over its customers, per draw.
    protect = cdnow["segmented"].index[cdnow["segmented"]["segment"] == "protect"]
    table = cdnow["table"]
    assert table.loc["protect", "value"] == pytest.approx(draws["protect"].mean())
    assert table.loc["protect", "value lower"] <= table.loc["protect", "value"]
    per_customer = cdnow["scores"]["clv"].per_customer.loc[protect, "mean"].sum()
    assert draws["protect"].mean() == pytest.approx(per_customer, rel=1e-9)


def edge_frame(rule: sg.SegmentRule):
    """Customers exactly at the thresholds, and one on each side."""
    rows = {
        # repeat buyers set the value quantiles: values 0..100
        **{f"r{i}": dict(repeat_purchases=2, tenure=30, p_alive=0.9, future_value=float(i),
                         past_value=float(i)) for i in range(101)},
        "new_at_limit": dict(repeat_purchases=0, tenure=13.0, p_alive=1.0, future_value=50.0,
                             past_value=0.0),
        "new_past_limit": dict(repeat_purchases=0, tenure=13.01, p_alive=1.0, future_value=50.0,
                               past_value=0.0),
        "one_timer_low": dict(repeat_purchases=0, tenure=30, p_alive=1.0, future_value=5.0,
                              past_value=0.0),
        "lapsed_at_limit": dict(repeat_purchases=3, tenure=30, p_alive=0.3, future_value=90.0,
                                past_value=90.0),
        "lapsed_valuable": dict(repeat_purchases=3, tenure=30, p_alive=0.29, future_value=10.0,
                                past_value=50.0),
        "lapsed_cheap": dict(repeat_purchases=3, tenure=30, p_alive=0.29, future_value=10.0,
                             past_value=49.9),
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame["value_if_active"] = frame["future_value"] / frame["p_alive"]
    frame["value_lower"] = frame["value_upper"] = frame["future_value"]
    frame["inactive_for"] = 1.0
    return frame


def test_the_rule_on_edge_customers():
    rule = sg.SegmentRule()
    frame = edge_frame(rule)
    cut = rule.cutoffs(frame)
    # quantiles of repeat buyers' values 0..100, and of past values 0..100 (plus 3 lapsed)
    assert cut["high_value"] == pytest.approx(np.quantile(frame.loc[frame.repeat_purchases > 0,
                                                                    "future_value"], 0.8))
    segment = sg.assign_segments(frame, rule)["segment"].astype(str)
    assert segment["new_at_limit"] == "start"
    assert segment["new_past_limit"] == "develop"   # 50 lies between the value cuts
    assert segment["one_timer_low"] == "let go"     # no repeat, below the low value cut
    assert segment["lapsed_at_limit"] == "protect"  # p_alive == 0.3 is not lapsed
    assert segment["lapsed_valuable"] == "win back"
    assert segment["lapsed_cheap"] == "let go"
    assert segment[f"r{int(np.ceil(cut['high_value']))}"] == "protect"
    assert segment[f"r{int(np.floor(cut['low_value']))}"] == "harvest"
    assert segment[f"r{int(np.ceil(cut['low_value']))}"] == "develop"


def test_the_rule_is_data_and_a_custom_rule_must_cover_everyone():
    rule = sg.SegmentRule()
    frame = edge_frame(rule)
    shown = rule.table(frame, "weeks")
    assert list(shown.index) == ["start", "win back", "let go", "protect", "harvest", "develop"]
    assert "tenure <= 13 weeks" in shown.loc["start", "condition"]
    assert shown.loc["develop", "condition"] == "otherwise"
    custom = [("vip", "future_value >= @high_value"), ("rest", "future_value < @high_value")]
    segments = sg.assign_segments(frame, rule, conditions=custom)["segment"]
    assert set(segments.astype(str)) == {"vip", "rest"}
    with pytest.raises(ValueError, match="match no segment condition"):
        sg.assign_segments(frame, rule, conditions=custom[:1])
    with pytest.raises(ValueError, match="low_value"):
        sg.SegmentRule(low_value=0.9, high_value=0.8)


def test_negative_predicted_margins_are_flagged_for_re_engineering():
    summary = cdnow_summary()
    small = summary.customers.iloc[:200].assign(cost_to_serve=np.tile([2.0, 20.0], 100),
                                                margin=0.3)
    _, _, scores, segmented = scored(summary.with_customers(small))
    margin = 0.3 * segmented["future_value"] - small["cost_to_serve"] * segmented[
        "expected_purchases"]
    np.testing.assert_allclose(segmented["predicted_margin"], margin)
    assert (segmented["re_engineer"] == (margin < 0)).all()
    assert segmented["re_engineer"].any() and not segmented["re_engineer"].all()


def test_win_back_list_is_ranked_and_exported(cdnow, tmp_path):
    listed = sg.win_back_list(cdnow["segmented"])
    assert (listed["segment"] == "win back").all()
    assert len(listed) == (cdnow["segmented"]["segment"] == "win back").sum()
    assert listed["expected_value"].is_monotonic_decreasing
    assert list(listed["rank"]) == list(range(1, len(listed) + 1))
    np.testing.assert_allclose(listed["expected_value"],
                               listed["p_alive"] * listed["value_if_reactivated"])
    np.testing.assert_allclose(listed["expected_value"],
                               cdnow["segmented"].loc[listed.index, "future_value"])
    paths = sg.write_table(listed, tmp_path, "win_back_list")
    assert [p.name for p in paths] == ["win_back_list.csv", "win_back_list.parquet"]
    back = pd.read_parquet(paths[1])
    pd.testing.assert_frame_equal(back, listed)
    assert len(pd.read_csv(paths[0])) == len(listed)


def test_relationship_stages_by_hand():
    customers = pd.DataFrame({
        "x": [0, 0, 1, 3, 5, 2], "t_x": [0, 0, 20, 25, 1, 10], "T": [5, 30, 30, 30, 50, 30],
        "monetary": np.nan,
    }, index=list("abcdef"))
    stages = sg.relationship_stages(customers, lapsing_after=13, lost_after=39)
    assert list(stages.astype(str)) == ["first purchase", "lapsing", "repeat", "loyal", "lost",
                                        "lapsing"]


def test_stage_flows_count_every_acquired_customer():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = clv.read_transactions("cdnow_sample")
    ends = sg.quarter_ends(*log.date_range())
    assert [str(d.date()) for d in ends] == ["1997-03-31", "1997-06-30", "1997-09-30",
                                             "1997-12-31", "1998-03-31", "1998-06-30"]
    counts, flows = sg.stage_flows(log, ends)
    assert (counts.sum(axis=1) == 2357).all()   # the whole cohort was acquired by March 1997
    for date, group in flows.groupby("to date"):
        assert group.groupby("to")["customers"].sum().reindex(sg.STAGES, fill_value=0).tolist() \
            == counts.loc[date].tolist()
    # Nobody comes back from lost to first purchase; first purchase only in the first quarter.
    assert not ((flows["from"] == "lost") & (flows["to"] == "first purchase")).any()
    assert counts["first purchase"].iloc[1:].eq(0).all()


# --------------------------------------------------------------------------------------------
# Period over period
# --------------------------------------------------------------------------------------------


def fake_run(segments: dict, values: dict, draws) -> periods.RunArtifacts:
    frame = pd.DataFrame({"segment": pd.Series(segments), "future_value": pd.Series(values)})
    return periods.RunArtifacts(frame, np.asarray(draws, dtype=float), {"calibration_end": "x"})


def test_the_same_run_twice_shows_no_change(cdnow, tmp_path):
    run = periods.RunArtifacts(cdnow["segmented"], cdnow["draws"]["total"],
                               {"calibration_end": "1997-09-30"})
    run.write(tmp_path / "a" / "artifacts")
    run.write(tmp_path / "b" / "artifacts")
    result = periods.compare_runs(periods.load_run(tmp_path / "a"),
                                  periods.load_run(tmp_path / "b"))
    assert result.unchanged
    assert (result.value.loc["change"] == 0).all()
    assert result.customers["new"] == 0
    assert result.customers["lost (active before, lapsed now)"] == 0
    assert result.customers["no longer in the data"] == 0
    transitions = result.transitions.to_numpy()
    assert (transitions == np.diag(np.diag(transitions))).all()
    assert transitions.sum() == len(cdnow["segmented"])


def test_comparison_counts_new_lost_and_moved_customers():
    before = fake_run({"a": "protect", "b": "develop", "c": "harvest", "d": "let go"},
                      {"a": 10, "b": 5, "c": 1, "d": 0.5}, [10, 20, 30])
    after = fake_run({"a": "protect", "b": "win back", "c": "develop", "e": "start"},
                     {"a": 12, "b": 2, "c": 4, "e": 3}, [15, 25, 35, 45])
    result = periods.compare_runs(before, after)
    assert result.customers.to_dict() == {
        "previous run": 4, "this run": 4, "continuing": 3, "new": 1,
        "lost (active before, lapsed now)": 1, "no longer in the data": 1,
    }
    assert result.value.loc["change", "mean"] == pytest.approx(5.0)   # paired: 3 draws
    assert result.transitions.loc["develop", "win back"] == 1
    assert result.transitions.loc["new customer", "start"] == 1
    assert result.transitions.loc["let go", "not in this run"] == 1
    assert not result.unchanged


def test_two_cdnow_periods_move_customers_as_expected():
    """Calibration to 1997-09-30 and to 1998-03-31 on the same cohort: no new customers, a
    lower base value (six months older, fewer active), and the customers who bought again
    in between mostly out of the lapsed segments."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = clv.read_transactions("cdnow_sample")
    runs, summaries = [], []
    for end in ("1997-09-30", "1998-03-31"):
        summary = clv.summarize(log, time_unit="week", calibration_end=end)
        _, _, scores, segmented = scored(summary)
        runs.append(periods.RunArtifacts(segmented, scores["clv"].total_draws, {}))
        summaries.append(summary)
    result = periods.compare_runs(*runs)
    assert result.customers["new"] == 0 and result.customers["no longer in the data"] == 0
    assert result.value.loc["change", "upper"] < 0
    assert result.customers["lost (active before, lapsed now)"] > 0
    bought = summaries[1].customers["x"] > summaries[0].customers["x"]
    was_lapsed = runs[0].segments["segment"].isin(sg.LAPSED)
    back = result.moved.loc[bought & was_lapsed, "current segment"]
    assert len(back) > 0
    assert (~back.isin(sg.LAPSED)).mean() > 0.5
    assert not result.unchanged


def test_the_comparison_and_segments_read_as_sentences_and_figures(cdnow):
    from clvlib import decision_plots, decision_text

    before = fake_run({"a": "protect", "b": "develop"}, {"a": 10, "b": 5}, [10.0, 20.0, 30.0])
    after = fake_run({"a": "protect", "b": "win back"}, {"a": 12, "b": 2}, [1.0, 2.0, 3.0])
    text = decision_text.comparison(periods.compare_runs(before, after), "March")
    assert "fell from 20.00 to 2.00, a change of **-18.00** (credible interval" in text
    assert "1 who were active are now lapsed" in text and "1 customers changed segment" in text
    same = decision_text.comparison(periods.compare_runs(before, before), "March")
    assert "stayed at 20.00 in every posterior draw" in same
    assert "Every customer is in the same segment as before." in same
    listed = sg.win_back_list(cdnow["segmented"])
    words = decision_text.segments(cdnow["table"], listed, 52, "weeks", 0.9, 0.1)
    protect = cdnow["table"].loc["protect"]
    assert f"**Protect** the {protect['customers']:,.0f} customers" in words
    assert f"**{protect['share of value']:.0%}** of the predicted value" in words
    ax = decision_plots.plot_segments(cdnow["table"])
    assert [t.get_text() for t in ax.get_yticklabels()] == list(sg.SEGMENTS)
    counts = pd.DataFrame([[5, 1, 0, 0, 0], [0, 2, 1, 3, 0]], columns=list(sg.STAGES),
                          index=pd.to_datetime(["1997-03-31", "1997-06-30"]).date)
    ax = decision_plots.plot_stage_counts(counts)
    assert len(ax.patches) == 10
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Mar 1997", "Jun 1997"]


def test_previous_must_be_a_report_with_decisions(tmp_path):
    steps = pipeline_steps()
    with pytest.raises(ReportError, match="not a report folder"):
        _check_previous(tmp_path, steps)
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(ReportError, match="segments.parquet is missing"):
        _check_previous(tmp_path, steps)
    fake_run({"a": "protect"}, {"a": 1.0}, [1.0]).write(tmp_path / "artifacts")
    assert _check_previous(tmp_path, steps) == tmp_path.absolute()


# --------------------------------------------------------------------------------------------
# The real pipeline, end to end: the decisions section, and --previous on the same data
# --------------------------------------------------------------------------------------------
