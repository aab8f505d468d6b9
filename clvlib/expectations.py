"""Closed-form predictions of each model, in NumPy, for given parameter values.

Every function broadcasts: pass parameter draws with shape ``(S, 1)`` and customer data with
shape ``(C,)`` to get an ``(S, C)`` array, one prediction per draw and customer. The
posterior machinery in :mod:`clvlib.predict` does exactly that, in chunks of customers.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import betainc, expit, exprel, gammaln, polygamma

from clvlib.likelihoods import PNBD_NODES, PNBD_WEIGHTS, pareto_nbd_substitution
from clvlib.special import beta_mean_of_purchase_curve, hyp2f1_one, log_rising

# --------------------------------------------------------------------------------------------
# A prediction that is not a number is an error, never a "nan" in a report or a 0 in a sum
# --------------------------------------------------------------------------------------------


def require_finite(values, what: str, params: dict | None = None):
    """Return ``values`` if every one is finite; else raise, naming the quantity and parameters.

    The closed forms here are finite over the whole parameter space a sampler or optimizer can
    reach (tests/test_finite.py); a non-finite value means bad input (a negative age, a NaN in
    the data) or a bug, and must stop a report rather than print ``nan`` or sum to 0.

    Parameters
    ----------
    values : array_like
        The predictions.
    what : str
        What they are, for the message (``"expected purchases in the next 52 weeks"``).
    params : dict, optional
        Parameter draws (name -> array broadcasting against ``values``); the message shows
        those of the first non-finite value.

    Raises
    ------
    FloatingPointError
        With the count of non-finite values, the first one's position and its parameters.

    Examples
    --------
    >>> require_finite(np.array([1.0, np.nan]), "P(alive)", {"r": np.array([0.2, 0.3])})
    Traceback (most recent call last):
    ...
    FloatingPointError: P(alive): 1 of 2 value(s) are not finite (the first, nan, at index (1,), with r=0.3); refusing to report or sum them
    """  # noqa: E501
    values = np.asarray(values)
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    shown = ""
    if params:
        parts = []
        for name, value in params.items():
            value = np.broadcast_to(np.asarray(value, dtype=float), values.shape)
            parts.append(f"{name}={value[first]:.6g}")
        shown = ", with " + ", ".join(parts)
    raise FloatingPointError(
        f"{what}: {int(bad.sum()):,} of {values.size:,} value(s) are not finite (the first, "
        f"{values[first]}, at index {first}{shown}); refusing to report or sum them"
    )


# --------------------------------------------------------------------------------------------
# BG/NBD (Fader, Hardie & Lee 2005)
# --------------------------------------------------------------------------------------------


def _bg_nbd_log_dropout_odds(r, alpha, a, b, x, t_x, T):
    """log of a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x): dropped out vs alive, given the data."""
    x_safe = np.maximum(x, 1)
    return (
        np.log(a) - np.log(b + x_safe - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )


def bg_nbd_p_alive(r, alpha, a, b, x, t_x, T):
    """P(alive at T | x, t_x, T): FHL 2005 / Fader, Hardie & Lee (2008 note), eq. (1)."""
    odds = _bg_nbd_log_dropout_odds(r, alpha, a, b, x, t_x, T)
    return np.where(np.asarray(x) > 0, expit(-odds), 1.0)


def bg_nbd_expected_purchases_new(r, alpha, a, b, t):
    """E[X(t)]: expected repeat purchases by a new customer in ``t`` (FHL 2005, eq. 7).

    ``E[(1 - (alpha/(alpha + p t))^r) / p]`` over ``p ~ Beta(a, b)``, the closed form
    ``(a+b-1)/(a-1) [1 - 2F1(r, a-1; a+b-1; -t/alpha)]`` (Pfaff's transformation of eq. 7),
    evaluated where it stays finite by :func:`clvlib.special.beta_mean_of_purchase_curve`.
    """
    t = np.asarray(t, dtype=float)
    return beta_mean_of_purchase_curve(r, t / alpha, a, b)


def bg_nbd_expected_purchases_alive(r, alpha, a, b, x, T, t):
    """E[Y(t) | alive at T, x, T]: expected repeat purchases in the next ``t`` of a customer
    known to be alive. It depends on ``x`` and ``T`` only, not on ``t_x``.

    Given alive, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x); E[(1 - e^(-lambda p t))/p]
    is (a+b+x-1)/(a-1) [1 - 2F1(r+x, a-1; a+b+x-1; -t/(alpha+T))] (FHL 2005, eq. 10), see
    :func:`clvlib.special.beta_mean_of_purchase_curve`.
    """
    x, T, t = (np.asarray(v, dtype=float) for v in (x, T, t))
    return beta_mean_of_purchase_curve(r + x, t / (alpha + T), a, b + x)


def bg_nbd_expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` (FHL 2005, eq. 10)."""
    return (bg_nbd_expected_purchases_alive(r, alpha, a, b, x, T, t)
            * bg_nbd_p_alive(r, alpha, a, b, x, t_x, T))


