"""BG/CNBD-k and MBG/CNBD-k: BG/NBD and MBG/NBD with regular purchases (Platzer & Reutterer
2016; Reutterer, Platzer & Schröder 2021; BTYDplus is the reference implementation).

While alive, a customer's gaps between purchases are Erlang-k with rate ``lambda ~ Gamma(r,
alpha)`` (mean gap ``k / lambda``): every ``k``-th event of a Poisson process of rate
``lambda`` is a purchase, so the larger ``k``, the more regular the gaps (their coefficient of
variation is ``1 / sqrt(k)``). After each repeat purchase (MBG: and right after the first) the
customer leaves for good with probability ``p ~ Beta(a, b)``. ``k = 1`` is BG/NBD (MBG/NBD).

The likelihood reads ``litt``, the sum of the logs of the calibration inter-purchase times
(``clvlib.summarize(..., regularity=True)``): it enters only as ``(k - 1) litt``, but without it
the likelihoods of different ``k`` could not be compared. ``k`` is a whole number, fixed for a
fitted model (:func:`model_class`); :func:`choose_k` fits a range of ``k`` and compares their
likelihoods, as BTYDplus's grid search does.

Unlike BTYDplus, whose conditional expectation for ``k > 1`` is an approximation rescaled to
the cohort's total, the expectations here are exact: given alive, the ``m < k`` events since
the last purchase have a known posterior (the terms of the likelihood's sum), and the future
is a series in the NBD tail (:func:`expected_purchases_alive`).

Its sections follow the layout of every model module (:mod:`clvlib.models`).
"""

from __future__ import annotations

import functools
import re

import numba
import numpy as np
import pandas as pd
import pytensor.tensor as pt
from scipy.special import betainc, betaln, expit, gammaln, hyp2f1, xlogy

from clvlib.errors import CLVDataError
from clvlib.futures import FutureGivenAlive
from clvlib.models import numerics
from clvlib.models.base import Likelihood, Mixing, PurchaseExpectations, PurchaseModel
from clvlib.models.bg_nbd import BetaGeoModel
from clvlib.summary import check_summary

# ============================================================================================
# The likelihood (PyTensor)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# (M)BG/CNBD-k: BTYDplus's xbgcnbd.LL. With d = 1 for MBG (a coin right after the first
# purchase too) and d = 0 for BG, the likelihood of x purchases, the last at t_x, none since:
#   (k-1) litt - x log((k-1)!) + log B(a, b+x+d)/B(a, b) + log G(r+kx)/G(r) + r log alpha
#   - (r+kx) log(alpha+T) + log[ S1 + S2 ],
#   S1 = [d or x > 0] a/(b+x-1+d) ((alpha+T)/(alpha+t_x))^(r+kx)    (gone after the last)
#   S2 = sum_{j<k} (r+kx)_j (T-t_x)^j / (j! (alpha+T)^j)              (alive, j events since)
# --------------------------------------------------------------------------------------------


def _phase_terms(shape, ratio, k: int, lib=np):
    """The terms ``(shape)_j ratio^j / j!`` of S2 for ``j < k`` (a list; term 0 is 1)."""
    terms = [lib.ones_like(shape * ratio)]
    for j in range(1, k):
        terms.append(terms[-1] * (shape + j - 1) * ratio / j)
    return terms


def logp(r, alpha, a, b, x, t_x, T, litt, *, k: int, d: int):
    """(M)BG/CNBD-k log-likelihood of each customer (BTYDplus ``xbgcnbd.LL``).

    Parameters
    ----------
    r, alpha : scalar
        Shape and rate of the gamma distribution of the Poisson event rates ``lambda``.
    a, b : scalar
        Shape parameters of the beta distribution of dropout probabilities.
    x, t_x, T, litt : array
        Repeat purchases, recency, age and the sum of the logs of the inter-purchase times,
        in one time unit.
    k : int
        Events per purchase (Erlang-k gaps).
    d : {0, 1}
        1 for MBG/CNBD-k (a dropout coin right after the first purchase), 0 for BG/CNBD-k.

    Returns
    -------
    TensorVariable
        One log-likelihood per customer.
    """
    r, alpha, a, b = numerics.float64(r, alpha, a, b)
    shape = r + k * x
    log_alpha_T = pt.log(alpha + T)
    # The alive terms as a sum of positive terms below 1 times rising factorials: no overflow
    # for k up to a few dozen, and T = t_x (ratio 0) keeps its gradient.
    log_alive = pt.log(sum(_phase_terms(shape, (T - t_x) / (alpha + T), k, pt)))
    gone = pt.log(a) - pt.log(b + pt.maximum(x + d, 1) - 1) + shape * (
        log_alpha_T - pt.log(alpha + t_x))
    if d:
        timing = numerics.logaddexp(log_alive, gone)
    else:  # BG: no coin before the first repeat purchase, so x = 0 is alive
        timing = pt.switch(pt.gt(x, 0), numerics.logaddexp(log_alive, gone), log_alive)
    return (
        (k - 1) * litt - x * float(gammaln(k))
        + pt.gammaln(b + x + d) + pt.gammaln(a + b) - pt.gammaln(b) - pt.gammaln(a + b + x + d)
        + pt.gammaln(shape) - pt.gammaln(r) + r * pt.log(alpha) - shape * log_alpha_T + timing
    )


