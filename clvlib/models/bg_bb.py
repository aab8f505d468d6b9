"""BG/BB: the beta-geometric/beta-Bernoulli model of Fader, Hardie & Shang (2010).

Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual
setting", Marketing Science 29(6). Time is a sequence of discrete transaction opportunities (a
yearly fund drive, a weekly show); a customer's history is how many opportunities they used
(``x``), the last one used (``t_x``) and how many they had (``n``).

Its sections follow the layout of every model module (:mod:`clvlib.models`); it has no
compiled kernel and fits through its PyTensor graph.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pandas as pd
import pytensor.tensor as pt
from scipy.special import exprel, gammaln, polygamma

from clvlib.compression import WEIGHT_COLUMN, CompressedRows
from clvlib.errors import CLVDataError
from clvlib.models import numerics
from clvlib.models.base import CLVModel, Likelihood
from clvlib.predict import Prediction, posterior_predict
from clvlib.priors import Prior
from clvlib.special import hyp2f1_one, log_beta_ratio, log_rising
from clvlib.summary import CustomerSummary
from clvlib.validation import check_whole_numbers, raise_for_rows, with_default_period

# ============================================================================================
# The likelihood (PyTensor)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# BG/BB: Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time
# noncontractual setting", Marketing Science 29(6), eq. (5). Time is a sequence of discrete
# transaction opportunities. At the start of each opportunity a living customer drops out with
# probability theta ~ Beta(gamma, delta); if still alive, they transact with probability
# p ~ Beta(alpha, beta). Data: x transactions in n opportunities, the last at opportunity t_x
# (0 if none).
#
#   L = B(alpha+x, beta+n-x)/B(alpha,beta) * B(gamma, delta+n)/B(gamma,delta)
#       + sum_{i=0}^{n-t_x-1} B(alpha+x, beta+t_x-x+i)/B(alpha,beta)
#                             * B(gamma+1, delta+t_x+i)/B(gamma,delta),
#
# the first term for a customer alive throughout, the i-th for one who dropped out at the start
# of opportunity t_x+i+1. Every ratio of beta functions is a ratio of rising factorials
# (a)_m = Gamma(a+m)/Gamma(a) with whole m:
#   B(alpha+x, beta+k-x)/B(alpha,beta) = (alpha)_x (beta)_{k-x} / (alpha+beta)_k,
#   B(gamma, delta+m)/B(gamma,delta) = (delta)_m / (gamma+delta)_m,
#   B(gamma+1, delta+m)/B(gamma,delta) = gamma/(gamma+delta+m) (delta)_m / (gamma+delta)_m,
# so (alpha)_x is the part that depends on x alone. They are never taken as differences of
# log-gammas or log-betas, which lose all precision for large shape parameters: at 3e21 each
# log-gamma is 1.5e23 and the difference, a few hundred, is rounding noise (a NUTS chain once
# settled there, on a spurious log-likelihood of +83,000). In the PyTensor likelihood the
# steps m are the data's whole numbers, so log (a)_m = sum_{j<m} log(a+j) is read from a
# table of cumulative sums of logs, one per shape parameter, as long as the largest n: exact,
# and a small graph that compiles fast. NumPy (for predictions, where m need not be whole)
# uses clvlib.special.log_rising. Customers may have different n: the sum runs over
# i = 0 .. max(n - t_x) - 1 along a trailing axis, the terms beyond each customer's own
# n - t_x masked out.
# --------------------------------------------------------------------------------------------

def _parts(alpha, beta, gamma, delta, x, t_x, n, xs=None):
    """PyTensor: log (alpha)_x (the x part, at ``xs`` if given) and the log of the rest of L.

    The rest is the log-sum-exp of the 'alive throughout' term and the masked grid of dropout
    terms, one value per row.
    """
    symbolic, (x, t_x, n) = numerics.as_data(x, t_x, n)
    lib = pt if symbolic else np
    size = pt.max(n).astype("int64") + 1 if symbolic else int(np.max(n)) + 1
    tables = numerics.rising_tables((alpha, beta, alpha + beta, delta, gamma + delta), size)

    def rising(k, steps, grid=False):
        table = tables[k]
        # On the grid the parameters get a trailing axis too (see below).
        return numerics.gather(table[..., None, :] if grid and table.ndim > 1 else table, steps)

    x_part = rising(0, x if xs is None else xs)
    alive = rising(1, n - x) - rising(2, n) + rising(3, n) - rising(4, n)
    gap = n - t_x
    i = (pt.arange(pt.max(gap)).astype("float64") if symbolic
         else np.arange(int(np.max(gap)), dtype=float))
    step = t_x[..., None] + i  # drop out at the start of opportunity step + 1
    # Masked cells look up a valid step (at most n) and are discarded by the switch below.
    valid = lib.minimum(step, n[..., None])
    # Parameter arrays (draws of shape (S, 1) against rows of shape (1, C)) get a trailing
    # axis, so they broadcast against the grid as they do against the data.
    g, d = pt.shape_padright(gamma), pt.shape_padright(delta)
    dropped = (rising(1, valid - x[..., None], True) - rising(2, valid, True)
               + rising(3, valid, True) - rising(4, valid, True)
               + pt.log(g) - pt.log(g + d + valid))
    dropped = pt.switch(pt.lt(i, gap[..., None]), dropped, -np.inf)
    alive = pt.broadcast_to(alive, dropped.shape[:-1])
    return x_part, numerics.logsumexp(pt.concatenate([alive[..., None], dropped], axis=-1), axis=-1)


def logp(alpha, beta, gamma, delta, x, t_x, n):
    """BG/BB log-likelihood of each customer (Fader, Hardie & Shang 2010, eq. 5).

    Parameters
    ----------
    alpha, beta : scalar
        Shape parameters of the beta distribution of transaction probabilities ``p``.
    gamma, delta : scalar
        Shape parameters of the beta distribution of dropout probabilities ``theta``.
    x, t_x, n : array
        Transactions, the opportunity of the last one (0 if none) and the number of
        opportunities, per customer (whole numbers); ``n`` may differ across customers.

    Returns
    -------
    TensorVariable
        One log-likelihood per customer.

    Examples
    --------
    >>> logp = logp(1.204, 0.750, 0.657, 2.783, x=[6], t_x=[6], n=[6])
    >>> round(float(logp.eval()[0]), 4)
    -2.1822
    """
    alpha, beta, gamma, delta = numerics.float64(alpha, beta, gamma, delta)
    x_part, rest = _parts(alpha, beta, gamma, delta, x, t_x, n)
    return x_part + rest


def loglike(alpha, beta, gamma, delta, rows: CompressedRows):
    """Total BG/BB log-likelihood of weighted rows with columns ``x``, ``t_x``, ``n``."""
    alpha, beta, gamma, delta = numerics.float64(alpha, beta, gamma, delta)
    xs, x_weights, _ = rows.distinct("x")
    x_part, rest = _parts(alpha, beta, gamma, delta, rows["x"], rows["t_x"], rows["n"],
                                xs=xs)
    return pt.sum(x_weights * x_part) + pt.sum(rows.weights * rest)


# ============================================================================================
# Closed forms (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# BG/BB (Fader, Hardie & Shang 2010, "Customer-base analysis in a discrete-time noncontractual
# setting", Marketing Science 29(6)). Time is counted in transaction opportunities: a customer
# has x transactions in n opportunities, the last at t_x. "Alive at opportunity t" means the
# customer has not dropped out at the start of any of the first t opportunities. Ratios of
# beta functions are written as rising factorials (clvlib.special.log_rising), which stay
# accurate for large shape parameters where differences of log-beta functions do not.
# --------------------------------------------------------------------------------------------


def _alive_term(alpha, beta, gamma, delta, x, n):
    """NumPy: log of the 'alive throughout' term, without the x part."""
    return (log_rising(beta, n - x) - log_rising(alpha + beta, n)
            + log_rising(delta, n) - log_rising(gamma + delta, n))


def _dropout_term(alpha, beta, gamma, delta, x, t_x, i):
    """NumPy: log of the term for dropping out at the start of opportunity t_x + i + 1."""
    m = t_x + i
    return (log_rising(beta, m - x) - log_rising(alpha + beta, m)
            + log_rising(delta, m) - log_rising(gamma + delta, m)
            + np.log(gamma) - np.log(gamma + delta + m))


def log_terms(alpha, beta, gamma, delta, x, t_x, n):
    """NumPy: log of the 'alive throughout' and 'dropped out' parts of the BG/BB likelihood.

    Their log-sum-exp is the log-likelihood; P(alive) and the conditional expectations use the
    first part's share. Broadcasts like the other closed forms; the terms of the sum over
    the dropout opportunity are added one at a time, so memory stays at the size of the
    broadcast inputs.
    """
    x, t_x, n = (np.asarray(v, dtype=float) for v in (x, t_x, n))
    head = log_rising(alpha, x)
    alive = head + _alive_term(alpha, beta, gamma, delta, x, n)
    gap = n - t_x
    dropped = np.full(np.broadcast(alive, gap).shape, -np.inf)
    for i in range(int(np.max(gap, initial=0))):
        # where masked, t_x + i may pass n; only x <= t_x + i is needed for a finite value
        term = _dropout_term(alpha, beta, gamma, delta, x, t_x, float(i))
        dropped = np.logaddexp(dropped, np.where(i < gap, head + term, -np.inf))
    return alive, dropped


# Below this |gamma - 1| the alive sum uses a series in gamma - 1 (see _alive_sum).
_SERIES_BELOW = 1e-2


def _alive_sum(gamma, delta, n, n_star):
    """sum_{t=n+1}^{n+n_star} B(gamma, delta+t) / B(gamma, delta): expected opportunities alive.

    Closed form (FHS 2010, from eq. 13): delta/(gamma-1) Gamma(gamma+delta)/Gamma(1+delta)
    [Gamma(1+delta+n)/Gamma(gamma+delta+n) - Gamma(1+delta+n+n*)/Gamma(gamma+delta+n+n*)].
    With h(m) = log of the m-th term, it is delta e^{h(n)} (1 - e^D)/(gamma-1), D = h(n+n*) -
    h(n). Both D and gamma - 1 vanish at gamma = 1, so D is computed from its Taylor series in
    e = gamma - 1 when |e| < 0.01, D/e = sum_{k=1}^{4} e^(k-1)/k! [psi^(k-1)(1+delta+n) -
    psi^(k-1)(1+delta+n+n*)] (relative error below 1e-8), and (1 - e^D)/e as -exprel(D) D/e:
    exact at gamma = 1, and free of the cancellation that the difference of log-gammas
    suffers there.
    """
    near, far = 1 + delta + n, 1 + delta + n + n_star
    eps = gamma - 1

    def h(start, m):  # log[Gamma(1+start+m)/Gamma(1+start) Gamma(g+start)/Gamma(g+start+m)]
        return log_rising(1 + start, m) - log_rising(gamma + start, m)

    small = np.abs(eps) < _SERIES_BELOW
    series = sum(eps ** (k - 1) / math.factorial(k) * (polygamma(k - 1, near) - polygamma(
        k - 1, far)) for k in range(1, 5))
    direct = h(delta + n, n_star) / np.where(small, 1.0, eps)
    slope = np.where(small, series, direct)
    return -delta * np.exp(h(delta, n)) * exprel(slope * eps) * slope


def _log_purchase_share(alpha, beta, gamma, delta, x, t_x, n):
    """log of B(alpha+x+1, beta+n-x)/B(alpha,beta) / L: alive and buying, per unit of alive mass.

    Multiplied by the expected opportunities alive after n (as a ratio of beta functions) this
    gives expected transactions: given the history and being alive at n, the next transaction
    probability is E[p | x, n] = (alpha+x)/(alpha+beta+n).
    """
    alive, dropped = log_terms(alpha, beta, gamma, delta, x, t_x, n)
    purchase = log_rising(alpha, x + 1) + log_rising(beta, n - x) - log_rising(alpha + beta, n + 1)
    return purchase - np.logaddexp(alive, dropped)


def p_alive(alpha, beta, gamma, delta, x, t_x, n):
    """P(alive at opportunity n+1 | x, t_x, n) under BG/BB (FHS 2010).

    ``B(alpha+x, beta+n-x)/B(alpha,beta) B(gamma, delta+n+1)/B(gamma,delta) / L``: the share of
    the likelihood from customers alive throughout, times the chance of surviving the next
    dropout coin, ``(delta+n)/(gamma+delta+n)``.

    Examples
    --------
    >>> round(float(p_alive(1.204, 0.750, 0.657, 2.783, x=2, t_x=4, n=6)), 2)
    0.59
    """
    alive, dropped = log_terms(alpha, beta, gamma, delta, x, t_x, n)
    n = np.asarray(n, dtype=float)
    survive_next = np.log(delta + n) - np.log(gamma + delta + n)
    return np.exp(alive - np.logaddexp(alive, dropped) + survive_next)


def expected_purchases(alpha, beta, gamma, delta, x, t_x, n, n_star):
    """E[X(n, n+n*) | x, t_x, n]: expected transactions in the next ``n_star`` opportunities.

    FHS 2010, eq. (13).

    Examples
    --------
    >>> round(float(expected_purchases(1.204, 0.750, 0.657, 2.783, 6, 6, 6, n_star=5)), 3)
    3.752
    """
    n = np.asarray(n, dtype=float)
    share = _log_purchase_share(alpha, beta, gamma, delta, x, t_x, n)
    return np.exp(share) * _alive_sum(gamma, delta, n, n_star)


def expected_purchases_new(alpha, beta, gamma, delta, n):
    """E[X(n)]: expected transactions of a new customer in ``n`` opportunities (FHS 2010).

    ``alpha/(alpha+beta) delta/(gamma-1) [1 - Gamma(gamma+delta)/Gamma(gamma+delta+n)
    Gamma(1+delta+n)/Gamma(1+delta)]``, evaluated as ``E[p]`` times the expected opportunities
    alive (see :func:`_alive_sum`).
    """
    return alpha / (alpha + beta) * _alive_sum(gamma, delta, 0.0, np.asarray(n, float))


def prob_purchases(alpha, beta, gamma, delta, n, x):
    """P(X(n) = x): probability a new customer makes ``x`` transactions in ``n`` opportunities.

    FHS 2010, eq. (7): ``C(n,x) B(alpha+x, beta+n-x)/B(alpha,beta) B(gamma, delta+n)/
    B(gamma,delta) + sum_{i=x}^{n-1} C(i,x) B(alpha+x, beta+i-x)/B(alpha,beta)
    B(gamma+1, delta+i)/B(gamma,delta)`` (alive throughout, or dropped out at the start of
    opportunity i+1 after x transactions in i). Zero for ``x > n``.
    """
    n, x = np.asarray(n, dtype=float), np.asarray(x, dtype=float)
    x_ok = np.minimum(x, n)

    def log_choose(k, j):
        return gammaln(k + 1) - gammaln(j + 1) - gammaln(k - j + 1)

    def log_p_part(k):  # log[B(alpha+x, beta+k-x)/B(alpha, beta)]
        return log_rising(alpha, x_ok) + log_rising(beta, k - x_ok) - log_rising(alpha + beta, k)

    total = np.exp(log_choose(n, x_ok) + log_p_part(n) + log_beta_ratio(gamma, delta, n))
    for i in range(int(np.max(n, initial=0))):
        i_ok = np.maximum(float(i), x_ok)  # keeps i - x non-negative where masked
        # log[B(gamma+1, delta+i)/B(gamma, delta)]
        dropout = np.log(gamma) - np.log(gamma + delta + i) + log_beta_ratio(gamma, delta, i)
        term = np.exp(log_choose(i_ok, x_ok) + log_p_part(i_ok) + dropout)
        total = total + np.where((i >= x) & (i < n), term, 0.0)
    return np.where(x <= n, total, 0.0)


def dert(alpha, beta, gamma, delta, x, t_x, n, d):
    """Discounted expected residual transactions at discount rate ``d`` per opportunity.

    FHS 2010, eq. (14): ``B(alpha+x+1, beta+n-x)/B(alpha,beta) B(gamma, delta+n+1) /
    (B(gamma,delta) (1+d)) 2F1(1, delta+n+1; gamma+delta+n+1; 1/(1+d)) / L``, the sum over
    future opportunities ``t = n+1, n+2, ...`` of expected transactions discounted by
    ``(1+d)^-(t-n)``.

    Examples
    --------
    >>> round(float(dert(1.204, 0.750, 0.657, 2.783, 6, 6, 6, d=0.1)), 2)
    5.91
    """
    n = np.asarray(n, dtype=float)
    share = _log_purchase_share(alpha, beta, gamma, delta, x, t_x, n)
    head = log_beta_ratio(gamma, delta, n + 1) - np.log1p(d)
    return np.exp(share + head) * hyp2f1_one(delta + n + 1, gamma + delta + n + 1, 1 / (1 + d))


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# BG/BB (Fader, Hardie & Shang 2010)
# --------------------------------------------------------------------------------------------


def rvs(alpha, beta, gamma, delta, n, rng=None):
    """Simulate BG/BB summaries ``(x, t_x, n)`` for customers with ``n`` opportunities each.

    Each customer draws ``p ~ Beta(alpha, beta)`` and ``theta ~ Beta(gamma, delta)``. At the
    start of every opportunity a living customer drops out with probability ``theta``; if
    still alive they transact with probability ``p``. Vectorized over customers, one round per
    opportunity.

    Returns
    -------
    dict of ndarray
        ``x`` (transactions), ``t_x`` (opportunity of the last one, 0 if none) and ``n``.

    Examples
    --------
    >>> sim = rvs(1.204, 0.750, 0.657, 2.783, n=[6] * 1000, rng=1)
    >>> sorted(sim)
    ['n', 't_x', 'x']
    """
    rng = np.random.default_rng(rng)
    n = np.asarray(n, dtype=int).reshape(-1)
    p = rng.beta(alpha, beta, size=n.size)
    # The opportunity at whose start the customer drops out (1, 2, ...): alive before it.
    dropout = rng.geometric(rng.beta(gamma, delta, size=n.size))
    x = np.zeros(n.size, dtype=int)
    t_x = np.zeros(n.size, dtype=int)
    for t in range(1, int(n.max(initial=0)) + 1):
        buys = (t < dropout) & (t <= n) & (rng.random(n.size) < p)
        x += buys
        t_x[buys] = t
    return {"x": x, "t_x": t_x, "n": n}


# ============================================================================================
# The model
# ============================================================================================

# The donations file and lifetimes name the BG/BB columns this way; the model's own names are
# those of FHS (2010).
COLUMN_ALIASES = {"frequency": "x", "recency": "t_x", "periods": "n"}

def check_opportunities(customers: pd.DataFrame, source: str = "BG/BB data") -> pd.DataFrame:
    """Validate a BG/BB table: ``x``, ``t_x``, ``n`` per row and optional ``weights``.

    The donations-file names ``frequency``, ``recency`` and ``periods`` are accepted for
    ``x``, ``t_x`` and ``n``. Each row must have ``0 <= x <= t_x <= n`` in whole numbers,
    ``t_x = 0`` exactly when ``x = 0``.

    Returns
    -------
    pandas.DataFrame
        A copy with the model's column names, as floats.

    Raises
    ------
    CLVDataError
        Naming the column and the first offending rows.

    Examples
    --------
    >>> check_opportunities(pd.DataFrame({"x": [2], "t_x": [5], "n": [4]}))
    Traceback (most recent call last):
    ...
    clvlib.errors.CLVDataError: BG/BB data: t_x > n (a last transaction after the last opportunity): 1 row(s); the first:
       x  t_x  n
    0  2    5  4
    """  # noqa: E501
    renames = {old: new for old, new in COLUMN_ALIASES.items()
               if old in customers.columns and new not in customers.columns}
    frame = customers.rename(columns=renames)
    missing = [c for c in ("x", "t_x", "n") if c not in frame.columns]
    if missing:
        raise CLVDataError(
            f"{source}: missing column(s) {missing}; BG/BB needs x (transactions), t_x (the "
            "opportunity of the last one, 0 if none) and n (opportunities), or frequency, "
            f"recency and periods; it has {list(customers.columns)}"
        )
    values = check_whole_numbers(frame, ("x", "t_x", "n"), source, "BG/BB")
    x, t_x, n = values["x"], values["t_x"], values["n"]
    problems = {
        "t_x > n (a last transaction after the last opportunity)": t_x > n,
        "x > t_x (more transactions than opportunities up to the last one)": x > t_x,
        "x = 0 but t_x > 0": (x == 0) & (t_x > 0),
        "x > 0 but t_x = 0": (x > 0) & (t_x == 0),
    }
    for what, bad in problems.items():
        raise_for_rows(bad, frame, ["x", "t_x", "n"], f"{source}: {what}")
    return values


class BetaGeoBetaBinomModel(CLVModel):
    """BG/BB model of repeat transactions over discrete opportunities.

    At the start of each opportunity a living customer drops out with probability
    ``theta ~ Beta(gamma, delta)``; if still alive, they transact with probability
    ``p ~ Beta(alpha, beta)``. Customers may have different numbers of opportunities ``n``; a
    ``weights`` column lets each row stand for many customers (the donations file).

    Default priors are weakly informative: ``LogNormal(0, 1.5)`` on each of the four beta
    shape parameters (unit-free; 95% between 0.05 and 19, so both U-shaped and concentrated
    beta distributions are plausible). Time is counted in opportunities; the input's
    ``attrs["time_unit"]`` names their period (default: year).

    Examples
    --------
    >>> model = BetaGeoBetaBinomModel(clvlib.load_dataset("donations"))  # doctest: +SKIP
    >>> model.fit("map", progressbar=False)  # doctest: +SKIP
    >>> model.p_alive().per_customer.head()  # doctest: +SKIP
    """

    name = "bg_bb"
    title = "BG/BB"
    story = ("BG/BB (Fader, Hardie & Shang 2010): at each discrete opportunity an active "
             "customer buys with their own probability p_i ~ Beta(alpha, beta) and, after it, "
             "leaves with their own probability theta_i ~ Beta(gamma, delta).")
    params = ("alpha", "beta", "gamma", "delta")
    columns = ("x", "t_x", "n")
    default_priors = {name: Prior("LogNormal", mu=0, sigma=1.5) for name in params}
    likelihood = Likelihood(pointwise=logp, total=loglike)

    def __init__(self, data: pd.DataFrame, priors: dict | None = None):
        super().__init__(with_default_period(data), priors)

    def check_data(self, customers: pd.DataFrame, source: str) -> pd.DataFrame:
        return check_opportunities(customers, source)

    # -- existing customers -------------------------------------------------------------------

    def p_alive(self, customers=None, *, n_draws: int | None = 1000, seed: int = 0,
                interval: float = 0.9) -> Prediction:
        """Posterior probability that each customer is alive at the next opportunity (n+1)."""
        return self._predict(p_alive, "P(alive at the next opportunity)", customers,
                             n_draws, seed, interval)

    def expected_purchases(self, n_star: int, customers=None, *, n_draws: int | None = 1000,
                           seed: int = 0, interval: float = 0.9) -> Prediction:
        """Expected transactions of each customer in the next ``n_star`` opportunities."""
        fn = partial(expected_purchases, n_star=n_star)
        name = f"expected transactions in the next {n_star:g} opportunities"
        return self._predict(fn, name, customers, n_draws, seed, interval)

    def dert(self, d: float, customers=None, *, n_draws: int | None = 1000, seed: int = 0,
             interval: float = 0.9) -> Prediction:
        """Discounted expected residual transactions at discount rate ``d`` per opportunity.

        ``d`` is the effective rate per opportunity of the one discounting convention
        (:mod:`clvlib.discounting`): for opportunities ``days`` long and an annual rate ``r``,
        ``d = Discount(r).per_period(days)`` (``d = r`` for yearly opportunities).

        Examples
        --------
        >>> model.dert(0.1).per_customer.head()  # doctest: +SKIP
        """
        fn = partial(dert, d=d)
        name = f"DERT at {d:.3g} per {self.time_unit.name}"
        return self._predict(fn, name, customers, n_draws, seed, interval)

    # -- a new customer -----------------------------------------------------------------------

    def expected_purchases_new(self, n, *, n_draws: int | None = 1000, seed: int = 0,
                               interval: float = 0.9) -> Prediction:
        """E[X(n)] for a new customer, for each number of opportunities in ``n``."""
        frame = pd.DataFrame({"n": np.atleast_1d(np.asarray(n, dtype=float))})
        return self._predict_table(expected_purchases_new, "E[X(n)], a new customer",
                                   frame, n_draws, seed, interval)

    def prob_purchases(self, x, n, *, n_draws: int | None = 1000, seed: int = 0,
                       interval: float = 0.9) -> Prediction:
        """P(X(n) = x) for a new customer, indexed by ``(n, x)`` (broadcast against each other).

        Examples
        --------
        >>> model.prob_purchases(np.arange(7), 6).per_customer["mean"]  # doctest: +SKIP
        """
        x, n = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
        frame = pd.DataFrame({"n": n.reshape(-1), "x": x.reshape(-1)})
        return self._predict_table(prob_purchases, "P(X(n) = x), a new customer",
                                   frame, n_draws, seed, interval)

    # -- helpers ------------------------------------------------------------------------------

    def _predict(self, fn, name: str, customers, n_draws, seed, interval) -> Prediction:
        frame = self.customers if customers is None else self.check_data(
            _frame_of(customers), "customers")
        weights = frame[WEIGHT_COLUMN] if WEIGHT_COLUMN in frame.columns else None
        rows = CompressedRows.from_frame(frame, self.columns, weights)
        return posterior_predict(fn, self.posterior_draws(n_draws, seed), rows, frame.index,
                                 name=name, interval=interval)

    def _predict_table(self, fn, name: str, frame: pd.DataFrame, n_draws, seed,
                       interval) -> Prediction:
        rows = CompressedRows.from_frame(frame, tuple(frame.columns))
        index = pd.MultiIndex.from_frame(frame) if frame.shape[1] > 1 else pd.Index(
            frame.iloc[:, 0], name=frame.columns[0])
        return posterior_predict(fn, self.posterior_draws(n_draws, seed), rows, index,
                                 name=name, interval=interval)


def _frame_of(customers) -> pd.DataFrame:
    if isinstance(customers, CustomerSummary):
        return customers.customers
    return pd.DataFrame(customers)
