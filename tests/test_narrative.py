"""The report's sentences: each number they state equals the one in the table or figure beside
them, each verdict follows its stated threshold, and shares round honestly.

Fast: posteriors are stand-ins (``fake_fit``); figures are drawn with matplotlib's Agg backend.
"""

from __future__ import annotations

import re
import warnings
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from helpers import FHL_BG_NBD, FHL_PARETO, cdnow_summary, fake_fit  # noqa: E402

import clvlib as clv  # noqa: E402
from clvlib import checks, narrative, plots  # noqa: E402
from clvlib.comparison import ModelComparison  # noqa: E402
from clvlib.formatting import share, share_of, signed_share  # noqa: E402
from clvlib.notebook import styled  # noqa: E402
from clvlib.predict import Prediction  # noqa: E402


def _cells(styler) -> list[str]:
    """The text of every data cell of a styled table, as the report's HTML shows it."""
    return re.findall(r'<td[^>]*class="data[^"]*"[^>]*>([^<]*)</td>', styler.to_html())


def _texts(ax) -> str:
    """The text a figure shows: its annotations and legend entries, lines joined."""
    texts = [t.get_text() for t in ax.texts] + ax.get_legend_handles_labels()[1]
    return " ".join(" ".join(texts).split())


# -- shares -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value, text", [
    (597 / 600, "99.5%"), (599 / 600, "99.8%"), (1 - 1e-5, "99.999%"), (0.004, "0.4%"),
    (1e-4, "0.01%"), (-0.0004, "-0.04%"), (0.5, "50%"), (1.0, "100%"), (0.0, "0%"),
])
def test_share_rounds_honestly(value, text):
    assert share(value) == text


def test_share_never_prints_0_or_100_unless_exact():
    for value in np.r_[np.logspace(-9, -1, 40), 1 - np.logspace(-9, -1, 40)]:
        assert share(value) not in ("0%", "100%", "-0%"), value
    assert share_of(597, 600) == "99.5%" and signed_share(0.0004) == "+0.04%"
    with pytest.raises(ValueError, match="finite"):
        share(float("nan"))


def test_no_sentence_says_below_0_percent():
    """A dropout distribution with a tenth of customers below 0.5%: the sentence gives the
    digit that matters instead of 'below 0%'."""
    model = fake_fit(clv.BetaGeoModel(cdnow_summary()), {**FHL_BG_NBD, "a": 0.1, "b": 5.0})
    text = narrative.heterogeneity(model)
    assert not re.search(r"(?<![\d.])0%", text), text
    assert not re.search(r"(?<![\d.])100%", text), text


# -- frequency check ---------------------------------------------------------------------------


def _frequency(inside: int, total: int = 8) -> pd.DataFrame:
    actual = np.full(total, 100)
    lower = np.where(np.arange(total) < inside, 90, 101)
    table = pd.DataFrame({"actual": actual, "mean": actual * 1.0, "lower": lower,
                          "upper": lower + 20}, index=[str(i) for i in range(total)])
    table.attrs.update(interval_kind="predictive", ppp=0.3)
    return table


WHAT = "how many customers made 0, 1, 2, ... repeat purchases"


@pytest.mark.parametrize("inside, verdict", [
    (8, f"The model reproduces {WHAT}:"), (6, f"The model reproduces {WHAT}:"),
    (5, f"The model reproduces {WHAT} only roughly:"),
    (4, f"The model reproduces {WHAT} only roughly:"),
    (3, f"The model does not reproduce {WHAT}:"), (0, f"The model does not reproduce {WHAT}:"),
])
def test_frequency_verdict_follows_the_stated_share(inside, verdict):
    text = narrative.frequency_fit(_frequency(inside))
    assert text.startswith(verdict), text
    assert f"**{inside} of the 8 actual counts fall inside" in text
    assert "at least 75%, here 6 of 8" in text


def test_frequency_sentence_counts_what_the_table_and_figure_show():
    model = fake_fit(clv.BetaGeoModel(cdnow_summary()), FHL_BG_NBD, spread=0.03)
    table = checks.frequency_check(model, n_draws=300)
    text = narrative.frequency_fit(table)
    k, n = map(int, re.search(r"\*\*(\d+) of the (\d+) actual counts", text).groups())
    assert n == len(table)
    assert k == ((table["actual"] >= table["lower"]) & (table["actual"] <= table["upper"])).sum()
    assert f"p-value is {table.attrs['ppp']:.2f}" in text
    ax = plots.plot_frequency_check(table)
    labels = ax.get_legend_handles_labels()[1]
    assert "model, mean and 90% predictive interval" in labels
    assert "90% predictive intervals" in text


# -- model comparison -----------------------------------------------------------------------------