def bg_nbd_prob_purchases(r, alpha, a, b, t, n):
    """P(X(t) = n): probability a new customer makes ``n`` repeat purchases in ``t`` (FHL eq. 8)."""
    n = np.asarray(n, dtype=float)
    log_t = np.log(t) - np.log(alpha + t)
    log_alpha = np.log(alpha) - np.log(alpha + t)
    # Ratios of beta and gamma functions as rising factorials: differences of log-betas lose
    # every digit for large shapes.
    alive = np.exp(
        _log_beta_ratio(a, b, n) + log_rising(r, n) - gammaln(n + 1)
        + r * log_alpha + np.where(n > 0, n * log_t, 0.0)
    )
    # 1 - sum_{j<n} NegBin(j; r, alpha/(alpha+t)) is the regularized incomplete beta below.
    n_safe = np.maximum(n, 1)
    # B(a+1, b+n-1)/B(a, b) = a (b)_{n-1} / (a+b)_n
    dropped = np.exp(np.log(a) + log_rising(b, n_safe - 1) - log_rising(a + b, n_safe)) * betainc(
        n_safe, r, t / (alpha + t)
    )
    return alive + np.where(n > 0, dropped, 0.0)


# --------------------------------------------------------------------------------------------
# MBG/NBD (Batislam, Denizel & Filiztekin 2007): as BG/NBD, but a customer may also drop out
# right after the first purchase, so customers without repeat purchases are not sure to be alive.
# Expected purchases follow from the BG/NBD argument with p ~ Beta(a, b + x + 1) given survival.
# --------------------------------------------------------------------------------------------


def mbg_nbd_p_alive(r, alpha, a, b, x, t_x, T):
    """P(alive at T | x, t_x, T) under MBG/NBD."""
    odds = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return expit(-odds)


def mbg_nbd_expected_purchases_new(r, alpha, a, b, t):
    """E[X(t)] for a new MBG/NBD customer: b/(a-1) [1 - 2F1(r, a-1; a+b; -t/alpha)].

    The customer survives the first coin with probability 1 - p, so this is ``b/(a+b)`` times
    the BG/NBD curve with ``p ~ Beta(a, b+1)``.
    """
    t = np.asarray(t, dtype=float)
    return b / (a + b) * beta_mean_of_purchase_curve(r, t / alpha, a, b + 1)


def mbg_nbd_expected_purchases_alive(r, alpha, a, b, x, T, t):
    """E[Y(t) | alive at T, x, T] under MBG/NBD: as BG/NBD with p ~ Beta(a, b+x+1)."""
    x, T, t = (np.asarray(v, dtype=float) for v in (x, T, t))
    return beta_mean_of_purchase_curve(r + x, t / (alpha + T), a, b + x + 1)


def mbg_nbd_expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """E[Y(t) | x, t_x, T] under MBG/NBD (Pfaff form, as for BG/NBD)."""
    return (mbg_nbd_expected_purchases_alive(r, alpha, a, b, x, T, t)
            * mbg_nbd_p_alive(r, alpha, a, b, x, t_x, T))


def mbg_nbd_prob_purchases(r, alpha, a, b, t, n):
    """P(X(t) = n) for a new MBG/NBD customer.

    Alive at ``t`` after ``n`` purchases (``n + 1`` survived coin flips), or dropped out at the
    ``n``-th purchase, which happened by ``t`` (certain for ``n = 0``).
    """
    n = np.asarray(n, dtype=float)
    log_t = np.log(t) - np.log(alpha + t)
    log_alpha = np.log(alpha) - np.log(alpha + t)
    alive = np.exp(
        _log_beta_ratio(a, b, n + 1) + log_rising(r, n) - gammaln(n + 1)
        + r * log_alpha + np.where(n > 0, n * log_t, 0.0)
    )
    reached = np.where(n > 0, betainc(np.maximum(n, 1), r, t / (alpha + t)), 1.0)
    # B(a+1, b+n)/B(a, b) = a (b)_n / (a+b)_{n+1}
    dropped = np.log(a) + log_rising(b, n) - log_rising(a + b, n + 1)
    return alive + np.exp(dropped) * reached


