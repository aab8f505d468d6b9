"""The report's sentences, written from the run's own numbers.

Each function returns Markdown; the pipeline notebooks display it, so the HTML and PDF reports
read as prose a manager can follow without the code.

Every judging sentence follows from the numbers beside it and a threshold stated here and in the
sentence itself (:data:`REPRODUCES_SHARE`, :data:`ROUGHLY_SHARE`, :data:`CLOSE_FORECAST`, and
:func:`clvlib.comparison.margin_verdict` for model comparison). Shares are written by
:func:`clvlib.formatting.share`, which the figures use too, so the text and the figure beside it
print the same number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvlib.checks import MIN_PERIOD_SHARE, tracking_mape, tracking_periods_scored
from clvlib.comparison import CLEAR_MARGIN_SE, SMALL_DIFFERENCE, margin_verdict
from clvlib.formatting import (
    amount,
    duration,
    log_points,
    money,
    share,
    share_of,
    signed_share,
)
from clvlib.mixing import (
    dropout_mixture,
    lifetime_quantities,
    purchase_rate_mixture,
    regularity_mixture,
)
from clvlib.predict import Prediction
from clvlib.summary import CustomerSummary
from clvlib.value import gini, top_share

#: A check is said to reproduce the data when at least this share of the actual numbers fall
#: inside their 90% posterior predictive intervals (a correct model puts each inside at least 9
#: times in 10; for 8 counts, 6 or more).
REPRODUCES_SHARE = 0.75
#: ... and to reproduce them only roughly when at least this share do (fewer: it does not).
ROUGHLY_SHARE = 0.5
#: A forecast total is called close when it is within this share of the actual total.
CLOSE_FORECAST = 0.10
#: Holdout coverage of the predictive intervals is consistent with the model within this many
#: standard errors of the share a correct model gives.
COVERAGE_Z = 3.0


def _n(value: float) -> str:
    return amount(value)


def _count(value: float, noun: str) -> str:
    """"1 customer", "2,357 customers"."""
    return f"{_n(value)} {noun}{'' if value == 1 else 's'}"


def _inside(table: pd.DataFrame, actual: str = "actual", lower: str = "lower",
            upper: str = "upper") -> int:
    return int(((table[actual] >= table[lower]) & (table[actual] <= table[upper])).sum())


# What the frequency and holdout checks reproduce (or do not), in the verdict's words.
FREQUENCY_WHAT = "how many customers made 0, 1, 2, ... repeat purchases"
HOLDOUT_WHAT = "the groups' holdout purchases"


def _reproduces(inside: int, total: int, what: str) -> str:
    """"reproduces WHAT", "reproduces WHAT only roughly" or "does not reproduce WHAT", by
    :data:`REPRODUCES_SHARE` and :data:`ROUGHLY_SHARE`."""
    if inside >= REPRODUCES_SHARE * total:
        return f"reproduces {what}"
    if inside >= ROUGHLY_SHARE * total:
        return f"reproduces {what} only roughly"
    return f"does not reproduce {what}"


def _closeness(error: float) -> str:
    """"close" or "not close" by :data:`CLOSE_FORECAST`, with the rule."""
    verdict = "close" if abs(error) <= CLOSE_FORECAST else "not close"
    return f"{verdict}: a forecast within {share(CLOSE_FORECAST)} of the actual counts as close"


def _rule(total: int) -> str:
    need = int(np.ceil(REPRODUCES_SHARE * total))
    return (f"(a model is said to reproduce them when at least {share(REPRODUCES_SHARE)}, here "
            f"{need} of {total}, fall inside; a correct model puts each inside at least 9 times "
            "in 10)")


def data_overview(overview: dict, summary: CustomerSummary, currency: str = "") -> str:
    """What data the report is about: rows, customers, periods, and what was left out."""
    c = summary.customers
    unit = summary.time_unit
    text = (
        f"The transaction log ({summary.source}) holds "
        f"**{_count(overview['rows'], 'transaction')}** by "
        f"**{_count(overview['customers'], 'customer')}**, from "
        f"{overview['first_date']:%d %B %Y} to {overview['last_date']:%d %B %Y}. Purchases on "
        "the same day count as one. "
        f"Time is measured in {unit.plural} ({unit.days:g} days each). "
    )
    if summary.has_holdout:
        text += (
            f"The models learn from the **calibration period** up to "
            f"{summary.calibration_end:%d %B %Y}; the following "
            f"{duration(summary.holdout_length, unit.plural)}, to "
            f"{summary.observation_end:%d %B %Y}, are held out to test the "
            "forecasts against what customers actually did. "
        )
    else:
        text += (
            f"There is no holdout period: the models learn from everything up to "
            f"{summary.calibration_end:%d %B %Y} and predict forward from there. "
        )
    if len(c) == 1:
        text += (f"\n\nThe one customer made {_count(c['x'].sum(), 'repeat purchase')} in the "
                 "calibration period")
    else:
        text += (
            f"\n\nOf the {_n(len(c))} customers, **{share_of((c['x'] == 0).sum(), len(c))} made "
            "no repeat purchase** in the calibration period, while the busiest 10% made "
            f"{np.quantile(c['x'], 0.9):.0f} or more; together the customers made "
            f"{_count(c['x'].sum(), 'repeat purchase')}"
        )
    if summary.has_amounts and c["monetary"].notna().any():
        text += (f", and a customer who bought again spent "
                 f"{money(c['monetary'].mean(), currency, 2)} per repeat purchase on average.")
    elif summary.has_amounts:
        text += ", so there is no repeat spend to describe."
    else:
        text += (". The log has no amounts, so this report counts purchases and leaves out "
                 "spend and customer value.")
    if summary.notes:
        text += "\n\nData notes:\n" + "\n".join(f"- {n}" for n in summary.notes)
    return text


def fit_overview(models) -> str:
    """Two verdicts per fitted model, in words: did the sampler converge, and do the data (not
    the priors) determine the answer; with a warning when either fails.

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
        ident = model.identification(warn=False)  # did the data, not the prior, decide?
        lines.append(f"  {'' if ident.ok else '**Warning:** '}{ident.verdict()}")
        lines += [f"  Note: {note}." for note in model.notes]
    return "\n".join(lines)


