"""Closed-form predictions of each model, in NumPy, for given parameter values.

Every function broadcasts: pass parameter draws with shape ``(S, 1)`` and customer data with
shape ``(C,)`` to get an ``(S, C)`` array, one prediction per draw and customer. The
posterior machinery in :mod:`clvlib.predict` does exactly that, in chunks of customers.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc, betaln, expit, gammaln, hyp2f1

from clvlib.likelihoods import pareto_nbd_log_terms

# --------------------------------------------------------------------------------------------
# BG/NBD (Fader, Hardie & Lee 2005)
# --------------------------------------------------------------------------------------------


def _survival_hyp2f1(R, a, c, t, A):
    """2F1(R, a-1; c; -t/A), the hypergeometric term of (M)BG/NBD expected purchases.

    Evaluated after Pfaff's transformation on the second parameter,
    ``(1 + t/A)^(1-a) 2F1(c-R, a-1; c; t/(A+t))``, whose argument lies in [0, 1): direct
    evaluation at ``-t/A < -1`` returns inf or nan in SciPy once ``R`` (= r + x) is large.
    """
    return (1 + t / A) ** (1 - a) * hyp2f1(c - R, a - 1, c, t / (A + t))


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

    Written with Pfaff's transformation, (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t)) =
    2F1(r, a-1; a+b-1; -t/alpha), see :func:`_survival_hyp2f1`.
    """
    return (a + b - 1) / (a - 1) * (1 - _survival_hyp2f1(r, a, a + b - 1, t, alpha))