# --------------------------------------------------------------------------------------------
# Pareto/NBD (Fader, Hardie & Lee 2005 note; Schmittlein, Morrison & Colombo 1987)
# --------------------------------------------------------------------------------------------


def _gamma_ratio_term(s, z):
    """(1 - z^(s-1)) / (s - 1) for 0 < z <= 1, stable at s = 1 (where it is -log z)."""
    log_z = np.log(z)
    near_one = np.abs(s - 1) < 1e-8
    safe = np.where(near_one, 2.0, s)
    return np.where(near_one, -log_z, -np.expm1((safe - 1) * log_z) / (safe - 1))


def pareto_nbd_log_terms(r, alpha, s, beta, x, t_x, T):
    """NumPy: log of the 'alive throughout' and 'dropped out' terms of the likelihood bracket.

    Their log-sum-exp plus the ``x`` part is the log-likelihood; P(alive) is the first term's
    share. Nodes are summed one at a time, so memory stays at the size of the broadcast inputs.
    """
    alive_throughout = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    k, e, c, u_low, log_scale = pareto_nbd_substitution(np, r, alpha, s, beta, x, t_x, T)
    total = np.full(np.broadcast(k, u_low).shape, -np.inf)
    for node, weight in zip(PNBD_NODES, PNBD_WEIGHTS, strict=True):
        u = u_low * (1 - node) / 2
        total = np.logaddexp(total, k * u - e * np.log1p(c * np.exp(u)) + np.log(weight))
    return alive_throughout, np.log(s) + log_scale + total


def pareto_nbd_p_alive(r, alpha, s, beta, x, t_x, T):
    """P(alive at T | x, t_x, T) under Pareto/NBD: the likelihood's 'alive' share."""
    alive, dropped = pareto_nbd_log_terms(r, alpha, s, beta, x, t_x, T)
    return np.exp(alive - np.logaddexp(alive, dropped))


def pareto_nbd_expected_purchases_new(r, alpha, s, beta, t):
    """E[X(t)] for a new customer: r beta / alpha * (1 - (beta/(beta+t))^(s-1)) / (s-1)."""
    return r * beta / alpha * _gamma_ratio_term(s, beta / (beta + t))


def pareto_nbd_expected_purchases_alive(r, alpha, s, beta, x, T, t):
    """E[Y(t) | alive at T, x, T] under Pareto/NBD: lambda ~ Gamma(r+x, alpha+T) and
    mu ~ Gamma(s, beta+T) given alive, so (r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/
    (beta+T+t))^(s-1)] (FHL 2005 note, eq. 21)."""
    return (r + x) * (beta + T) / (alpha + T) * _gamma_ratio_term(s, (beta + T) / (beta + T + t))


def pareto_nbd_expected_purchases(r, alpha, s, beta, x, t_x, T, t):
    """E[Y(t) | x, t_x, T] under Pareto/NBD (FHL 2005 note, eq. 21)."""
    return (pareto_nbd_expected_purchases_alive(r, alpha, s, beta, x, T, t)
            * pareto_nbd_p_alive(r, alpha, s, beta, x, t_x, T))


_PNBD_TIME_NODES, _PNBD_TIME_WEIGHTS = np.polynomial.legendre.leggauss(40)