def frequency_fit(table: pd.DataFrame) -> str:
    """How well the model reproduces the distribution of repeat purchases.

    ``table`` is :func:`clvlib.checks.frequency_check`'s, whose intervals are posterior
    predictive ones; the verdict follows :data:`REPRODUCES_SHARE` and :data:`ROUGHLY_SHARE`.
    """
    inside, total = _inside(table), len(table)
    error = (table["mean"] - table["actual"]).abs().sum() / table["actual"].sum() / 2
    kind = "predictive " if table.attrs.get("interval_kind") == "predictive" else ""
    text = (
        f"The model {_reproduces(inside, total, FREQUENCY_WHAT)}: **{inside} of the {total} "
        f"actual counts fall inside the model's 90% {kind}intervals** {_rule(total)}, and "
        f"reallocating {share(error, 1)} of customers between the bars would make the actual "
        "and the expected counts agree."
    )
    if "ppp" in table.attrs:
        ppp = table.attrs["ppp"]
        text += (
            f" The chi-square posterior predictive p-value is {ppp:.2f}"
            + (" (below 0.05: the histogram is more extreme than the model allows)."
               if ppp < 0.05 else " (0.05 or more: no evidence against the model).")
        )
    return text


def holdout_fit(holdout: pd.DataFrame | None, summary: CustomerSummary) -> str:
    """Forecast accuracy in the holdout period, or why it cannot be judged.

    The total forecast is called close when within :data:`CLOSE_FORECAST` of the actual total.
    """
    if holdout is None:
        return (
            "*This run has no holdout period (no `observation_end`), so the forecasts cannot be "
            "checked against later purchases here. Run with a holdout to see this check.*"
        )
    actual = (holdout["actual"] * holdout["customers"]).sum()
    predicted = (holdout["mean"] * holdout["customers"]).sum()
    inside = _inside(holdout)
    if actual > 0:
        error = (predicted - actual) / actual
        off = f" ({signed_share(error)}; {_closeness(error)})"
    else:
        off = " (no actual purchases to compare with)"
    text = (
        f"In the {duration(summary.holdout_length, summary.time_unit.plural)} held out, the "
        f"customers made **{_n(actual)} repeat purchases**; the model, which never saw them, "
        f"forecast "
        f"**{_n(predicted)}**{off} from each customer's calibration history. "
    )
    if holdout.attrs.get("interval_kind") == "predictive":
        return text + (
            f"Grouped by how often customers bought during calibration, the model "
            f"{_reproduces(inside, len(holdout), HOLDOUT_WHAT)}: the actual mean "
            f"of **{inside} of {len(holdout)} groups** falls inside the 90% predictive interval "
            f"of the group's mean {_rule(len(holdout))}."
        )
    return text + (
        f"Grouped by how often customers bought during calibration, the actual holdout mean "
        f"falls inside the 90% credible interval of the model's expected mean in **{inside} of "
        f"{len(holdout)} groups**. That interval holds parameter uncertainty only, not the "
        "chance variation of a group's actual mean, so groups fall outside it more often than 1 "
        "time in 10 even when the model is right."
    )


