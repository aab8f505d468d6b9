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