def bg_nbd_expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` (FHL 2005, eq. 10).

    Written with Pfaff's transformation as in :func:`bg_nbd_expected_purchases_new`.
    """
    head = (a + b + x - 1) / (a - 1) * (1 - _survival_hyp2f1(r + x, a, a + b + x - 1, t, alpha + T))
    return head * bg_nbd_p_alive(r, alpha, a, b, x, t_x, T)


def bg_nbd_prob_purchases(r, alpha, a, b, t, n):
    """P(X(t) = n): probability a new customer makes ``n`` repeat purchases in ``t`` (FHL eq. 8)."""
    n = np.asarray(n, dtype=float)
    log_t = np.log(t) - np.log(alpha + t)
    log_alpha = np.log(alpha) - np.log(alpha + t)
    alive = np.exp(
        betaln(a, b + n) - betaln(a, b) + gammaln(r + n) - gammaln(r) - gammaln(n + 1)
        + r * log_alpha + np.where(n > 0, n * log_t, 0.0)
    )
    # 1 - sum_{j<n} NegBin(j; r, alpha/(alpha+t)) is the regularized incomplete beta below.
    n_safe = np.maximum(n, 1)
    dropped = np.exp(betaln(a + 1, b + n_safe - 1) - betaln(a, b)) * betainc(
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
    """E[X(t)] for a new MBG/NBD customer: b/(a-1) [1 - 2F1(r, a-1; a+b; -t/alpha)]."""
    return b / (a - 1) * (1 - _survival_hyp2f1(r, a, a + b, t, alpha))


def mbg_nbd_expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """E[Y(t) | x, t_x, T] under MBG/NBD (Pfaff form, as for BG/NBD)."""
    head = (a + b + x) / (a - 1) * (1 - _survival_hyp2f1(r + x, a, a + b + x, t, alpha + T))
    return head * mbg_nbd_p_alive(r, alpha, a, b, x, t_x, T)


def mbg_nbd_prob_purchases(r, alpha, a, b, t, n):
    """P(X(t) = n) for a new MBG/NBD customer.

    Alive at ``t`` after ``n`` purchases (``n + 1`` survived coin flips), or dropped out at the
    ``n``-th purchase, which happened by ``t`` (certain for ``n = 0``).
    """
    n = np.asarray(n, dtype=float)
    log_t = np.log(t) - np.log(alpha + t)
    log_alpha = np.log(alpha) - np.log(alpha + t)
    alive = np.exp(
        betaln(a, b + n + 1) - betaln(a, b) + gammaln(r + n) - gammaln(r) - gammaln(n + 1)
        + r * log_alpha + np.where(n > 0, n * log_t, 0.0)
    )
    reached = np.where(n > 0, betainc(np.maximum(n, 1), r, t / (alpha + t)), 1.0)
    return alive + np.exp(betaln(a + 1, b + n) - betaln(a, b)) * reached


# --------------------------------------------------------------------------------------------
# Pareto/NBD (Fader, Hardie & Lee 2005 note; Schmittlein, Morrison & Colombo 1987)
# --------------------------------------------------------------------------------------------


def _gamma_ratio_term(s, z):
    """(1 - z^(s-1)) / (s - 1) for 0 < z <= 1, stable at s = 1 (where it is -log z)."""
    log_z = np.log(z)
    near_one = np.abs(s - 1) < 1e-8
    safe = np.where(near_one, 2.0, s)
    return np.where(near_one, -log_z, -np.expm1((safe - 1) * log_z) / (safe - 1))


def pareto_nbd_p_alive(r, alpha, s, beta, x, t_x, T):
    """P(alive at T | x, t_x, T) under Pareto/NBD: the likelihood's 'alive' share."""
    alive, dropped = pareto_nbd_log_terms(r, alpha, s, beta, x, t_x, T)
    return np.exp(alive - np.logaddexp(alive, dropped))


def pareto_nbd_expected_purchases_new(r, alpha, s, beta, t):
    """E[X(t)] for a new customer: r beta / alpha * (1 - (beta/(beta+t))^(s-1)) / (s-1)."""
    return r * beta / alpha * _gamma_ratio_term(s, beta / (beta + t))


def pareto_nbd_expected_purchases(r, alpha, s, beta, x, t_x, T, t):
    """E[Y(t) | x, t_x, T] under Pareto/NBD (FHL 2005 note, eq. 21)."""
    alive_head = (r + x) * (beta + T) / (alpha + T) * _gamma_ratio_term(
        s, (beta + T) / (beta + T + t)
    )
    return alive_head * pareto_nbd_p_alive(r, alpha, s, beta, x, t_x, T)


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
        return (gammaln(r + n) - gammaln(r) - gammaln(n + 1) + r * (np.log(alpha)
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
# Discounted expected residual transactions, for any purchase model
# --------------------------------------------------------------------------------------------

_LAGUERRE_NODES, _LAGUERRE_WEIGHTS = np.polynomial.laguerre.laggauss(40)


def dert(expected_purchases, delta, **params_and_data):
    """Discounted expected residual transactions at continuous discount rate ``delta``.

    ``DERT = integral_0^inf exp(-delta t) dE[Y(t)] = delta * integral_0^inf exp(-delta t) E[Y(t)]
    dt`` (by parts, E[Y(0)] = 0), by 40-node Gauss-Laguerre quadrature in ``z = delta t``.
    Works with any model's ``expected_purchases(..., t)``; for Pareto/NBD it agrees with the
    closed form of Fader, Hardie & Lee (2005, eq. 2) (tests/test_expectations.py).

    Parameters
    ----------
    expected_purchases : callable
        ``expected_purchases(**params_and_data, t=...)``, broadcasting.
    delta : float
        Continuous discount rate per time unit: ``log(1 + annual rate) / units per year``.
    """
    total = 0.0
    for node, weight in zip(_LAGUERRE_NODES, _LAGUERRE_WEIGHTS, strict=True):
        total = total + weight * expected_purchases(**params_and_data, t=node / delta)
    return total


# --------------------------------------------------------------------------------------------
# Gamma-Gamma (Fader & Hardie 2013)
# --------------------------------------------------------------------------------------------


def gamma_gamma_expected_spend(p, q, gamma, x, m):
    """E[M | x, m]: a customer's expected spend per transaction (FH 2013, eq. 5).

    For ``x = 0`` (no repeat purchase to learn from) this is the population mean
    ``p gamma / (q - 1)``. Requires ``q > 1``.
    """
    x = np.asarray(x, dtype=float)
    m = np.nan_to_num(np.asarray(m, dtype=float))
    return p * (gamma + x * m) / (p * x + q - 1)