def tracking_fit(tracking: pd.DataFrame, time_unit: str) -> str:
    """How the repeat purchases per period track the model, and which periods the MAPE scores.

    Parameters
    ----------
    tracking : pandas.DataFrame
        From :func:`clvlib.checks.tracking_check`.
    time_unit : str
        The name of a period ("week").
    """
    text = ""
    last = tracking.iloc[-1]
    partial = last.get("period_share", 1.0) < 1 - 1e-9
    if tracking["in_holdout"].any():
        scored = tracking_periods_scored(tracking)
        hold = tracking[tracking["in_holdout"]]
        actual, predicted = hold["actual"].sum(), hold["incremental_mean"].sum()
        length = duration(float(hold.get("period_share", pd.Series(1.0, hold.index)).sum()),
                          f"{time_unit}s")
        if len(scored):
            text += (
                f"Over the {length} of the holdout the model's expected purchases per "
                f"{time_unit} are off by **{tracking_mape(tracking):.1f}% on average** (mean "
                f"absolute percentage error over {len(scored)} {time_unit}s with purchases). "
            )
        if actual > 0:
            error = (predicted - actual) / actual
            text += (
                f"In total the holdout's {length} saw {_n(actual)} repeat purchases against "
                f"{_n(predicted)} expected ({signed_share(error)}; {_closeness(error)}); these "
                "expectations treat every customer as new from their first purchase on, so they "
                "differ from the holdout forecast below, which uses each customer's history. "
            )
    else:
        text += (
            "This run has no holdout period, so the tracking figure shows how the model "
            "reproduces the calibration period only. "
        )
    if partial:
        text += (
            f"The data end {share(last['period_share'])} of the way into the last {time_unit}; "
            f"the figures compare that {time_unit} pro rata (the model's expectation covers the "
            "same days)"
            + (f", and the error above leaves it out (it scores only {time_unit}s the data "
               f"cover for at least {share(MIN_PERIOD_SHARE)})."
               if last["period_share"] < MIN_PERIOD_SHARE and last["in_holdout"] else ".")
        )
    return text.strip()