def pareto_nbd_prob_purchases(r, alpha, s, beta, t, n):
    """P(X(t) = n) for a new customer under Pareto/NBD.

    ``NB(n; r, alpha/(alpha+t)) (beta/(beta+t))^s`` (alive throughout) plus the integral over
    the dropout time ``tau`` in ``(0, t)`` of ``s beta^s (beta+tau)^-(s+1) NB(n; r,
    alpha/(alpha+tau))``, by 40-node Gauss-Legendre quadrature: the integrand is smooth and
    this avoids the hypergeometric closed form's overflow.
    """
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)

    def log_nb(tau):
        return (log_rising(r, n) - gammaln(n + 1) + r * (np.log(alpha)
                - np.log(alpha + tau)) + np.where(n > 0, n * (np.log(tau) - np.log(alpha + tau)),
                                                   0.0))

    total = np.exp(log_nb(t) + s * (np.log(beta) - np.log(beta + t)))
    for node, weight in zip(_PNBD_TIME_NODES, _PNBD_TIME_WEIGHTS, strict=True):
        tau = t * (1 + node) / 2
        total = total + weight * t / 2 * np.exp(
            np.log(s) + s * np.log(beta) - (s + 1) * np.log(beta + tau) + log_nb(tau)
        )
    return total


# --------------------------------------------------------------------------------------------
# Gamma-Gamma (Fader & Hardie 2013)
# --------------------------------------------------------------------------------------------


def gamma_gamma_expected_spend(p, q, gamma, x, m):
    """E[M | x, m]: a customer's expected spend per transaction (FH 2013, eq. 5).

    ``p (gamma + x m) / (p x + q - 1)``. For ``x = 0`` (no repeat purchase to learn from) this
    is the population mean ``p gamma / (q - 1)``, which exists only for ``q > 1``: the mean of
    ``1/nu`` with ``nu ~ Gamma(q, gamma)`` is infinite for ``q <= 1``, and the formula would
    give a negative or infinite spend. Wherever ``p x + q - 1 <= 0`` (so for every customer
    without repeat purchases once ``q <= 1``) this raises rather than return such a value.

    Raises
    ------
    ValueError
        Naming the parameters and the customers' ``x`` where the expected spend is infinite.
    """
    x = np.asarray(x, dtype=float)
    m = np.nan_to_num(np.asarray(m, dtype=float))
    denominator = p * x + q - 1
    undefined = ~(denominator > 0)
    if np.any(undefined):
        p_, q_, x_ = (np.broadcast_to(np.asarray(v, dtype=float), undefined.shape)[undefined]
                      for v in (p, q, x))
        raise ValueError(
            f"Gamma-Gamma expected spend is infinite for {int(undefined.sum()):,} "
            f"(draw, customer) pair(s): it needs p x + q > 1, and the first has p={p_[0]:.4g}, "
            f"q={q_[0]:.4g}, x={x_[0]:g}. With q <= 1 the spread of spend across customers is "
            "so wide that a customer without repeat purchases has no finite expected spend; "
            "the model's default prior keeps q above 1 (GammaGammaModel)"
        )
    return p * (gamma + x * m) / denominator


# --------------------------------------------------------------------------------------------
# BG/BB (Fader, Hardie & Shang 2010, "Customer-base analysis in a discrete-time noncontractual
# setting", Marketing Science 29(6)). Time is counted in transaction opportunities: a customer
# has x transactions in n opportunities, the last at t_x. "Alive at opportunity t" means the
# customer has not dropped out at the start of any of the first t opportunities. Ratios of
# beta functions are written as rising factorials (clvlib.special.log_rising), which stay
# accurate for large shape parameters where differences of log-beta functions do not.
# --------------------------------------------------------------------------------------------


def _bg_bb_alive_term(alpha, beta, gamma, delta, x, n):
    """NumPy: log of the 'alive throughout' term, without the x part."""
    return (log_rising(beta, n - x) - log_rising(alpha + beta, n)
            + log_rising(delta, n) - log_rising(gamma + delta, n))


def _bg_bb_dropout_term(alpha, beta, gamma, delta, x, t_x, i):
    """NumPy: log of the term for dropping out at the start of opportunity t_x + i + 1."""
    m = t_x + i
    return (log_rising(beta, m - x) - log_rising(alpha + beta, m)
            + log_rising(delta, m) - log_rising(gamma + delta, m)
            + np.log(gamma) - np.log(gamma + delta + m))