# ============================================================================================
# Closed forms (NumPy)
# ============================================================================================


def p_alive(r, alpha, a, b, x, t_x, T, *, k: int, d: int):
    """P(alive at T | x, t_x, T) (BTYDplus ``xbgcnbd.PAlive``): ``S2 / (S1 + S2)``."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    shape = r + k * x
    alive = sum(_phase_terms(shape, (T - t_x) / (alpha + T), k))
    log_gone = (np.log(a) - np.log(b + np.maximum(x + d, 1) - 1)
                + shape * (np.log(alpha + T) - np.log(alpha + t_x)))
    p = expit(np.log(alive) - log_gone)
    return p if d else np.where(x > 0, p, 1.0)


def expected_purchases_alive(r, alpha, a, b, x, t_x, T, t, *, k: int, d: int):
    """E[Y(t) | alive at T, x, t_x, T]: expected repeat purchases in the next ``t`` of a
    customer known to be alive (exact).

    Given alive, ``m < k`` events have happened since the last purchase with probability
    proportional to ``(r+kx)_m ((T-t_x)/(alpha+T))^m / m!``, and then ``lambda ~ Gamma(r+kx+m,
    alpha+T)`` and ``p ~ Beta(a, b+x+d)``. The j-th future purchase needs ``kj - m`` events in
    ``t`` (an NBD tail) and ``j - 1`` coins survived (``E[(1-p)^(j-1)]``): the sum over ``j``
    is :func:`_alive_series`.
    """
    x, t_x, T, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T, t)))
    shape = r + k * x
    return _series(shape, alpha + T, (T - t_x) / (alpha + T), a, b + x + d, t, k)


def expected_purchases(r, alpha, a, b, x, t_x, T, t, *, k: int, d: int):
    """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` (exact)."""
    return (expected_purchases_alive(r, alpha, a, b, x, t_x, T, t, k=k, d=d)
            * p_alive(r, alpha, a, b, x, t_x, T, k=k, d=d))


def expected_purchases_new(r, alpha, a, b, t, *, k: int, d: int):
    """E[X(t)]: expected repeat purchases of a new customer in ``t`` (exact; BTYDplus sums
    ``x P(X(t) = x)``). MBG: the first coin, survived with probability ``b / (a + b)``."""
    t = np.asarray(t, dtype=float)
    new = _series(r, alpha, 0.0, a, b + d, t, k)
    return new * b / (a + b) if d else new


def prob_purchases(r, alpha, a, b, t, n, *, k: int, d: int):
    """P(X(t) = n): probability a new customer makes ``n`` repeat purchases in ``t`` (BTYDplus
    ``xbgcnbd_pmf``): alive after ``n`` purchases with ``kn <= N < kn + k`` events, or gone at
    the coin after the ``n``-th with ``N >= kn``."""
    n, t = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(t, dtype=float))
    survived = n - 1 + d
    coins = np.exp(betaln(a, b + survived + 1) - betaln(a, b))
    q = t / (alpha + t)

    def nbd(i):  # P(N = i), N ~ NBD(r, alpha) events in t
        return np.exp(gammaln(r + i) - gammaln(r) - gammaln(i + 1) + r * np.log1p(-q)
                      + xlogy(i, q))

    alive = sum(nbd(k * n + j) for j in range(k))
    safe = np.maximum(survived, 0)
    at_least = np.where(n > 0, betainc(np.maximum(k * n, 1), r, q), 1.0)  # P(N >= kn)
    gone = np.where((n > 0) | bool(d), a / (b + safe) * at_least, 0.0)
    return coins * (alive + gone)


def discounted_purchases_alive(r, alpha, a, b, x, t_x, T, delta, *, k: int, d: int):
    """``integral_0^inf exp(-delta t) dE[Y(t) | alive at T]``: the discounted expected purchases
    (DERT) of a customer known to be alive, at the continuous rate ``delta`` per time unit.

    With ``m < k`` events since the last purchase (posterior as in
    :func:`expected_purchases_alive`), the j-th future purchase comes after ``kj - m`` events,
    whose discount factor is ``E[exp(-delta tau)] = q^(kj - m)`` with ``q = lambda / (lambda +
    delta)``, and needs ``j - 1`` coins survived. Summed over ``j`` that is ``q^(k-m) 2F1(1, b';
    a + b'; q^k)`` (``b' = b + x + d``), averaged over ``lambda ~ Gamma(r + kx + m, alpha + T)``
    by :func:`_over_purchase_rate`. The prediction engine's route, Gauss-Laguerre over the time
    series of :func:`expected_purchases_alive`, would sum tens of thousands of events per
    customer, draw and time at the far times an unbounded horizon reaches.
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                   for v in (r, alpha, a, b, x, t_x, T, delta)))
    out = np.empty(arrays[0].shape)
    flat_out, flat = out.reshape(-1), [v.reshape(-1) for v in arrays]
    for start in range(0, flat_out.size, _DISCOUNT_BLOCK):
        r, alpha, a, b, x, t_x, T, delta = (v[start:start + _DISCOUNT_BLOCK] for v in flat)
        shape, rate = r + k * x, alpha + T
        weights = _phase_terms(shape, (T - t_x) / rate, k)
        flat_out[start:start + _DISCOUNT_BLOCK] = (
            _over_purchase_rate(shape, rate, a, b + x + d, delta, weights, k) / sum(weights))
    return out


#: Customers x draws per block of :func:`discounted_purchases_alive` (up to 128 nodes each:
#: about 20 MB a temporary).
_DISCOUNT_BLOCK = 20_000


# E over lambda ~ Gamma(s, R) by the trapezoid rule in u = log(lambda). For an integrand analytic
# and small in the strip |Im u| < d the rule's error falls as exp(-2 pi d / step): q's and 2F1's
# singularities lie outside |Im u| < pi / 2, and the gamma's e^(-R e^u) still decays, as
# e^(-R e^(Re u) cos(Im u)), for d = pi / 3, so a step of 0.3 gives about 3e-10. Near the mode a
# large shape's integrand is nearly normal with sd 1 / sqrt(s), and a step of 0.8 sd keeps the
# error there below 4e-14. The range runs from where the gamma's right tail is below e^-37 down
# to where the integrand's left tail is: it falls as lambda^s above delta and lambda^(s+n) below,
# slowly for shapes near 0.2 (customers without repeat purchases: up to about 45 wide) and fast
# for large ones (a few units). Each element takes the fewest of 16, 32, 64 or 128 nodes that
# keep both steps; the phases m < k share the nodes, so 2F1, at 2.5 microseconds an evaluation
# most of the time here, is evaluated once a node. Agrees with adaptive quadrature
# (scipy.integrate.quad) to 2e-10 relative for shapes 0.05 to 200, k up to 4 and discount rates
# 1e-5 to 0.05 a week (tests/test_cnbd_k.py asserts 1e-9); Gauss-Hermite nodes
# centred on the mode were off by 2e-3 for the small shapes. Written by hand: no library
# averages over a gamma whose shape changes with every customer and draw.
_RATE_NODES = (16, 32, 64, 128)
_RATE_STEP = 0.3


def _over_purchase_rate(s, R, a, b, delta, weights, k: int):
    """``sum_m weights[m] E[q^(k-m) 2F1(1, b; a + b; q^k)]`` over ``lambda ~ Gamma(s + m, R)``,
    ``m < k``, with ``q = lambda / (lambda + delta)``: one rule for every ``m`` (its nodes cover
    each one's range at the finest step), so 2F1 is evaluated once a node. Elementwise over
    1-D arrays."""
    top = s + k - 1
    mode = np.log(s / R)
    hi = np.log((top + 40 + 12 * np.sqrt(top)) / R)
    # s (w + e^-w - 1) > 37 at w = 37 / s + sqrt(74 / s) below the mode: the gamma's left tail
    # (the smallest shape's reaches lowest); below delta every phase's integrand falls faster,
    # as lambda^(s + m) q^(k - m), lambda^(s + k).
    lo = np.maximum(mode - 37 / s - np.sqrt(74 / s),
                    np.minimum(mode, np.log(delta)) - 37 / (s + k))
    step = np.minimum(_RATE_STEP, 0.8 / np.sqrt(top))
    nodes = np.searchsorted(np.array(_RATE_NODES[:-1]) - 1, (hi - lo) / step)
    out = np.empty(s.size)
    for which, count in enumerate(_RATE_NODES):
        at = np.flatnonzero(nodes == which)
        if at.size == 0:
            continue
        si, Ri, ai, bi, di, loi, hii = (v[at, None] for v in (s, R, a, b, delta, lo, hi))
        u = loi + (hii - loi) * np.linspace(0.0, 1.0, count)
        log_q = -np.log1p(di * np.exp(-u))
        coins = hyp2f1(1.0, bi, ai + bi, np.exp(k * log_q))
        log_gamma = si * (u + np.log(Ri)) - Ri * np.exp(u) - gammaln(si)
        values = 0.0
        for m, w in enumerate(weights):
            # Gamma(s + m, R)'s log density from Gamma(s, R)'s: + m (u + log R) - log (s)_m.
            values = values + w[at, None] * np.exp(
                log_gamma + m * (u + np.log(Ri)) - (gammaln(si + m) - gammaln(si))
                + (k - m) * log_q)
        values = values * coins
        trapezoid = values.sum(axis=1) - (values[:, 0] + values[:, -1]) / 2
        out[at] = (hii - loi)[:, 0] / (count - 1) * trapezoid
    return out


def future_given_alive(r, alpha, a, b, x, t_x, T, *, k: int, d: int):
    """Each customer's traits given alive at ``T``: Erlang-k gaps with ``lambda ~
    Gamma(r + kx, alpha + T)``, ``m < k`` events since the last purchase drawn from their
    posterior, and a dropout coin after each purchase with ``p ~ Beta(a, b + x + d)``."""
    return FutureGivenAlive(r + k * x, alpha + T, coin_a=a, coin_b=b + x + d, phases=k,
                            phase_age=T - t_x)


def _series(shape, rate, ratio, a, b, t, k: int):
    """:func:`_alive_series` broadcast over arrays."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in
                                   (shape, rate, ratio, a, b, t)))
    flat = [np.ascontiguousarray(v).ravel() for v in arrays]
    return _alive_series(*flat, int(k)).reshape(arrays[0].shape)


# Written with Numba: the number of terms of each series depends on the customer's rate and
# the horizon (an NBD tail to 1e-14), which NumPy cannot vectorize without materializing the
# longest series for everyone.
@numba.njit(cache=True)
def _alive_series(shape, rate, ratio, a, b, t, k):
    """``sum_m w_m sum_{j>=1} E[(1-p)^(j-1)] P(N >= kj - m)`` per element, where ``w_m`` is
    proportional to ``(shape)_m ratio^m / m!`` (``m < k``), ``p ~ Beta(a, b)`` and ``N`` is NBD:
    Poisson(lambda t) with ``lambda ~ Gamma(shape + m, rate)``. Each series stops when its
    remaining terms are below 1e-13 of its sum; NaN if one has not converged after 10 million
    events."""
    out = np.zeros(shape.size)
    for e in range(shape.size):
        if t[e] <= 0:
            continue
        q = t[e] / (rate[e] + t[e])
        weight, total, weights = 1.0, 0.0, 0.0
        for m in range(k):
            if m > 0:
                weight *= (shape[e] + m - 1) * ratio[e] / m
                if weight == 0.0:
                    break
            total += weight * _nbd_tail_series(shape[e] + m, q, a[e], b[e], k, m)
            weights += weight
        out[e] = total / weights
    return out


@numba.njit(cache=True)
def _nbd_tail_series(s, q, a, b, k, m):
    """``sum_{j>=1} E[(1-p)^(j-1)] P(N >= kj - m)``, N ~ NBD(s, 1 - q), p ~ Beta(a, b)."""
    # P(N = n) by its recurrence in linear space (a log and an exp per term cost ten times
    # as much), scaled by 2^-600 steps when P(N = 0) would underflow.
    log_pmf0 = s * np.log1p(-q)
    scale = 0.0
    while log_pmf0 + scale < -600.0:
        scale += 600.0
    pmf = np.exp(log_pmf0 + scale)
    unscale = np.exp(-scale)
    cdf, n, coin, series, j = 0.0, 0, 1.0, 0.0, 1
    while True:
        while n < k * j - m:  # the cdf up to kj - m - 1
            cdf += pmf * unscale
            n += 1
            pmf *= (s + n - 1) / n * q
            if pmf > 1e290:  # back to the true scale
                pmf *= unscale
                unscale = 1.0
        tail = max(1.0 - cdf, 0.0)
        series += coin * tail
        # The rest is below coin * tail / (1 - q) (the tail falls at least geometrically, past
        # the mean), and 1 - cdf is exact to 1e-15 at best.
        if tail < 1e-15 or coin * tail < 1e-13 * (1.0 - q) * series:
            break
        if n > 10_000_000:
            return np.nan
        coin *= (b + j - 1) / (a + b + j - 1)
        j += 1
    return series


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================


def purchase_times(r, alpha, a, b, T, *, k: int, d: int, rng=None):
    """Simulate (M)BG/CNBD-k repeat purchases for customers of ages ``T`` (BTYDplus
    ``xbgcnbd.GenerateData``): ``lambda ~ Gamma(r, alpha)``, ``p ~ Beta(a, b)``, Erlang-k gaps
    of rate ``lambda``, a dropout coin after each repeat purchase (MBG: and before the first).
    Parameters may be per-customer arrays.

    Returns
    -------
    customer, time, gap : ndarray
        The index (into ``T``) of the customer making each repeat purchase, when it happened
        (from the first purchase) and the gap since the purchase before.
    """
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    lam = rng.gamma(r, 1.0 / np.asarray(alpha, dtype=float), size=T.size)
    p = rng.beta(a, b, size=T.size)
    active = np.flatnonzero(T >= 0)
    if d:
        active = active[rng.random(active.size) >= p[active]]
    clock = np.zeros(T.size)
    customers, times, gaps = [], [], []
    while active.size:
        gap = rng.gamma(k, 1.0, size=active.size) / lam[active]
        clock[active] += gap
        kept = clock[active] <= T[active]
        active, gap = active[kept], gap[kept]
        customers.append(active)
        times.append(clock[active].copy())
        gaps.append(gap)
        active = active[rng.random(active.size) >= p[active]]
    return np.concatenate(customers), np.concatenate(times), np.concatenate(gaps)


def rvs(r, alpha, a, b, T, *, k: int, d: int, rng=None):
    """Simulate (M)BG/CNBD-k summaries ``(x, t_x, T, litt)`` for customers of ages ``T``."""
    T = np.asarray(T, dtype=float)
    customer, time, gap = purchase_times(r, alpha, a, b, T, k=k, d=d, rng=rng)
    x = np.bincount(customer, minlength=T.size)
    t_x = np.zeros(T.size)
    np.maximum.at(t_x, customer, time)
    litt = np.bincount(customer, weights=np.log(gap), minlength=T.size)
    return {"x": x, "t_x": t_x, "T": T, "litt": litt}


# ============================================================================================
# The model
# ============================================================================================


def check_regular_summary(customers: pd.DataFrame, source: str, title: str) -> pd.DataFrame:
    """The summary's checks, and a finite ``litt`` that is 0 without a repeat purchase (the
    regularity models': (M)BG/CNBD-k and Pareto/GGG)."""
    customers = check_summary(customers, source)
    if "litt" not in customers.columns:
        raise CLVDataError(
            f"{source}: {title} reads the column litt (the sum of the logs of each "
            "customer's inter-purchase times), which this summary lacks; make it with "
            "clvlib.summarize(..., regularity=True)")
    litt = pd.to_numeric(customers["litt"], errors="coerce")
    bad = ~np.isfinite(litt) | ((customers["x"] == 0) & (litt != 0))
    if bad.any():
        raise CLVDataError(
            f"{source}: column litt must be finite, and 0 where x = 0; it is not for "
            f"{int(bad.sum())} customer(s), e.g. {list(customers.index[bad][:3])}")
    return customers


class CNBDModel(PurchaseModel):
    """(M)BG/CNBD-k: BG/NBD (MBG/NBD) with Erlang-k gaps between purchases; a class per ``k``
    and dropout variant, from :func:`model_class` (``"bg_cnbd_3"``, ``"mbg_cnbd_2"``).

    Default priors are BG/NBD's. Covariates link as BG/NBD's: ``alpha_i = alpha
    exp(-x_i'g_purchase)`` and ``a_i = a exp(x_i'g_dropout)``.
    """

    k: int = 2
    dropout_at_zero: bool = False
    columns = ("x", "t_x", "T", "litt")
    alive_columns = ("x", "t_x", "T")
    params = BetaGeoModel.params
    default_priors = BetaGeoModel.default_priors
    covariate_links = BetaGeoModel.covariate_links

    def check_data(self, customers: pd.DataFrame, source: str) -> pd.DataFrame:
        return check_regular_summary(customers, source, self.title)


@functools.cache
def model_class(k: int, dropout_at_zero: bool = False) -> type[CNBDModel]:
    """The (M)BG/CNBD-k model class for ``k`` events per purchase (``k = 1``: BG/NBD's
    likelihood; MBG/NBD's with ``dropout_at_zero``)."""
    if int(k) != k or k < 1:
        raise ValueError(f"k = {k!r}: the events per purchase are a whole number, 1 or more")
    k, d = int(k), int(bool(dropout_at_zero))
    variant = "MBG" if d else "BG"
    fixed = {"k": k, "d": d}
    story = (f"{variant}/CNBD-{k} (Platzer & Reutterer 2016): while active, customer i's gaps "
             f"between purchases are Erlang-{k} with rate lambda_i ~ Gamma(r, alpha) (every "
             f"{k}-th event of a Poisson process, so the mean gap is {k}/lambda_i); after each "
             "repeat purchase" + (" (and right after the first)" if d else "")
             + " they leave for good with their own probability p_i ~ Beta(a, b).")
    return type(f"{variant}CNBD{k}Model", (CNBDModel,), {
        "__doc__": f"{variant}/CNBD-{k}: " + CNBDModel.__doc__.split(": ", 1)[1],
        "__module__": __name__,
        "name": f"{variant.lower()}_cnbd_{k}",
        "title": f"{variant}/CNBD-{k}",
        "story": story,
        "k": k,
        "dropout_at_zero": bool(d),
        "likelihood": Likelihood(pointwise=functools.partial(logp, **fixed)),
        # A purchase every k-th event: the purchase rate is lambda / k ~ Gamma(r, k alpha).
        "purchase_mixing": Mixing("gamma", "r", "alpha", events_per_purchase=k),
        "expectations": PurchaseExpectations.of_module(globals(), **fixed),
    })


NAME = re.compile(r"^(m?bg)_cnbd_(\d+)$")


def class_named(name: str) -> type[CNBDModel] | None:
    """The class of a name such as ``"bg_cnbd_3"`` or ``"mbg_cnbd_2"``; None for other names."""
    match = NAME.match(name)
    if match is None or int(match[2]) < 1:
        return None
    return model_class(int(match[2]), dropout_at_zero=match[1] == "mbg")


def choose_k(data, ks=range(1, 9), *, dropout_at_zero: bool = False, priors: dict | None = None,
             **fit_options) -> pd.DataFrame:
    """Fit (M)BG/CNBD-k by MAP for each ``k`` and compare their log-likelihoods (BTYDplus's
    grid search; comparable across ``k`` because the likelihood reads ``litt``).

    Parameters
    ----------
    data : CustomerSummary or DataFrame
        With the column ``litt`` (``clvlib.summarize(..., regularity=True)``).
    ks : iterable of int
        The values of ``k`` to try.
    dropout_at_zero : bool
        MBG/CNBD-k instead of BG/CNBD-k.
    priors : dict, optional
        As for the model (flat priors make MAP the maximum-likelihood estimate).
    **fit_options
        Passed to :meth:`CLVModel.fit` (``progressbar=False`` is the default here).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``k``: the MAP estimates, the log-likelihood at them and ``best`` (True for
        the largest log-likelihood).
    """
    rows = []
    for k in ks:
        model = model_class(k, dropout_at_zero)(data, priors=priors)
        model.fit("map", **{"progressbar": False, **fit_options})
        rows.append({"k": k, **model.point_estimate(), "log_likelihood": model.log_likelihood()})
    table = pd.DataFrame(rows).set_index("k")
    table["best"] = table["log_likelihood"] == table["log_likelihood"].max()
    return table