def average_customer(purchase_model) -> dict[str, float]:
    """The 'average customer' of a fitted purchase model and how many customers differ from it.

    One source for the prose (:func:`heterogeneity`) and the figures
    (:func:`clvlib.plots.plot_purchase_rates`, :func:`clvlib.plots.plot_dropout`), so the two
    print the same numbers: at the posterior means of the parameters, except lifetimes, which
    are computed per draw and averaged, as the lifetime figure is drawn. With covariates or
    groups, the spread across customers is the mixture over the customers' own parameters
    (:mod:`clvlib.mixing`): the average is over the real customers.

    Returns
    -------
    dict
        ``rate_per_year`` (the average purchase rate while active, per year),
        ``share_below`` (the share of customers buying less often) and the rate quantiles
        ``rate_q10``, ``rate_q50``, ``rate_q90`` (per year); for BG/NBD and MBG/NBD
        ``dropout`` (the average dropout probability after a purchase),
        ``share_more_loyal``, ``dropout_q10`` and ``dropout_q90``; for lifetime models
        (Pareto/NBD, GGompertz/NBD) ``lifetime_years`` (the expected lifetime at the average
        frailty: for Pareto/NBD the average dropout rate), ``share_shorter`` (the share of
        customers expected to leave sooner) and the expected-lifetime quantiles
        ``lifetime_q10``, ``lifetime_q50``, ``lifetime_q90`` (years), each computed per
        posterior draw and averaged (:func:`clvlib.mixing.lifetime_quantities`).
    """
    per_year = purchase_model.time_unit.per_year
    rates = purchase_rate_mixture(purchase_model, point=True)
    mean_rate = float(rates.mean()[0])
    out = {"rate_per_year": mean_rate * per_year,
           "share_below": float(rates.cdf(mean_rate)[0])}
    out |= {f"rate_q{q}": float(rates.ppf(q / 100)[0]) * per_year for q in (10, 50, 90)}
    dropout = dropout_mixture(purchase_model, point=True)
    mean_dropout = float(dropout.mean()[0])
    if purchase_model.dropout_kind == "lifetime":
        # Per draw, then the posterior mean, as the lifetime figure: GGompertz/NBD's b and beta
        # move together along a ridge, and their posterior means can lie off it.
        lives = lifetime_quantities(purchase_model)
        out |= {"lifetime_years": float(lives["at_mean"].mean()) / per_year,
                "share_shorter": float(lives["share_shorter"].mean())}
        out |= {f"lifetime_q{q}": float(lives[f"q{q}"].mean()) / per_year
                for q in (10, 50, 90)}
    else:
        out |= {"dropout": mean_dropout,
                "share_more_loyal": float(dropout.cdf(mean_dropout)[0]),
                "dropout_q10": float(dropout.ppf(0.1)[0]),
                "dropout_q90": float(dropout.ppf(0.9)[0])}
    return out


def heterogeneity(purchase_model) -> str:
    """The 'average customer' against the spread of the fitted mixing distributions."""
    avg = average_customer(purchase_model)
    text = ""
    calendar = getattr(purchase_model, "calendar", None)  # the time-varying Pareto/NBD
    if calendar is not None:
        names = dict.fromkeys(purchase_model.purchase_names + purchase_model.dropout_names)
        text += (f"The rates below are those of a period whose calendar covariates "
                 f"({', '.join(names)}) "
                 "are all 0; in each period its covariates multiply everybody's purchase rate "
                 "and dropout hazard alike (see who differs, and why). ")
    elif purchase_model.indexed:
        text += ("Each customer's rates follow from their own covariates and group, so the "
                 "spread below is over the real customers, each with their own parameters. ")
    text += (
        f"If every customer were the **average customer**, each would buy "
        f"{avg['rate_per_year']:.1f} times a year while active. The fitted distributions show "
        f"that almost nobody is like that. **{share(avg['share_below'])} of customers buy less "
        f"often than the average rate**: the median customer buys {avg['rate_q50']:.2g} times "
        f"a year, one in ten fewer than {avg['rate_q10']:.2g} times, and the most active tenth "
        f"more than {avg['rate_q90']:.1f} times. "
    )
    if purchase_model.dropout_kind == "lifetime":
        text += (
            f"Lifetimes vary just as much: at the average "
            f"{purchase_model.lifetimes.frailty} a customer would stay "
            f"{avg['lifetime_years']:.1f} years, but the median customer's expected lifetime is "
            f"{avg['lifetime_q50']:.2g} years, a tenth of customers stay less than "
            f"{avg['lifetime_q10']:.2g} years and another tenth more than "
            f"{avg['lifetime_q90']:.2g}. "
        )
    else:
        text += (
            f"Loyalty varies just as much: the average customer leaves with probability "
            f"{share(avg['dropout'])} after each purchase, but a tenth of customers leave with "
            f"probability below {share(avg['dropout_q10'])}, another tenth above "
            f"{share(avg['dropout_q90'])}, and {share(avg['share_more_loyal'])} are more loyal "
            "than the average. "
        )
    return (text + rate_correlation(purchase_model) + regularity(purchase_model)
            + "Decisions based on the average customer fit very few real ones.")


