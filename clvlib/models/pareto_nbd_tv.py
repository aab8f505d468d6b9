"""Pareto/NBD with time-varying covariates (Bachmann, Meierer & Naef 2021), Bayesian.

Bachmann, Meierer & Naef (2021), "The role of time-varying contextual factors in latent
attrition models for customer base analysis", Marketing Science 40(4); CLVTools
(``pnbd(..., data.cov.life, data.cov.trans)`` with dynamic covariates) estimates it by maximum
likelihood. While alive, customer i buys at rate ``lambda_i exp(g_purchase' z(u))`` at calendar
time ``u`` and leaves at hazard ``mu_i exp(g_dropout' w(u))``, with ``lambda_i ~ Gamma(r,
alpha)``, ``mu_i ~ Gamma(s, beta)`` and ``z(u)``, ``w(u)`` the covariates of the period ``u``
falls in (:class:`clvlib.time_varying.CovariateCalendar`): a season, a campaign or a price moves
everybody's rates in the same weeks. With every covariate constant it is the Pareto/NBD, with
``alpha`` and ``beta`` scaled by ``exp(-g'z)``.

Integrating ``lambda`` and ``mu`` out, with ``A(u)`` and ``B(u)`` the customer's purchase and
dropout exposure from their birth (``int a``, ``int d`` with ``a = exp(g_purchase'z)`` and
``d = exp(g_dropout'w)`` per period), the likelihood of ``x`` repeat purchases, the last at
``u_x``, up to the calibration end ``u = 0`` is

    L = exp(g_purchase' Z) Gamma(r+x)/Gamma(r) alpha^r
        [ (alpha + A(0))^-(r+x) (beta/(beta + B(0)))^s
          + int_{u_x}^0 s beta^s d(u) (beta + B(u))^-(s+1) (alpha + A(u))^-(r+x) du ],

``Z`` the sum of ``z`` over the periods of the repeat purchases (a summary column,
:meth:`~clvlib.time_varying.CovariateCalendar.with_purchase_sums`). The integral runs period by
period, where ``A`` and ``B`` are linear, by Gauss-Legendre after the substitution that turns the
steep factor ``(alpha + A)^-(r+x)`` into ``e^-v`` (as in :mod:`clvlib.models.ggompertz_nbd`).
Written by hand because no library offers this integral differentiably;
tests/test_pareto_nbd_tv.py holds it equal to adaptive quadrature (``scipy.integrate.quad``) and
to the Pareto/NBD's closed form with constant covariates.

Python only (PyTensor's automatic gradient; no compiled kernel).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytensor.tensor as pt

from clvlib.errors import CLVDataError
from clvlib.keyed_random import Keys
from clvlib.models import numerics, pareto_nbd
from clvlib.models.base import (
    Likelihood,
    LimitedPredictions,
    Mixing,
    PurchaseModel,
)
from clvlib.models.pareto_ggg import renewals
from clvlib.time_varying import SUM_PREFIX, CovariateCalendar

# ============================================================================================
# Exposure: where each customer's history falls in the calendar's periods (NumPy, data)
# ============================================================================================


@dataclass(frozen=True)
class Exposure:
    """How each customer's calibration history overlaps the calendar's periods, ``(rows, P)``.

    Attributes
    ----------
    alive : ndarray
        Time in each period between the customer's birth ``-T`` and the calibration end.
    before : ndarray
        Time in each period between birth and where the period's share of the dropout
        integral starts, ``max(period start, last purchase)``.
    after : ndarray
        Time in each period between the last purchase ``t_x - T`` and the calibration end: the
        dropout integral's range.
    """

    alive: np.ndarray
    before: np.ndarray
    after: np.ndarray

    @functools.cached_property
    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """The (customer row, period) pairs inside ``(u_x, 0]``, where ``after > 0``."""
        return np.nonzero(self.after > 0)

    @classmethod
    def of(cls, edges: np.ndarray, t_x, T) -> Exposure:
        """The overlaps for customers ``(t_x, T)`` and periods with ``edges`` (on the clock
        of :class:`~clvlib.time_varying.CovariateCalendar`, the calibration end at 0)."""
        t_x, T = (np.asarray(v, dtype=float).reshape(-1, 1) for v in (t_x, T))
        start, stop = edges[None, :-1], np.minimum(edges[None, 1:], 0.0)
        birth, last = -T, t_x - T
        lo = np.maximum(start, last)
        return cls(alive=np.clip(stop - np.maximum(start, birth), 0.0, None),
                   before=np.clip(np.minimum(lo, stop) - np.maximum(start, birth), 0.0, None),
                   after=np.clip(stop - lo, 0.0, None))


# ============================================================================================
# The likelihood, once for PyTensor and NumPy
# ============================================================================================

#: Gauss-Legendre nodes per period; with the integral cut where its decay reaches e^-CUTOFF
#: they integrate e^-v over [0, 36] to 6e-10 (tests/test_pareto_nbd_tv.py holds the likelihood
#: to adaptive quadrature: 2e-14 on its grid).
NODES, WEIGHTS = np.polynomial.legendre.leggauss(16)
CUTOFF = 36.0


def log_terms(xp, r, alpha, s, beta, x, effect, log_a, log_d, exposure: Exposure):
    """The likelihood's two terms (alive at the calibration end, left in ``(u_x, 0]``) as
    logs, one per customer row.

    ``r, alpha, s, beta`` are scalars; ``x`` and ``effect`` (``g_purchase'Z``) per row;
    ``log_a`` and ``log_d`` (``g'z`` per period) ``(P,)``; ``xp`` is ``pytensor.tensor`` (the
    likelihood) or ``numpy`` (P(alive)).
    """
    f = numerics.functions(xp)
    lgamma, cumsum, log1p, expm1 = f.gammaln, f.cumsum, f.log1p, f.expm1
    a, d = xp.exp(log_a), xp.exp(log_d)
    purchase_cells, dropout_cells = exposure.alive * a, exposure.alive * d
    A_T, B_T = xp.sum(purchase_cells, axis=-1), xp.sum(dropout_cells, axis=-1)
    A_lo = cumsum(purchase_cells, axis=-1) - purchase_cells + exposure.before * a
    B_lo = cumsum(dropout_cells, axis=-1) - dropout_cells + exposure.before * d
    common = effect + lgamma(r + x) - lgamma(r) + r * xp.log(alpha)
    alive = (common - (r + x) * xp.log(alpha + A_T)
             + s * (xp.log(beta) - xp.log(beta + B_T)))
    # The dropout integral, per cell (a customer's period inside (u_x, 0]: other periods add
    # nothing, and there are about a third as many cells as customers x periods). In a cell,
    # alpha + A(u) = start e^(v/k) and u - lo = start (e^(v/k) - 1) / a, so that
    # (alpha + A)^-k du = start^(1-k) / (k a) e^(-v (1 - 1/k)) dv on v in [0, k log(end/start)].
    row, period = exposure.cells
    flat = row * exposure.after.shape[1] + period  # 1-D indexing: the fastest gather

    def at_cells(grid):
        return grid.reshape((-1,))[flat]

    k = (r + x)[row]
    log_a_c, log_d_c = log_a[period], log_d[period]
    start = alpha + at_cells(A_lo)
    span = k * log1p(exposure.after.reshape(-1)[flat] * xp.exp(log_a_c) / start)
    decay = xp.maximum(1 - 1 / k, 1e-3)
    width = xp.maximum(xp.minimum(span, CUTOFF / decay), 1e-300)
    v = width[:, None] * (1 + NODES) / 2
    B = (at_cells(B_lo)[:, None]
         + (start * xp.exp(log_d_c - log_a_c))[:, None] * expm1(v / k[:, None]))
    integrand = v * (1 / k[:, None] - 1) - (s + 1) * xp.log(beta + B) + np.log(WEIGHTS)
    per_cell = ((1 - k) * xp.log(start) - xp.log(k) + log_d_c - log_a_c + xp.log(width / 2)
                + numerics.logsumexp_last(xp, integrand))
    # Back on the customers x periods grid, the empty periods at -1e300 (exp gives 0, and a
    # customer without cells, t_x = T, keeps a finite log and gradient).
    shape = exposure.after.shape
    if xp is pt:
        empty = pt.as_tensor_variable(np.full(shape[0] * shape[1], -1e300))
        grid = pt.set_subtensor(empty[flat], per_cell).reshape(shape)
    else:
        grid = np.full(shape[0] * shape[1], -1e300)
        grid[flat] = per_cell
        grid = grid.reshape(shape)
    died = common + xp.log(s) + s * xp.log(beta) + numerics.logsumexp_last(xp, grid)
    return alive, died


def logp(r, alpha, s, beta, x, effect, log_a, log_d, exposure: Exposure):
    """Log-likelihood of each customer row (PyTensor); arguments as :func:`log_terms`.

    Examples
    --------
    >>> exposure = Exposure.of(np.array([-40.0, -20.0, 0.0]), [0.0], [39.0])
    >>> value = logp(0.55, 10.6, 0.6, 11.7, np.array([0.0]), np.array([0.0]),
    ...              np.zeros(2), np.zeros(2), exposure)
    >>> round(float(value.eval()[0]), 4)  # the Pareto/NBD's, all covariates at 0
    -0.5209
    """
    r, alpha, s, beta = numerics.float64(r, alpha, s, beta)
    alive, died = log_terms(pt, r, alpha, s, beta, pt.as_tensor_variable(x), effect,
                            pt.as_tensor_variable(log_a), pt.as_tensor_variable(log_d),
                            exposure)
    return numerics.logaddexp(alive, died)


# ============================================================================================
# Closed forms (NumPy, one posterior draw at a time)
# ============================================================================================


def _np_terms(r, alpha, s, beta, x, effect, log_a, log_d, exposure):
    return log_terms(np, float(r), float(alpha), float(s), float(beta),
                     np.asarray(x, dtype=float), effect, np.asarray(log_a, dtype=float),
                     np.asarray(log_d, dtype=float), exposure)


def p_alive(r, alpha, s, beta, x, log_a, log_d, exposure: Exposure):
    """P(alive at the calibration end | history): the 'alive' term over the likelihood."""
    alive, died = _np_terms(r, alpha, s, beta, x, 0.0, log_a, log_d, exposure)
    return np.exp(alive - np.logaddexp(alive, died))


def expected_purchases_alive(r, alpha, s, beta, x, log_a, log_d, exposure: Exposure,
                             future_log_a, future_log_d, future_widths):
    """E[purchases in the next periods | alive at the calibration end, history].

    Given alive, ``lambda ~ Gamma(r + x, alpha + A(0))`` and ``mu ~ Gamma(s, beta + B(0))``,
    so the expectation is ``(r + x)/(alpha + A(0)) int_0^t a(u) ((beta + B(0)) / (beta +
    B(0) + B'(u)))^s du``, ``B'`` the dropout exposure after 0; exact per period, where it is
    ``a [(beta+B_hi)^(1-s) - (beta+B_lo)^(1-s)] / (d (1-s))``.

    ``future_log_a``, ``future_log_d`` and ``future_widths`` (the time of the horizon in each
    future period) are ``(F,)``.
    """
    a, d = np.exp(np.asarray(log_a, dtype=float)), np.exp(np.asarray(log_d, dtype=float))
    return _given_alive(r + np.asarray(x, dtype=float), alpha + exposure.alive @ a, s,
                        beta + exposure.alive @ d, np.asarray(future_log_a, dtype=float),
                        np.asarray(future_log_d, dtype=float), future_widths)


def _given_alive(shape, rate, s, dropout_rate, log_a, log_d, widths):
    """:func:`expected_purchases_alive` from the posterior given alive: ``lambda ~
    Gamma(shape, rate)``, ``mu ~ Gamma(s, dropout_rate)``; ``log_a, log_d`` of the periods
    and ``widths`` the time of the horizon in each, in order (``(F,)``, or one row per
    customer: a period before the horizon starts has width 0)."""
    cells = np.exp(log_d) * widths
    lo = dropout_rate[:, None] + np.cumsum(cells, axis=-1) - cells
    ratio = np.log1p(cells / lo)  # log((beta + B_hi) / (beta + B_lo))
    c = 1.0 - s
    # int (beta+B)^-s du / (beta+B(0))^-s per period, with its s -> 1 limit
    grow = ratio if abs(c) < 1e-10 else np.expm1(c * ratio) / c
    per_period = (np.exp(log_a - log_d)
                  * np.exp(s * np.log(dropout_rate[:, None]) + c * np.log(lo)) * grow)
    return shape / rate * per_period.sum(axis=1)


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================


def _cumulative(edges: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """The cumulative exposure at each edge, ``int_{edges[0]}^{edge} rate``."""
    return np.concatenate([[0.0], np.cumsum(rate * np.diff(edges))])


def rvs(r, alpha, s, beta, log_a, log_d, edges, T, z=None, horizon: float = 0.0, rng=None
        ) -> pd.DataFrame:
    """Simulate customers born at ``-T`` on the calendar ``edges`` (the calibration end at 0):
    ``lambda ~ Gamma(r, alpha)``, ``mu ~ Gamma(s, beta)``, purchases at rate ``lambda a(u)``
    and a lifetime ending where the dropout exposure reaches ``E / mu`` (``E ~ Exp(1)``).

    Parameters
    ----------
    log_a, log_d : ndarray
        ``g'z`` of each period, ``(P,)``.
    edges : ndarray
        The periods' edges, ``(P + 1,)``, covering every birth and the horizon.
    z : pandas.DataFrame, optional
        Purchase covariates per period (``P`` rows): the result adds a ``sum:<column>``
        column per covariate, its sum over each customer's repeat purchases.
    horizon : float
        The holdout after the calibration end: ``x_holdout`` counts its purchases.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``t_x``, ``T`` and the sums; with a horizon also ``x_holdout``, ``t_x_full``
        (the last purchase's time from birth, holdout included) and ``sum:<column>_full``.
    """
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    n = T.size
    A = _cumulative(edges, np.exp(log_a))
    B = _cumulative(edges, np.exp(log_d))
    birth = -T
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    death = np.interp(np.interp(birth, edges, B) + rng.exponential(1.0, n) / mu, B, edges,
                      right=np.inf)
    end = np.minimum(death, horizon)
    exposure = np.interp(end, edges, A) - np.interp(birth, edges, A)
    counts = rng.poisson(lam * exposure)
    owner = np.repeat(np.arange(n), counts)
    times = np.interp(np.interp(birth[owner], edges, A) + rng.uniform(0, exposure[owner]),
                      A, edges)
    calibration = times <= 0
    out = pd.DataFrame({"T": T})
    out["x"] = np.bincount(owner[calibration], minlength=n)
    last = np.full(n, -np.inf)
    np.maximum.at(last, owner[calibration], times[calibration])
    out["t_x"] = np.where(out["x"] > 0, last - birth, 0.0)
    if horizon > 0:
        out["x_holdout"] = np.bincount(owner[~calibration], minlength=n)
        last_full = np.full(n, -np.inf)
        np.maximum.at(last_full, owner, times)
        out["t_x_full"] = np.where(counts > 0, last_full - birth, 0.0)
    if z is not None:
        period = np.searchsorted(edges, times, side="right") - 1
        for column in z.columns:
            values = z[column].to_numpy(float)[period]
            out[SUM_PREFIX + column] = np.bincount(owner[calibration],
                                                   weights=values[calibration], minlength=n)
            if horizon > 0:
                out[SUM_PREFIX + column + "_full"] = np.bincount(owner, weights=values,
                                                                 minlength=n)
    return out[["x", "t_x", "T"] + [c for c in out.columns if c not in ("x", "t_x", "T")]]


# ============================================================================================
# Each customer's posterior and future (NumPy), for the prediction engine
# ============================================================================================


@dataclass(frozen=True)
class CustomerPosterior:
    """Each customer's posterior given their history under one parameter value, and the
    calendar's future periods, as the prediction engine's simulated route reads them
    (:mod:`clvlib.simulated_scoring`): P(alive) at the calibration end (:attr:`chance`), and
    given alive ``lambda ~ Gamma(r + x, alpha + A(0))`` and ``mu ~ Gamma(s, beta + B(0))``.

    From the calibration end on, the future periods' edges (:attr:`edges`, from 0) and the
    purchase and dropout exposures accumulated at each (:attr:`purchase`, :attr:`dropout`,
    ``int a`` and ``int d`` from 0): a customer leaves where their dropout exposure reaches
    ``E / mu`` (``E ~ Exp(1)``), and buys at the times where their purchase exposure passes
    each arrival of a Poisson process of rate ``lambda``. Its expected purchases are its closed
    form (:func:`expected_purchases_alive`); the engine simulates the rest (the CLV, each
    purchase discounted from its own time; the predictive draws).
    """

    chance: np.ndarray
    shape: np.ndarray
    rate: np.ndarray
    s: float
    dropout_rate: np.ndarray
    edges: np.ndarray
    purchase: np.ndarray
    dropout: np.ndarray
    log_a: np.ndarray
    log_d: np.ndarray

    def take(self, index: np.ndarray) -> CustomerPosterior:
        """The posterior of the customers at ``index`` (e.g. each customer's distinct row)."""
        return replace(self, **{f: getattr(self, f)[index]
                                for f in ("chance", "shape", "rate", "dropout_rate")})

    def expected_purchases(self, horizon: float) -> np.ndarray:
        """Expected repeat purchases of each customer in the ``horizon`` after the calibration
        end (P(alive) times :func:`expected_purchases_alive`'s closed form); the horizon
        within the calendar (:meth:`ParetoNBDTimeVaryingModel.check_horizon`)."""
        return self.chance * _given_alive(self.shape, self.rate, self.s, self.dropout_rate,
                                          self.log_a, self.log_d,
                                          np.diff(np.minimum(self.edges, horizon)))

    def future(self, horizon: float, keys: Keys) -> tuple[np.ndarray, np.ndarray]:
        """One simulated future of each customer in the ``horizon`` after the calibration end,
        from their ``keys``: each purchase's customer (index) and time after the end; the
        horizon within the calendar."""
        is_alive = keys.uniform(_ALIVE) < self.chance
        lam = keys.gamma(self.shape, _RATE) / self.rate
        mu = keys.gamma(np.broadcast_to(self.s, self.rate.shape), _DROPOUT) / self.dropout_rate
        death = np.interp(keys.exponential(_LIFE) / mu, self.dropout, self.edges,
                          right=np.inf)
        reach = np.interp(np.minimum(horizon, death), self.edges, self.purchase)
        # Arrivals at rate lambda on the purchase exposure's clock: exponential gaps.
        customer, exposure, _ = renewals(
            np.ones_like(lam), lam, np.where(is_alive, 0.0, np.inf), reach,
            lambda shape, active, round_: keys.exponential(_GAP, round_, at=active))
        return customer, np.interp(exposure, self.purchase, self.edges)


#: What each of a customer's keyed numbers is for (:class:`CustomerPosterior`).
_ALIVE, _RATE, _DROPOUT, _LIFE, _GAP = range(5)


# ============================================================================================
# The model
# ============================================================================================


class ParetoNBDTimeVaryingModel(LimitedPredictions, PurchaseModel):
    """Pareto/NBD whose purchase and dropout rates move with covariates per calendar period
    (Bachmann, Meierer & Naef 2021), fitted by NUTS or MAP.

    Parameters
    ----------
    data : CustomerSummary or pandas.DataFrame
        ``x``, ``t_x``, ``T`` and, per purchase covariate, ``sum:<covariate>``
        (:meth:`CovariateCalendar.with_purchase_sums`).
    calendar : CovariateCalendar
        The covariates per period, on the data's clock.
    priors : dict, optional
        As :class:`~clvlib.models.base.CLVModel`; the coefficients are ``g_purchase`` and
        ``g_dropout`` (default ``Normal(0, 1)``: a covariate of one unit multiplies a rate by
        between 1/7 and 7 with 95% probability).
    purchase_covariates, dropout_covariates : list of str
        Calendar columns that scale the purchase rate (``exp(g_purchase'z)``) and the dropout
        hazard (``exp(g_dropout'w)``); at least one.

    Notes
    -----
    A report candidate given a calendar (``calendar_file`` and its covariates among the report's
    parameters), fitted there by the Laplace approximation; not in :data:`clvlib.MODELS` (it
    needs a calendar). It predicts through the prediction engine
    (:func:`clvlib.score_customers`, by its simulated route: :class:`CustomerPosterior`) over
    the calendar's future periods: P(alive) and expected purchases exact, expected CLV and the
    predictive purchases and CLV simulated, each with its interval; P(alive) of hypothetical
    histories (:meth:`p_alive_draws`) and a new customer's expected purchases and purchase-count
    distribution from the date they arrive (:meth:`expected_purchases_new`,
    :meth:`prob_purchases`), which the tracking and frequency checks read; nothing past the
    calendar (no DERT: ``NotImplementedError``).
    :func:`clvlib.comparison.compare_models` ranks it beside other
    purchase models fitted to the same summary, by PSIS-LOO and, when the summary has a
    holdout (and :meth:`CovariateCalendar.with_purchase_sums` its ``_full`` sums), by the
    holdout's log predictive density and forecast errors.
    """

    name = "pareto_nbd_tv"
    title = "Pareto/NBD (time-varying covariates)"
    story = ("Pareto/NBD with time-varying covariates (Bachmann, Meierer & Naef 2021): while "
             "active, customer i buys at rate lambda_i exp(g_purchase'z(u)) and leaves at "
             "hazard mu_i exp(g_dropout'w(u)) in calendar period u, lambda_i ~ Gamma(r, alpha), "
             "mu_i ~ Gamma(s, beta).")
    params = pareto_nbd.ParetoNBDModel.params
    likelihood = Likelihood(pointwise=logp)
    dropout_kind = "lifetime"
    dropout_mixing = Mixing("gamma", "s", "beta")
    predicts = ("P(alive), expected and predicted purchases and CLV over the calendar's "
                "future periods, and a new customer's purchases on the calendar")
    unavailable = {**LimitedPredictions.unavailable, "dert": "DERT (an unbounded horizon needs "
                   "covariates for every future period)"}
    unbounded_horizon = False
    arrival_dated = True
    closed_form_purchases = True
    # The report fits it by the Laplace approximation: NUTS takes minutes per thousand
    # customers with weekly periods (benchmarks/RESULTS.md, "Time-varying covariates").
    report_fit = "laplace"
    #: Its lifetimes at covariates 0 are the Pareto/NBD's (exponential, rate mu).
    lifetimes = pareto_nbd.ParetoNBDModel.lifetimes

    def __init__(self, data, calendar: CovariateCalendar, priors: dict | None = None, *,
                 purchase_covariates=(), dropout_covariates=()):
        self.calendar = calendar
        self.purchase_names = list(purchase_covariates or ())
        self.dropout_names = list(dropout_covariates or ())
        if not self.purchase_names and not self.dropout_names:
            raise ValueError(f"{self.title}: name at least one of purchase_covariates and "
                             "dropout_covariates (without, fit the ParetoNBDModel)")
        self.Z = calendar.matrix(self.purchase_names)
        self.W = calendar.matrix(self.dropout_names)
        self.columns = ("x", "t_x", "T") + tuple(SUM_PREFIX + c for c in self.purchase_names)
        self.default_priors = {
            **pareto_nbd.ParetoNBDModel.default_priors,
            **{name: self.coefficient_prior for name in self.coefficients},
        }
        super().__init__(data, priors)
        if calendar.time_unit != self.time_unit:
            raise CLVDataError(f"{self.title}: the calendar is in {calendar.time_unit.plural}, "
                               f"the customers in {self.time_unit.plural}; build both alike")
        if self.summary is not None and self.summary.calibration_end != calendar.calibration_end:
            raise CLVDataError(f"{self.title}: the calendar's clock ends calibration on "
                               f"{calendar.calibration_end:%Y-%m-%d}, the summary on "
                               f"{self.summary.calibration_end:%Y-%m-%d}; build the calendar "
                               "with CovariateCalendar.of(table, summary)")
        oldest = float(self.customers["T"].max())
        if -calendar.edges[0] < oldest - 1e-9:
            raise CLVDataError(f"{self.title}: the calendar starts {-calendar.edges[0]:.4g} "
                               f"{calendar.time_unit.plural} before the calibration end, but "
                               f"the oldest customer was born {oldest:.4g} before it")
        # Only the periods that start before the calibration end enter the likelihood.
        self.n_past = int(np.searchsorted(calendar.edges, 0.0, side="left"))
        self.exposure = Exposure.of(calendar.edges[:self.n_past + 1],
                                    self.rows["t_x"], self.rows["T"])
        self.title = (f"{type(self).title[:-1]}: purchase "
                      f"{', '.join(self.purchase_names) or 'none'}; dropout "
                      f"{', '.join(self.dropout_names) or 'none'})")

    def check_data(self, customers: pd.DataFrame, source: str) -> pd.DataFrame:
        checked = super().check_data(customers, source)
        missing = [c for c in self.columns if c not in checked.columns]
        if missing:
            raise CLVDataError(f"{source}: the customers lack column(s) {missing}, the sums "
                               "of the purchase covariates over each customer's repeat "
                               "purchases; add them with "
                               "CovariateCalendar.with_purchase_sums(log, summary)")
        for column in self.columns[3:]:
            if not np.isfinite(checked[column].to_numpy(float)).all():
                raise CLVDataError(f"{source}: column '{column}' has empty or infinite values")
        return checked

    # -- variables: the Pareto/NBD's and the coefficients -------------------------------------

    @property
    def coefficients(self) -> tuple[str, ...]:
        return ((("g_purchase",) if self.purchase_names else ())
                + (("g_dropout",) if self.dropout_names else ()))

    @property
    def variables(self) -> tuple[str, ...]:
        return self.params + self.coefficients

    @property
    def indexed(self) -> bool:
        """Always: each customer's rates follow the periods they were active in."""
        return True

    @property
    def coords(self) -> dict[str, list[str]]:
        coords = {}
        if self.purchase_names:
            coords["purchase_covariate"] = self.purchase_names
        if self.dropout_names:
            coords["dropout_covariate"] = self.dropout_names
        return coords

    @property
    def variable_dims(self) -> dict[str, str]:
        return {"g_purchase": "purchase_covariate", "g_dropout": "dropout_covariate"}

    def _period_effects(self, params: dict, xp, n_periods: int | None = None):
        """``g'z`` and ``g'w`` per period: the first ``n_periods`` (default: the past)."""
        stop = self.n_past if n_periods is None else n_periods
        zero = np.zeros(stop) if xp is np else pt.zeros((stop,))
        log_a = xp.dot(self.Z[:stop], params["g_purchase"]) if self.purchase_names else zero
        log_d = xp.dot(self.W[:stop], params["g_dropout"]) if self.dropout_names else zero
        return log_a, log_d

    def _effect(self, params: dict, rows, xp):
        """``g_purchase'Z`` per row: the covariates at the repeat purchases."""
        if not self.purchase_names:
            return 0.0
        sums = np.column_stack([np.asarray(rows[SUM_PREFIX + c], dtype=float)
                                for c in self.purchase_names])
        return xp.dot(sums, params["g_purchase"])

    def loglike(self, params: dict, rows):
        return pt.sum(rows.weights * self.row_loglike(params, rows))

    def row_loglike(self, params: dict, rows):
        exposure = (self.exposure if rows is self.rows else
                    Exposure.of(self.calendar.edges[:self.n_past + 1], rows["t_x"], rows["T"]))
        log_a, log_d = self._period_effects(params, pt)
        return logp(params["r"], params["alpha"], params["s"], params["beta"],
                    np.asarray(rows["x"], dtype=float), self._effect(params, rows, pt),
                    log_a, log_d, exposure)

    def pointwise_loglik(self, draws: dict[str, np.ndarray], rows, columns=None,
                         cells: int | None = None, mode=None) -> np.ndarray:
        """Log-likelihood of each distinct row under each draw, ``(S, rows)``: of the
        calibration (``columns`` None or :attr:`columns`) or of calibration and holdout
        together (the ``<column>_full`` columns of :func:`clvlib.comparison.holdout_rows`,
        whose ``T_full - T`` is the holdout's length; the calendar must reach its end).
        In NumPy, a draw at a time: ``cells`` and ``mode`` (PyTensor's) do not apply."""
        columns = tuple(columns or self.columns)
        full = tuple(f"{c}_full" for c in self.columns)
        if columns not in (self.columns, full):
            raise NotImplementedError(f"{self.title}: no log-likelihood of {columns}")
        data = dict(zip(self.columns, (np.asarray(rows[c], dtype=float) for c in columns),
                        strict=True))
        edges = self.calendar.edges
        if columns == full:
            lengths = np.asarray(rows["T_full"], dtype=float) - np.asarray(rows["T"], dtype=float)
            if lengths.size and np.ptp(lengths) > 1e-9:
                raise ValueError(f"{self.title}: the holdout rows have holdouts of different "
                                 "lengths")
            edges = edges - (float(lengths[0]) if lengths.size else 0.0)
            if edges[-1] < -1e-9:
                raise ValueError(f"{self.title}: the calendar ends before the holdout does; "
                                 "extend it")
        n_periods = int(np.searchsorted(edges, 0.0, side="left"))
        exposure = Exposure.of(edges[:n_periods + 1], data["t_x"], data["T"])
        out = np.empty((len(draws["r"]), len(rows)))
        for i in range(len(out)):
            draw = {k: v[i] for k, v in draws.items()}
            log_a, log_d = self._period_effects(draw, np, n_periods)
            effect = self._effect(draw, data, np)
            alive, died = _np_terms(draw["r"], draw["alpha"], draw["s"], draw["beta"],
                                    data["x"], effect, log_a, log_d, exposure)
            out[i] = np.logaddexp(alive, died)
        return out

    def config(self, settings=None) -> dict:
        """As :meth:`CLVModel.config`, with the calendar's covariates and periods."""
        edges = self.calendar.starts
        return {**super().config(settings), "calendar": {
            "purchase_covariates": self.purchase_names,
            "dropout_covariates": self.dropout_names,
            "periods": len(edges) - 1, "first_period": f"{edges[0]:%Y-%m-%d}",
            "end": f"{edges[-1]:%Y-%m-%d}",
            "calibration_end": f"{self.calendar.calibration_end:%Y-%m-%d}"}}

    def data_hash(self) -> str:
        """The summary's hash and the calendar's (its edges and the covariates used)."""
        import hashlib

        h = hashlib.sha256(super().data_hash().encode())
        for part in (self.calendar.edges, self.Z, self.W):
            h.update(np.ascontiguousarray(part, dtype=float).tobytes())
        return h.hexdigest()

    # -- predictions ------------------------------------------------------------------------

    def customer_posterior(self, r, alpha, s, beta, x, t_x, T, g_purchase=None,
                           g_dropout=None, **sums) -> CustomerPosterior:
        """Customers ``x, t_x, T`` (arrays; their purchase sums do not enter: they scale both
        of the likelihood's terms alike) under one value of the variables: the prediction
        engine's simulated route reads it (:class:`CustomerPosterior`)."""
        draw = {"g_purchase": g_purchase, "g_dropout": g_dropout}
        edges = self.calendar.edges
        log_a, log_d = self._period_effects(draw, np, len(edges) - 1)
        exposure = Exposure.of(edges[:self.n_past + 1], t_x, T)
        past_a, past_d = log_a[:self.n_past], log_d[:self.n_past]
        # The future periods: from the one the calibration end falls in (or the next).
        first = self.n_past - 1 if edges[self.n_past] > 0 else self.n_past
        future = np.concatenate([[0.0], edges[first + 1:]])
        a, d = np.exp(log_a[first:]), np.exp(log_d[first:])
        return CustomerPosterior(
            chance=p_alive(r, alpha, s, beta, x, past_a, past_d, exposure),
            shape=r + np.asarray(x, dtype=float), rate=alpha + exposure.alive @ np.exp(past_a),
            s=float(s), dropout_rate=beta + exposure.alive @ np.exp(past_d), edges=future,
            purchase=_cumulative(future, a), dropout=_cumulative(future, d),
            log_a=log_a[first:], log_d=log_d[first:])

    def p_alive_draws(self, x, t_x, T, *, customers=None, n_draws: int | None = 1000,
                      seed: int = 0):
        """P(alive) per posterior draw for arrays of ``x, t_x, T``: shape ``(draws, *shape)``;
        hypothetical customers born ``T`` time units before the calibration end, whose
        covariates are the calendar's on those dates (``customers``: unused, as their purchase
        sums do not enter P(alive))."""
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
        start = -self.calendar.edges[0]
        if np.any(T > start + 1e-9):
            raise ValueError(f"{self.title}: T up to {T.max():.4g}; the calendar starts "
                             f"{start:.4g} {self.calendar.time_unit.plural} before the "
                             "calibration end")
        exposure = Exposure.of(self.calendar.edges[:self.n_past + 1], t_x.ravel(), T.ravel())
        return self._per_draw(lambda draw, log_a, log_d: p_alive(
            draw["r"], draw["alpha"], draw["s"], draw["beta"], x.ravel(), log_a, log_d,
            exposure), x.shape, n_draws, seed)

    def _per_draw(self, value, shape, n_draws, seed, n_periods=None) -> np.ndarray:
        """``value(draw, log_a, log_d)``, an array of ``prod(shape)`` cells, under each
        posterior draw (a value of each variable) and its ``g'z`` and ``g'w`` per period (the
        first ``n_periods``; default the past): shape ``(draws, *shape)``."""
        draws = self.posterior_draws(n_draws, seed)
        out = []
        for i in range(len(draws["r"])):
            draw = {k: v[i] for k, v in draws.items()}
            out.append(value(draw, *self._period_effects(draw, np, n_periods)))
        return np.asarray(out).reshape((len(out), *shape))

    def _windows(self, t, born) -> np.ndarray:
        """The time each ``(born, born + t]`` window spends in each period, ``(cells, P)``,
        after checking it lies on the calendar."""
        edges = self.calendar.edges
        if np.any(born < edges[0] - 1e-9) or np.any(born + t > edges[-1] + 1e-9):
            raise ValueError(f"{self.title}: the calendar covers {edges[0]:.4g} to "
                             f"{edges[-1]:.4g} {self.calendar.time_unit.plural} from the "
                             "calibration end; born and born + t must fall within it")
        if np.any(t < 0):
            raise ValueError(f"{self.title}: t must not be negative")
        start, stop = born.reshape(-1, 1), (born + t).reshape(-1, 1)
        return np.clip(np.minimum(edges[None, 1:], stop) - np.maximum(edges[None, :-1], start),
                       0.0, None)

    def prob_purchases(self, n, t, *, customers=None, n_draws: int | None = 1000,
                       seed: int = 0, born=0.0):
        """P(X(t) = n) for a new customer acquired ``born`` time units after the calibration
        end (negative: before it): the chance of ``n`` repeat purchases in the ``t`` time units
        after their first, under the calendar's covariates, per posterior draw: shape
        ``(draws, *broadcast(n, t, born).shape)``; ``customers`` unused.

        With ``e(u)`` and ``D(u)`` the purchase and dropout exposures from ``born`` to ``u``,
        ``NB(n; r, alpha / (alpha + e))`` the count given exposure ``e``: ``NB(e(born + t))
        (beta / (beta + D(born + t)))^s`` (alive throughout) plus the integral over the
        dropout time of its density ``s beta^s d(u) (beta + D(u))^-(s+1)`` times ``NB(e(u))``,
        by Gauss-Legendre in ``w = log(beta + D(u))`` within each period (where the density
        is ``s beta^s e^{-s w}``, as :func:`clvlib.models.pareto_nbd.prob_purchases` does for
        a small ``beta``)."""
        n, t, born = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (n, t, born)))
        if np.any(n < 0) or np.any(n != np.floor(n)):
            raise ValueError(f"{self.title}: n must hold whole numbers of purchases (0, 1, ...)")
        widths = self._windows(t, born)
        count = n.reshape(-1, 1, 1)

        def one(draw, log_a, log_d):
            r, alpha, s, beta = (float(draw[k]) for k in ("r", "alpha", "s", "beta"))
            a, d = np.exp(log_a), np.exp(log_d)
            spent_a, spent_d = a * widths, d * widths  # each period's exposures
            a0 = np.cumsum(spent_a, axis=-1) - spent_a  # from born to each period's start
            d0 = np.cumsum(spent_d, axis=-1) - spent_d
            alive = (pareto_nbd.log_nb(r, alpha, count, spent_a.sum(axis=-1)[:, None, None])
                     [:, 0, 0]
                     + s * (np.log(beta) - np.log(beta + spent_d.sum(axis=-1))))
            # w from log(beta + D) at the period's start to its end, where the time into the
            # period is (e^w - beta - D0) / d
            w_lo = np.log(beta + d0)[..., None]
            span = np.log1p(spent_d / (beta + d0))[..., None]
            above = span * (1 + NODES) / 2  # w - w_lo
            into = (beta + d0)[..., None] * np.expm1(above) / d[None, :, None]
            left = np.exp(np.log(s) + s * np.log(beta) - s * (w_lo + above)
                          + pareto_nbd.log_nb(r, alpha, count,
                                              a0[..., None] + a[None, :, None] * into))
            return np.exp(alive) + (span / 2 * WEIGHTS * left).sum(axis=(1, 2))

        return self._per_draw(one, n.shape, n_draws, seed, widths.shape[1])

    def expected_purchases_new(self, t, *, customers=None, n_draws: int | None = 1000,
                               seed: int = 0, born=0.0):
        """E[X(t)] for a new customer acquired ``born`` time units after the calibration end
        (negative: before it), in the ``t`` time units after their first purchase, under the
        calendar's covariates for those periods, per posterior draw: shape ``(draws,
        *broadcast(t, born).shape)``.

        ``(r / alpha) int a(u) (beta / (beta + B(u) - B(born)))^s du`` over ``(born, born +
        t]``, exact per period (:func:`expected_purchases_alive` with no history);
        ``customers`` unused (the calendar's covariates are everybody's)."""
        t, born = np.broadcast_arrays(np.asarray(t, dtype=float),
                                      np.asarray(born, dtype=float))
        widths = self._windows(t, born)
        return self._per_draw(lambda draw, log_a, log_d: _given_alive(
            draw["r"], draw["alpha"], draw["s"], np.full(t.size, draw["beta"]), log_a, log_d,
            widths), t.shape, n_draws, seed, widths.shape[1])

    def check_identified(self) -> None:
        """Raise ``CLVDataError`` for a covariate that takes one value in every period the
        customers were active in during calibration: the data cannot tell its effect from the
        baseline rate, and its coefficient would restate its prior (the report asks this of
        each calendar it is given)."""
        active = self.exposure.alive.sum(axis=0) > 0
        for names, matrix in ((self.purchase_names, self.Z), (self.dropout_names, self.W)):
            for j, column in enumerate(names):
                values = matrix[:self.n_past][active, j]
                if np.ptp(values) == 0:
                    raise CLVDataError(
                        f"calendar covariate '{column}' is {values[0]:g} in every period the "
                        "customers were active in before the calibration end: the data cannot "
                        "tell its effect; give a covariate that varies within the calibration "
                        "period (or move calibration_end past where it does)")

    def check_horizon(self, horizon: float) -> None:
        """As :meth:`PurchaseModel.check_horizon`, and the horizon within the calendar."""
        super().check_horizon(horizon)
        self.calendar.check_reach(horizon, f"{self.title}: horizon")
