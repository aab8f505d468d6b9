"""Figures of the decisions section: segments and relationship stages (``ax=None``, return Axes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from clvlib.plots import ACCENT, ACTUAL, MODEL, _axes, _legend_below
from clvlib.segments import STAGES


def plot_segments(table: pd.DataFrame, *, ax=None):
    """Share of customers beside share of predicted value per strategy segment, the value
    share with its credible interval (a table from :func:`clvlib.segments.segment_table`)."""
    ax = _axes(ax)
    rows = table.drop(index="total", errors="ignore")
    y = np.arange(len(rows))
    ax.barh(y + 0.2, rows["share of customers"], height=0.4, color=ACTUAL, alpha=0.7,
            label="share of customers")
    err = np.vstack([rows["share of value"] - rows["share lower"],
                     rows["share upper"] - rows["share of value"]]).clip(min=0)
    ax.barh(y - 0.2, rows["share of value"], height=0.4, color=MODEL, xerr=err,
            ecolor=ACCENT, label="share of predicted value (with interval)")
    ax.set_yticks(y, rows.index)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("share of the base")
    ax.set_title("Strategy segments: how many customers, how much of the value")
    _legend_below(ax)
    return ax


def plot_stage_counts(counts: pd.DataFrame, *, ax=None):
    """Customers in each relationship stage at the end of each period (stacked)."""
    ax = _axes(ax)
    columns = [s for s in STAGES if s in counts.columns]
    labels = [f"{pd.Timestamp(d):%b %Y}" for d in counts.index]  # "Mar 1997": short, readable
    bottom = np.zeros(len(counts))
    colors = ["#9ecae1", "#4292c6", "#08519c", "#fdae6b", "#d94801"]
    for stage, color in zip(columns, colors, strict=False):
        ax.bar(labels, counts[stage], bottom=bottom, color=color, label=stage)
        bottom += counts[stage].to_numpy()
    ax.set_ylabel("customers")
    ax.set_xlabel("end of quarter")
    if len(labels) > 8:  # many quarters: slanted labels, and only every n-th one
        step = int(np.ceil(len(labels) / 12))
        ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")
    ax.set_title("Relationship stages at the end of each quarter")
    ax.legend(frameon=False, ncols=len(columns), loc="upper center",
              bbox_to_anchor=(0.5, -0.18))
    return ax