def regularity_quantities(purchase_model) -> dict[str, float]:
    """How regular customers' gaps between purchases are, for a model that lets it differ
    (:func:`clvlib.mixing.regularity_mixture`): ``share_regular``, the share of customers
    whose gaps are more regular than purchases at random moments (``k > 1``: a coefficient of
    variation below 1, the Poisson's), and the quantiles ``cv_q10``, ``cv_q50``, ``cv_q90``
    of the gaps' coefficient of variation ``1 / sqrt(k)`` across customers; each per
    posterior draw, then its posterior mean (one source for the sentence and the figure)."""
    mix = regularity_mixture(purchase_model)
    out = {"share_regular": float(np.mean(1 - mix.cdf(1.0)))}
    # The coefficient of variation falls as k rises: its q-quantile is k's (1 - q)-quantile.
    return out | {f"cv_q{q}": float(np.mean(mix.ppf(1 - q / 100) ** -0.5))
                  for q in (10, 50, 90)}


def regularity(purchase_model) -> str:
    """How much customers differ in the regularity of their purchases, for a model that lets
    it differ (Pareto/GGG; empty for the others)."""
    if purchase_model.regularity_mixing is None:
        return ""
    q = regularity_quantities(purchase_model)
    return (
        f"Customers differ in how regularly they buy too. The gaps between a customer's "
        f"purchases have a coefficient of variation (their standard deviation over their mean) "
        f"of 1 when the purchases fall at random moments and near 0 when they keep to a "
        f"clock: the median customer's is {q['cv_q50']:.2f}, a tenth of customers are below "
        f"{q['cv_q10']:.2f} and another tenth above {q['cv_q90']:.2f}, and "
        f"**{share(q['share_regular'])} of customers buy more regularly than at random**, "
        f"which tells the model that their silence means more (posterior means). "
    )


def rate_correlation(purchase_model, interval: float = 0.9) -> str:
    """Whether the customers who buy more often also stay longer, for a model that estimates it
    (:attr:`~clvlib.models.base.PurchaseModel.rate_correlation`; empty for the others). The
    verdict follows from the correlation's credible interval: wholly below 0, the frequent
    buyers tend to stay longer; wholly above 0, to leave sooner; else the data cannot tell."""
    name = purchase_model.rate_correlation
    if name is None:
        return ""
    draws = purchase_model.posterior_draws()[name]
    mean = float(np.mean(draws))
    lo, hi = np.quantile(draws, [(1 - interval) / 2, (1 + interval) / 2])
    told = (f"the correlation between the logs of a customer's purchase rate and dropout rate "
            f"is {mean:.2f} (posterior mean; {interval:.0%} credible interval {lo:.2f} to "
            f"{hi:.2f})")
    if hi < 0:
        return f"**The customers who buy more often tend to stay longer**: {told}. "
    if lo > 0:
        return f"**The customers who buy more often tend to leave sooner**: {told}. "
    return (f"Whether the customers who buy more often also stay longer, the data cannot tell: "
            f"{told}, which includes 0. ")


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
        + discount.plainly() + " "
    )
    text += (f"Money is in {currency}." if currency else
             "Money is in the unit of the data's amounts (no currency was given).")
    return text


def no_covariates() -> str:
    """What the report says when no covariate or group was given."""
    return ("No covariates or groups were given, so every model describes customer heterogeneity "
            "as one population spread (the next section). To see *who* differs and why, give a "
            "`covariates_file` with `purchase_covariates`, `dropout_covariates` or "
            "`spend_covariates`, or a `group` column such as `cohort`: the covariate or pooled "
            "version of each model is then fitted and ranked beside the plain one.")


