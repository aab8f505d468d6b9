"""What customers are worth to the firm: a new customer, the existing base, and the firm itself.

Three numbers a manager and a CFO ask for, each per posterior draw (so each has a credible
interval of the expected value, parameter uncertainty of both the purchase and the spend model):

- **Acquisition value** (:func:`acquisition_value`): the discounted expected value of a newly
  acquired customer, ``E[spend] * (1 + DERT_new)``, where ``E[spend] = p gamma / (q - 1)`` is the
  Gamma-Gamma population mean spend per purchase and ``DERT_new`` the discounted expected repeat
  purchases of a new customer (:func:`clvlib.discounting.purchase_weights` over an unbounded
  horizon applied to ``expected_purchases_new``). The first purchase, made at acquisition, counts
  at the same expected spend, undiscounted (``first_purchase=False`` leaves it out). Times the
  margin, it is the most a firm should pay to acquire one customer.
- **Customer equity** (:func:`customer_equity`): the residual value of the existing base over an
  unbounded horizon, the prediction engine's CLV with ``horizon=numpy.inf``, times the margin.
  The CLV of a finite horizon converges to it as the horizon grows.
- **Customer-based corporate valuation** (:func:`corporate_valuation`, after McCarthy, Fader &
  Hardie 2017): the margin on the existing base, plus the future cohorts of an acquisition forecast
  (``N`` new customers a year, growing at ``g`` a year, arriving continuously, each worth the
  acquisition value less the acquisition cost), less the present value of fixed costs: the
  operating value; less net debt, the equity value; divided by the shares, the value per share.

Discounting follows :mod:`clvlib.discounting`: an annual effective rate ``r``, continuous in
time. Cohorts arriving at the rate ``N (1 + g)^t`` a year for ``Y`` years are worth
``N (V - C) (1 - rho^Y) / -log(rho)`` with ``rho = (1 + g) / (1 + r)`` (``N Y (V - C)`` when
``rho = 1``), and fixed costs of ``F`` a year forever ``F / log(1 + r)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd
from scipy import stats

from clvlib.compression import row_weights
from clvlib.discounting import Discount, purchase_weights
from clvlib.predict import Prediction
from clvlib.scoring import paired_draws, score_customers
from clvlib.summary import customer_frame

__all__ = [
    "AcquisitionValue",
    "CorporateValuation",
    "ValuationAssumptions",
    "AcquisitionRate",
    "acquisition_rate",
    "acquisition_value",
    "acquisition_value_by_cohort",
    "corporate_valuation",
    "customer_equity",
    "retention_shift",
    "sensitivities",
]


def _interval(draws: np.ndarray, interval: float) -> tuple[float, float, float]:
    draws = np.asarray(draws, dtype=float)
    lo, hi = np.quantile(draws, [(1 - interval) / 2, (1 + interval) / 2])
    return float(draws.mean()), float(lo), float(hi)


# --------------------------------------------------------------------------------------------
# Acquisition value
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AcquisitionValue:
    """The value of a newly acquired customer, per posterior draw.

    Attributes
    ----------
    draws : ndarray
        Value (revenue, times ``margin``) of one new customer, per posterior draw.
    spend_draws : ndarray
        Population mean spend per purchase, ``p gamma / (q - 1)``, per draw.
    purchases_draws : ndarray
        Discounted expected repeat purchases of a new customer (``DERT_new``), per draw.
    margin : float
        Share of spend kept as margin (1: revenue).
    first_purchase : bool
        Whether the first purchase counts (at the population mean spend, undiscounted).
    interval : float
        Probability of the central credible interval.
    description : str
        The horizon and discount rate, in words.
    """

    draws: np.ndarray
    spend_draws: np.ndarray
    purchases_draws: np.ndarray
    margin: float
    first_purchase: bool
    interval: float
    description: str

    def summary(self) -> dict[str, float]:
        """Posterior mean and credible interval of the value of one new customer."""
        mean, lower, upper = _interval(self.draws, self.interval)
        return {"mean": mean, "lower": lower, "upper": upper}

    def table(self) -> pd.DataFrame:
        """The value and its two factors: mean and credible interval of each."""
        purchases = self.purchases_draws + (1.0 if self.first_purchase else 0.0)
        rows = {
            "mean spend per purchase": self.spend_draws,
            "discounted expected purchases (first included)" if self.first_purchase
            else "discounted expected repeat purchases": purchases,
            f"value of a new customer (margin {self.margin:.0%})": self.draws,
        }
        return pd.DataFrame(
            [_interval(v, self.interval) for v in rows.values()], index=list(rows),
            columns=["mean", "lower", "upper"],
        )

    def __str__(self) -> str:
        s = self.summary()
        return (f"value of a new customer {self.description}: {s['mean']:,.2f} "
                f"({self.interval:.0%} credible interval {s['lower']:,.2f} to {s['upper']:,.2f})")


def _paired(purchase_model, spend_model, n_draws, seed) -> dict[str, np.ndarray]:
    """Posterior draws of both models, paired as the prediction engine pairs them."""
    return paired_draws(purchase_model.posterior_draws(n_draws, seed),
                        spend_model.posterior_draws(n_draws, seed + 1))


def population_mean_spend(draws: dict[str, np.ndarray], model_title: str = "Gamma-Gamma"):
    """``p gamma / (q - 1)`` per draw: the mean spend per purchase of a customer with no history.

    Raises
    ------
    ValueError
        When a draw has ``q <= 1`` (the population mean spend is then infinite).
    """
    p, q, gamma = (np.asarray(draws[k], dtype=float) for k in ("p", "q", "gamma"))
    if np.any(q <= 1):
        bad = int(np.argmax(q <= 1))
        raise ValueError(
            f"{model_title}: the population mean spend p*gamma/(q-1) needs q > 1; "
            f"{int((q <= 1).sum())} posterior draw(s) have q <= 1, the first q={q[bad]:.4g}"
        )
    return p * gamma / (q - 1)


def acquisition_value(
    purchase_model,
    spend_model,
    *,
    margin: float = 1.0,
    annual_discount_rate: float = 0.10,
    horizon: float = np.inf,
    first_purchase: bool = True,
    n_draws: int | None = 1000,
    seed: int = 0,
    interval: float = 0.9,
    spend_multiplier: float = 1.0,
    customers=None,
) -> AcquisitionValue:
    """Discounted expected value of a newly acquired customer, per posterior draw.

    ``margin * spend_multiplier * E[spend] * (first + DERT_new)``: the Gamma-Gamma population
    mean spend per purchase times the discounted expected purchases of a new customer, each
    repeat purchase discounted from when it is expected (:mod:`clvlib.discounting`). With
    covariates or groups, a new customer is one like those already acquired: the value is the
    mean over the customers' own parameters (each distinct row of their purchase and spend
    covariates, weighted by its customers), not that of a customer whose coded covariates are
    all 0.

    Parameters
    ----------
    purchase_model : PurchaseModel
        Fitted BG/NBD, MBG/NBD or Pareto/NBD.
    spend_model : GammaGammaModel
        Fitted spend model (needs ``q > 1`` in every draw).
    margin : float
        Share of spend kept as margin; 1 values revenue.
    annual_discount_rate : float
        Annual effective rate.
    horizon : float
        How far ahead repeat purchases count, in the purchase model's time unit
        (default: the customer's whole lifetime).
    first_purchase : bool
        Count the acquiring purchase (at the population mean spend, undiscounted).
    n_draws, seed, interval
        As in :func:`clvlib.scoring.score_customers` (the same seed pairs the same draws).
    spend_multiplier : float
        Scales every amount (a what-if: 1.1 for 10% more spend per purchase).
    customers : CustomerSummary or DataFrame, optional
        Whose mix of covariates a new customer follows (default: the purchase model's
        customers).

    Returns
    -------
    AcquisitionValue

    Examples
    --------
    >>> value = acquisition_value(bg_nbd, gamma_gamma, margin=0.3)  # doctest: +SKIP
    >>> print(value)  # doctest: +SKIP
    value of a new customer over their whole lifetime at 10% a year: 11.52 (...)
    """
    if not 0 < margin <= 1:
        raise ValueError(f"margin={margin!r} must be in (0, 1]")
    draws = _paired(purchase_model, spend_model, n_draws, seed)
    unit = purchase_model.time_unit
    times, weights = purchase_weights(horizon, unit.days, annual_discount_rate)
    # A new customer like those already acquired: each distinct row of the customers' own
    # purchase and spend covariates (and groups), weighted by its customers (one row without).
    frame = purchase_model.customers if customers is None else customer_frame(customers)
    purchase, _, purchase_row = purchase_model.customer_mix(frame, draws=draws)
    spend_params, _, spend_row = spend_model.customer_mix(frame, draws=draws)
    joint, joint_of = np.unique(np.column_stack([purchase_row, spend_row]), axis=0,
                                return_inverse=True)
    w = row_weights(frame)
    share = np.bincount(joint_of.reshape(-1), minlength=len(joint),
                        weights=np.ones(len(frame)) if w is None else w)
    share = share / share.sum()
    new = purchase_model.expectations.expected_purchases_new(
        **{k: v[:, joint[:, 0]][:, None, :] for k, v in purchase.items()},
        t=times[None, :, None])  # (draws, times, rows)
    purchases = np.einsum("stj,t->sj", np.asarray(new, dtype=float), weights)
    if not np.all(np.isfinite(purchases)):
        raise ValueError(f"{purchase_model.title}: the expected purchases of a new customer are "
                         "not finite for some posterior draws; check the fit")
    spend = spend_multiplier * population_mean_spend(
        {k: v[:, joint[:, 1]] for k, v in spend_params.items()}, spend_model.title)
    value = margin * (spend * (purchases + (1.0 if first_purchase else 0.0))) @ share
    spend, purchases = spend @ share, purchases @ share
    discount = Discount(annual_discount_rate)
    over = ("over their whole lifetime" if np.isinf(horizon)
            else f"over {horizon:g} {unit.plural}")
    return AcquisitionValue(value, spend, purchases, margin, first_purchase, interval,
                            f"{over} at {discount}")


def acquisition_value_by_cohort(
    purchase_model,
    spend_model,
    customers=None,
    *,
    margin: float = 1.0,
    annual_discount_rate: float = 0.10,
    n_draws: int | None = 1000,
    seed: int = 0,
    interval: float = 0.9,
    by: str = "cohort",
) -> tuple[pd.DataFrame, dict]:
    """What an acquired customer of each cohort (or other group) has brought and is still worth.

    Per group: customers, repeat spend so far per customer (observed, ``x * monetary``), the
    expected residual value per customer (the prediction engine's CLV over an unbounded
    horizon, per draw: the group's total over its customers) with its credible interval, and
    their sum, all times ``margin``. The first purchases are not in the summary and are left
    out; past spend is not discounted or compounded.

    Parameters
    ----------
    customers : CustomerSummary or DataFrame, optional
        Default: the customers the purchase model was fitted to; needs the column ``by``.
    by : str
        The grouping column (``"cohort"``: the month of the first purchase; a covariate
        column gives one row per covariate value).

    Returns
    -------
    table : pandas.DataFrame
        Indexed by group.
    draws : dict
        Each group's residual value (margin included) per draw, summed over its customers; the
        groups partition the customers and share the draws, so their sum is the customer equity
        of the base per draw (:func:`corporate_valuation` takes it as ``existing``).
    """
    frame = purchase_model.customers if customers is None else customer_frame(customers)
    if by not in frame.columns:
        raise ValueError(f"acquisition value by {by!r}: the customers have no column {by!r} "
                         f"(columns: {list(frame.columns)})")
    rows, draws = [], {}
    for group, members in frame.groupby(by, sort=True):
        residual = score_customers(
            purchase_model, spend_model, members, horizon=np.inf,
            annual_discount_rate=annual_discount_rate, predictions=["clv"], n_draws=n_draws,
            seed=seed, interval=interval,
        )["clv"]
        n = len(members)
        draws[group] = margin * residual.total_draws
        past = float((members["x"] * members["monetary"].fillna(0.0)).sum()) / n
        mean, lo, hi = _interval(margin * residual.total_draws / n, interval)
        rows.append({by: group, "customers": n, "past repeat value per customer": margin * past,
                     "residual value per customer": mean, "lower": lo, "upper": hi,
                     "total value per customer": margin * past + mean})
    return pd.DataFrame(rows).set_index(by), draws


# --------------------------------------------------------------------------------------------
# Customer equity
# --------------------------------------------------------------------------------------------


#: A predictive residual value draws each customer's future until the discount factor falls
#: below this (at 10% a year: 145 years).
PREDICTIVE_TAIL = 1e-6


def _scaled_amounts(table: pd.DataFrame, scale: float) -> pd.DataFrame:
    """A per-customer table of amounts times ``scale``; a predictive interval's
    ``interval_mass`` (a probability) is left as it is."""
    out = table * scale
    if "interval_mass" in table:
        out["interval_mass"] = table["interval_mass"]
    return out


def customer_equity(
    purchase_model,
    spend_model,
    customers=None,
    *,
    margin: float = 1.0,
    annual_discount_rate: float = 0.10,
    n_draws: int | None = 1000,
    seed: int = 0,
    interval: float = 0.9,
    spend_multiplier: float = 1.0,
    predictive: bool = False,
) -> Prediction:
    """Residual value of the existing base over an unbounded horizon, times the margin.

    The prediction engine's expected CLV with ``horizon=numpy.inf`` (discounted expected
    residual purchases times expected spend per purchase), scaled by ``margin`` (and
    ``spend_multiplier``): per customer and, per draw, for the whole base. With
    ``predictive=True``, the posterior predictive residual value instead: each customer's
    purchases, dropout and spend drawn until the discount factor falls below
    :data:`PREDICTIVE_TAIL` (what lies beyond is at most that share of a purchase's value),
    so the interval holds what the base will actually bring.

    Returns
    -------
    Prediction
        ``kind="expected"`` (or ``"predictive"``); ``total_draws`` is the base's customer
        equity per draw.
    """
    if predictive:
        unit = purchase_model.time_unit
        delta = Discount(annual_discount_rate).per_unit(unit.days)
        if delta <= 0:
            raise ValueError("a predictive residual value needs a positive discount rate")
        horizon, key = float(np.log(1 / PREDICTIVE_TAIL) / delta), "clv_predictive"
    else:
        horizon, key = np.inf, "clv"
    clv = score_customers(
        purchase_model, spend_model, customers, horizon=horizon,
        annual_discount_rate=annual_discount_rate, predictions=[key], n_draws=n_draws,
        seed=seed, interval=interval,
    )[key]
    scale = margin * spend_multiplier
    name = clv.name if not predictive else (
        f"CLV over the customers' remaining lifetimes at {Discount(annual_discount_rate)} "
        "(predictive)")
    return Prediction(
        f"customer equity (margin {margin:.0%}): {name}",
        _scaled_amounts(clv.per_customer, scale), clv.total_draws * scale, interval,
        kind=clv.kind,
    )


# --------------------------------------------------------------------------------------------
# Customer-based corporate valuation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValuationAssumptions:
    """The inputs of a customer-based corporate valuation, with what each means.

    Attributes
    ----------
    margin : float
        Share of spend kept as contribution margin (0.3: 30 cents of each dollar spent).
    annual_discount_rate : float
        Annual effective rate (the firm's cost of capital).
    new_customers_per_year : float
        New customers acquired in the first year.
    acquisition_growth : float
        Yearly growth of acquisitions (0.05: 5% more each year); must stay below the
        discount rate when ``acquisition_years`` is unbounded.
    acquisition_cost : float
        Paid to acquire each new customer.
    acquisition_years : float
        For how many years customers keep being acquired (``inf``: for ever).
    fixed_costs_per_year : float
        Fixed operating costs a year, for ever.
    net_debt : float
        Debt less cash, taken from the operating value to give the equity value.
    shares_outstanding : float
        Shares; 0 leaves out the value per share.
    first_purchase : bool
        Whether a new customer's first purchase counts in the acquisition value.
    """

    margin: float = 0.3
    annual_discount_rate: float = 0.1
    new_customers_per_year: float = 0.0
    acquisition_growth: float = 0.0
    acquisition_cost: float = 0.0
    acquisition_years: float = np.inf
    fixed_costs_per_year: float = 0.0
    net_debt: float = 0.0
    shares_outstanding: float = 0.0
    first_purchase: bool = True

    def __post_init__(self):
        if not 0 < self.margin <= 1:
            raise ValueError(f"margin={self.margin!r} must be in (0, 1]")
        Discount(self.annual_discount_rate)
        for name in ("new_customers_per_year", "acquisition_cost", "fixed_costs_per_year",
                     "shares_outstanding"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 0")
        if not self.acquisition_years > 0:
            raise ValueError(f"acquisition_years={self.acquisition_years!r} must be positive")
        if not self.acquisition_growth > -1:
            raise ValueError(f"acquisition_growth={self.acquisition_growth!r} must be > -1")
        if np.isinf(self.acquisition_years) and self.new_customers_per_year > 0 and not (
                self.acquisition_growth < self.annual_discount_rate):
            raise ValueError(
                f"acquisition_growth={self.acquisition_growth!r} must be below the discount rate "
                f"({self.annual_discount_rate!r}) when customers are acquired for ever: the "
                "future cohorts would otherwise be worth an infinite amount"
            )

    def cohort_factor(self) -> float:
        """Present value of acquiring one customer a year, growing at ``acquisition_growth``,
        arriving continuously for ``acquisition_years``: ``(1 - rho^Y) / -log(rho)``."""
        log_rho = np.log1p(self.acquisition_growth) - np.log1p(self.annual_discount_rate)
        years = self.acquisition_years
        if log_rho == 0:
            return float(years)
        if np.isinf(years):
            return float(-1 / log_rho)
        return float(-np.expm1(log_rho * years) / -log_rho)

    def fixed_cost_factor(self) -> float:
        """Present value of 1 a year for ever, paid continuously: ``1 / log(1 + r)``."""
        if self.fixed_costs_per_year == 0:
            return 0.0
        if self.annual_discount_rate == 0:
            raise ValueError("fixed costs for ever need a positive discount rate")
        return float(1 / np.log1p(self.annual_discount_rate))

    def table(self, currency: str = "") -> pd.DataFrame:
        """The assumption table: each input, its value (amounts with ``currency``) and what it
        means (for the report)."""
        meaning = {
            "margin": "share of spend kept as contribution margin",
            "annual_discount_rate": "annual effective discount rate (cost of capital)",
            "new_customers_per_year": "new customers acquired in the first year",
            "acquisition_growth": "yearly growth of acquisitions",
            "acquisition_cost": "paid to acquire each new customer",
            "acquisition_years": "years over which customers keep being acquired",
            "fixed_costs_per_year": "fixed operating costs a year, for ever",
            "net_debt": "debt less cash",
            "shares_outstanding": "shares (0: no value per share)",
            "first_purchase": "a new customer's first purchase counts in its value",
        }
        shown = {
            "margin": f"{self.margin:.0%}",
            "annual_discount_rate": f"{self.annual_discount_rate:.1%}",
            "acquisition_growth": f"{self.acquisition_growth:.1%}",
            "acquisition_years": "for ever" if np.isinf(self.acquisition_years)
            else f"{self.acquisition_years:g}",
            "first_purchase": "yes" if self.first_purchase else "no",
        }
        money = ("acquisition_cost", "fixed_costs_per_year", "net_debt")
        label = f" {currency}" if currency else ""
        shown |= {name: f"{getattr(self, name):,.2f}{label}" for name in money}
        shown |= {"new_customers_per_year": f"{self.new_customers_per_year:,.0f}",
                  "shares_outstanding": f"{self.shares_outstanding:,.0f}"}
        rows = [(name, shown.get(name, f"{value:,.2f}"), meaning[name])
                for name, value in asdict(self).items()]
        return pd.DataFrame(rows, columns=["assumption", "value", "meaning"]).set_index(
            "assumption")

    @classmethod
    def from_params(cls, **values) -> ValuationAssumptions:
        """Build from report parameters, refusing unknown names with the list of valid ones."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - valid)
        if unknown:
            raise ValueError(f"unknown valuation assumption(s) {unknown}; valid: {sorted(valid)}")
        return cls(**values)


#: The acquisition rate is estimated from the data only when new customers were seen arriving
#: for at least this many days (a year: a season of acquisitions) ...
RATE_MIN_DAYS = 365
#: ... still arriving in the last this many days of the calibration period (else the data look
#: like one closed cohort, which says nothing of future acquisitions) ...
RATE_RECENT_DAYS = 90
#: ... and at least this many of them in the year counted.
RATE_MIN_CUSTOMERS = 100
#: The report warns when future customers make up more than this share of the operating value:
#: the valuation then rests more on the acquisition assumption than on the data.
FUTURE_DOMINATES = 0.5


@dataclass(frozen=True)
class AcquisitionRate:
    """How many new customers a year the data show, or why they cannot tell.

    Attributes
    ----------
    per_year : float or None
        New customers a year: those whose first purchase fell in the last year of the
        calibration period, per year; None when the data cannot tell (see ``reason``).
    lower, upper : float or None
        A 90% interval of the yearly rate (Poisson: the count of a year is one draw).
    customers : int
        New customers in the counted window.
    start, end : pandas.Timestamp
        The window counted (the last year of the calibration period, or all of it).
    reason : str
        Why the data cannot tell (empty when ``per_year`` is set).
    """

    per_year: float | None
    lower: float | None
    upper: float | None
    customers: int
    start: pd.Timestamp
    end: pd.Timestamp
    reason: str = ""

    @property
    def estimated(self) -> bool:
        return self.per_year is not None

    def __str__(self) -> str:
        window = f"{self.start:%d %B %Y} to {self.end:%d %B %Y}"
        if not self.estimated:
            return f"the data cannot tell the acquisition rate: {self.reason}"
        return (f"{self.per_year:,.0f} new customers a year (90% interval {self.lower:,.0f} to "
                f"{self.upper:,.0f}), from the {self.customers:,} first purchases of {window}")


def acquisition_rate(summary) -> AcquisitionRate:
    """Estimate new customers a year from the first purchases in the calibration period.

    Counts customers whose first purchase fell in the last year of the calibration period
    (all of it when shorter) and divides by the window's length. The data can tell a rate
    only when acquisitions were seen for at least :data:`RATE_MIN_DAYS` days, were still
    going on in the last :data:`RATE_RECENT_DAYS` days of calibration, and number at least
    :data:`RATE_MIN_CUSTOMERS`; otherwise ``per_year`` is None and ``reason`` says why (a
    single cohort, such as CDNOW's customers of the first quarter of 1997 or a file where every
    customer first bought on one day, says nothing of future acquisitions: extrapolating it
    would value the firm on an artefact).

    Parameters
    ----------
    summary : CustomerSummary
        Needs ``first_purchase`` and the calibration end.
    """
    first = pd.to_datetime(summary.customers["first_purchase"]).dt.normalize()
    end = pd.Timestamp(summary.calibration_end).normalize()
    first = first[first <= end]
    earliest = first.min()
    start = max(earliest, end - pd.Timedelta(days=RATE_MIN_DAYS - 1))
    days = (end - start).days + 1
    in_window = first[first >= start]
    n = int(len(in_window))
    last = first.max()
    reason = ""
    if (end - earliest).days + 1 < RATE_MIN_DAYS:
        span = (last - earliest).days + 1
        when = (f"all first bought on {earliest:%d %B %Y}" if span == 1 else
                f"first bought within {span:,} days ({earliest:%d %B %Y} to {last:%d %B %Y})")
        reason = (f"the {len(first):,} customer{'s' if len(first) != 1 else ''} {when}, and a "
                  f"rate needs at least {RATE_MIN_DAYS} days of acquisitions to see through a "
                  "season")
    elif (end - last).days >= RATE_RECENT_DAYS:
        reason = (f"no customer made a first purchase after {last:%d %B %Y}, "
                  f"{(end - last).days:,} days before the end of the calibration period: the "
                  "data look like one closed cohort, not a stream of new customers")
    elif n < RATE_MIN_CUSTOMERS:
        reason = (f"only {n:,} customers first bought in the last year of the calibration "
                  f"period (at least {RATE_MIN_CUSTOMERS} are needed)")
    if reason:
        return AcquisitionRate(None, None, None, n, start, end, reason)
    years = days / 365.25
    lower, upper = stats.poisson.ppf([0.05, 0.95], n) / years
    return AcquisitionRate(n / years, float(lower), float(upper), n, start, end)


@dataclass(frozen=True)
class CorporateValuation:
    """A customer-based corporate valuation, per posterior draw.

    Attributes
    ----------
    components : pandas.DataFrame
        One column per component (``existing customers``, ``future customers``,
        ``fixed costs``, ``operating value``, ``equity value`` and, with shares,
        ``value per share``), one row per posterior draw.
    assumptions : ValuationAssumptions
        The inputs.
    acquisition : AcquisitionValue
        The value of a new customer (margin included) per draw.
    interval : float
        Probability of the central credible intervals.
    """

    components: pd.DataFrame
    assumptions: ValuationAssumptions
    acquisition: AcquisitionValue
    interval: float

    def table(self) -> pd.DataFrame:
        """Mean and credible interval of each component."""
        return pd.DataFrame(
            [_interval(self.components[c], self.interval) for c in self.components],
            index=self.components.columns, columns=["mean", "lower", "upper"],
        )

    def future_share(self) -> float:
        """The share of the operating value (posterior means) that future customers make up,
        before fixed costs: ``future / (existing + future)``; 0 without future customers."""
        future = float(self.components["future customers"].mean())
        existing = float(self.components["existing customers"].mean())
        return future / (existing + future) if future > 0 else 0.0

    def summary(self, component: str = "operating value") -> dict[str, float]:
        """Posterior mean and interval of one component."""
        mean, lower, upper = _interval(self.components[component], self.interval)
        return {"mean": mean, "lower": lower, "upper": upper}

    def __str__(self) -> str:
        s = self.summary()
        return (f"operating value {s['mean']:,.0f} ({self.interval:.0%} credible interval "
                f"{s['lower']:,.0f} to {s['upper']:,.0f})")


def valuation_from_draws(
    existing: np.ndarray, acquisition: AcquisitionValue, assumptions: ValuationAssumptions,
    interval: float = 0.9, acquisition_multiplier: float = 1.0,
) -> CorporateValuation:
    """Combine per-draw customer equity (margin included) and acquisition value into a valuation.

    The arithmetic of :func:`corporate_valuation`, separate so that a hand computation can be
    checked against it. ``existing`` and ``acquisition.draws`` are paired by position.
    """
    a = assumptions
    existing = np.asarray(existing, dtype=float)
    per_new = acquisition.draws - a.acquisition_cost
    future = (a.new_customers_per_year * acquisition_multiplier) * per_new * a.cohort_factor()
    fixed = np.full_like(existing, a.fixed_costs_per_year * a.fixed_cost_factor())
    operating = existing + future - fixed
    parts = {
        "existing customers": existing,
        "future customers": future,
        "fixed costs": 0.0 - fixed,  # 0.0 - 0.0 is +0.0: no "-0" in tables
        "operating value": operating,
        "equity value": operating - a.net_debt,
    }
    if a.shares_outstanding > 0:
        parts["value per share"] = parts["equity value"] / a.shares_outstanding
    return CorporateValuation(pd.DataFrame(parts), assumptions, acquisition, interval)


def corporate_valuation(
    purchase_model,
    spend_model,
    assumptions: ValuationAssumptions | None = None,
    customers=None,
    *,
    n_draws: int | None = 1000,
    seed: int = 0,
    interval: float = 0.9,
    spend_multiplier: float = 1.0,
    acquisition_multiplier: float = 1.0,
    existing: np.ndarray | None = None,
) -> CorporateValuation:
    """Customer-based corporate valuation: existing base plus future cohorts, per draw.

    Operating value = margin x customer equity of the existing base (:func:`customer_equity`)
    + future cohorts (``N (1+g)^t`` new customers a year, each worth the margin on the
    acquisition value less the acquisition cost, discounted continuously) - the present value of
    fixed costs. Equity value subtracts net debt; value per share divides by the shares.

    Parameters
    ----------
    purchase_model, spend_model
        Fitted models; the existing base is the purchase model's customers unless ``customers``
        is given.
    assumptions : ValuationAssumptions, optional
        The inputs (default: :class:`ValuationAssumptions` with its documented defaults).
    spend_multiplier, acquisition_multiplier : float
        What-ifs: scale every amount, or the number of new customers.
    existing : ndarray, optional
        The base's customer equity per draw (margin included, same ``n_draws`` and ``seed``),
        when already computed (e.g. the sum of :func:`acquisition_value_by_cohort`'s draws):
        the unbounded-horizon scoring is the costly part.

    Returns
    -------
    CorporateValuation

    Examples
    --------
    >>> inputs = ValuationAssumptions(margin=0.3, new_customers_per_year=20_000)
    >>> print(corporate_valuation(bg_nbd, gamma_gamma, inputs))  # doctest: +SKIP
    """
    a = assumptions or ValuationAssumptions()
    options = dict(annual_discount_rate=a.annual_discount_rate, n_draws=n_draws, seed=seed,
                   interval=interval, spend_multiplier=spend_multiplier)
    if existing is None:
        existing = customer_equity(purchase_model, spend_model, customers, margin=a.margin,
                                   **options).total_draws
    else:
        existing = spend_multiplier * np.asarray(existing, dtype=float)
    acquisition = acquisition_value(purchase_model, spend_model, margin=a.margin,
                                    first_purchase=a.first_purchase, customers=customers,
                                    **options)
    return valuation_from_draws(existing, acquisition, a, interval, acquisition_multiplier)


# --------------------------------------------------------------------------------------------
# Sensitivities
# --------------------------------------------------------------------------------------------


class _ShiftedModel:
    """A fitted purchase model whose posterior draws pass through ``shift`` (a what-if).

    Everything else (customers, time unit, closed forms) is the model's own, so the prediction
    engine scores it as usual."""

    def __init__(self, model, shift):
        self._model, self._shift = model, shift

    def posterior_draws(self, n=None, seed=0):
        return self._shift(dict(self._model.posterior_draws(n, seed)))

    def __getattr__(self, name):
        return getattr(self._model, name)


#: How one point of retention is defined for each dropout mixing family
#: (:attr:`~clvlib.models.base.PurchaseModel.dropout_mixing`), in words.
RETENTION_DEFINITIONS = {
    "beta": "the mean share of customers who stay after each purchase, b / (a + b) "
            "(b raised, a kept)",
    "gamma": "the share of new customers still alive after one year, "
             "(beta / (beta + c(year)))^s with c the lifetime's clock (c(t) = t for an "
             "exponential lifetime, e^(bt) - 1 for a Gompertz one) (beta raised, s kept)",
    "lognormal": "the share of new customers still alive after one year, E[exp(-mu year)] "
                 "over the lognormal dropout rates mu (their median lowered, the spread of "
                 "log mu kept)",
}

# E[f(z)], z ~ Normal(0, 1), for a new customer's one-year survival under lognormal dropout
# rates, f(z) = exp(-m e^(sigma z) c): the trapezoid rule on [-10, 10] in steps of 0.05. f is
# analytic in a strip of half-width pi / (2 sigma), so the rule's error falls as
# exp(-pi^2 / (sigma 0.05)), below 1e-13 for spreads sigma up to 4 (tests/test_valuation.py
# checks against scipy.integrate.quad), where Gauss-Hermite's 80 nodes are off by 2e-4.
_Z = np.linspace(-10, 10, 401)
_W = np.exp(-_Z**2 / 2)
_W = _W / _W.sum()


def _lognormal_survival(median, sigma, clock):
    """``E[exp(-mu c)]`` over ``log mu ~ Normal(log median, sigma)``, elementwise."""
    median, sigma, clock = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                                 for v in (median, sigma, clock)))
    mu = median[..., None] * np.exp(sigma[..., None] * _Z)
    return np.exp(-mu * clock[..., None]) @ _W


def new_customer_retention(purchase_model, draws: dict) -> np.ndarray:
    """Retention as the sensitivities define it (:data:`RETENTION_DEFINITIONS`), per draw of
    the model's population parameters: ``b / (a + b)`` for dropout after each purchase, the
    share of new customers alive after one year for a lifetime model."""
    mixing = purchase_model.dropout_mixing
    first, second = draws[mixing.first], draws[mixing.second]
    if mixing.family == "beta":
        return second / (first + second)
    clock = purchase_model.lifetimes.clock(purchase_model.time_unit.per_year, draws)
    if mixing.family == "gamma":
        return (second / (second + clock)) ** first
    return _lognormal_survival(first, second, clock)


def retention_shift(purchase_model, points: float = 0.01):
    """A function of posterior draws that raises retention by ``points`` (0.01: one point).

    Retention is :func:`new_customer_retention`. For BG/NBD and MBG/NBD (dropout after each
    purchase with probability ``p ~ Beta(a, b)``) it is ``b / (a + b)``, the mean chance to stay
    after a purchase; ``b`` is raised so that it is ``points`` higher. For lifetime models it is
    the share of new customers alive after one year, ``Y`` in the model's time unit on its
    lifetime clock ``c`` (Pareto/NBD: ``c(Y) = Y``; :class:`clvlib.models.base.Lifetimes`): with
    a frailty ``Gamma(s, beta)``, ``(beta / (beta + c(Y)))^s``, and ``beta`` is raised; with
    lognormal dropout rates (Pareto/NBD (Abe)), ``E[exp(-mu c(Y))]``, and their median is
    lowered (by bisection: no closed form). The same shift applies to every draw; see
    :data:`RETENTION_DEFINITIONS`.
    """
    mixing = purchase_model.dropout_mixing
    if mixing.family not in RETENTION_DEFINITIONS:
        raise ValueError(f"no retention definition for dropout mixing {mixing.family!r}")

    def shift(draws: dict) -> dict:
        draws = dict(draws)
        target = new_customer_retention(purchase_model, draws) + points
        if np.any(target >= 1):
            raise ValueError("retention cannot rise above 100%")
        first, second = draws[mixing.first], draws[mixing.second]
        if mixing.family == "beta":
            draws[mixing.second] = first * target / (1 - target)
            return draws
        clock = purchase_model.lifetimes.clock(purchase_model.time_unit.per_year, draws)
        if mixing.family == "gamma":
            root = target ** (1 / first)
            draws[mixing.second] = clock * root / (1 - root)
            return draws
        # Survival falls as the median rate rises: bisect log(median) below the current one.
        lo, hi = np.log(first) - 80.0, np.log(first)
        for _ in range(100):
            mid = (lo + hi) / 2
            above = _lognormal_survival(np.exp(mid), second, clock) > target
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        draws[mixing.first] = np.exp((lo + hi) / 2)
        return draws

    return shift


def sensitivities(
    purchase_model,
    spend_model,
    assumptions: ValuationAssumptions | None = None,
    customers=None,
    *,
    n_draws: int | None = 1000,
    seed: int = 0,
    interval: float = 0.9,
    retention_points: float = 0.01,
    acquisition_change: float = 0.10,
    spend_change: float = 0.10,
    base: CorporateValuation | None = None,
) -> pd.DataFrame:
    """The operating value under the CFO's three what-ifs, against the base case, per draw.

    - **retention +1 point**: the dropout parameter raised so that retention rises by
      ``retention_points`` (:func:`retention_shift` says what retention means per model); it
      applies to the existing customers (their P(alive) and future purchases are recomputed
      with the shifted parameter) and to new ones;
    - **acquisition +10%**: ``acquisition_change`` more new customers every year (left out
      when the assumptions acquire none);
    - **spend +10%**: every amount ``spend_change`` higher (the Gamma-Gamma scale ``gamma`` and
      each customer's mean spend: expected spend per purchase scales exactly, so the base
      case's customer equity and acquisition value are scaled per draw).

    ``base``, the base case from :func:`corporate_valuation` with the same models, assumptions,
    customers and draws, saves computing it again.

    Returns
    -------
    pandas.DataFrame
        One row per scenario: the operating value (mean and interval), its change from the
        base case (mean and interval of the paired per-draw difference) and the change in
        percent.
    """
    a = assumptions or ValuationAssumptions()
    options = dict(n_draws=n_draws, seed=seed, interval=interval)
    if base is None:
        base = corporate_valuation(purchase_model, spend_model, a, customers, **options)
    shifted = _ShiftedModel(purchase_model, retention_shift(purchase_model, retention_points))
    existing = base.components["existing customers"].to_numpy()
    more_spend = 1 + spend_change
    richer = replace(base.acquisition, draws=base.acquisition.draws * more_spend,
                     spend_draws=base.acquisition.spend_draws * more_spend)
    scenarios = {
        "base case": base,
        f"retention +{retention_points * 100:g} point": corporate_valuation(
            shifted, spend_model, a, customers, **options),
        f"acquisition +{acquisition_change:.0%}": valuation_from_draws(
            existing, base.acquisition, a, interval,
            acquisition_multiplier=1 + acquisition_change),
        f"spend per purchase +{spend_change:.0%}": valuation_from_draws(
            existing * more_spend, richer, a, interval),
    }
    if a.new_customers_per_year == 0:  # no acquisitions to raise: the row would read 0
        del scenarios[f"acquisition +{acquisition_change:.0%}"]
    reference = base.components["operating value"].to_numpy()
    rows = []
    for name, result in scenarios.items():
        value = result.components["operating value"].to_numpy()
        mean, lo, hi = _interval(value, interval)
        change, change_lo, change_hi = _interval(value - reference, interval)
        rows.append({"scenario": name, "operating value": mean, "lower": lo, "upper": hi,
                     "change": change, "change lower": change_lo, "change upper": change_hi,
                     "change %": change / reference.mean()})
    return pd.DataFrame(rows).set_index("scenario")


def with_assumptions(assumptions: ValuationAssumptions, **changes) -> ValuationAssumptions:
    """A copy of ``assumptions`` with some inputs changed (validated again)."""
    return replace(assumptions, **changes)
