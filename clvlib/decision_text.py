"""The decisions section's sentences, written from the run's own numbers (Markdown)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvlib.formatting import money
from clvlib.periods import PeriodComparison
from clvlib.valuation import (
    FUTURE_DOMINATES,
    AcquisitionRate,
    AcquisitionValue,
    CorporateValuation,
    ValuationAssumptions,
)


def _money(value: float, currency: str = "") -> str:
    return money(value, currency, 0 if abs(value) >= 100 else 2)


def _range(row, lower: str = "lower", upper: str = "upper", currency: str = "") -> str:
    return f"{_money(row[lower])} to {_money(row[upper], currency)}"


def segments(table: pd.DataFrame, win_back: pd.DataFrame, horizon: float, unit_plural: str,
             interval: float, action_share: float, currency: str = "") -> str:
    """Who to protect, develop and win back, with the shares of value they hold."""
    t = table.drop(index="total")
    total = table.loc["total"]
    protect, develop, back = (t.loc[s] if s in t.index else None
                              for s in ("protect", "develop", "win back"))
    base = _range(total, "value lower", "value upper", currency=currency)
    text = (
        f"Each customer gets one strategy from their predicted value over the next {horizon:g} "
        f"{unit_plural}, their P(alive), past value and tenure, by the rule in the table below "
        f"(thresholds are parameters of the report). The base is worth "
        f"**{_money(total['value'], currency)}** over that horizon ({interval:.0%} credible "
        f"interval "
        f"{base}). "
    )
    if protect is not None and protect["customers"]:
        text += (
            f"**Protect** the {protect['customers']:,.0f} customers "
            f"({protect['share of customers']:.0%} of the base) who hold "
            f"**{protect['share of value']:.0%}** of the predicted value "
            f"({protect['share lower']:.0%} to {protect['share upper']:.0%}): losing them costs "
            "the most. "
        )
    if develop is not None and develop["customers"]:
        text += (
            f"**Develop** the {develop['customers']:,.0f} active customers below the top: if "
            f"{action_share:.0%} of them reached the mean value of protected customers, the base "
            f"would gain about {_money(develop['what-if gain'], currency)}. "
        )
    if back is not None and back["customers"]:
        text += (
            f"**Win back** the {back['customers']:,.0f} lapsed customers who were valuable: "
            f"keeping {action_share:.0%} of them active would add about "
            f"{_money(back['what-if gain'], currency)}; the list below ranks them by the "
            f"expected value of "
            "getting them back (their value if reactivated times the chance they still buy)."
        )
        if len(win_back):
            first = win_back.iloc[0]
            text += (f" The first on the list has P(alive) {first['p_alive']:.2f} and would be "
                     f"worth {_money(first['value_if_reactivated'], currency)} if reactivated.")
    text += (f"\n\nThe what-ifs are at posterior means and assume an action reaches "
             f"{action_share:.0%} of a segment's customers at no cost; they show where an action "
             "pays most, not what a campaign will earn.")
    return text


def acquisition(value: AcquisitionValue, margin: float, currency: str = "") -> str:
    """What a new customer is worth, and the most to pay for one."""
    s = value.summary()
    first = ("their first purchase included" if value.first_purchase
             else "their first purchase left out")
    return (
        f"A newly acquired customer is worth **{_money(s['mean'], currency)}** in margin "
        f"({value.interval:.0%} credible interval {_range(s, currency=currency)}) "
        f"{value.description}, at a margin "
        f"of {margin:.0%} and {first}: the **most a firm should pay to acquire one**. The "
        "model's population estimates stand for a new customer like those already acquired; the "
        "cohorts below show what customers acquired in each month have brought and are still "
        "worth."
    )


def valuation(result: CorporateValuation, equity_total: dict, horizon_value: dict,
              horizon: float, unit_plural: str, currency: str = "",
              rate: AcquisitionRate | None = None) -> str:
    """What the base and the firm are worth, with the assumptions named, and a warning in bold
    when the firm's value rests on too little: when the data cannot tell the acquisition rate
    (the valuation then counts the existing customers only), and when future customers make
    up more than :data:`clvlib.valuation.FUTURE_DOMINATES` of the operating value.

    Parameters
    ----------
    rate : AcquisitionRate, optional
        The rate estimated from the data when ``new_customers_per_year`` was left to the data
        (None: the parameters file gave it).
    """
    table = result.table()
    a: ValuationAssumptions = result.assumptions
    op = table.loc["operating value"]
    text = ""
    if rate is not None and not rate.estimated:
        text += (
            "> **Warning: the firm's value below counts the existing customers only.** The data "
            f"cannot tell how many new customers the firm will acquire: {rate.reason}. Set "
            "`new_customers_per_year` in the parameters file to value future customers too.\n\n"
        )
    text += (
        f"The existing customers will bring "
        f"**{_money(equity_total['mean'] / a.margin, currency)}** in "
        f"revenue over their whole remaining lifetime, discounted, that is "
        f"**{_money(equity_total['mean'], currency)}** in margin at {a.margin:.0%} "
        f"({result.interval:.0%} "
        f"credible interval {_range(equity_total, currency=currency)}): the customer equity of "
        f"the base. The next "
        f"{horizon:g} {unit_plural} bring {_money(horizon_value['mean'], currency)} of that "
        f"revenue. "
    )
    if a.new_customers_per_year > 0:
        cost = (f"acquired at {_money(a.acquisition_cost, currency)} each" if a.acquisition_cost
                else "before any acquisition cost (none assumed)")
        growth = f" growing {a.acquisition_growth:.1%} a year" if a.acquisition_growth else ""
        source = (f" (the rate of the data: {rate})" if rate is not None
                  else " (an assumption of the parameters file)")
        text += (
            f"With {a.new_customers_per_year:,.0f} new customers a year{growth}{source}, {cost}, "
            f"the firm's customers, existing and future, give an **operating value of "
            f"{_money(op['mean'], currency)}** ({_range(op, currency=currency)})."
        )
    else:
        text += (f"Without future customers, the **operating value is "
                 f"{_money(op['mean'], currency)}** ({_range(op, currency=currency)}).")
    if "value per share" in table.index:
        share = table.loc["value per share"]
        text += (f" After net debt of {_money(a.net_debt, currency)}, that is "
                 f"**{share['mean']:,.2f} a "
                 f"share** ({share['lower']:,.2f} to {share['upper']:,.2f}).")
    text += (" Every number rests on the assumptions in the table below; the sensitivities "
             "show which of them matter most.")
    future = result.future_share()
    if future > FUTURE_DOMINATES:
        text += (
            f"\n\n> **Warning: future customers make up {future:.0%} of the operating value** "
            f"(more than {FUTURE_DOMINATES:.0%}). The firm's value rests mostly on the assumption "
            f"of {a.new_customers_per_year:,.0f} new customers a year"
            + (" for ever" if np.isinf(a.acquisition_years) else "")
            + ", not on the customers in the data; the customer equity of the existing base, "
            f"{_money(equity_total['mean'], currency)}, is the part the data support."
        )
    return text


def predictive_equity(equity, currency: str = "") -> str:
    """What the existing customers will actually bring in margin: the predictive interval."""
    t = equity.total()
    return (
        f"With the randomness of each customer's purchases, dropout and spend drawn, the existing "
        f"customers will bring **{_money(t['lower'], currency)} to "
        f"{_money(t['upper'], currency)}** in margin over their remaining lifetimes "
        f"({equity.interval_name}; mean {_money(t['mean'], currency)}): the range to plan with."
    )


def comparison(result: PeriodComparison, previous_label: str, currency: str = "") -> str:
    """What changed since the previous report."""
    v = result.value
    change = v.loc["change"]
    c = result.customers
    sure = change["lower"] > 0 or change["upper"] < 0
    if change["mean"] == 0 and change["lower"] == change["upper"] == 0:
        moved = f"stayed at {_money(v.loc['current', 'mean'], currency)} in every posterior draw"
    else:
        moved = (f"{'rose' if change['mean'] > 0 else 'fell'} from "
                 f"{_money(v.loc['previous', 'mean'], currency)} to "
                 f"{_money(v.loc['current', 'mean'], currency)}, a "
                 f"change of **{_money(change['mean'], currency)}** (credible interval "
                 f"{_range(change, currency=currency)}"
                 f"{'' if sure else ', which includes no change'})")
    text = (
        f"Since the previous report ({previous_label}) the base value {moved}. "
        f"{c['new']:,} customers are new, {c['lost (active before, lapsed now)']:,} who were "
        f"active are now lapsed, and {c['no longer in the data']:,} are no longer in the data. "
    )
    if result.unchanged:
        text += "Every customer is in the same segment as before."
    else:
        moved = int((result.moved["previous segment"] != result.moved["current segment"]).sum())
        text += (f"{moved:,} customers changed segment; the table shows from where to where.")
    return text


# --------------------------------------------------------------------------------------------
# The decision tables as a reader sees them: readable columns, each with its unit
# --------------------------------------------------------------------------------------------


def _unit(currency: str) -> str:
    return f" ({currency})" if currency else ""


def segment_view(table: pd.DataFrame, interval: float, currency: str = "") -> pd.DataFrame:
    """:func:`clvlib.segments.segment_table` as text: counts, value with its credible interval,
    share of value with its interval, and the what-if."""
    money_unit = _unit(currency)

    def shares(row) -> str:
        if row.name == "total":
            return "100%"
        return f"{row['share of value']:.0%} ({row['share lower']:.0%} to {row['share upper']:.0%})"

    view = pd.DataFrame({
        "customers": table["customers"].map(lambda v: f"{v:,.0f}"),
        "share of customers": table["share of customers"].map(lambda v: f"{v:.1%}"),
        f"predicted value{money_unit}": table["value"].map(lambda v: f"{v:,.0f}"),
        f"{interval:.0%} credible interval": [f"{lo:,.0f} to {hi:,.0f}" for lo, hi in
                                              zip(table["value lower"], table["value upper"],
                                                  strict=True)],
        "share of value": table.apply(shares, axis=1),
        f"what-if gain{money_unit}": table["what-if gain"].map(
            lambda v: "" if pd.isna(v) else f"{v:,.0f}"),
        "what-if": table["what-if"],
    }, index=table.index)
    return view


def win_back_view(win_back: pd.DataFrame, unit_plural: str, interval: float,
                  currency: str = "") -> pd.DataFrame:
    """:func:`clvlib.segments.win_back_list` as text, each column with its unit."""
    money_unit = _unit(currency)
    return pd.DataFrame({
        "P(alive)": win_back["p_alive"].map(lambda v: f"{v:.2f}"),
        f"value if reactivated{money_unit}": win_back["value_if_reactivated"].map(
            lambda v: f"{v:,.2f}"),
        f"expected value{money_unit}": win_back["expected_value"].map(lambda v: f"{v:,.2f}"),
        f"{interval:.0%} credible interval": [f"{lo:,.2f} to {hi:,.2f}" for lo, hi in
                                              zip(win_back["value_lower"],
                                                  win_back["value_upper"], strict=True)],
        f"past value{money_unit}": win_back["past_value"].map(lambda v: f"{v:,.2f}"),
        "repeat purchases": win_back["repeat_purchases"].map(lambda v: f"{v:,.0f}"),
        f"inactive for ({unit_plural})": win_back["inactive_for"].map(lambda v: f"{v:.1f}"),
        f"customer for ({unit_plural})": win_back["tenure"].map(lambda v: f"{v:.1f}"),
    }, index=win_back.index)


def cohort_value_view(by_cohort: pd.DataFrame, interval: float, currency: str = ""
                      ) -> pd.DataFrame:
    """:func:`clvlib.valuation.acquisition_value_by_cohort`'s table as text with units."""
    money_unit = _unit(currency)
    view = pd.DataFrame({
        "customers": by_cohort["customers"].map(lambda v: f"{v:,.0f}"),
        f"past repeat margin per customer{money_unit}":
            by_cohort["past repeat value per customer"].map(lambda v: f"{v:,.2f}"),
        f"expected residual margin per customer{money_unit}":
            by_cohort["residual value per customer"].map(lambda v: f"{v:,.2f}"),
        f"{interval:.0%} credible interval": [f"{lo:,.2f} to {hi:,.2f}" for lo, hi in
                                              zip(by_cohort["lower"], by_cohort["upper"],
                                                  strict=True)],
        f"total per customer{money_unit}":
            by_cohort["total value per customer"].map(lambda v: f"{v:,.2f}"),
    }, index=by_cohort.index)
    view.index.name = "first purchase in"
    return view