def no_value() -> str:
    """Why a report on a count-only log has no spend or value sections."""
    return ("**No spend or value here:** the transaction log has no amounts (`amount_column` was "
            "empty), so the report models how often customers buy and whether they are still "
            "active, and leaves out spend per purchase and customer lifetime value.")


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
        f"Value is concentrated: **the top 10% of customers hold "
        f"{share(top_share(values, 0.1))} of it** and the top 1% hold "
        f"{share(top_share(values, 0.01))} (Gini {gini(values):.2f}). "
        f"The average customer is worth {money(values.mean(), currency, 2)}, yet "
        f"{share((values < values.mean()).mean())} of customers are worth less than that, and "
        f"the median customer only {money(values.median(), currency, 2)}. "
        f"**{_n((alive > 0.5).sum())} customers ({share((alive > 0.5).mean())}) are more likely "
        f"than not still active**; on average a customer is alive with probability "
        f"{share(alive.mean())}."
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
    against what a correct model gives (:data:`COVERAGE_Z`)."""
    verdict = ("consistent with the model" if abs(coverage.z) <= COVERAGE_Z else
               "fewer than a correct model would give: the intervals are too narrow or off-centre"
               if coverage.z < 0 else
               "more than a correct model would give: the intervals are wider than they need be")
    return (
        f"**Checked on the holdout:** {coverage}. That is {verdict} (the rule: within "
        f"{COVERAGE_Z:g} standard errors of the expected share; here {coverage.z:+.1f})."
    )


_MEASURES = {"holdout_lpd": "log predictive density of the holdout purchases",
             "elpd_loo": "PSIS-LOO expected log predictive density"}


def _margin_sentence(result, column: str, title: str) -> str:
    t = result.table
    diff, se = t.loc[title, f"d_{column}"], t.loc[title, f"d_{column}_se"]
    verdict = margin_verdict(diff, se)
    ahead = "ahead of" if diff <= 0 else "behind"
    return (f"{log_points(abs(diff))} log points {ahead} {title} (standard error of the "
            f"difference {log_points(se)}: {'a clear margin' if verdict == 'clear' else verdict})")


def comparison(result, chosen) -> str:
    """Which candidate model fits best, by how much and how surely, and which one the value
    sections use.

    Each margin comes with the standard error of the paired difference and is called clear only
    when it exceeds :data:`clvlib.comparison.CLEAR_MARGIN_SE` standard errors and
    :data:`clvlib.comparison.SMALL_DIFFERENCE` log points (:func:`margin_verdict`).
    """
    t = result.table
    best = t.index[0]
    text = (f"The candidate purchase models are ranked by the {_MEASURES[result.rank_by]} "
            "(higher is better). ")
    if len(t) > 1:
        margins = "; ".join(_margin_sentence(result, result.rank_by, title)
                            for title in t.index[1:])
        text += f"**{best}** ranks first: {margins}. "
        other = "elpd_loo" if result.rank_by == "holdout_lpd" else None
        if other is not None and f"d_{other}" in t:
            text += (f"By the {_MEASURES[other]} {best} is "
                     + "; ".join(_margin_sentence(result, other, title) for title in t.index[1:])
                     + ". ")
        text += (
            f"A margin counts as clear when it exceeds {CLEAR_MARGIN_SE:g} standard errors of "
            f"the difference and {SMALL_DIFFERENCE:g} log points; otherwise the data cannot "
            "tell the models apart and the choice matters little. "
        )
    else:
        text += f"Only **{best}** was fitted. "
    if t["pareto_k_bad"].max() > 0:
        text += (
            f"Warning: for up to {share(t['pareto_k_bad'].max(), 1)} of customers the Pareto k "
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
        "d_elpd_loo_se": "SE of Δ elpd", "p_loo": "p_loo", "pareto_k_bad": "share k > 0.7",
        "holdout_lpd": "holdout lpd", "d_holdout_lpd": "Δ holdout lpd",
        "d_holdout_lpd_se": "SE of Δ holdout lpd", "mae": "MAE", "rmse": "RMSE", "bias": "bias",
        "correlation": "correlation", "tracking_mape": "tracking MAPE %",
    }
    return result.table.rename(columns=names)


def _share_1(value: float) -> str:
    return share(value, 1)


#: How :func:`comparison_table`'s columns read best (for :func:`clvlib.notebook.table`): log
#: densities to a tenth of a log point, the share of unreliable PSIS estimates in percent
#: (as :func:`clvlib.formatting.share` writes it, the way the sentences do).
COMPARISON_FORMATS = {
    **dict.fromkeys(["PSIS-LOO elpd", "SE", "Δ elpd", "SE of Δ elpd", "p_loo", "holdout lpd",
                     "Δ holdout lpd", "SE of Δ holdout lpd", "tracking MAPE %"], "{:,.1f}"),
    "share k > 0.7": _share_1,
}


def p_alive(purchase_model) -> str:
    """How to read the P(alive) map, with the model's own caveat."""
    text = (
        "A customer who bought often but not recently has probably left (the red corner); one "
        "who bought recently is probably still active, the more so the more often they bought. "
    )
    return text + purchase_model.p_alive_caveat


