"""Every plot function returns its Axes with the artists a reader needs (matplotlib Agg).

Fast: posteriors are stand-ins (``fake_fit``); the tables come from clvlib.checks.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import FHL_BG_NBD, FHL_PARETO, cdnow_summary, fake_fit  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PolyCollection, QuadMesh  # noqa: E402

import clvlib as clv  # noqa: E402
from clvlib import checks, plots  # noqa: E402
from clvlib.datasets import load_dataset  # noqa: E402
from clvlib.models.sbg import cohort_rows  # noqa: E402


@pytest.fixture(scope="module")
def bg():
    return fake_fit(clv.BetaGeoModel(cdnow_summary()), FHL_BG_NBD, spread=0.03, draws=100)


def _labels(ax) -> list[str]:
    return ax.get_legend_handles_labels()[1]


def _bands(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_plot_frequency_check_draws_two_bars_per_count(bg):
    table = checks.frequency_check(bg, n_draws=100)
    ax = plots.plot_frequency_check(table)
    assert isinstance(ax, Axes)
    assert len(ax.containers[0]) == len(table) == len(ax.containers[1])
    heights = [bar.get_height() for bar in ax.containers[0]]
    assert heights == table["actual"].tolist()
    assert _labels(ax) == ["actual", "model, mean and 90% predictive interval"]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(table.index)


def test_plots_draw_on_a_given_axes(bg):
    _, ax = plt.subplots()
    assert plots.plot_frequency_check(checks.frequency_check(bg, n_draws=50), ax=ax) is ax


def test_plot_tracking_actual_model_band_and_holdout_boundary(bg):
    summary = cdnow_summary()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = clv.read_transactions("cdnow_sample")
    table = checks.tracking_check(bg, summary, checks.repeat_purchases_by_period(log, summary),
                                  n_draws=50)
    for cumulative in (True, False):
        ax = plots.plot_tracking(table, time_unit="week", cumulative=cumulative)
        assert _labels(ax) == ["actual", "model (mean)", "model 90% credible interval"]
        actual = ax.lines[0].get_ydata()
        column = "actual_cumulative" if cumulative else "actual"
        np.testing.assert_array_equal(actual, table[column])
        assert len(_bands(ax)) == 1
        boundary = [line for line in ax.lines if line.get_linestyle() == ":"]
        assert len(boundary) == 1 and boundary[0].get_xdata()[0] == 39
        assert "holdout" in "".join(t.get_text() for t in ax.texts)


def test_plot_holdout_check_names_its_interval(bg):
    table = checks.holdout_check(bg, cdnow_summary(), n_draws=50)
    ax = plots.plot_holdout_check(table)
    assert _labels(ax) == ["actual", "model (mean)", "90% predictive interval of the group's mean"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), table["actual"])
    assert len(_bands(ax)) == 1


@pytest.mark.parametrize("cls, params, marker", [
    (clv.BetaGeoModel, FHL_BG_NBD, "chance of leaving"),
    (clv.ParetoNBDModel, FHL_PARETO, "at the average dropout rate"),
])
def test_mixing_distribution_plots_mark_the_average_customer(cls, params, marker):
    """The average customer is marked by a line whose label is a legend entry, under the chart
    (a label placed on the chart covered the legend or ran past the chart)."""
    model = fake_fit(cls(cdnow_summary()), params, spread=0.05, draws=100)
    ax = plots.plot_purchase_rates(model, n_draws=50)
    assert ax.get_xscale() == "log" and len(_bands(ax)) == 1 and not ax.texts
    labels = _labels(ax)
    assert labels[:2] == ["90% interval", "posterior mean"] and "average customer" in labels[2]
    assert ax.get_legend().get_bbox_to_anchor().y0 < ax.get_window_extent().y0  # below
    ax = plots.plot_dropout(model, n_draws=50)
    assert marker in _labels(ax)[2].replace("\n", " ") and len(_bands(ax)) == 1


def test_p_alive_figures(bg):
    summary = cdnow_summary()
    table = checks.p_alive_calibration(bg, summary, n_draws=50)
    ax = plots.plot_p_alive_calibration(table)
    assert len(ax.containers) == 2 and all(len(c) == 10 for c in ax.containers)
    grid = checks.p_alive_grid(bg, 39.0, max_x=5, n_recency=6, n_draws=50)
    ax = plots.plot_p_alive_grid(grid)
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1
    np.testing.assert_allclose(np.asarray(meshes[0].get_array()).reshape(grid.shape),
                               grid.to_numpy())
    assert "39.0 weeks" in ax.get_title()


def test_value_figures():
    values = np.random.default_rng(0).lognormal(3, 1.5, size=600)
    ax = plots.plot_value_distribution(values)
    assert len(ax.patches) > 10 and ax.get_xscale() == "log"
    assert [line.get_xdata()[0] for line in ax.lines] == pytest.approx(
        [values.mean(), np.median(values)])
    ax = plots.plot_lorenz(values)
    assert _labels(ax) == ["customers ranked by CLV", "if every customer were worth the same"]
    x, y = ax.lines[0].get_data()
    assert (x[0], y[0], x[-1], y[-1]) == pytest.approx((0, 0, 1, 1))
    assert "Gini" in ax.get_title() and "top 10% of customers hold" in ax.texts[0].get_text()


def test_sbg_figures():
    rows = cohort_rows(load_dataset("sbg_retention"), "regular", cohort_size=1000, through=7)
    model = fake_fit(clv.ShiftedBetaGeoModel(rows), {"alpha": 0.704, "beta": 1.182},
                     draws=100)
    ax = plots.plot_projection(model, periods=12)
    assert _labels(ax) == ["actual", "sBG (mean)", "sBG 90% interval"]
    assert ax.lines[0].get_ydata()[0] == 100 and len(_bands(ax)) == 1
    assert "projection" in ax.texts[0].get_text()
    ax = plots.plot_retention_rates(model, periods=12)
    assert "sBG (mean)" in _labels(ax) and len(_bands(ax)) == 1


def test_contract_figures_name_the_model_they_draw():
    rows = cohort_rows(load_dataset("sbg_retention"), "highend", cohort_size=1000, through=7)
    model = fake_fit(clv.BetaDiscreteWeibullModel(rows),
                     {"alpha": 0.214, "beta": 1.427, "c": 1.724}, draws=100)
    ax = plots.plot_projection(model, periods=12)
    assert _labels(ax) == ["actual", "BdW (mean)", "BdW 90% interval"]
    ax = plots.plot_retention_rates(model, periods=12)
    assert _labels(ax) == ["BdW (mean)", "BdW 90% interval", "actual"]


def test_two_cohorts_on_one_axes_are_told_apart_by_colour_and_label():
    """Lesson 7 draws the regular and high-end cohorts on one axes: each in its own colour,
    its actual and model curves named by its label (they were all "sBG" in one blue)."""
    ax = None
    for name, params, colour in (("regular", {"alpha": 0.704, "beta": 1.182}, "C0"),
                                 ("highend", {"alpha": 0.668, "beta": 3.806}, "C1")):
        rows = cohort_rows(load_dataset("sbg_retention"), name, cohort_size=1000, through=7)
        model = fake_fit(clv.ShiftedBetaGeoModel(rows), params, draws=100)
        ax = plots.plot_retention_rates(model, periods=12, ax=ax, color=colour, label=name)
    assert _labels(ax) == ["regular (mean)", "regular 90% interval", "actual (regular)",
                           "highend (mean)", "highend 90% interval", "actual (highend)"]
    colours = [matplotlib.colors.to_hex(line.get_color()) for line in ax.lines
               if not line.get_label().startswith("_")]  # not the unlabelled "fitted to" mark
    assert colours == [matplotlib.colors.to_hex(c) for c in ("C0", "C0", "C1", "C1")]
