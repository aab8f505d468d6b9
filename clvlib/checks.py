"""Checks of a fitted purchase model against data: tables that :mod:`clvlib.plots` draws.

Each function returns a DataFrame with the actual numbers and the model's posterior mean and
an interval, so a report can both plot and quote them. Each says which interval it gives: a
*posterior predictive* interval of the count a customer base like this one would show (parameter
uncertainty and chance together: an actual count falls inside a 90% one 9 times in 10 when the
model is right), or a *credible* interval of an expected value (parameter uncertainty only: an
actual count varies around its expectation by chance too, so it often falls outside).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from clvlib import formatting
from clvlib.compression import row_weights
from clvlib.models.base import PurchaseModel
from clvlib.scoring import score_customers
from clvlib.summary import CustomerSummary
from clvlib.transactions import TransactionLog


def _weights(customers: pd.DataFrame, source: str = "customers") -> np.ndarray:
    """How many customers each row stands for (its ``weights`` column, validated), else ones."""
    w = row_weights(customers, source or "customers")
    return np.ones(len(customers)) if w is None else w


def _interval(draws: np.ndarray, interval: float, axis: int = 0):
    q = [(1 - interval) / 2, (1 + interval) / 2]
    lo, hi = np.quantile(draws, q, axis=axis)
    return draws.mean(axis=axis), lo, hi


def data_adequacy(summary: CustomerSummary) -> str | None:
    """Why the data cannot support a purchase model, in a sentence; None when they can.

    A purchase model describes how customers *differ* in how often they buy and how long they
    stay: one customer cannot show a spread, and with no repeat purchase at all nothing tells
    how often customers buy again or when they leave. Fitted anyway, a model returns its prior
    (a MAP fit, the prior's mode), so the report ends instead (weaker data, such as a handful
    of repeat buyers, is fitted and its identification judged in words).
    """
    c = summary.customers
    n = len(c)
    if n < 2:
        return (f"The data hold {n} customer: a model of how customers differ in how often they "
                "buy and how long they stay needs many customers, and one customer's purchases "
                "cannot show a spread. Fitted anyway, the models would only restate their "
                "starting assumptions, so no forecast or value is given.")
    if not (c["x"] > 0).any():
        return (f"None of the {n:,} customers bought again in the calibration period (to "
                f"{summary.calibration_end:%d %B %Y}): nothing in the data tells how often "
                "customers buy again or when they leave. Fitted anyway, the models would only "
                "restate their starting assumptions, so no forecast or value is given.")
    return None


def frequency_check(
    model: PurchaseModel, customers: pd.DataFrame | None = None, *, max_x: int = 7,
    n_draws: int = 500, interval: float = 0.9, seed: int = 0,
) -> pd.DataFrame:
    """Customers by number of calibration repeat purchases: actual vs posterior predictive.

    The expected count for ``x = k`` is ``sum_i P(X(T_i) = k | theta_i)`` over the customers'
    ages ``T_i`` and their own parameters ``theta_i`` (covariates and group), for each
    posterior draw; the last row counts ``max_x`` or more. The interval is the posterior
    predictive one: for each draw, every customer's count is drawn from that draw's
    distribution (a multinomial per distinct age and parameter row), so it holds chance as well
    as parameter uncertainty. A ``weights`` column counts each row as that many customers.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``repeat purchases`` (``"0"`` ... ``"7+"``): ``actual``, ``mean`` (posterior
        mean of the expected count), ``lower``, ``upper`` (the ``interval`` posterior predictive
        interval); ``attrs`` hold ``interval_kind`` (``"predictive"``), the chi-square
        discrepancy (``chi_square``, its posterior mean) and its posterior predictive p-value
        (``ppp``).
    """
    customers = model.customers if customers is None else customers
    w = _weights(customers)
    # Customers who share an age and a parameter row (their covariates and group) share the
    # probabilities of each count.
    params, _, row_of = model.customer_mix(customers, n_draws=n_draws)
    combos, inverse = np.unique(np.column_stack([customers["T"].to_numpy(dtype=float), row_of]),
                                axis=0, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=w, minlength=len(combos))
    if not np.allclose(counts, np.round(counts)):
        raise ValueError("frequency_check: the customers' weights must add up to whole numbers of "
                         "customers at each age (T) to draw their counts")
    counts = np.round(counts).astype(np.int64)
    ages, combo_row = combos[:, 0], combos[:, 1].astype(np.int64)
    k = np.arange(max_x)
    # (draws, combos, k): probabilities of exactly k purchases by each age, then "max_x or more".
    if model.arrival_dated:  # a customer of age T arrived T before the calibration end
        prob = model.prob_purchases(k[None, :], ages[:, None], born=-ages[:, None],
                                    n_draws=n_draws)
    else:
        prob = model.expectations.prob_purchases(
            **{name: v[:, combo_row][:, :, None] for name, v in params.items()},
            t=ages[None, :, None], n=k[None, None, :])
    prob = np.concatenate([prob, 1 - prob.sum(axis=2, keepdims=True)], axis=2)
    prob = np.clip(prob, 0, None)
    prob /= prob.sum(axis=2, keepdims=True)
    expected = np.einsum("sak,a->sk", prob, counts)
    replicated = np.random.default_rng(seed).multinomial(counts, prob).sum(axis=1)
    q = [(1 - interval) / 2, (1 + interval) / 2]
    lo, hi = np.quantile(replicated, q, axis=0)
    x = np.minimum(customers["x"].to_numpy(), max_x).astype(np.int64)
    actual = np.round(np.bincount(x, weights=w, minlength=max_x + 1)).astype(np.int64)
    labels = [str(i) for i in k] + [f"{max_x}+"]
    table = pd.DataFrame(
        {"actual": actual, "mean": expected.mean(axis=0), "lower": lo, "upper": hi},
        index=pd.Index(labels, name="repeat purchases"),
    )
    table.attrs["interval_kind"] = "predictive"
    table.attrs.update(chi_square_check(actual, expected, replicated))
    return table


def chi_square_check(actual: np.ndarray, expected: np.ndarray,
                     replicated: np.ndarray) -> dict[str, float]:
    """Posterior predictive check of a histogram with a chi-square discrepancy.

    For each draw ``s``, ``D(y, s) = sum_k (y_k - E_k(s))^2 / E_k(s)`` is computed for the
    actual counts ``y`` and for the counts replicated from that draw; the posterior predictive
    p-value is the share of draws where the replicated discrepancy is at least the actual one
    (Gelman, Meng & Stern 1996). Values near 0 say the data are more extreme than the model
    predicts.

    Parameters
    ----------
    actual : ndarray, shape (k,)
    expected, replicated : ndarray, shape (draws, k)
        Expected and replicated counts per posterior draw.
    """
    safe = np.maximum(expected, 1e-12)
    d_actual = ((actual - expected) ** 2 / safe).sum(axis=1)
    d_replicated = ((replicated - expected) ** 2 / safe).sum(axis=1)
    return {"chi_square": float(d_actual.mean()), "ppp": float((d_replicated >= d_actual).mean())}


def period_origin(summary: CustomerSummary) -> pd.Timestamp:
    """When period 0 of the tracking check starts: whole periods, counted back from the day
    after the last calibration day, reaching to the first purchase in the data.

    The calibration period then ends on a period boundary, so the tracking check's holdout
    periods hold exactly the holdout's days (its totals equal the holdout check's) and the
    calibration periods exactly the calibration's. The first period may start a little before
    the first purchase; it holds no data before it.
    """
    days = summary.time_unit.days
    first = summary.customers["first_purchase"].min().normalize()
    boundary = summary.calibration_end.normalize() + pd.Timedelta(days=1)
    periods = np.ceil((boundary - first).days / days - 1e-9)
    return boundary - pd.Timedelta(days=float(periods * days))


def repeat_purchases_by_period(log: TransactionLog, summary: CustomerSummary) -> pd.DataFrame:
    """Actual repeat purchases of the summary's customers in each time unit.

    Periods are whole time units from :func:`period_origin` (the calibration period ends on a
    period boundary); same-day purchases are one purchase, and first purchases are not repeat
    purchases.

    Returns
    -------
    pandas.DataFrame
        ``period`` (0, 1, ...), ``period_start`` (date), ``repeat_purchases``.
    """
    end = summary.observation_end or summary.calibration_end
    ids = pd.DataFrame({"customer_id": summary.customers.index.astype(str)})
    log.con.register("summary_ids", ids)
    # A day of only returns is no purchase; a count-only log has no amounts: every day counts.
    having = "HAVING bool_or(t.amount >= 0)" if log.has_amounts else ""
    by_day = log.query(
        f"""
        WITH days AS (
            SELECT t.customer_id, t.timestamp::DATE AS day
            FROM transactions t JOIN summary_ids USING (customer_id)
            WHERE t.timestamp::DATE <= $end
            GROUP BY t.customer_id, day {having}
        ),
        repeats AS (
            SELECT day FROM (
                SELECT day, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS n
                FROM days) WHERE n > 1
        )
        SELECT day, count(*) AS repeat_purchases FROM repeats GROUP BY day ORDER BY day
        """,
        {"end": end.date()},
    )
    log.con.unregister("summary_ids")
    unit = summary.time_unit
    origin = period_origin(summary)
    since = (pd.to_datetime(by_day["day"]) - origin) / pd.Timedelta(days=1)
    period = np.floor(unit.from_days(since.to_numpy(dtype=float)) + 1e-9).astype(np.int64)
    counts = pd.Series(by_day["repeat_purchases"].to_numpy(), index=period).groupby(level=0).sum()
    n_periods = int(np.floor(unit.from_days((end + pd.Timedelta(days=1) - origin).days) - 1e-9)) + 1
    full = pd.DataFrame({"period": np.arange(n_periods)})
    full["repeat_purchases"] = counts.reindex(full["period"], fill_value=0).to_numpy(dtype=int)
    full.insert(1, "period_start", origin + pd.to_timedelta(full["period"] * unit.days, unit="D"))
    return full


#: The tracking MAPE leaves out a period that the data cover for less than this share of its
#: length (a log that ends one day into a week): a percentage error of a few days' purchases says
#: little. Such a period is still drawn, compared pro rata.
MIN_PERIOD_SHARE = 0.5


def tracking_check(
    model: PurchaseModel, summary: CustomerSummary, actual: pd.DataFrame, *,
    n_draws: int = 200, interval: float = 0.9,
) -> pd.DataFrame:
    """Cumulative repeat purchases per period, actual vs predicted, through calibration and holdout.

    The prediction at time ``tau`` is ``sum_i E[X(tau - s_i) | theta_i]`` over customers who
    first bought at ``s_i``, each with their own parameters ``theta_i`` (their covariates and
    group, :meth:`~clvlib.models.base.PurchaseModel.customer_mix`), per posterior draw
    (new-customer expectations: it uses nothing of each customer's purchase history, so the
    holdout part is a genuine forecast). The intervals are credible intervals
    of these expected counts (parameter uncertainty only).

    A period that the data cover only in part (the log ends one day into a week) is compared
    pro rata: its prediction covers the same days as its actual count (``period_share`` says
    which share of the period that is), and :func:`tracking_mape` leaves it out when the share
    is below :data:`MIN_PERIOD_SHARE`.

    Parameters
    ----------
    actual : pandas.DataFrame
        From :func:`repeat_purchases_by_period`.

    Returns
    -------
    pandas.DataFrame
        Per period: ``period``, ``period_start``, ``actual``, ``actual_cumulative``,
        ``period_share`` (the share of the period the data cover, 1 for all but perhaps the
        last), ``mean``, ``lower``, ``upper`` (cumulative predictions, at the end of the data in
        each period), ``incremental_mean``, ``incremental_lower``, ``incremental_upper``
        (predicted purchases within the period) and ``in_holdout`` (the period's data reach
        past the last day of the calibration period); ``attrs["origin"]`` is when period 0
        starts (:func:`period_origin`).
    """
    unit = summary.time_unit
    customers = summary.customers
    start = period_origin(summary)
    end = summary.observation_end or summary.calibration_end
    offsets = unit.from_days(((customers["first_purchase"] - start) / pd.Timedelta(days=1))
                             .to_numpy(dtype=float))
    # Each customer with their own covariates and group (customer_mix): customers who share a
    # first-purchase day and a parameter row share one expectation.
    params, _, row_of = model.customer_mix(summary, n_draws=n_draws)
    combos, combo_of = np.unique(np.column_stack([offsets, row_of]), axis=0,
                                 return_inverse=True)
    counts = np.bincount(combo_of.reshape(-1), weights=_weights(customers, summary.source),
                         minlength=len(combos))
    first, combo_row = combos[:, 0], combos[:, 1].astype(np.int64)
    # A model whose new customers' purchases depend on when they arrive (a calendar's
    # covariates) is evaluated per arrival day: its "row" is then the customer's arrival.
    born = None
    if model.arrival_dated:
        born = first - unit.from_days((summary.calibration_end - start) / pd.Timedelta(days=1))
        combo_row = np.arange(len(combos))
    periods = actual["period"].to_numpy()
    # A period covers days [p * u, (p + 1) * u) from the origin; the data cover whole days up to
    # ``end`` inclusive.
    covered = unit.from_days((end + pd.Timedelta(days=1) - start) / pd.Timedelta(days=1)) - periods
    share = np.clip(covered, 0.0, 1.0)
    ends = periods + share
    elapsed = np.clip(ends[:, None] - first[None, :], 0, None)  # (periods, combos)
    # A week's later first purchase is a week's younger customer at the same period end: the
    # (age, parameter row) pairs repeat across periods, so each pair is evaluated once, and a
    # sparse matrix of customer counts sums them into the periods (a tenth of the evaluations on
    # the CDNOW sample, whose 84 first-purchase days and 78 weeks make 6,552 cells).
    pairs, pair_of = np.unique(
        np.column_stack([elapsed.ravel(), np.broadcast_to(combo_row, elapsed.shape).ravel()]),
        axis=0, return_inverse=True)
    ages, pair_row = pairs[:, 0], pairs[:, 1].astype(np.int64)
    to_periods = sparse.csr_array(
        (np.tile(counts, len(periods)),
         (pair_of.reshape(-1), np.repeat(np.arange(len(periods)), len(combos)))),
        shape=(len(pairs), len(periods)))  # duplicate entries add up
    n_draws_ = next(iter(params.values())).shape[0]
    cumulative = np.zeros((n_draws_, len(periods)))  # (draws, periods)
    step = max(1, model.MIX_CELLS // max(1, n_draws_))
    for lo_ in range(0, len(pairs), step):
        part = slice(lo_, lo_ + step)
        if born is None:
            values = model.expectations.expected_purchases_new(
                **{k: v[:, pair_row[part]] for k, v in params.items()}, t=ages[None, part])
        else:
            values = model.expected_purchases_new(ages[part], born=born[pair_row[part]],
                                                  n_draws=n_draws)
        cumulative += (to_periods[part].T @ np.asarray(values, dtype=float).T).T
    mean, lo, hi = _interval(cumulative, interval)
    out = actual.rename(columns={"repeat_purchases": "actual"}).copy()
    out["actual_cumulative"] = out["actual"].cumsum()
    out["period_share"] = share
    out["mean"], out["lower"], out["upper"] = mean, lo, hi
    incremental = np.diff(cumulative, axis=1, prepend=0.0)
    (out["incremental_mean"], out["incremental_lower"],
     out["incremental_upper"]) = _interval(incremental, interval)
    # A period belongs to the holdout when its data reach past the last calibration day.
    cal_covered = unit.from_days((summary.calibration_end + pd.Timedelta(days=1) - start)
                                 / pd.Timedelta(days=1))
    out["in_holdout"] = ends > cal_covered + 1e-9
    out.attrs["origin"] = start
    return out


def holdout_check(
    model: PurchaseModel, summary: CustomerSummary, *, max_x: int = 7, n_draws: int = 500,
    interval: float = 0.9, seed: int = 0,
) -> pd.DataFrame:
    """Mean holdout repeat purchases by calibration frequency: actual vs the model's forecast.

    For each group of customers by calibration repeat purchases (``max_x`` or more in the last
    group), the model's forecast of the group's mean holdout purchases given each member's
    history, with two intervals: the posterior *predictive* interval of the group's actual mean
    (each member's purchases drawn per posterior draw, then averaged within the draw: a correct
    model puts the actual mean inside it with probability ``interval``), and the credible
    interval of the expected mean (parameter uncertainty only).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``repeat purchases``: ``customers`` (their weights' sum, when the summary has
        a ``weights`` column), ``actual``, ``mean`` (posterior mean of the expected group mean),
        ``lower``, ``upper`` (the predictive interval), ``expected_lower``, ``expected_upper``
        (the credible interval); ``attrs["interval_kind"]`` is ``"predictive"``.

    Raises
    ------
    ValueError
        When the summary has no holdout period.
    """
    if not summary.has_holdout:
        raise ValueError("holdout_check needs a summary with a holdout period (observation_end)")
    c = summary.customers
    w = pd.Series(_weights(c, summary.source), index=c.index)
    group = np.minimum(c["x"], max_x)
    labels = [str(i) for i in range(max_x)] + [f"{max_x}+"]
    rows = []
    for g, label in enumerate(labels):
        members = c[group == g]
        n = w[group == g].sum()
        if members.empty or n == 0:
            continue
        # one pass for both: P(alive) of the members is computed once
        scores = score_customers(model, None, members, horizon=summary.holdout_length,
                                 predictions=["expected_purchases", "purchases_predictive"],
                                 n_draws=n_draws, seed=seed, interval=interval)
        mean, lo, hi = _interval(scores["expected_purchases"].total_draws / n, interval)
        _, p_lo, p_hi = _interval(scores["purchases_predictive"].total_draws / n, interval)
        rows.append({"repeat purchases": label, "customers": n,
                     "actual": np.average(members["x_holdout"], weights=w[group == g]),
                     "mean": mean, "lower": p_lo, "upper": p_hi, "expected_lower": lo,
                     "expected_upper": hi})
    table = pd.DataFrame(rows).set_index("repeat purchases")
    table.attrs["interval_kind"] = "predictive"
    return table


def p_alive_grid(
    model: PurchaseModel, T: float, *, max_x: int = 20, n_recency: int = 40, n_draws: int = 300,
) -> pd.DataFrame:
    """Posterior mean P(alive) over a grid of frequency and recency, for customers of age ``T``.

    Returns
    -------
    pandas.DataFrame
        Rows ``x`` = 0..max_x, columns recency ``t_x`` from 0 to ``T``.
    """
    x = np.arange(max_x + 1)[:, None]
    t_x = np.linspace(0, T, n_recency)[None, :]
    prob = model.p_alive_draws(x, t_x, T, n_draws=n_draws)
    return pd.DataFrame(prob.mean(axis=0), index=pd.Index(x[:, 0], name="x"),
                        columns=pd.Index(np.round(t_x[0], 3), name="t_x"))


def p_alive_calibration(model: PurchaseModel, summary: CustomerSummary, *, groups: int = 10,
                        n_draws: int = 500) -> pd.DataFrame:
    """Customers in groups by predicted P(alive): the mean prediction and who bought again.

    A customer who buys in the holdout was certainly alive, so in a well-calibrated model the
    share who bought rises with P(alive) and stays below it (alive customers need not buy).

    Raises
    ------
    ValueError
        When the summary has no holdout period.
    """
    if not summary.has_holdout:
        raise ValueError("p_alive_calibration needs a summary with a holdout period")
    c = summary.customers
    if row_weights(c, summary.source or "summary") is not None:
        raise ValueError("p_alive_calibration: customers with a 'weights' column are not "
                         "supported; give one row per customer")
    alive = model.p_alive(n_draws=n_draws).per_customer["mean"]
    group = pd.qcut(alive.rank(method="first"), groups, labels=False) + 1
    table = pd.DataFrame({"p_alive": alive, "bought": c["x_holdout"] > 0}).groupby(group).agg(
        customers=("p_alive", "size"), mean_p_alive=("p_alive", "mean"),
        share_who_bought=("bought", "mean"),
    )
    table.index.name = "P(alive) group"
    return table


def holdout_errors(model: PurchaseModel, summary: CustomerSummary, *, n_draws: int = 500):
    """Each customer's expected holdout purchases against the actual, and aggregate errors.

    Returns
    -------
    per_customer : pandas.DataFrame
        ``actual``, ``predicted`` (posterior mean), ``error`` (predicted - actual).
    aggregate : dict
        ``mae``, ``rmse``, ``bias`` (mean error) and ``correlation``, each row counted as many
        times as its weight when the summary has a ``weights`` column.
    """
    if not summary.has_holdout:
        raise ValueError("holdout_errors needs a summary with a holdout period")
    c = summary.customers
    predicted = model.expected_purchases(summary.holdout_length, c, n_draws=n_draws)
    per_customer = pd.DataFrame({"actual": c["x_holdout"],
                                 "predicted": predicted.per_customer["mean"]})
    per_customer["error"] = per_customer["predicted"] - per_customer["actual"]
    e = per_customer["error"].to_numpy()
    w = _weights(c, summary.source)
    cov = np.cov(per_customer["actual"], per_customer["predicted"], aweights=w)
    aggregate = {
        "mae": float(np.average(np.abs(e), weights=w)),
        "rmse": float(np.sqrt(np.average(e**2, weights=w))),
        "bias": float(np.average(e, weights=w)),
        "correlation": float(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])),
    }
    return per_customer, aggregate


def tracking_mape(tracking: pd.DataFrame) -> float:
    """Mean absolute percentage error of predicted purchases per period in the holdout.

    Periods without purchases are left out (their percentage error is undefined), and so is a
    period that the data cover for less than :data:`MIN_PERIOD_SHARE` of its length (see
    :func:`tracking_check`). NaN when no period is left.
    """
    hold = tracking_periods_scored(tracking)
    if hold.empty:
        return float("nan")
    return float(100 * ((hold["incremental_mean"] - hold["actual"]).abs() / hold["actual"]).mean())


def tracking_periods_scored(tracking: pd.DataFrame) -> pd.DataFrame:
    """The holdout periods :func:`tracking_mape` scores."""
    share = tracking["period_share"] if "period_share" in tracking else 1.0
    keep = tracking["in_holdout"] & (tracking["actual"] > 0) & (share >= MIN_PERIOD_SHARE)
    return tracking[keep]


@dataclass(frozen=True)
class Coverage:
    """How often actual holdout purchases fell inside their posterior predictive intervals.

    Attributes
    ----------
    inside : float
        Share of customers whose actual holdout purchases lie inside their interval.
    expected : float
        The share a correct model would put inside: the mean, over customers, of the
        predictive probability of their interval (at least :attr:`interval`, since intervals
        of whole-number counts hold more than their nominal share).
    standard_error : float
        Of :attr:`inside` under a correct model, customers independent given the parameters.
    customers : int
    interval : float
        Nominal probability of each interval.
    per_customer : pandas.DataFrame
        ``actual``, ``lower``, ``upper``, ``inside``.
    """

    inside: float
    expected: float
    standard_error: float
    customers: int
    interval: float
    per_customer: pd.DataFrame

    @property
    def z(self) -> float:
        """(inside - expected) / standard error."""
        return (self.inside - self.expected) / self.standard_error if self.standard_error else 0.0

    def __str__(self) -> str:
        return (
            f"{formatting.share(self.inside, 1)} of {self.customers:,} customers made a number "
            f"of holdout "
            f"purchases inside their {self.interval:.0%} predictive interval; a correct model "
            f"would put {formatting.share(self.expected, 1)} (standard error "
            f"{100 * self.standard_error:.1f} points) inside"
        )


def holdout_coverage(model: PurchaseModel, summary: CustomerSummary, *, interval: float = 0.9,
                     n_draws: int = 1000, seed: int = 0) -> Coverage:
    """Share of customers whose actual holdout purchases fall inside their predictive interval.

    The interval is each customer's central posterior predictive interval of repeat purchases
    over the holdout (:meth:`PurchaseModel.predicted_purchases`); the share is compared with
    what a correct model would give, :attr:`Coverage.expected`.

    Raises
    ------
    ValueError
        When the summary has no holdout period.
    """
    if not summary.has_holdout:
        raise ValueError("holdout_coverage needs a summary with a holdout period")
    pred = model.predicted_purchases(summary.holdout_length, summary, n_draws=n_draws,
                                     seed=seed, interval=interval).per_customer
    actual = summary.customers["x_holdout"]
    inside = (actual >= pred["lower"]) & (actual <= pred["upper"])
    mass = pred["interval_mass"]
    n = len(actual)
    table = pd.DataFrame({"actual": actual, "lower": pred["lower"], "upper": pred["upper"],
                          "inside": inside})
    return Coverage(float(inside.mean()), float(mass.mean()),
                    float(np.sqrt((mass * (1 - mass)).sum()) / n), n, interval, table)
