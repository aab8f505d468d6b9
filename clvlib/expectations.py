"""Closed-form predictions of each model, in NumPy, for given parameter values.

Every function broadcasts: pass parameter draws with shape ``(S, 1)`` and customer data with
shape ``(C,)`` to get an ``(S, C)`` array, one prediction per draw and customer. The
posterior machinery in :mod:`clvlib.predict` does exactly that, in chunks of customers.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc, betaln, expit, gammaln, hyp2f1

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

    Uses Pfaff's transformation, (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t)) =
    2F1(r, a-1; a+b-1; -t/alpha), which avoids overflow for long horizons.
    """
    return (a + b - 1) / (a - 1) * (1 - hyp2f1(r, a - 1, a + b - 1, -t / alpha))


def bg_nbd_expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` (FHL 2005, eq. 10).

    Written with Pfaff's transformation as in :func:`bg_nbd_expected_purchases_new`.
    """
    head = (a + b + x - 1) / (a - 1) * (1 - hyp2f1(r + x, a - 1, a + b + x - 1, -t / (alpha + T)))
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