def _comparison(rank_by="holdout_lpd"):
    raw = pd.DataFrame(
        {"rank": [1, 2, 3], "elpd_loo": [-9583.3, -9583.6, -9700.0],
         "elpd_loo_se": [278.6, 278.6, 280.0], "d_elpd_loo": [0.0, -0.304, -116.7],
         "d_elpd_loo_se": [0.0, 3.818, 12.25], "p_loo": [1.29, 1.29, 3.0],
         "pareto_k_bad": [0.0, 0.0, 0.0042], "holdout_lpd": [-7568.2, -7573.7, -7650.0],
         "d_holdout_lpd": [0.0, -5.496, -81.84], "d_holdout_lpd_se": [0.0, 4.143, 11.06]},
        index=pd.Index(["MBG/NBD", "BG/NBD", "Pareto/NBD"], name="model"),
    )
    return ModelComparison(raw, {}, rank_by)


def test_comparison_sentence_states_the_table_numbers_and_the_verdicts():
    result = _comparison()
    text = narrative.comparison(result, SimpleNamespace(title="MBG/NBD"))
    cells = _cells(styled(narrative.comparison_table(result), "c",
                          formats=narrative.COMPARISON_FORMATS))
    stated = re.findall(r"([\d,.]+) log points (?:ahead of|behind) ([^ ]+) \(standard error of "
                        r"the difference ([\d,.]+): ([^)]+)\)", text)
    assert len(stated) == 4  # two runners-up, by holdout density and by PSIS-LOO
    for diff, _title, se, _verdict in stated:
        assert f"-{diff}" in cells and se in cells, (diff, se, cells)
    verdicts = [v for *_, v in stated]
    assert verdicts == ["too close to call", "a clear margin", "too close to call",
                        "a clear margin"]
    assert "exceeds 2 standard errors of the difference and 4 log points" in text
    assert "0.4%" in text  # pareto_k_bad, as the table shows it
    assert "0.4%" in cells


# -- holdout and tracking -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_checks():
    summary = cdnow_summary()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = clv.read_transactions("cdnow_sample")
    model = fake_fit(clv.BetaGeoModel(summary), FHL_BG_NBD, spread=0.03, draws=100)
    repeat = checks.repeat_purchases_by_period(log, summary)
    return SimpleNamespace(summary=summary, model=model, repeat=repeat,
                           tracking=checks.tracking_check(model, summary, repeat, n_draws=100),
                           holdout=checks.holdout_check(model, summary, n_draws=100))


def test_holdout_sentence_totals_equal_the_table(cdnow_checks):
    h, summary = cdnow_checks.holdout, cdnow_checks.summary
    text = narrative.holdout_fit(h, summary)
    actual = (h["actual"] * h["customers"]).sum()
    predicted = (h["mean"] * h["customers"]).sum()
    assert actual == summary.customers["x_holdout"].sum()
    assert f"**{actual:,.0f} repeat purchases**" in text
    assert f"forecast **{predicted:,.0f}** ({signed_share((predicted - actual) / actual)};" in text
    inside = ((h["actual"] >= h["lower"]) & (h["actual"] <= h["upper"])).sum()
    assert f"the actual mean of **{inside} of {len(h)} groups** falls inside the 90% predictive" \
        in text
    verdict = ("reproduces the groups' holdout purchases:" if inside >= 0.75 * len(h) else
               "reproduces the groups' holdout purchases only roughly:" if inside >= 0.5 * len(h)
               else "does not reproduce the groups' holdout purchases:")
    assert f"the model {verdict}" in text
    verdict = "close" if abs(predicted / actual - 1) <= 0.1 else "not close"
    assert f"; {verdict}: a forecast within 10% of the actual counts as close" in text


def test_tracking_sentence_states_the_comparison_tables_mape(cdnow_checks):
    t = cdnow_checks.tracking
    text = narrative.tracking_fit(t, "week")
    mape = checks.tracking_mape(t)
    assert f"off by **{mape:.1f}% on average**" in text
    assert narrative.COMPARISON_FORMATS["tracking MAPE %"].format(mape) == f"{mape:.1f}"
    hold = t[t["in_holdout"]]
    assert "Over the 39.0 weeks of the holdout" in text and len(hold) == 39
    assert f"the holdout's 39.0 weeks saw {hold["actual"].sum():,.0f} repeat purchases" in text
    assert "pro rata" not in text  # CDNOW's holdout ends on a whole week


def test_tracking_with_a_log_ending_one_day_into_a_week(cdnow_checks):
    """Holdout to 1998-06-24 (day 539 since 1997-01-01): week 77 holds one day. The figure
    compares it pro rata and says so; the MAPE leaves it out, and the sentence says that."""
    s = cdnow_checks.summary
    end = pd.Timestamp("1998-06-24")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = clv.read_transactions("cdnow_sample")
        short = clv.summarize(log, time_unit="week", calibration_end=s.calibration_end,
                              observation_end=end)
    repeat = checks.repeat_purchases_by_period(log, short)
    model = fake_fit(clv.BetaGeoModel(short), FHL_BG_NBD, spread=0.03, draws=100)
    t = checks.tracking_check(model, short, repeat, n_draws=100)
    assert t["period_share"].iloc[-1] == pytest.approx(1 / 7)
    assert (t["period_share"].iloc[:-1] == 1).all()
    assert t.index[-1] not in checks.tracking_periods_scored(t).index
    text = narrative.tracking_fit(t, "week")
    assert "The data end 14% of the way into the last week" in text
    assert "compare that week pro rata" in text and "leaves it out" in text
    assert f"off by **{checks.tracking_mape(t):.1f}% on average**" in text
    ax = plots.plot_tracking(t, time_unit="week", cumulative=False)
    assert "last week: 14% covered" in _texts(ax)
    # The partial week is drawn where its data end, with its pro-rata expectation.
    x, y = ax.lines[1].get_data()
    assert x[-1] == pytest.approx(77 + 1 / 7)
    assert y[-1] == pytest.approx(t["incremental_mean"].iloc[-1])