# --------------------------------------------------------------------------------------------
# The manager's tables and briefs (the detail goes to the appendix: clvlib.appendix)
# --------------------------------------------------------------------------------------------


def summary_numbers(summary: CustomerSummary, currency: str = "") -> pd.DataFrame:
    """The customer summary's headline numbers as text, each with its unit."""
    c = summary.customers
    unit = summary.time_unit
    first = c["first_purchase"].min()
    calibration = (summary.calibration_end - first).days + 1
    rows = {
        "customers": _n(len(c)),
        "time unit": f"{unit.name} ({unit.days:g} days)",
        "calibration period": f"{first:%d %b %Y} to {summary.calibration_end:%d %b %Y} "
                              f"({duration(unit.from_days(calibration), unit.plural)})",
        "repeat purchases in the calibration period": _n(c["x"].sum()),
        "customers with no repeat purchase": share_of((c["x"] == 0).sum(), len(c), 1),
        "repeat purchases per customer (mean)": f"{c['x'].mean():.2f}",
    }
    if summary.has_amounts:
        spend = c["monetary"].dropna()
        rows["spend per repeat purchase (mean over repeat buyers)"] = (
            money(spend.mean(), currency, 2) if len(spend) else "no repeat buyers")
    if summary.has_holdout:
        start = summary.calibration_end + pd.Timedelta(days=1)
        rows["holdout period"] = (f"{start:%d %b %Y} to {summary.observation_end:%d %b %Y} "
                                  f"({duration(summary.holdout_length, unit.plural)})")
        rows["repeat purchases in the holdout"] = _n(c["x_holdout"].sum())
    return pd.DataFrame({"value": rows})


def cohort_numbers(summary: CustomerSummary) -> pd.DataFrame:
    """Customers by the month of their first purchase: how many, their calibration repeat
    purchases and the share who made none, as text."""
    grouped = summary.customers.groupby("cohort")["x"]
    table = pd.DataFrame({
        "customers": grouped.size().map(_n),
        "repeat purchases in the calibration period": grouped.sum().map(_n),
        "customers with no repeat purchase": grouped.apply(lambda x: share((x == 0).mean(), 1)),
    })
    table.index.name = "first purchase in"
    return table


def fit_summary(models) -> str:
    """Whether each fit can be trusted, in a manager's words: the technical verdicts
    (:func:`fit_overview`) are in the appendix, and only a failed check is named here.

    Parameters
    ----------
    models : sequence of CLVModel
        Fitted models; their data notes (customers left out, ...) are listed too.
    """
    warnings_, notes = [], []
    for model in models:
        diag = model.diagnostics()
        ident = model.identification(warn=False)
        if diag.method == "map":
            warnings_.append(f"**{model.title}** was fitted by MAP, a single best estimate "
                             "without uncertainty: use NUTS for numbers to report.")
        elif diag.method == "laplace":
            notes.append(f"{model.title} was fitted by the Laplace approximation (a normal "
                         "distribution around its most probable parameters), not by a "
                         "sampler: its intervals assume the uncertainty has that shape.")
        elif not diag.ok:
            warnings_.append(f"**Warning: {model.title}**: the sampler did not settle on one "
                             "answer (its independent runs disagree, or too few independent "
                             "draws); do not rely on its numbers until it is refitted with more "
                             "draws.")
        if not ident.ok:
            weak = ", ".join(ident.weak())
            warnings_.append(f"**Warning: {model.title}**: the data barely determine {weak}; "
                             "numbers that depend on them mostly restate the model's starting "
                             "assumptions (its priors), not the data.")
        notes += [f"{model.title}: {note}." for note in model.notes]
    titles = ", ".join(m.title for m in models)
    sampled = any(m.diagnostics().method == "nuts" for m in models)
    if not warnings_:
        text = (f"Every fit ({titles}) passed its checks: "
                + ("the sampler converged, and " if sampled else "")
                + "the data, not the models' starting assumptions, determine every parameter "
                "(the appendix gives the diagnostics).")
    else:
        text = ("Fitted: " + titles + ". Not every fit passed its checks (the appendix gives "
                "the diagnostics):\n\n" + "\n".join(f"- {w}" for w in warnings_))
    if notes:
        text += "\n\nNotes:\n" + "\n".join(f"- {n}" for n in notes)
    return text