def bg_bb_log_terms(alpha, beta, gamma, delta, x, t_x, n):
    """NumPy: log of the 'alive throughout' and 'dropped out' parts of the BG/BB likelihood.

    Their log-sum-exp is the log-likelihood; P(alive) and the conditional expectations use the
    first part's share. Broadcasts like :mod:`clvlib.expectations`; the terms of the sum over
    the dropout opportunity are added one at a time, so memory stays at the size of the
    broadcast inputs.
    """
    x, t_x, n = (np.asarray(v, dtype=float) for v in (x, t_x, n))
    head = log_rising(alpha, x)
    alive = head + _bg_bb_alive_term(alpha, beta, gamma, delta, x, n)
    gap = n - t_x
    dropped = np.full(np.broadcast(alive, gap).shape, -np.inf)
    for i in range(int(np.max(gap, initial=0))):
        # where masked, t_x + i may pass n; only x <= t_x + i is needed for a finite value
        term = _bg_bb_dropout_term(alpha, beta, gamma, delta, x, t_x, float(i))
        dropped = np.logaddexp(dropped, np.where(i < gap, head + term, -np.inf))
    return alive, dropped


def _log_beta_ratio(a, b, m):
    """log[B(a, b+m)/B(a, b)] = log[(b)_m / (a+b)_m]."""
    return log_rising(b, m) - log_rising(a + b, m)


# Below this |gamma - 1| the alive sum uses a series in gamma - 1 (see _bg_bb_alive_sum).
_BG_BB_SERIES_BELOW = 1e-2


def _bg_bb_alive_sum(gamma, delta, n, n_star):
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

    small = np.abs(eps) < _BG_BB_SERIES_BELOW
    series = sum(eps ** (k - 1) / math.factorial(k) * (polygamma(k - 1, near) - polygamma(
        k - 1, far)) for k in range(1, 5))
    direct = h(delta + n, n_star) / np.where(small, 1.0, eps)
    slope = np.where(small, series, direct)
    return -delta * np.exp(h(delta, n)) * exprel(slope * eps) * slope


def _bg_bb_log_purchase_share(alpha, beta, gamma, delta, x, t_x, n):
    """log of B(alpha+x+1, beta+n-x)/B(alpha,beta) / L: alive and buying, per unit of alive mass.

    Multiplied by the expected opportunities alive after n (as a ratio of beta functions) this
    gives expected transactions: given the history and being alive at n, the next transaction
    probability is E[p | x, n] = (alpha+x)/(alpha+beta+n).
    """
    alive, dropped = bg_bb_log_terms(alpha, beta, gamma, delta, x, t_x, n)
    purchase = log_rising(alpha, x + 1) + log_rising(beta, n - x) - log_rising(alpha + beta, n + 1)
    return purchase - np.logaddexp(alive, dropped)


def bg_bb_p_alive(alpha, beta, gamma, delta, x, t_x, n):
    """P(alive at opportunity n+1 | x, t_x, n) under BG/BB (FHS 2010).

    ``B(alpha+x, beta+n-x)/B(alpha,beta) B(gamma, delta+n+1)/B(gamma,delta) / L``: the share of
    the likelihood from customers alive throughout, times the chance of surviving the next
    dropout coin, ``(delta+n)/(gamma+delta+n)``.

    Examples
    --------
    >>> round(float(bg_bb_p_alive(1.204, 0.750, 0.657, 2.783, x=2, t_x=4, n=6)), 2)
    0.59
    """
    alive, dropped = bg_bb_log_terms(alpha, beta, gamma, delta, x, t_x, n)
    n = np.asarray(n, dtype=float)
    survive_next = np.log(delta + n) - np.log(gamma + delta + n)
    return np.exp(alive - np.logaddexp(alive, dropped) + survive_next)


def bg_bb_expected_purchases(alpha, beta, gamma, delta, x, t_x, n, n_star):
    """E[X(n, n+n*) | x, t_x, n]: expected transactions in the next ``n_star`` opportunities.

    FHS 2010, eq. (13).

    Examples
    --------
    >>> round(float(bg_bb_expected_purchases(1.204, 0.750, 0.657, 2.783, 6, 6, 6, n_star=5)), 3)
    3.752
    """
    n = np.asarray(n, dtype=float)
    share = _bg_bb_log_purchase_share(alpha, beta, gamma, delta, x, t_x, n)
    return np.exp(share) * _bg_bb_alive_sum(gamma, delta, n, n_star)


def bg_bb_expected_purchases_new(alpha, beta, gamma, delta, n):
    """E[X(n)]: expected transactions of a new customer in ``n`` opportunities (FHS 2010).

    ``alpha/(alpha+beta) delta/(gamma-1) [1 - Gamma(gamma+delta)/Gamma(gamma+delta+n)
    Gamma(1+delta+n)/Gamma(1+delta)]``, evaluated as ``E[p]`` times the expected opportunities
    alive (see :func:`_bg_bb_alive_sum`).
    """
    return alpha / (alpha + beta) * _bg_bb_alive_sum(gamma, delta, 0.0, np.asarray(n, float))


