"""The report's sentences, written from the run's own numbers.

Each function returns Markdown; the pipeline notebooks display it, so the HTML and PDF reports
read as prose a manager can follow without the code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from clvlib.predict import Prediction
from clvlib.summary import CustomerSummary
from clvlib.value import gini, top_share


def _n(value: float) -> str:
    return f"{value:,.0f}"


def data_overview(overview: dict, summary: CustomerSummary) -> str:
    """What data the report is about: rows, customers, periods, and what was left out."""
    c = summary.customers
    unit = summary.time_unit
    text = (
        f"The transaction log ({summary.source}) holds **{_n(overview['rows'])} transactions** "
        f"by **{_n(overview['customers'])} customers**, from {overview['first_date']:%d %B %Y} "
        f"to {overview['last_date']:%d %B %Y}. Purchases on the same day count as one. "
        f"Time is measured in {unit.plural} ({unit.days:g} days each). "
    )
    if summary.has_holdout:
        text += (
            f"The models learn from the **calibration period** up to "
            f"{summary.calibration_end:%d %B %Y}; the following {summary.holdout_length:g} "
            f"{unit.plural}, to {summary.observation_end:%d %B %Y}, are held out to test the "
            "forecasts against what customers actually did. "
        )
    else:
        text += (
            f"There is no holdout period: the models learn from everything up to "
            f"{summary.calibration_end:%d %B %Y} and predict forward from there. "
        )
    text += (
        f"\n\nOf the {_n(len(c))} customers, **{(c['x'] == 0).mean():.0%} made no repeat "
        "purchase** "
        f"in the calibration period, while the busiest 10% made "
        f"{np.quantile(c['x'], 0.9):.0f} or more; together the customers made "
        f"{_n(c['x'].sum())} repeat purchases worth {c['monetary'].mean():,.2f} on average."
    )
    if summary.notes:
        text += "\n\nData notes:\n" + "\n".join(f"- {n}" for n in summary.notes)
    return text


def fit_overview(models) -> str:
    """One verdict per fitted model, in words, with a warning when a fit is not to be trusted.

    Parameters
    ----------
    models : sequence of CLVModel
        Fitted models; their data notes (customers left out, ...) are listed too.
    """
    lines = []
    for model in models:
        diag = model.diagnostics()
        mark = "" if diag.ok else "**Warning:** "
        cached = (" (Read back from the fit cache: an earlier run fitted the same model, priors "
                  "and settings to the same data.)" if getattr(model, "cache_hit", False) else "")
        lines.append(f"- **{model.title}**: {mark}{diag.verdict()}{cached}")
        lines += [f"  Note: {note}." for note in model.notes]
    return "\n".join(lines)


def frequency_fit(table: pd.DataFrame) -> str:
    """How well the model reproduces the distribution of repeat purchases."""
    inside = ((table["actual"] >= table["lower"]) & (table["actual"] <= table["upper"])).sum()
    error = (table["mean"] - table["actual"]).abs().sum() / table["actual"].sum() / 2
    return (
        f"The model reproduces how many customers made 0, 1, 2, ... repeat purchases: "
        f"{inside} of the {len(table)} actual counts fall inside the model's 90% intervals, and "
        f"reallocating {error:.1%} of customers between the bars would make the two agree."
    )


def holdout_fit(holdout: pd.DataFrame | None, summary: CustomerSummary) -> str:
    """Forecast accuracy in the holdout period, or why it cannot be judged."""
    if holdout is None:
        return (
            "*This run has no holdout period (no `observation_end`), so the forecasts cannot be "
            "checked against later purchases here. Run with a holdout to see this check.*"
        )
    actual = (holdout["actual"] * holdout["customers"]).sum()
    predicted = (holdout["mean"] * holdout["customers"]).sum()
    inside = ((holdout["actual"] >= holdout["lower"]) & (holdout["actual"] <= holdout["upper"]))
    return (
        f"In the {summary.holdout_length:g} held-out {summary.time_unit.plural} the customers "
        f"made **{_n(actual)} repeat purchases**; the model, which never saw them, forecast "
        f"**{_n(predicted)}** ({(predicted - actual) / actual:+.1%}) from each customer's "
        f"calibration history. Grouped by how often customers bought during calibration, the "
        f"actual holdout mean falls inside the model's 90% interval in {inside.sum()} of "
        f"{len(holdout)} groups."
    )


def heterogeneity(purchase_model) -> str:
    """The 'average customer' against the spread of the fitted mixing distributions."""
    d = purchase_model.point_estimate()
    per_year = purchase_model.time_unit.per_year
    r, alpha = d["r"], d["alpha"]
    mean_rate = r / alpha
    below = stats.gamma.cdf(mean_rate, r, scale=1 / alpha)
    q10, q50, q90 = stats.gamma.ppf([0.1, 0.5, 0.9], r, scale=1 / alpha) * per_year
    text = (
        f"If every customer were the **average customer**, each would buy "
        f"{mean_rate * per_year:.1f} times a year while active. The fitted distributions show "
        f"that almost nobody is like that. **{below:.0%} of customers buy less often than the "
        f"average rate**: the median customer buys {q50:.2g} times a year, one in ten fewer than "
        f"{q10:.2g} times, and the most active tenth more than {q90:.1f} times. "
    )
    if "s" in d:  # Pareto/NBD: exponential lifetimes with rate mu ~ Gamma(s, beta)
        s_, beta = d["s"], d["beta"]
        life10, life50, life90 = 1 / (stats.gamma.ppf([0.9, 0.5, 0.1], s_, scale=1 / beta)
                                      * per_year)
        text += (
            f"Lifetimes vary just as much: at the average dropout rate a customer would stay "
            f"{beta / s_ / per_year:.1f} years, but the median customer's expected lifetime is "
            f"{life50:.2g} years, a tenth of customers stay less than {life10:.2g} years and "
            f"another tenth more than {life90:.2g}. "
        )
    else:  # BG/NBD, MBG/NBD: dropout probability p ~ Beta(a, b) after each purchase
        a, b = d["a"], d["b"]
        mean_p = a / (a + b)
        p10, p90 = stats.beta.ppf([0.1, 0.9], a, b)
        text += (
            f"Loyalty varies just as much: the average customer leaves with probability "
            f"{mean_p:.0%} after each purchase, but a tenth of customers leave with probability "
            f"below {p10:.0%}, another tenth above {p90:.0%}, and "
            f"{stats.beta.cdf(mean_p, a, b):.0%} are more loyal than the average. "
        )
    return text + "Decisions based on the average customer fit very few real ones."


def money(value: float, currency: str = "", digits: int = 0) -> str:
    """An amount with its currency label: ``"1,234 USD"`` (no label when ``currency`` is
    empty)."""
    text = f"{value:,.{digits}f}"
    return f"{text} {currency}" if currency else text


def duration(value: float, unit_plural: str) -> str:
    """A length of time to one decimal: ``"39.9 weeks"``."""
    return f"{value:,.1f} {unit_plural}"


def valuation_basis(summary: CustomerSummary, horizon: float, discount, currency: str = "") -> str:
    """From which date value is measured, over which period, discounted how, in what money."""
    unit = summary.time_unit
    start = summary.calibration_end
    end = start + pd.Timedelta(days=unit.to_days(horizon))
    basis = ("the end of the calibration period, so that the holdout can check the forecasts"
             if summary.has_holdout else "the end of the data")
    text = (
        f"**Values are measured as of {start:%d %B %Y}** ({basis}) and count purchases over the "
        f"next {horizon:g} {unit.plural}, to {end:%d %B %Y}. "
        + discount.describe(unit.name, unit.days) + " "
    )
    text += (f"Money is in {currency}." if currency else
             "Money is in the unit of the data's amounts (no currency was given).")
    return text


def interval_meaning(interval: float) -> str:
    """One sentence on each kind of interval the report shows."""
    pct = f"{interval:.0%}"
    return (
        f"Two kinds of interval appear below. A **{pct} predictive interval** says what will "
        f"happen: a customer (or the whole base) ends up inside it {pct} of the time if the model "
        f"is right, because it draws each customer's purchases, dropout and spend; plan with it. "
        f"A **{pct} credible interval of the expected value** says only how sure we are of the "
        f"average outcome (parameter uncertainty), so it is much narrower and is not a range for "
        f"what one customer will do."
    )


def value_summary(clv: Prediction, p_alive: Prediction, interval: float = 0.9,
                  predictive: Prediction | None = None, currency: str = "") -> str:
    """Total value, its concentration, and how many customers are still active."""
    values = clv.per_customer["mean"]
    total = clv.total()
    alive = p_alive.per_customer["mean"]
    text = (
        f"The {clv.name} of these {_n(len(values))} customers is "
        f"**{money(total['mean'], currency)}** ({clv.interval_name} "
        f"{money(total['lower'], currency)} to "
        f"{money(total['upper'], currency)}). "
    )
    if predictive is not None:
        t = predictive.total()
        text += (
            f"What the base will actually bring, with the randomness of each customer's purchases "
            f"and spend, is **{money(t['lower'], currency)} to {money(t['upper'], currency)}** "
            f"({predictive.interval_name}). "
        )
    return text + (
        f"Value is concentrated: **the top 10% of customers hold {top_share(values, 0.1):.0%} "
        f"of it** and the top 1% hold {top_share(values, 0.01):.0%} (Gini {gini(values):.2f}). "
        f"The average customer is worth {money(values.mean(), currency, 2)}, yet "
        f"{(values < values.mean()).mean():.0%} of customers are worth less than that, and the "
        f"median customer only {money(values.median(), currency, 2)}. "
        f"**{_n((alive > 0.5).sum())} customers ({(alive > 0.5).mean():.0%}) are more likely "
        f"than not still active**; on average a customer is alive with probability "
        f"{alive.mean():.0%}."
    )


def top_customers(values: pd.DataFrame, n: int, horizon: float, unit_plural: str,
                  interval: float = 0.9, currency: str = "") -> pd.DataFrame:
    """The ``n`` most valuable customers as a table to read: each number as text, to the digits
    that mean something (whole purchases and currency units, spend to the cent), each column
    with its unit. Intervals are predictive when the table has them.

    Parameters
    ----------
    values : pandas.DataFrame
        From :func:`clvlib.prediction_table` with ``p_alive``, ``purchases`` and ``clv``, and
        optionally ``purchases_predictive`` and ``clv_predictive``.
    """
    top = values.nlargest(n, "clv_mean")
    money_unit = f" ({currency})" if currency else ""
    unit = unit_plural

    def shown(column: str, fmt: str) -> list[str]:
        return [fmt.format(v) for v in top[column]]

    def between(prefix: str, fmt: str) -> list[str]:
        return [f"{fmt.format(lo)} to {fmt.format(hi)}" for lo, hi in
                zip(top[f"{prefix}_lower"], top[f"{prefix}_upper"], strict=True)]

    columns = {
        "repeat purchases (x)": shown("x", "{:,.0f}"),
        f"last purchase (t_x, {unit})": shown("t_x", "{:.1f}"),
        f"age (T, {unit})": shown("T", "{:.1f}"),
        f"mean spend{money_unit}": shown("monetary", "{:,.2f}"),
        "P(alive)": shown("p_alive_mean", "{:.2f}"),
        f"expected purchases, next {horizon:g} {unit}": shown("purchases_mean", "{:,.1f}"),
    }
    if "purchases_predictive_lower" in top.columns:
        columns[f"purchases, {interval:.0%} predictive interval"] = between(
            "purchases_predictive", "{:,.0f}")
    columns[f"expected CLV{money_unit}"] = shown("clv_mean", "{:,.0f}")
    if "clv_predictive_lower" in top.columns:
        columns[f"CLV{money_unit}, {interval:.0%} predictive interval"] = between(
            "clv_predictive", "{:,.0f}")
    else:
        columns[f"expected CLV, {interval:.0%} credible interval"] = between("clv", "{:,.0f}")
    return pd.DataFrame(columns, index=top.index)


def holdout_coverage(coverage) -> str:
    """How often actual holdout purchases fell inside their predictive intervals, judged
    against what a correct model gives (within 3 standard errors: consistent)."""
    verdict = ("consistent with the model" if abs(coverage.z) <= 3 else
               "fewer than a correct model would give: the intervals are too narrow or off-centre"
               if coverage.z < 0 else
               "more than a correct model would give: the intervals are wider than they need be")
    return (
        f"**Checked on the holdout:** {coverage}. That is {verdict} (the rule: within 3 standard "
        f"errors of the expected share; here {coverage.z:+.1f})."
    )


def comparison(result, chosen) -> str:
    """Which candidate model fits best, by how much, and which one the value sections use."""
    t = result.table
    best = t.index[0]
    measure = {"holdout_lpd": "log predictive density of the holdout purchases",
               "elpd_loo": "PSIS-LOO expected log predictive density"}[result.rank_by]
    text = f"The candidate purchase models are ranked by the {measure} (higher is better). "
    if len(t) > 1:
        gap = t[result.rank_by].iloc[0] - t[result.rank_by].iloc[1]
        se = t["elpd_loo_se"].iloc[0]
        text += (
            f"**{best}** ranks first, {gap:,.1f} log points ahead of {t.index[1]}"
            + (" (a clear margin). " if gap > 4 else " (a small margin: the models fit about "
               "equally well). ")
        )
        if result.rank_by == "elpd_loo":
            text += f"The standard error of the PSIS-LOO estimate is {se:,.1f}. "
    else:
        text += f"Only **{best}** was fitted. "
    if t["pareto_k_bad"].max() > 0:
        text += (
            f"Warning: for up to {t['pareto_k_bad'].max():.1%} of customers the Pareto k "
            "diagnostic exceeds 0.7, so PSIS-LOO is unreliable for them. "
        )
    if chosen.title != best:
        text += f"The value sections use **{chosen.title}**, as requested. "
    else:
        text += f"The value sections use **{chosen.title}**. "
    return text


def comparison_table(result) -> pd.DataFrame:
    """The comparison table with readable column names."""
    names = {
        "rank": "rank", "elpd_loo": "PSIS-LOO elpd", "elpd_loo_se": "SE", "d_elpd_loo": "Δ elpd",
        "p_loo": "p_loo", "pareto_k_bad": "share k > 0.7", "holdout_lpd": "holdout lpd",
        "d_holdout_lpd": "Δ holdout lpd", "mae": "MAE", "rmse": "RMSE", "bias": "bias",
        "correlation": "correlation", "tracking_mape": "tracking MAPE %",
    }
    return result.table.rename(columns=names)


#: How :func:`comparison_table`'s columns read best (for :func:`clvlib.notebook.table`): log
#: densities to a tenth of a log point, the share of unreliable PSIS estimates in percent.
COMPARISON_FORMATS = {
    **dict.fromkeys(["PSIS-LOO elpd", "SE", "Δ elpd", "p_loo", "holdout lpd", "Δ holdout lpd",
                     "tracking MAPE %"], "{:,.1f}"),
    "share k > 0.7": "{:.1%}",
}


def p_alive(purchase_model) -> str:
    """How to read the P(alive) map, with the model's own caveat."""
    text = (
        "A customer who bought often but not recently has probably left (the red corner); one "
        "who bought recently is probably still active, the more so the more often they bought. "
    )
    return text + purchase_model.p_alive_caveat