def comparison_brief(result, chosen, with_table: bool = True) -> str:
    """Which candidate forecasts best, whether its lead is clear, and which one the value
    sections use, without the scores (they are in the appendix).

    A lead counts as clear by :func:`clvlib.comparison.margin_verdict` (more than
    :data:`clvlib.comparison.CLEAR_MARGIN_SE` standard errors and
    :data:`clvlib.comparison.SMALL_DIFFERENCE` log points of the score).
    """
    t = result.table
    best = t.index[0]
    what = ("forecasts the held-out purchases best" if result.rank_by == "holdout_lpd"
            else "describes the calibration purchases best (by leave-one-out cross-validation, "
                 "as there is no holdout)")
    if len(t) == 1:
        text = f"Only **{best}** was fitted. "
    else:
        leads = []
        for title in t.index[1:]:
            verdict = margin_verdict(t.loc[title, f"d_{result.rank_by}"],
                                     t.loc[title, f"d_{result.rank_by}_se"])
            how = "clearly" if verdict == "clear" else "by too little to matter"
            leads.append(f"over {title} {how}")
        text = (f"Of the {len(t)} candidate models, **{best}** {what}: it leads "
                + "; ".join(leads) + ". ")
    use = (f"The sections that follow use **{chosen.title}**, as requested. "
           if chosen.title != best else f"The sections that follow use **{chosen.title}**. ")
    where = ("The table below compares the candidates' forecasts of the holdout; the appendix "
             "gives the scores behind the ranking." if with_table
             else "The appendix gives the scores behind the ranking.")
    return text + use + where


def comparison_brief_table(result, summary: CustomerSummary) -> pd.DataFrame:
    """The candidates' forecasts of the holdout as a manager reads them (text with units):
    their forecast of the holdout repeat purchases against the actual count, the error per
    customer and per period, best first."""
    t = result.table
    unit = summary.time_unit
    rows = {}
    for title, row in t.iterrows():
        out = {"rank": f"{int(row['rank'])}"}
        if summary.has_holdout and "bias" in t.columns:
            actual = float(summary.customers["x_holdout"].sum())
            forecast = actual + float(row["bias"]) * len(summary.customers)
            out[f"holdout repeat purchases forecast (actual {_n(actual)})"] = _n(forecast)
            out["forecast error"] = signed_share((forecast - actual) / actual) if actual else "-"
            out["error per customer (mean absolute, purchases)"] = f"{row['mae']:.2f}"
        if "tracking_mape" in t.columns and np.isfinite(row["tracking_mape"]):
            out[f"error per {unit.name} (mean absolute)"] = f"{row['tracking_mape']:.1f}%"
        rows[title] = out
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


def top_purchasers(values: pd.DataFrame, n: int, horizon: float, unit_plural: str,
                   interval: float = 0.9) -> pd.DataFrame:
    """The ``n`` customers expected to buy most (a count-only log, with no money), as text."""
    top = values.nlargest(n, "purchases_mean")
    columns = {
        "repeat purchases (x)": [f"{v:,.0f}" for v in top["x"]],
        f"last purchase (t_x, {unit_plural})": [f"{v:.1f}" for v in top["t_x"]],
        f"age (T, {unit_plural})": [f"{v:.1f}" for v in top["T"]],
        "P(alive)": [f"{v:.2f}" for v in top["p_alive_mean"]],
        f"expected purchases, next {horizon:g} {unit_plural}":
            [f"{v:,.1f}" for v in top["purchases_mean"]],
    }
    if "purchases_predictive_lower" in top.columns:
        columns[f"purchases, {interval:.0%} predictive interval"] = [
            f"{lo:,.0f} to {hi:,.0f}" for lo, hi in
            zip(top["purchases_predictive_lower"], top["purchases_predictive_upper"],
                strict=True)]
    return pd.DataFrame(columns, index=top.index)