# -- the average customer and the value of the base ---------------------------------------------


@pytest.mark.parametrize("cls, params", [(clv.BetaGeoModel, FHL_BG_NBD),
                                         (clv.ParetoNBDModel, FHL_PARETO)])
def test_heterogeneity_sentence_and_figures_print_the_same_numbers(cls, params):
    model = fake_fit(cls(cdnow_summary()), params, spread=0.05)
    text = narrative.heterogeneity(model)
    avg = narrative.average_customer(model)
    rates = _texts(plots.plot_purchase_rates(model))
    assert f"{avg['rate_per_year']:.1f} times a year" in text
    assert f"average customer: {avg['rate_per_year']:.1f} a year" in rates
    below = share(avg["share_below"])
    assert f"**{below} of customers buy less often" in text and f"{below} of" in rates
    dropout = _texts(plots.plot_dropout(model))
    if "dropout" in avg:
        for value in (share(avg["dropout"]), share(avg["share_more_loyal"])):
            assert value in text and value in dropout
    else:
        assert f"stay {avg['lifetime_years']:.1f} years" in text
        assert f"at the average dropout rate: {avg['lifetime_years']:.1f} years" in dropout


def _prediction(values, name="CLV"):
    frame = pd.DataFrame({"mean": values, "lower": values * 0.9, "upper": values * 1.1})
    draws = values.sum() * np.linspace(0.95, 1.05, 101)
    return Prediction(name, frame, draws, 0.9)


def test_value_summary_and_figures_print_the_same_numbers():
    rng = np.random.default_rng(0)
    values = pd.Series(rng.lognormal(3, 1.5, size=600))
    alive = pd.Series(np.r_[np.full(597, 0.9), np.full(3, 0.1)])
    text = narrative.value_summary(_prediction(values), _prediction(alive, "P(alive)"))
    top = share(clv.value.top_share(values, 0.1))
    assert f"**the top 10% of customers hold {top} of it**" in text
    assert f"hold {top} of CLV" in _texts(plots.plot_lorenz(values))
    # 597 of 600 customers are likely active: 99.5%, not 100%.
    assert "**597 customers (99.5%) are more likely than not still active**" in text
    legend = plots.plot_value_distribution(values).get_legend_handles_labels()[1]
    assert f"worth {values.mean():,.2f}" in text and f"only {values.median():,.2f}" in text
    assert f"mean (the 'average customer'): {values.mean():,.2f}" in legend
    assert f"median: {values.median():,.2f}" in legend
    total = _prediction(values).total()
    assert f"**{total['mean']:,.0f}** (90% credible interval of the expected value " \
        f"{total['lower']:,.0f} to" in text


def test_data_overview_share_of_customers_without_repeat_purchase():
    summary = cdnow_summary()
    overview = {"rows": 6919, "customers": 2357, "first_date": pd.Timestamp("1997-01-01"),
                "last_date": pd.Timestamp("1998-06-30")}
    text = narrative.data_overview(overview, summary)
    zero = (summary.customers["x"] == 0).sum()
    assert f"**{share_of(zero, len(summary.customers))} made no repeat purchase**" in text


def test_tracking_sentence_without_holdout_and_with_a_partial_last_week():
    t = pd.DataFrame({"period": [0, 1, 2], "actual": [5, 7, 1], "incremental_mean": [5.5, 6.5, 0.8],
                      "in_holdout": [False] * 3, "period_share": [1.0, 1.0, 2 / 7]})
    text = narrative.tracking_fit(t, "week")
    assert text.startswith("This run has no holdout period")
    assert text.endswith("The data end 29% of the way into the last week; the figures compare "
                         "that week pro rata (the model's expectation covers the same days).")
    assert "MAPE" not in text and "off by" not in text


def test_holdout_sentence_without_actual_purchases_states_no_ratio():
    h = pd.DataFrame({"customers": [10, 5], "actual": [0.0, 0.0], "mean": [0.2, 0.5],
                      "lower": [0.0, 0.0], "upper": [0.5, 1.2]}, index=["0", "1"])
    h.attrs["interval_kind"] = "predictive"
    summary = SimpleNamespace(holdout_length=39.0, time_unit=clv.TimeUnit.parse("week"))
    text = narrative.holdout_fit(h, summary)
    assert "forecast **4** (no actual purchases to compare with)" in text
    assert "inf" not in text and "nan" not in text