def stages(lapsing_after: float, lost_after: float, loyal_repeats: int, unit_plural: str,
           cut_dates) -> str:
    """What the relationship stages mean and what the figure and the table below show."""
    return (
        "Where customers stand in their relationship, from their purchases alone (no model): "
        f"**lost** after {lost_after:g} {unit_plural} without a purchase, **lapsing** after "
        f"{lapsing_after:g}, **first purchase** until a repeat, **loyal** from {loyal_repeats} "
        f"repeat purchases, **repeat** in between. The figure counts them at the end of each "
        f"quarter from {cut_dates[0]:%d %B %Y} to {cut_dates[-1]:%d %B %Y}; the table counts "
        "the customers moving from one stage to another between the last two of those dates."
    )


def stage_moves_table(moves: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The moves between the last two dates as a from-by-to table of customers, and its
    caption."""
    last = moves[moves["to date"] == moves["to date"].max()]
    table = last.pivot_table(index="from", columns="to", values="customers", fill_value=0,
                             aggfunc="sum").map(lambda v: f"{v:,.0f}")
    caption = (f"Customers by relationship stage on {last['from date'].iloc[0]} (rows) and on "
               f"{last['to date'].iloc[0]} (columns)")
    return table, caption


def sensitivities(acquiring: bool, retention_points: float = 0.01,
                  acquisition_change: float = 0.10, spend_change: float = 0.10) -> str:
    """What the sensitivity table shows, in words (the definition of retention is in the
    appendix)."""
    moves = [f"when customers are {retention_points * 100:g} point more likely to stay "
             "(retention, defined in the appendix)"]
    if acquiring:
        moves.append(f"when {acquisition_change:.0%} more customers are acquired each year")
    moves.append(f"when every purchase is worth {spend_change:.0%} more")
    return ("What moves the value most: the table below gives the operating value "
            + ", ".join(moves[:-1]) + " and " + moves[-1] + ", each against the base case "
            "(the change is computed per posterior draw, so its interval is the change's own).")


def not_valued(model, what: str) -> str:
    """Why the report leaves ``what`` (a value over customers' whole remaining lifetimes) out
    when the value model predicts over a finite horizon only (the time-varying Pareto/NBD,
    as far as its calendar reaches)."""
    calendar = getattr(model, "calendar", None)
    reach = ("its horizon" if calendar is None else
             f"its calendar's covariates reach ({calendar.horizon():.4g} "
             f"{calendar.time_unit.plural} past {calendar.calibration_end:%d %B %Y})")
    return (f"**Not valued here.** {what} counts purchases over customers' whole remaining "
            f"lifetimes, and the value model, {model.title}, predicts only as far as {reach}. "
            "Choose a value model without a calendar (`value_model`) to value it.")