def bg_bb_prob_purchases(alpha, beta, gamma, delta, n, x):
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

    total = np.exp(log_choose(n, x_ok) + log_p_part(n) + _log_beta_ratio(gamma, delta, n))
    for i in range(int(np.max(n, initial=0))):
        i_ok = np.maximum(float(i), x_ok)  # keeps i - x non-negative where masked
        # log[B(gamma+1, delta+i)/B(gamma, delta)]
        dropout = np.log(gamma) - np.log(gamma + delta + i) + _log_beta_ratio(gamma, delta, i)
        term = np.exp(log_choose(i_ok, x_ok) + log_p_part(i_ok) + dropout)
        total = total + np.where((i >= x) & (i < n), term, 0.0)
    return np.where(x <= n, total, 0.0)


def bg_bb_dert(alpha, beta, gamma, delta, x, t_x, n, d):
    """Discounted expected residual transactions at discount rate ``d`` per opportunity.

    FHS 2010, eq. (14): ``B(alpha+x+1, beta+n-x)/B(alpha,beta) B(gamma, delta+n+1) /
    (B(gamma,delta) (1+d)) 2F1(1, delta+n+1; gamma+delta+n+1; 1/(1+d)) / L``, the sum over
    future opportunities ``t = n+1, n+2, ...`` of expected transactions discounted by
    ``(1+d)^-(t-n)``.

    Examples
    --------
    >>> round(float(bg_bb_dert(1.204, 0.750, 0.657, 2.783, 6, 6, 6, d=0.1)), 2)
    5.91
    """
    n = np.asarray(n, dtype=float)
    share = _bg_bb_log_purchase_share(alpha, beta, gamma, delta, x, t_x, n)
    head = _log_beta_ratio(gamma, delta, n + 1) - np.log1p(d)
    return np.exp(share + head) * hyp2f1_one(delta + n + 1, gamma + delta + n + 1, 1 / (1 + d))


# --------------------------------------------------------------------------------------------
# sBG (Fader & Hardie 2007, "How to project customer retention", Journal of Interactive
# Marketing 21(1); Fader & Hardie 2010, "Customer-base valuation in a contractual setting: the
# perils of ignoring heterogeneity", Marketing Science 29(1)). Periods t = 1, 2, ...; a
# customer churns at the end of period T with P(T = t) = B(alpha+1, beta+t-1)/B(alpha, beta).
# --------------------------------------------------------------------------------------------


def sbg_survival(alpha, beta, t):
    """S(t) = P(T > t) = B(alpha, beta+t)/B(alpha, beta): the share still active after ``t``.

    FH 2007, eq. (6).

    Examples
    --------
    >>> round(float(sbg_survival(0.704, 1.182, 7)), 3)  # regular segment, year 7
    0.239
    """
    return np.exp(_log_beta_ratio(alpha, beta, np.asarray(t, dtype=float)))


def sbg_churn_probability(alpha, beta, t):
    """P(T = t) = B(alpha+1, beta+t-1)/B(alpha, beta): churn at the end of period ``t``.

    FH 2007, eq. (5).
    """
    t = np.asarray(t, dtype=float)
    return alpha / (alpha + beta + t - 1) * np.exp(_log_beta_ratio(alpha, beta, t - 1))


def sbg_retention_rate(alpha, beta, t):
    """r_t = S(t)/S(t-1) = (beta+t-1)/(alpha+beta+t-1): renewal rate at the end of period t.

    FH 2007, eq. (8). It rises with ``t``: the customers who churn easily leave first.
    """
    t = np.asarray(t, dtype=float)
    return (beta + t - 1) / (alpha + beta + t - 1)


def sbg_derl(alpha, beta, d, n):
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
    >>> [round(float(sbg_derl(3.80, 15.20, 0.1, n)), 2) for n in (1, 2, 3, 4, 5)]
    [3.31, 3.45, 3.59, 3.72, 3.84]
    """
    n = np.asarray(n, dtype=float)
    return sbg_retention_rate(alpha, beta, n) * hyp2f1_one(beta + n, alpha + beta + n,
                                                           1 / (1 + d))
