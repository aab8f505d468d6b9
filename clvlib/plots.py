"""Figures that teach: each takes ``ax=None`` and returns the Axes, so they compose and test.

Data are drawn in dark grey, the model in blue with its credible band; the "average customer"
is marked wherever a distribution is drawn, to show how few customers resemble it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, PercentFormatter

from clvlib.formatting import amount, share
from clvlib.mixing import (
    dropout_mixture,
    lifetime_density,
    purchase_rate_mixture,
    regularity_mixture,
)
from clvlib.narrative import average_customer, regularity_quantities
from clvlib.value import gini, lorenz_curve, top_share

ACTUAL = "#333333"
MODEL = "#1f6fb4"
ACCENT = "#d9622b"
FIGSIZE = (7.5, 4.0)


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    return ax


def _legend_below(ax) -> None:
    """The legend under the chart, in columns: it cannot cover a curve or a label."""
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3,
              fontsize="small")


def _band_label(table: pd.DataFrame, interval: float) -> str:
    kind = table.attrs.get("interval_kind")
    return f"model, mean and {interval:.0%} {kind + ' ' if kind else ''}interval"


def plot_frequency_check(table: pd.DataFrame, *, interval: float = 0.9, ax=None):
    """Bars of customers by repeat purchases in calibration, actual vs posterior predictive."""
    ax = _axes(ax)
    pos = np.arange(len(table))
    width = 0.4
    ax.bar(pos - width / 2, table["actual"], width, color=ACTUAL, label="actual")
    ax.bar(pos + width / 2, table["mean"], width, color=MODEL, alpha=0.8,
           label=_band_label(table, interval))
    ax.errorbar(pos + width / 2, table["mean"],
                yerr=[table["mean"] - table["lower"], table["upper"] - table["mean"]],
                fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_xticks(pos, table.index)
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("customers")
    ax.set_title("How many customers made 0, 1, 2, ... repeat purchases")
    ax.legend(frameon=False)
    return ax


def plot_tracking(table: pd.DataFrame, *, time_unit: str = "week", cumulative: bool = True,
                  interval: float = 0.9, ax=None):
    """Repeat purchases over time, actual vs model, with the calibration/holdout boundary.

    Each period is drawn at the end of the data in it: a last period that the data cover only
    in part is compared pro rata (:func:`clvlib.checks.tracking_check`) and marked so.
    """
    ax = _axes(ax)
    share_covered = table["period_share"] if "period_share" in table else 1.0
    t = table["period"] + share_covered
    if cumulative:
        ax.plot(t, table["actual_cumulative"], color=ACTUAL, lw=2, label="actual")
        ax.plot(t, table["mean"], color=MODEL, lw=2, ls="--", label="model (mean)")
        ax.fill_between(t, table["lower"], table["upper"], color=MODEL, alpha=0.2,
                        label=f"model {interval:.0%} credible interval")
        ax.set_ylabel("cumulative repeat purchases")
    else:
        ax.plot(t, table["actual"], color=ACTUAL, lw=1.5, label="actual")
        ax.plot(t, table["incremental_mean"], color=MODEL, lw=2, ls="--", label="model (mean)")
        ax.fill_between(t, table["incremental_lower"], table["incremental_upper"], color=MODEL,
                        alpha=0.2, label=f"model {interval:.0%} credible interval")
        ax.set_ylabel(f"repeat purchases per {time_unit}")
    last = table.iloc[-1]
    if last.get("period_share", 1.0) < 1 - 1e-9:
        y = last["actual_cumulative"] if cumulative else last["actual"]
        ax.annotate(f"last {time_unit}: {share(last['period_share'])} covered,\ncompared pro "
                    "rata", (t.iloc[-1], y), xytext=(-10, 25), textcoords="offset points",
                    ha="right", color="grey", arrowprops={"arrowstyle": "->", "color": "grey"})
    if table["in_holdout"].any():
        boundary = table["period"][~table["in_holdout"]].max() + 1
        ax.axvline(boundary, color="grey", lw=1, ls=":")
        ax.text(boundary, ax.get_ylim()[1] * 0.97, "  holdout  →", va="top", color="grey")
    origin = table.attrs.get("origin")
    ax.set_xlabel(f"{time_unit}s since {origin:%d %b %Y}" if origin is not None
                  else f"{time_unit}s")
    ax.set_title("Tracking: " + ("cumulative " if cumulative else "") + "repeat purchases")
    ax.legend(frameon=False, loc="upper left" if cumulative else "upper right")
    return ax


def plot_holdout_check(table: pd.DataFrame, *, interval: float = 0.9, ax=None):
    """Mean holdout repeat purchases by calibration frequency, actual vs the model's forecast
    with the interval of :func:`clvlib.checks.holdout_check` (predictive, when it says so)."""
    ax = _axes(ax)
    pos = np.arange(len(table))
    ax.plot(pos, table["actual"], "o-", color=ACTUAL, label="actual")
    ax.plot(pos, table["mean"], "s--", color=MODEL, label="model (mean)")
    what = ("predictive interval of the group's mean"
            if table.attrs.get("interval_kind") == "predictive"
            else "credible interval of the expected mean")
    ax.fill_between(pos, table["lower"], table["upper"], color=MODEL, alpha=0.2,
                    label=f"{interval:.0%} {what}")
    ax.set_xticks(pos, table.index)
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("mean repeat purchases in the holdout")
    ax.set_title("Holdout check: the model's forecast for each group of customers")
    ax.legend(frameon=False, loc="upper left")
    return ax


def plot_purchase_rates(model, *, n_draws: int = 200, interval: float = 0.9, ax=None):
    """The fitted distribution of purchase rates across customers (per year, log scale).

    Draws the density of ``log10`` of the yearly purchase rate (the model's
    :attr:`~clvlib.models.base.PurchaseModel.purchase_mixing`: ``lambda ~ Gamma(r, alpha)``,
    lognormal for Pareto/NBD (Abe)) with its posterior band, and marks the average customer's
    rate (``r / alpha``). With
    covariates or groups, the mixture over the customers' own parameters
    (:func:`clvlib.mixing.purchase_rate_mixture`) and the average over them.
    """
    ax = _axes(ax)
    per_year = model.time_unit.per_year
    grid = np.logspace(-3, 2, 300)  # purchases per year
    lam = grid / per_year
    dens = purchase_rate_mixture(model, n_draws=n_draws).pdf(lam)
    dens = dens * lam * np.log(10)  # density of log10(rate)
    lo, hi = np.quantile(dens, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
    ax.fill_between(grid, lo, hi, color=MODEL, alpha=0.25, label=f"{interval:.0%} interval")
    ax.plot(grid, dens.mean(axis=0), color=MODEL, lw=2, label="posterior mean")
    avg = average_customer(model)
    mean_rate = avg["rate_per_year"]
    # The average's label is a legend entry: it cannot overlap the legend or leave the chart.
    ax.axvline(mean_rate, color=ACCENT, lw=2,
               label=f"average customer: {mean_rate:.1f} a year;\n"
                     f"{share(avg['share_below'])} of customers buy less often")
    ax.set_ylim(0, hi.max() * 1.1)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("purchases per year while active (log scale)")
    ax.set_ylabel("density (per log10 unit)")
    ax.set_title("Customers differ in how often they buy")
    _legend_below(ax)
    return ax


def plot_regularity(model, *, n_draws: int = 200, interval: float = 0.9, ax=None):
    """How regular customers' gaps between purchases are, for a model that lets it differ
    (Pareto/GGG: ``k ~ Gamma(k_shape, k_rate)``): the density of ``log10`` of the gaps'
    coefficient of variation ``1 / sqrt(k)`` across customers with its posterior band, and
    the line at 1, purchases at random moments (Poisson)."""
    ax = _axes(ax)
    # From the 0.1% to the 99.9% quantile of the coefficient at the posterior means, and 1:
    # customers may all be near Poisson-like (the CDNOW sample's 80% within 0.84-1.12).
    point = regularity_mixture(model, point=True)
    ends = [float(point.ppf(q)[0]) ** -0.5 for q in (0.999, 0.001)] + [1.0]
    cv = np.logspace(np.log10(min(ends) / 1.5), np.log10(max(ends) * 1.5), 300)
    k = cv**-2.0
    # d k / d log10(cv) = -2 k ln 10: the density of log10(cv) from k's.
    dens = regularity_mixture(model, n_draws=n_draws).pdf(k) * 2 * k * np.log(10)
    lo, hi = np.quantile(dens, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
    ax.fill_between(cv, lo, hi, color=MODEL, alpha=0.25, label=f"{interval:.0%} interval")
    ax.plot(cv, dens.mean(axis=0), color=MODEL, lw=2, label="posterior mean")
    regular = regularity_quantities(model)["share_regular"]
    ax.axvline(1.0, color=ACCENT, lw=2,
               label=f"purchases at random moments (Poisson);\n{share(regular)} of customers "
                     "buy more regularly")
    ax.set_ylim(0, hi.max() * 1.1)
    ax.set_xscale("log")
    ticks = [v for v in np.outer(10.0 ** np.arange(-3, 2), [1, 1.5, 2, 3, 5, 7]).ravel()
             if cv[0] <= v <= cv[-1]]
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("coefficient of variation of the gaps between purchases (log scale; "
                  "0: a clock)")
    ax.set_ylabel("density (per log10 unit)")
    ax.set_title("Customers differ in how regularly they buy")
    _legend_below(ax)
    return ax


def plot_dropout(model, *, n_draws: int = 200, interval: float = 0.9, ax=None):
    """The fitted distribution of how long customers stay, for any purchase model.

    BG/NBD and MBG/NBD: the dropout probability after each purchase, ``Beta(a, b)``.
    Pareto/NBD: the expected lifetime ``1 / mu`` with ``mu ~ Gamma(s, beta)`` (Pareto/NBD
    (Abe): lognormal ``mu``); GGompertz/NBD: the expected Gompertz lifetime
    ``e^eta E1(eta) / b`` with ``eta ~ Gamma(s, beta)``.
    """
    if model.dropout_kind not in DROPOUT_PLOTS:
        raise ValueError(f"{model.title}: no dropout figure for its dropout kind "
                         f"{model.dropout_kind!r} (there are figures for "
                         f"{', '.join(DROPOUT_PLOTS)})")
    draw = DROPOUT_PLOTS[model.dropout_kind]
    return draw(model, n_draws=n_draws, interval=interval, ax=ax)


def _plot_lifetimes(model, *, n_draws: int, interval: float, ax=None):
    ax = _axes(ax)
    per_year = model.time_unit.per_year
    years = np.logspace(-2, 3, 300)
    dens = lifetime_density(model, years * per_year, n_draws=n_draws)
    lo, hi = np.quantile(dens, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
    ax.fill_between(years, lo, hi, color=MODEL, alpha=0.25, label=f"{interval:.0%} interval")
    ax.plot(years, dens.mean(axis=0), color=MODEL, lw=2, label="posterior mean")
    avg = average_customer(model)
    average = avg["lifetime_years"]  # lifetime at the average dropout rate s / beta
    ax.set_ylim(0, hi.max() * 1.1)
    ax.axvline(average, color=ACCENT, lw=2,
               label=f"at the average {model.lifetimes.frailty}:\n{average:.1f} years; "
                     f"{share(avg['share_shorter'])} of customers leave sooner")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("expected lifetime in years (log scale)")
    ax.set_ylabel("density (per log10 unit)")
    ax.set_title("Customers differ in how long they stay")
    _legend_below(ax)
    return ax


def _plot_dropout_probabilities(model, *, n_draws: int, interval: float, ax=None):
    ax = _axes(ax)
    grid = np.linspace(0.001, 0.999, 300)
    dens = dropout_mixture(model, n_draws=n_draws).pdf(grid)
    lo, hi = np.quantile(dens, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
    ax.fill_between(grid, lo, hi, color=MODEL, alpha=0.25, label=f"{interval:.0%} interval")
    ax.plot(grid, dens.mean(axis=0), color=MODEL, lw=2, label="posterior mean")
    avg = average_customer(model)
    mean_p = avg["dropout"]
    ax.axvline(mean_p, color=ACCENT, lw=2,
               label=f"average customer: {share(mean_p)} chance of leaving\nafter a purchase; "
                     f"{share(avg['share_more_loyal'])} of customers\nare more loyal")
    ax.set_ylim(0, np.quantile(hi, 0.95) * 1.1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("probability of dropping out after a purchase")
    ax.set_ylabel("density")
    ax.set_title("Customers differ in how long they stay")
    _legend_below(ax)
    return ax


# How each kind of dropout process is drawn (PurchaseModel.dropout_kind).
DROPOUT_PLOTS = {"lifetime": _plot_lifetimes, "probability": _plot_dropout_probabilities}


def plot_p_alive_calibration(table: pd.DataFrame, *, ax=None):
    """Mean predicted P(alive) per group against the share of the group who bought again."""
    ax = _axes(ax)
    pos = np.arange(len(table))
    ax.bar(pos - 0.2, table["mean_p_alive"], 0.4, color=MODEL, alpha=0.8,
           label="mean predicted P(alive)")
    ax.bar(pos + 0.2, table["share_who_bought"], 0.4, color=ACTUAL,
           label="share who bought in the holdout")
    ax.set_xticks(pos, table.index)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("customers in ten groups by predicted P(alive), lowest first")
    ax.set_title("P(alive) calibration: buying again requires being alive")
    ax.legend(frameon=False, loc="upper left")
    return ax


def plot_p_alive_grid(grid: pd.DataFrame, *, time_unit: str = "week", ax=None):
    """Heat map of P(alive) by frequency (rows) and recency (columns)."""
    ax = _axes(ax)
    t_x = grid.columns.to_numpy(dtype=float)
    x = grid.index.to_numpy()
    mesh = ax.pcolormesh(t_x, x, grid.to_numpy(), cmap="RdYlGn", vmin=0, vmax=1, shading="auto")
    plt.colorbar(mesh, ax=ax, label="P(alive)", format=PercentFormatter(1.0))
    ax.set_xlabel(f"recency: {time_unit}s from first to last purchase (t_x)")
    ax.set_ylabel("repeat purchases (x)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: whole numbers
    ax.set_title(f"P(alive) at the end of calibration, for customers of age {t_x.max():.1f} "
                 f"{time_unit}s")
    return ax


def plot_value_distribution(values, *, label: str = "CLV", ax=None):
    """Histogram of customer value (log scale), with the mean and the median marked."""
    ax = _axes(ax)
    v = np.asarray(values, dtype=float)
    positive = v[v > 0]
    low = np.quantile(positive, 0.001)
    sns.histplot(positive[positive >= low], bins=50, log_scale=True, color=MODEL, alpha=0.8,
                 edgecolor="none", ax=ax)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda val, _: f"{val:,.0f}" if val >= 1
                                               else f"{val:.2g}"))
    mean, median = v.mean(), np.median(v)
    for value, name, style in ((mean, "mean (the 'average customer')", "-"),
                               (median, "median", "--")):
        ax.axvline(value, color=ACCENT, ls=style, lw=2, label=f"{name}: {amount(value, 2)}")
    ax.set_xlabel(f"{label} (log scale)")
    ax.set_ylabel("customers")
    ax.set_title(f"Distribution of {label} across customers")
    ax.legend(frameon=False)
    return ax


def plot_lorenz(values, *, label: str = "CLV", ax=None):
    """Lorenz curve of value: the share of value held by the most valuable customers."""
    ax = _axes(ax)
    curve = lorenz_curve(values)
    # Most valuable first reads more naturally: share of customers from the top.
    x = 1 - curve["customer_share"][::-1].to_numpy()
    y = 1 - curve["value_share"][::-1].to_numpy()
    ax.plot(x, y, color=MODEL, lw=2, label=f"customers ranked by {label}")
    ax.plot([0, 1], [0, 1], color="grey", ls=":", label="if every customer were worth the same")
    top = top_share(values, 0.1)
    ax.plot([0.1, 0.1, 0], [0, top, top], color=ACCENT, lw=1)
    ax.annotate(f"top 10% of customers hold {share(top)} of {label}", (0.1, top),
                xytext=(0.25, top - 0.15), color=ACCENT, arrowprops={"arrowstyle": "->",
                                                                     "color": ACCENT})
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("share of customers, most valuable first")
    ax.set_ylabel(f"share of total {label}")
    ax.set_title(f"Concentration of value (Gini {gini(values):.2f})")
    ax.legend(frameon=False, loc="lower right")
    return ax


# -- contractual retention (sBG) ---------------------------------------------------------------


def _curve_style(model, color, label) -> tuple[str, str, str, str]:
    """Colours of the actual and model curves and their legend names: by default the actual
    in dark grey and the model in blue, named by its title; with ``color`` and ``label`` (to
    draw several cohorts or models on one axes) both in that colour, named by the label."""
    name = label or model.title
    actual = f"actual ({label})" if label else "actual"
    return color or ACTUAL, color or MODEL, actual, name


def plot_projection(model, *, periods=None, interval: float = 0.9, ax=None,
                    color: str | None = None, label: str | None = None):
    """A contract model's survival curve: actual vs the fit and its projection, with a
    credible band.

    ``model`` is a fitted :class:`~clvlib.ShiftedBetaGeoModel` or a model built on it
    (:class:`~clvlib.BetaDiscreteWeibullModel`); the legend names it by its title, or by
    ``label`` in ``color`` when several share one axes (actual solid, model dashed).

    Examples
    --------
    >>> plot_projection(model)  # doctest: +SKIP
    >>> plot_projection(regular, ax=ax, color="C0", label="regular")  # doctest: +SKIP
    >>> plot_projection(high_end, ax=ax, color="C1", label="high end")  # doctest: +SKIP
    """
    ax = _axes(ax)
    actual_color, model_color, actual, name = _curve_style(model, color, label)
    table = model.projection(periods, interval=interval)
    unit = model.time_unit.name
    t = np.r_[0, table.index.to_numpy()]
    ax.plot(t, np.r_[100, table["actual"]], color=actual_color, lw=2, marker="o", ms=4,
            label=actual)
    ax.plot(t, np.r_[100, table["mean"]], color=model_color, lw=2, ls="--",
            label=f"{name} (mean)")
    ax.fill_between(t, np.r_[100, table["lower"]], np.r_[100, table["upper"]],
                    color=model_color, alpha=0.2, label=f"{name} {interval:.0%} interval")
    if not table["fitted"].all():
        boundary = table.index[table["fitted"]].max()
        ax.axvline(boundary, color="grey", lw=1, ls=":")
        ax.text(boundary, 97, "  projection  →", va="top", color="grey")
    ax.set_ylim(0, 100)
    ax.set_xlabel(f"{unit}s since acquisition")
    ax.set_ylabel("% of the cohort still active")
    ax.set_title(f"{model.title}: survival, fitted and projected")
    ax.legend(frameon=False, loc="upper right")
    return ax


def plot_retention_rates(model, *, periods=None, interval: float = 0.9, ax=None,
                         color: str | None = None, label: str | None = None):
    """A contract model's retention rate r_t by period: actual (from the survival table) vs
    the model's curve, named by the model's title, or by ``label`` in ``color`` when several
    share one axes (actual solid, model dashed; see :func:`plot_projection`).

    sBG's curve rises although every customer's own churn probability is constant: the
    heterogeneity the model captures. BdW's may dip first, where each customer's churn
    probability rises with tenure faster than selection lifts the rate.
    """
    ax = _axes(ax)
    actual_color, model_color, actual_name, name = _curve_style(model, color, label)
    pred = model.retention_rate(periods, interval=interval).per_customer * 100
    t = pred.index.to_numpy()
    ax.plot(t, pred["mean"], color=model_color, lw=2, ls="--", label=f"{name} (mean)")
    ax.fill_between(t, pred["lower"], pred["upper"], color=model_color, alpha=0.2,
                    label=f"{name} {interval:.0%} interval")
    if model.actual_survival is not None:
        s = model.actual_survival
        actual = (s / s.shift(1)).dropna() * 100
        ax.plot(actual.index, actual, color=actual_color, lw=2, marker="o", ms=4,
                label=actual_name)
    if model.fitted_through is not None and model.fitted_through < t.max():
        ax.axvline(model.fitted_through, color="grey", lw=1, ls=":")
    ax.set_xlabel(f"{model.time_unit.name}")
    ax.set_ylabel("% renewing among those active")
    ax.set_title(f"{model.title}: retention rate rises as the churn-prone leave")
    ax.legend(frameon=False, loc="lower right")
    return ax
