"""sBG: the shifted-beta-geometric model of contract duration (Fader & Hardie 2007).

Fader & Hardie (2007), "How to project customer retention", Journal of Interactive Marketing
21(1): at each renewal a customer churns with probability ``theta ~ Beta(alpha, beta)``. The
model fits a cohort survival table (percent of a cohort still active after each period) or
individual churn records (periods completed, churned or not); both become weighted
``(duration, churned)`` rows for the one likelihood in this module. Discounted
expected residual lifetime follows Fader & Hardie (2010), "Customer-base valuation in a
contractual setting: the perils of ignoring heterogeneity", Marketing Science 29(1).

Its sections follow the layout of every model module (:mod:`clvlib.models`); it has no
compiled kernel and fits through its PyTensor graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytensor.tensor as pt

from clvlib.compression import WEIGHT_COLUMN, CompressedRows
from clvlib.errors import CLVDataError
from clvlib.models import numerics
from clvlib.models.base import CLVModel, Likelihood
from clvlib.predict import Prediction, posterior_predict
from clvlib.priors import Prior
from clvlib.special import hyp2f1_one, log_beta_ratio
from clvlib.validation import check_whole_numbers, raise_for_rows, with_default_period

# ============================================================================================
# The likelihood (PyTensor)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# sBG, the shifted-beta-geometric model of contract duration: Fader & Hardie (2007), "How to
# project customer retention", Journal of Interactive Marketing 21(1), eqs. (5)-(7). At each
# renewal a customer churns with probability theta ~ Beta(alpha, beta). The lifetime T (in
# periods) has
#   P(T = t) = B(alpha+1, beta+t-1) / B(alpha, beta),   S(t) = P(T > t) = B(alpha, beta+t) /
#   B(alpha, beta),   t = 1, 2, ...
# A row is (duration, churned): a customer who churned at the end of period ``duration``
# contributes log P(T = duration); one still active after ``duration`` periods, log S(duration).
# As rising factorials, read from tables as for BG/BB above: P(T = t) = alpha/(alpha+beta+t-1)
# (beta)_{t-1} / (alpha+beta)_{t-1} and S(t) = (beta)_t / (alpha+beta)_t.
# A cohort survival table becomes such rows, weighted by the number of customers lost each
# period and by the survivors at the last period (clvlib.models.sbg).
# --------------------------------------------------------------------------------------------


def _row_part(alpha, beta, duration, churned):
    """log P(T = duration) for churned rows, log S(duration) for the others (PyTensor)."""
    symbolic, (duration, churned) = numerics.as_data(duration, churned)
    lib = pt if symbolic else np
    size = (pt.max(duration).astype("int64") if symbolic else int(np.max(duration))) + 1
    tables = numerics.rising_tables((beta, alpha + beta), size)

    def ratio(steps):  # log[(beta)_m / (alpha+beta)_m]
        return numerics.gather(tables[0], steps) - numerics.gather(tables[1], steps)

    # max(duration, 1) keeps the churn branch finite on rows the switch discards: a customer
    # still active after 0 periods.
    before = lib.maximum(duration, 1) - 1
    churn = pt.log(alpha) - pt.log(alpha + beta + before) + ratio(before)
    return pt.switch(pt.gt(churned, 0), churn, ratio(duration))


def logp(alpha, beta, duration, churned):
    """sBG log-likelihood of each customer (Fader & Hardie 2007, eqs. 5-6).

    Parameters
    ----------
    alpha, beta : scalar
        Shape parameters of the beta distribution of churn probabilities ``theta``.
    duration : array
        Periods completed: the period at whose end the customer churned, or the periods
        survived so far by a customer still active.
    churned : array of bool or 0/1
        Whether the customer churned (else the duration is right-censored).

    Examples
    --------
    >>> round(float(logp(0.704, 1.182, [1], [1]).eval()[0]), 4)  # log alpha/(alpha+beta)
    -0.9854
    """
    alpha, beta = numerics.float64(alpha, beta)
    return _row_part(alpha, beta, duration, churned)


def loglike(alpha, beta, rows: CompressedRows):
    """Total sBG log-likelihood of weighted rows with columns ``duration`` and ``churned``."""
    alpha, beta = numerics.float64(alpha, beta)
    return pt.sum(rows.weights * _row_part(alpha, beta, rows["duration"], rows["churned"]))


# ============================================================================================
# Closed forms (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# sBG (Fader & Hardie 2007, "How to project customer retention", Journal of Interactive
# Marketing 21(1); Fader & Hardie 2010, "Customer-base valuation in a contractual setting: the
# perils of ignoring heterogeneity", Marketing Science 29(1)). Periods t = 1, 2, ...; a
# customer churns at the end of period T with P(T = t) = B(alpha+1, beta+t-1)/B(alpha, beta).
# --------------------------------------------------------------------------------------------


def survival(alpha, beta, t):
    """S(t) = P(T > t) = B(alpha, beta+t)/B(alpha, beta): the share still active after ``t``.

    FH 2007, eq. (6).

    Examples
    --------
    >>> round(float(survival(0.704, 1.182, 7)), 3)  # regular segment, year 7
    0.239
    """
    return np.exp(log_beta_ratio(alpha, beta, np.asarray(t, dtype=float)))


def churn_probability(alpha, beta, t):
    """P(T = t) = B(alpha+1, beta+t-1)/B(alpha, beta): churn at the end of period ``t``.

    FH 2007, eq. (5).
    """
    t = np.asarray(t, dtype=float)
    return alpha / (alpha + beta + t - 1) * np.exp(log_beta_ratio(alpha, beta, t - 1))


def retention_rate(alpha, beta, t):
    """r_t = S(t)/S(t-1) = (beta+t-1)/(alpha+beta+t-1): renewal rate at the end of period t.

    FH 2007, eq. (8). It rises with ``t``: the customers who churn easily leave first.
    """
    t = np.asarray(t, dtype=float)
    return (beta + t - 1) / (alpha + beta + t - 1)


def derl(alpha, beta, d, n):
    """Discounted expected residual lifetime of a customer in period ``n`` (n-1 renewals made).

    Fader & Hardie (2010), eq. (6): ``DERL(d | alpha, beta, n-1 renewals) =
    (beta+n-1)/(alpha+beta+n-1) 2F1(1, beta+n; alpha+beta+n; 1/(1+d))``, valued at the end of
    period ``n`` just before the ``n``-th renewal decision: ``sum_{t>=n} S(t)/S(n-1)
    (1+d)^-(t-n)``, the expected number of future payments, the first (if the customer renews)
    undiscounted.

    Parameters
    ----------
    alpha, beta : float or array
        sBG parameters.
    d : float
        Discount rate per period.
    n : int or array
        The period the customer is in (1 for a customer who has not yet renewed).

    Examples
    --------
    >>> [round(float(derl(3.80, 15.20, 0.1, n)), 2) for n in (1, 2, 3, 4, 5)]
    [3.31, 3.45, 3.59, 3.72, 3.84]
    """
    n = np.asarray(n, dtype=float)
    return retention_rate(alpha, beta, n) * hyp2f1_one(beta + n, alpha + beta + n,
                                                           1 / (1 + d))


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# sBG (Fader & Hardie 2007)
# --------------------------------------------------------------------------------------------


def churn_times(alpha, beta, size, rng=None):
    """Simulate sBG lifetimes: the period (1, 2, ...) at whose end each customer churns."""
    rng = np.random.default_rng(rng)
    return rng.geometric(rng.beta(alpha, beta, size=size))


def rvs(alpha, beta, horizon, rng=None):
    """Simulate individual sBG churn records for customers observed for ``horizon`` periods.

    Returns
    -------
    dict of ndarray
        ``duration`` (the churn period, or ``horizon`` for customers still active) and
        ``churned`` (1 if the customer churned by the end of ``horizon``).

    Examples
    --------
    >>> records = rvs(0.704, 1.182, horizon=[7] * 1000, rng=1)
    >>> int(records["duration"].max())
    7
    """
    horizon = np.asarray(horizon, dtype=int).reshape(-1)
    lifetime = churn_times(alpha, beta, horizon.size, rng)
    churned = lifetime <= horizon
    return {"duration": np.where(churned, lifetime, horizon), "churned": churned.astype(int)}


@dataclass(frozen=True)
class ContractForms:
    """A contract model's closed forms (NumPy, in the model's module), each taking the model's
    parameters by name: ``survival(t)``, ``churn_probability(t)``, ``retention_rate(t)`` and
    ``derl(d, n)``."""

    survival: Callable
    churn_probability: Callable
    retention_rate: Callable
    derl: Callable


# ============================================================================================
# The model
# ============================================================================================

# attrs of a rows table built from a survival table: the whole table (as shares of the cohort,
# indexed by period) and the last period fitted, so a model can set its projection beside it.
SURVIVAL_ATTR = "survival"
FITTED_THROUGH_ATTR = "fitted_through"


def cohort_rows(table: pd.DataFrame, column: str, *, cohort_size: float,
                period: str = "year", through: int | None = None,
                time_unit: str = "year") -> pd.DataFrame:
    """Weighted sBG rows from a cohort survival table (Fader & Hardie 2007, section 4).

    With ``S_t`` the share of the cohort still active after period ``t``, the number lost in
    period ``t`` is ``cohort_size (S_{t-1} - S_t)``: a row ``(t, churned=1)`` with that weight.
    The survivors after the last fitted period ``through``, ``cohort_size S_through``, are
    right-censored: a row ``(through, churned=0)``.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per period ``0, 1, 2, ...`` (column ``period``) with the cohort still active in
        ``column``: in percent, as shares or as counts (values are taken relative to period 0).
    column : str
        The survival column (``"regular"``, ``"highend"`` in ``sbg_retention``).
    cohort_size : float
        Customers in the cohort at period 0 (1,000 per segment in FH 2007).
    period : str
        The name of the period column.
    through : int, optional
        Last period to fit (default: all); later periods are kept for comparison with a
        projection.
    time_unit : str
        The length of a period (``day``, ``week``, ``month``, ``year``).

    Returns
    -------
    pandas.DataFrame
        Columns ``duration``, ``churned``, ``weights``; ``attrs`` hold the time unit, the whole
        survival curve (shares) and ``through``.

    Examples
    --------
    >>> table = pd.DataFrame({"year": [0, 1, 2], "share": [100.0, 63.1, 46.8]})
    >>> cohort_rows(table, "share", cohort_size=1000).round(6)
       duration  churned  weights
    0         1        1    369.0
    1         2        1    163.0
    2         2        0    468.0
    """
    survival = _check_survival_table(table, column, period)
    last = int(survival.index.max())
    through = last if through is None else int(through)
    if not 1 <= through <= last:
        raise CLVDataError(
            f"survival table: through={through} is outside the periods 1..{last} of column "
            f"'{period}'"
        )
    fitted = survival.loc[:through].to_numpy()
    lost = cohort_size * (fitted[:-1] - fitted[1:])
    rows = pd.DataFrame({
        "duration": np.r_[np.arange(1, through + 1), through],
        "churned": np.r_[np.ones(through, dtype=int), 0],
        # Rounded to 9 decimals: percentages such as 63.1 - 46.8 are not exact in binary.
        WEIGHT_COLUMN: np.round(np.r_[lost, cohort_size * fitted[-1]], 9),
    })
    rows.attrs = {"time_unit": time_unit, SURVIVAL_ATTR: survival.to_dict(),
                  FITTED_THROUGH_ATTR: through}
    return rows


def _check_survival_table(table: pd.DataFrame, column: str, period: str) -> pd.Series:
    """The survival column as shares of period 0, indexed by period, or a clear error."""
    for name in (period, column):
        if name not in table.columns:
            raise CLVDataError(
                f"survival table: no column '{name}'; it has {list(table.columns)}"
            )
    frame = table[[period, column]].apply(pd.to_numeric, errors="coerce")
    bad = frame.isna().any(axis=1) | ~np.isfinite(frame.fillna(0)).all(axis=1) | (frame < 0).any(
        axis=1)
    raise_for_rows(bad, table, [period, column], f"survival table: columns '{period}', "
                   f"'{column}': missing, non-numeric, negative or infinite values")
    periods = frame[period].to_numpy()
    if len(periods) < 2 or not np.array_equal(periods, np.arange(len(periods))):
        raise CLVDataError(
            f"survival table: column '{period}' must count periods 0, 1, 2, ... in order (period "
            f"0 is the whole cohort); it holds {periods.tolist()[:10]}"
        )
    values = frame[column].to_numpy()
    if values[0] <= 0:
        raise CLVDataError(f"survival table: column '{column}' is {values[0]} at period 0; "
                           "it must hold the whole cohort there")
    rising = np.r_[False, values[1:] > values[:-1]]
    raise_for_rows(pd.Series(rising, index=table.index), table, [period, column],
                   f"survival table: column '{column}' rises (survival can only fall)")
    return pd.Series(values / values[0], index=periods.astype(int), name=column)


def check_churn_records(records: pd.DataFrame, source: str = "sBG data") -> pd.DataFrame:
    """Validate sBG rows: ``duration`` (whole periods), ``churned`` (0/1), optional ``weights``.

    A churned customer must have completed at least one period (``duration >= 1``).

    Raises
    ------
    CLVDataError
        Naming the column and the first offending rows.
    """
    missing = [c for c in ("duration", "churned") if c not in records.columns]
    if missing:
        raise CLVDataError(
            f"{source}: missing column(s) {missing}; sBG needs duration (periods completed) and "
            f"churned (1 if the customer left at the end of that period, 0 if still active); "
            f"it has {list(records.columns)}"
        )
    frame = records.copy()
    if frame["churned"].dtype == bool:
        frame["churned"] = frame["churned"].astype(int)
    frame = check_whole_numbers(frame, ("duration", "churned"), source, "sBG")
    shown = ["duration", "churned"]
    raise_for_rows(frame["churned"] > 1, records, shown,
                   f"{source}: column 'churned': values other than 0/1 (or False/True)")
    raise_for_rows((frame["churned"] == 1) & (frame["duration"] < 1), records, shown,
                   f"{source}: churned with duration 0 (a customer churns at the end of a "
                   "period 1, 2, ...)")
    return frame


class ShiftedBetaGeoModel(CLVModel):
    """sBG model of contract renewals, from a cohort survival table or individual records.

    At each renewal a customer churns with probability ``theta ~ Beta(alpha, beta)``, the same
    for that customer every period; the cohort's retention rate rises over time because the
    customers most likely to churn leave first. Build it with :meth:`from_survival_table` or
    :meth:`from_records`, or directly from rows ``duration``, ``churned`` (and ``weights``).

    Default priors are weakly informative: ``LogNormal(0, 1.5)`` on ``alpha`` and ``beta``
    (unit-free beta shapes; 95% between 0.05 and 19).

    Examples
    --------
    >>> table = clvlib.load_dataset("sbg_retention")  # doctest: +SKIP
    >>> model = ShiftedBetaGeoModel.from_survival_table(table, "regular", cohort_size=1000,
    ...                                                 through=7)  # doctest: +SKIP
    >>> model.fit("map", progressbar=False)  # doctest: +SKIP
    >>> model.projection()  # doctest: +SKIP
    """

    name = "sbg"
    title = "sBG"
    story = ("sBG, shifted beta-geometric (Fader & Hardie 2007): each contract customer renews "
             "each period with their own probability, churning with probability theta_i ~ "
             "Beta(alpha, beta).")
    params = ("alpha", "beta")
    columns = ("duration", "churned")
    default_priors = {name: Prior("LogNormal", mu=0, sigma=1.5) for name in params}
    likelihood = Likelihood(pointwise=logp, total=loglike)
    forms = ContractForms(survival=survival, churn_probability=churn_probability,
                          retention_rate=retention_rate, derl=derl)
    #: With ``group=`` (several cohorts or segments, :meth:`from_survival_tables`), each group
    #: has its own alpha and beta, pooled on the log scale: alpha_g = alpha exp(sigma_churn
    #: z_g), beta_g = beta exp(sigma_renewal w_g). A larger alpha_g means more churn, a larger
    #: beta_g more renewals (the mean churn probability is alpha / (alpha + beta)).
    covariate_links = {"churn": ("alpha", 1.0), "renewal": ("beta", 1.0)}

    def __init__(self, data: pd.DataFrame, priors: dict | None = None, *,
                 group: str | None = None):
        data = with_default_period(data)
        super().__init__(data, priors, group=group)
        survival = data.attrs.get(SURVIVAL_ATTR)
        # The whole survival curve (shares, by period) when built from a cohort table.
        self.actual_survival: pd.Series | None = (
            None if survival is None else pd.Series(survival, dtype=float).sort_index()
        )
        self.fitted_through: int | None = data.attrs.get(FITTED_THROUGH_ATTR)

    @classmethod
    def from_survival_table(cls, table: pd.DataFrame, column: str, *, cohort_size: float,
                            period: str = "year", through: int | None = None,
                            time_unit: str = "year",
                            priors: dict | None = None) -> ShiftedBetaGeoModel:
        """A model of one cohort's survival table (see :func:`cohort_rows` for the arguments).

        Examples
        --------
        >>> ShiftedBetaGeoModel.from_survival_table(
        ...     clvlib.load_dataset("sbg_retention"), "highend", cohort_size=1000, through=7
        ... )  # doctest: +SKIP
        """
        rows = cohort_rows(table, column, cohort_size=cohort_size, period=period,
                           through=through, time_unit=time_unit)
        return cls(rows, priors)

    @classmethod
    def from_survival_tables(cls, table: pd.DataFrame, columns, *, cohort_size,
                             period: str = "year", through: int | None = None,
                             time_unit: str = "year", priors: dict | None = None,
                             group: str = "cohort") -> ShiftedBetaGeoModel:
        """One model of several cohorts' survival tables, partially pooled across them.

        Each column of ``table`` is a cohort or segment (as in :meth:`from_survival_table`);
        their rows are stacked with a ``group`` column naming the cohort, and each cohort gets
        its own alpha and beta, pooled on the log scale with learned spreads
        (:mod:`clvlib.heterogeneity` reports them). ``cohort_size`` is one number or one per
        column.

        Examples
        --------
        >>> ShiftedBetaGeoModel.from_survival_tables(
        ...     clvlib.load_dataset("sbg_retention"), ["regular", "highend"], cohort_size=1000,
        ...     through=7)  # doctest: +SKIP
        """
        columns = [columns] if isinstance(columns, str) else list(columns)
        sizes = (list(cohort_size) if np.ndim(cohort_size) else [cohort_size] * len(columns))
        parts = [cohort_rows(table, column, cohort_size=size, period=period, through=through,
                             time_unit=time_unit).assign(**{group: column})
                 for column, size in zip(columns, sizes, strict=True)]
        rows = pd.concat(parts, ignore_index=True)
        rows.attrs = {"time_unit": time_unit}
        return cls(rows, priors, group=group)

    @classmethod
    def from_records(cls, records: pd.DataFrame, *, duration: str = "duration",
                     churned: str = "churned", time_unit: str = "year",
                     priors: dict | None = None) -> ShiftedBetaGeoModel:
        """A model of individual churn records, one row per customer.

        Parameters
        ----------
        records : pandas.DataFrame
            One row per customer (or per pattern, with a ``weights`` column).
        duration : str
            Column with the periods each customer completed: the period at whose end they
            churned, or the periods survived so far.
        churned : str
            Column saying whether the customer churned (1/True) or is still active (0/False).
        time_unit : str
            The length of a period (``day``, ``week``, ``month``, ``year``).

        Examples
        --------
        >>> records = pd.DataFrame({"years": [1, 3, 4], "left": [True, True, False]})
        >>> ShiftedBetaGeoModel.from_records(records, duration="years", churned="left")
        ... # doctest: +SKIP
        """
        for name in (duration, churned):
            if name not in records.columns:
                raise CLVDataError(
                    f"churn records: no column '{name}'; they have {list(records.columns)}"
                )
        keep = [duration, churned] + ([WEIGHT_COLUMN] if WEIGHT_COLUMN in records else [])
        frame = records[keep].rename(columns={duration: "duration", churned: "churned"})
        frame.attrs = {"time_unit": time_unit}
        return cls(frame, priors)

    def check_data(self, customers: pd.DataFrame, source: str) -> pd.DataFrame:
        return check_churn_records(customers, source)

    # -- predictions --------------------------------------------------------------------------

    def survival(self, periods=None, *, n_draws: int | None = 1000, seed: int = 0,
                 interval: float = 0.9) -> Prediction:
        """S(t), the share of a new cohort still active after each period ``t``.

        ``periods`` defaults to 1 .. the last period of the survival table (or 12).
        """
        return self._by_period(self.forms.survival, "share surviving", periods, n_draws, seed,
                               interval)

    def retention_rate(self, periods=None, *, n_draws: int | None = 1000, seed: int = 0,
                       interval: float = 0.9) -> Prediction:
        """r_t, the share of those active in period ``t`` who renew at its end (FH 2007, eq. 8)."""
        return self._by_period(self.forms.retention_rate, "retention rate", periods, n_draws,
                               seed, interval)

    def derl(self, d: float, n=1, *, n_draws: int | None = 1000, seed: int = 0,
             interval: float = 0.9) -> Prediction:
        """Discounted expected residual lifetime of a customer in period ``n`` (FH 2010, eq. 6).

        ``n`` is the period the customer is in, having made ``n - 1`` renewals; a record still
        active after ``duration`` periods is in period ``duration + 1``. Valued just before the
        ``n``-th renewal decision at discount rate ``d`` per period (see
        :func:`derl`): the effective rate per period of the one
        discounting convention, ``d = Discount(r).per_period(days)`` for periods ``days`` long
        and an annual rate ``r`` (:mod:`clvlib.discounting`).

        Examples
        --------
        >>> model.derl(0.1, n=[1, 2, 3]).per_customer  # doctest: +SKIP
        """
        fn = lambda n, **params: self.forms.derl(**params, d=d, n=n)  # noqa: E731
        frame = pd.DataFrame({"n": np.atleast_1d(np.asarray(n, dtype=float))})
        rows = CompressedRows.from_frame(frame, ("n",))
        return posterior_predict(fn, self.population_draws(n_draws, seed), rows,
                                 pd.Index(frame["n"].astype(int), name="n"),
                                 name=f"DERL at {d:.3g} per {self.time_unit.name}",
                                 interval=interval)

    def projection(self, periods=None, *, n_draws: int | None = 1000, seed: int = 0,
                   interval: float = 0.9) -> pd.DataFrame:
        """The survival curve beside the actual one, in percent of the cohort.

        Returns
        -------
        pandas.DataFrame
            Indexed by period: ``actual`` (NaN where unknown), ``mean``, ``lower``, ``upper``
            and ``fitted`` (whether the period was in the fit, else projected).
        """
        pred = self.survival(periods, n_draws=n_draws, seed=seed, interval=interval)
        table = 100 * pred.per_customer
        actual = self.actual_survival if self.actual_survival is not None else pd.Series(
            dtype=float)
        table.insert(0, "actual", 100 * actual.reindex(table.index))
        through = self.fitted_through or int(self.rows["duration"].max())
        table["fitted"] = table.index <= through
        return table

    def _by_period(self, fn, name, periods, n_draws, seed, interval) -> Prediction:
        if periods is None:
            last = int(self.actual_survival.index.max()) if self.actual_survival is not None \
                else 12
            periods = np.arange(1, last + 1)
        frame = pd.DataFrame({"t": np.atleast_1d(np.asarray(periods, dtype=float))})
        rows = CompressedRows.from_frame(frame, ("t",))
        return posterior_predict(fn, self.population_draws(n_draws, seed), rows,
                                 pd.Index(frame["t"].astype(int), name=self.time_unit.name),
                                 name=f"{name} by {self.time_unit.name}", interval=interval)
