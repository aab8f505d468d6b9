"""Decisions per customer: strategy segments, win-back lists and relationship stages.

Value is concentrated, so what a firm does with a customer should follow that customer's
predicted value (Fader & Toms's customer centricity). :func:`assign_segments` gives each customer
one strategy by a rule that is data: an ordered table of conditions on a few per-customer
numbers (:func:`decision_frame`), the first that holds wins, with thresholds as parameters
(:class:`SegmentRule`). The default rule:

========== =================================================================================
segment    condition (first match wins)
========== =================================================================================
start      no repeat purchase yet and acquired within ``start_tenure``: a new relationship
win back   P(alive) below ``lapsed_p_alive`` and past value in the top ``1 - high_past_value``
let go     P(alive) below ``lapsed_p_alive``, or no repeat purchase and future value low
protect    future value in the top ``1 - high_value`` share of customers (active, valuable)
harvest    future value below the ``low_value`` quantile (active, little to gain)
develop    everyone else: active, value between the two, below what the top customers reach
========== =================================================================================

Where the customers carry ``margin`` (share of spend kept) or ``cost_to_serve`` (cost per
purchase), customers whose predicted margin is negative are flagged ``re_engineer``.

:func:`segment_table` adds, per segment, the predicted value with a credible interval (the
prediction engine's per-draw totals of the segment's customers), its share of the base (per
draw, so with an interval too) and a what-if (the value an action would add if it moved a
stated share of the segment); :func:`win_back_list` ranks the lapsed customers; and
:func:`relationship_stages` / :func:`stage_flows` describe, from the data alone, where customers
are in their relationship (first purchase, repeat, loyal, lapsing, lost) and how they move.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clvlib.predict import Prediction
from clvlib.scoring import score_customers
from clvlib.summary import customer_frame

__all__ = [
    "SEGMENTS",
    "STAGES",
    "SegmentRule",
    "assign_segments",
    "decision_frame",
    "relationship_stages",
    "segment_table",
    "stage_flows",
    "win_back_list",
]

#: The strategies, in the order tables show them.
SEGMENTS = ("start", "protect", "develop", "harvest", "win back", "let go")
#: Relationship stages, in the order of a relationship.
STAGES = ("first purchase", "repeat", "loyal", "lapsing", "lost")
LAPSED = ("win back", "let go")

#: What each strategy means for the firm (shown beside the rule).
ACTIONS = {
    "start": "new and not yet repeat: make the second purchase happen",
    "protect": "valuable and active: keep them from competitors, serve them best",
    "develop": "active, below what the top customers reach: cross- and up-sell",
    "harvest": "active but worth little ahead: serve cheaply, invest elsewhere",
    "win back": "were valuable, probably gone: learn why, make an offer",
    "let go": "little value, probably gone: stop spending on them",
}


def decision_frame(customers, p_alive: Prediction, value: Prediction,
                   expected_purchases: Prediction | None = None) -> pd.DataFrame:
    """The per-customer numbers the rule reads, one row per customer.

    Columns: ``repeat_purchases`` (x), ``tenure`` (T), ``recency`` (t_x), ``inactive_for``
    (T - t_x), ``p_alive`` (posterior mean), ``future_value`` (mean CLV over the horizon) with
    ``value_lower``/``value_upper``, ``value_if_active`` (``future_value / p_alive``: what the
    customer is worth if still active), ``past_value`` (repeat spend so far, ``x * monetary``),
    ``expected_purchases`` when given, ``cohort`` when present, and ``predicted_margin`` where
    the customers carry ``margin`` or ``cost_to_serve`` (see :func:`assign_segments`).
    """
    c = customer_frame(customers)
    frame = pd.DataFrame({
        "repeat_purchases": c["x"].astype(float),
        "tenure": c["T"].astype(float),
        "recency": c["t_x"].astype(float),
        "inactive_for": (c["T"] - c["t_x"]).astype(float),
        "p_alive": p_alive.per_customer["mean"],
        "future_value": value.per_customer["mean"],
        "value_lower": value.per_customer["lower"],
        "value_upper": value.per_customer["upper"],
    }, index=c.index)
    frame["value_if_active"] = frame["future_value"] / frame["p_alive"].clip(lower=1e-12)
    frame["past_value"] = c["x"] * c["monetary"].fillna(0.0)
    if expected_purchases is not None:
        frame["expected_purchases"] = expected_purchases.per_customer["mean"]
    if "cohort" in c.columns:
        frame["cohort"] = c["cohort"]
    if "margin" in c.columns or "cost_to_serve" in c.columns:
        if "cost_to_serve" in c.columns and expected_purchases is None:
            raise ValueError("a 'cost_to_serve' column needs expected_purchases to cost them")
        margin = c["margin"] if "margin" in c.columns else 1.0
        cost = (c["cost_to_serve"] * frame["expected_purchases"]
                if "cost_to_serve" in c.columns else 0.0)
        frame["predicted_margin"] = frame["future_value"] * margin - cost
    return frame


@dataclass(frozen=True)
class SegmentRule:
    """Thresholds of the strategy rule (see the module docstring for the rule itself).

    Value thresholds are quantiles among the customers with at least one repeat purchase (those
    whose value the models can tell apart; a base is often mostly one-time buyers), so they
    adapt to any currency and base; the defaults suit CDNOW (weeks) and most retail bases.

    Attributes
    ----------
    start_tenure : float
        A customer acquired at most this long ago (in the time unit) without a repeat purchase
        is new (``start``). 13 weeks is a quarter: on CDNOW, whose customers were all acquired
        in the first quarter of 1997, no customer is new by the end of September 1997.
    lapsed_p_alive : float
        Below this P(alive) a customer is probably gone (``win back`` or ``let go``).
    high_value : float
        Quantile of future value above which an active customer is ``protect``ed (0.8: the
        top 20% of repeat buyers).
    low_value : float
        Quantile of future value below which an active customer is ``harvest``ed, and a
        one-time buyer is let go.
    high_past_value : float
        Quantile of past value (among customers with repeat purchases) above which a lapsed
        customer is worth winning back.
    """

    start_tenure: float = 13.0
    lapsed_p_alive: float = 0.3
    high_value: float = 0.8
    low_value: float = 0.4
    high_past_value: float = 0.5

    def __post_init__(self):
        for name in ("lapsed_p_alive", "high_value", "low_value", "high_past_value"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be in [0, 1]")
        if not self.low_value <= self.high_value:
            raise ValueError(f"low_value={self.low_value} must not exceed "
                             f"high_value={self.high_value}")
        if not self.start_tenure >= 0:
            raise ValueError(f"start_tenure={self.start_tenure!r} must be >= 0")

    def cutoffs(self, frame: pd.DataFrame) -> dict[str, float]:
        """The thresholds in the frame's own units (quantiles turned into amounts)."""
        repeaters = frame[frame["repeat_purchases"] > 0]
        if repeaters.empty:  # nobody to tell apart: quantiles of everyone
            repeaters = frame
        return {
            "start_tenure": self.start_tenure,
            "lapsed_p_alive": self.lapsed_p_alive,
            "high_value": float(repeaters["future_value"].quantile(self.high_value)),
            "low_value": float(repeaters["future_value"].quantile(self.low_value)),
            "high_past_value": float(repeaters["past_value"].quantile(self.high_past_value)),
        }

    def conditions(self) -> list[tuple[str, str]]:
        """The rule as data: ``(segment, condition)`` pairs, first match wins.

        Conditions are :meth:`pandas.DataFrame.eval` expressions over the columns of
        :func:`decision_frame`, with ``@name`` for a threshold of :meth:`cutoffs`."""
        return [
            ("start", "repeat_purchases == 0 and tenure <= @start_tenure"),
            ("win back", "p_alive < @lapsed_p_alive and past_value >= @high_past_value"),
            ("let go", "p_alive < @lapsed_p_alive or "
                       "(repeat_purchases == 0 and future_value < @low_value)"),
            ("protect", "future_value >= @high_value"),
            ("harvest", "future_value < @low_value"),
            ("develop", "future_value == future_value"),
        ]

    def table(self, frame: pd.DataFrame | None = None, unit: str = "") -> pd.DataFrame:
        """The rule for a report: each segment's condition, with the thresholds filled in when
        ``frame`` is given, and what the segment means for the firm."""
        cut = self.cutoffs(frame) if frame is not None else None
        rows = []
        for segment, condition in self.conditions():
            shown = condition.replace("future_value == future_value", "otherwise")
            if cut is not None:
                for name, value in sorted(cut.items(), key=lambda kv: -len(kv[0])):
                    text = (f"{value:g} {unit}".strip() if name == "start_tenure"
                            else f"{value:,.4g}")
                    shown = shown.replace(f"@{name}", text)
            rows.append({"segment": segment, "condition": shown, "action": ACTIONS[segment]})
        return pd.DataFrame(rows).set_index("segment")

    def thresholds(self, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        """Each threshold parameter, its value and (given ``frame``) the amount it means."""
        cut = self.cutoffs(frame) if frame is not None else {}
        return pd.DataFrame(
            [{"parameter": k, "value": v, "amount": cut.get(k, np.nan)}
             for k, v in asdict(self).items()]
        ).set_index("parameter")


def assign_segments(frame: pd.DataFrame, rule: SegmentRule | None = None,
                    conditions: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Each customer's strategy segment by the first condition of the rule that holds.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`decision_frame`.
    rule : SegmentRule, optional
        The thresholds (default: :class:`SegmentRule` with its defaults).
    conditions : list of (str, str), optional
        A rule of your own: ``(segment, expression)`` pairs over the frame's columns with
        ``@threshold`` names; default ``rule.conditions()``.

    Returns
    -------
    pandas.DataFrame
        ``frame`` with ``segment`` (an ordered categorical) and, where ``predicted_margin``
        exists, ``re_engineer`` (predicted margin below zero).

    Raises
    ------
    ValueError
        When a customer matches no condition (a rule of your own must cover everyone).
    """
    rule = rule or SegmentRule()
    conditions = conditions or rule.conditions()
    cut = rule.cutoffs(frame)
    segment = pd.Series(pd.NA, index=frame.index, dtype="object")
    for name, condition in conditions:
        hit = frame.eval(condition, local_dict=cut).to_numpy(dtype=bool)
        segment[hit & segment.isna().to_numpy()] = name
    if segment.isna().any():
        first = list(segment.index[segment.isna()][:5])
        raise ValueError(f"{int(segment.isna().sum())} customer(s) match no segment "
                         f"condition, the first {first}: the rule must end with a catch-all")
    names = list(dict.fromkeys([*SEGMENTS, *(n for n, _ in conditions)]))
    out = frame.assign(segment=pd.Categorical(segment, categories=names, ordered=True))
    if "predicted_margin" in out.columns:
        out["re_engineer"] = out["predicted_margin"] < 0
    return out


def segment_table(
    purchase_model,
    spend_model,
    customers,
    segmented: pd.DataFrame,
    *,
    horizon: float = 52,
    annual_discount_rate: float = 0.10,
    n_draws: int | None = 1000,
    seed: int = 0,
    interval: float = 0.9,
    action_share: float = 0.10,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Per segment: customers, share of customers, predicted value and share of value with
    credible intervals, and a what-if.

    Each segment's customers are scored by the prediction engine with the same ``seed`` (so the
    same posterior draws): a segment's value per draw is the sum over its customers within that
    draw, the segments add up to the base in every draw, and a share of value is computed per
    draw. The what-if, at posterior means: an action that reaches ``action_share`` of a
    segment's customers and

    - for ``protect``, ``win back`` and ``let go``, keeps them active: each adds
      ``value_if_active - future_value`` (``(1 - P(alive)) * value_if_active``);
    - for ``develop``, lifts them to the mean value of ``protect`` customers, for ``harvest``
      and ``start`` to the mean value of ``develop`` customers (customers already above add
      nothing).

    Returns
    -------
    table : pandas.DataFrame
        One row per segment, in :data:`SEGMENTS` order, and a ``total`` row.
    draws : dict of str to ndarray
        Each segment's value per draw (and ``"total"``).
    """
    frame = customer_frame(customers)
    draws: dict[str, np.ndarray] = {}
    mean_value = segmented.groupby("segment", observed=False)["future_value"].mean()
    rows = []
    for name in segmented["segment"].cat.categories:
        members = segmented.index[segmented["segment"] == name]
        if len(members):
            draws[name] = score_customers(
                purchase_model, spend_model, frame.loc[members], horizon=horizon,
                annual_discount_rate=annual_discount_rate, predictions=["clv"],
                n_draws=n_draws, seed=seed, interval=interval,
            )["clv"].total_draws
    total = sum(draws.values())
    lo, hi = (1 - interval) / 2, (1 + interval) / 2
    for name in segmented["segment"].cat.categories:
        part = segmented[segmented["segment"] == name]
        value = draws.get(name, np.zeros_like(total))
        share = value / total
        gain, action = _what_if(name, part, mean_value, action_share)
        rows.append({
            "segment": name, "customers": len(part), "share of customers": len(part) / len(
                segmented),
            "value": value.mean(), "value lower": np.quantile(value, lo),
            "value upper": np.quantile(value, hi), "share of value": share.mean(),
            "share lower": np.quantile(share, lo), "share upper": np.quantile(share, hi),
            "value per customer": value.mean() / len(part) if len(part) else np.nan,
            "what-if gain": gain, "what-if": action,
        })
    rows.append({"segment": "total", "customers": len(segmented), "share of customers": 1.0,
                 "value": total.mean(), "value lower": np.quantile(total, lo),
                 "value upper": np.quantile(total, hi), "share of value": 1.0,
                 "share lower": 1.0, "share upper": 1.0,
                 "value per customer": total.mean() / len(segmented),
                 "what-if gain": np.nan, "what-if": ""})
    draws["total"] = total
    return pd.DataFrame(rows).set_index("segment"), draws


def _what_if(name: str, part: pd.DataFrame, mean_value: pd.Series, share: float):
    """The value an action reaching ``share`` of the segment adds, and the action in words."""
    if part.empty:
        return 0.0, ""
    if name in ("protect", *LAPSED):
        gain = share * float((part["value_if_active"] - part["future_value"]).sum())
        verb = "retained" if name == "protect" else "won back"
        return gain, f"{share:.0%} {verb}, kept active"
    target = {"develop": "protect", "harvest": "develop", "start": "develop"}.get(name)
    if target is None or target not in mean_value.index or np.isnan(mean_value[target]):
        return np.nan, ""
    gain = share * float((mean_value[target] - part["future_value"]).clip(lower=0).sum())
    return gain, f"{share:.0%} raised to the mean of '{target}'"


def win_back_list(segmented: pd.DataFrame, *, segments=("win back",)) -> pd.DataFrame:
    """Lapsed customers ranked by their expected future value, for a campaign that nudges.

    The value if reactivated (``value_if_active``: future value given the customer is still
    active) times how likely they still are to buy (P(alive)); equal to their expected future
    value. This order assumes a campaign that moves customers who are still active (a
    reminder, an offer): it reaches value where P(alive) is high. A campaign that brings back
    customers who have left is worth ``(1 - P(alive))`` times the value if reactivated, the
    what-if of :func:`segment_table`'s win-back row; the two orders differ (lesson 10 of the
    course compares them). The columns behind the rank come along: P(alive), value if
    reactivated, expected value, past value, repeat purchases, how long they have been
    inactive and their tenure.

    Parameters
    ----------
    segmented : pandas.DataFrame
        From :func:`assign_segments`.
    segments : sequence of str
        Which segments to list (default ``win back``; add ``let go`` for every lapsed one).
    """
    lapsed = segmented[segmented["segment"].isin(segments)]
    table = pd.DataFrame({
        "segment": lapsed["segment"].astype(str),
        "p_alive": lapsed["p_alive"],
        "value_if_reactivated": lapsed["value_if_active"],
        "expected_value": lapsed["value_if_active"] * lapsed["p_alive"],
        "value_lower": lapsed["value_lower"],
        "value_upper": lapsed["value_upper"],
        "past_value": lapsed["past_value"],
        "repeat_purchases": lapsed["repeat_purchases"],
        "inactive_for": lapsed["inactive_for"],
        "tenure": lapsed["tenure"],
    }, index=lapsed.index)
    table = table.sort_values(["expected_value", "past_value"], ascending=False)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def write_table(table: pd.DataFrame, folder: str | Path, name: str) -> list[Path]:
    """Write a table as ``name.csv`` and ``name.parquet`` in ``folder``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv, parquet = folder / f"{name}.csv", folder / f"{name}.parquet"
    table.to_csv(csv)
    table.to_parquet(parquet)
    return [csv, parquet]


# --------------------------------------------------------------------------------------------
# Relationship stages (descriptive: from the data alone)
# --------------------------------------------------------------------------------------------


def relationship_stages(customers, *, lapsing_after: float = 13.0, lost_after: float = 39.0,
                        loyal_repeats: int = 3) -> pd.Series:
    """Each customer's relationship stage, from their purchase history alone.

    First match wins: ``lost`` (no purchase for more than ``lost_after`` time units),
    ``lapsing`` (more than ``lapsing_after``), ``first purchase`` (no repeat purchase yet),
    ``loyal`` (``loyal_repeats`` repeat purchases or more), ``repeat`` (the rest).

    Returns
    -------
    pandas.Series
        An ordered categorical of :data:`STAGES`, indexed like the customers.
    """
    if not 0 < lapsing_after <= lost_after:
        raise ValueError(f"need 0 < lapsing_after ({lapsing_after}) <= lost_after "
                         f"({lost_after})")
    c = customer_frame(customers)
    gap = (c["T"] - c["t_x"]).to_numpy(dtype=float)
    x = c["x"].to_numpy(dtype=float)
    stage = np.select(
        [gap > lost_after, gap > lapsing_after, x == 0, x >= loyal_repeats],
        ["lost", "lapsing", "first purchase", "loyal"], default="repeat",
    )
    return pd.Series(pd.Categorical(stage, categories=STAGES, ordered=True), index=c.index,
                     name="stage")


def stage_flows(log, cut_dates, *, time_unit: str = "week", **stage_options):
    """Relationship stages at each cut date, and the customers moving between them.

    Parameters
    ----------
    log : TransactionLog
        The transactions.
    cut_dates : sequence of date-like
        The ends of the periods (at least two), in order.
    time_unit : str
        Unit of the stage thresholds.
    **stage_options
        Passed to :func:`relationship_stages`.

    Returns
    -------
    counts : pandas.DataFrame
        Customers per stage (columns) at each cut date (rows); customers not yet acquired are
        left out.
    flows : pandas.DataFrame
        One row per pair of consecutive dates and pair of stages (``from``, ``to``,
        ``customers``), with ``"not yet acquired"`` as the origin of new customers.
    """
    from clvlib.summary import summarize

    dates = [pd.Timestamp(d) for d in cut_dates]
    if len(dates) < 2 or any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
        raise ValueError("stage_flows needs at least two cut dates in increasing order")
    stages = {d: relationship_stages(summarize(log, time_unit=time_unit, calibration_end=d),
                                     **stage_options) for d in dates}
    counts = pd.DataFrame({d.date(): s.value_counts().reindex(STAGES, fill_value=0)
                           for d, s in stages.items()}).T
    counts.index.name = "period end"
    rows = []
    for before, after in zip(dates, dates[1:], strict=False):
        old = stages[before].astype(str).reindex(stages[after].index).fillna("not yet acquired")
        moved = pd.crosstab(old, stages[after].astype(str)).stack()
        for (origin, target), n in moved.items():
            if n:
                rows.append({"from date": before.date(), "to date": after.date(),
                             "from": origin, "to": target, "customers": int(n)})
    return counts, pd.DataFrame(rows)


def stage_dates(log, summary) -> list[pd.Timestamp]:
    """The quarter ends at which the report counts relationship stages: from the first
    purchase of the summary's customers to the end of its observation (calibration and holdout),
    the last date no later than the log's last purchase (a day after it, nothing is known)."""
    end = min(pd.Timestamp(summary.observation_end or summary.calibration_end),
              pd.Timestamp(log.date_range()[1]))
    return quarter_ends(summary.customers["first_purchase"].min(), end)


def quarter_ends(first, last) -> list[pd.Timestamp]:
    """The ends of calendar quarters from the one holding ``first`` up to ``last``, and
    ``last`` itself when it is not a quarter end."""
    ends = list(pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="QE"))
    last = pd.Timestamp(last).normalize()
    if not ends or ends[-1] < last:
        ends.append(last)
    return ends
