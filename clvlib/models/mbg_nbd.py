"""MBG/NBD: the modified BG/NBD of Batislam, Denizel & Filiztekin (2007).

As BG/NBD, but the dropout coin is also flipped right after the first purchase, so a customer
who never bought again may be gone.

Its sections follow the layout of every model module (:mod:`clvlib.models`); its compiled
kernel (:mod:`clvlib.models.kernels`) is held equal to this likelihood.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from scipy.special import betainc, expit, gammaln

from clvlib.compression import CompressedRows
from clvlib.futures import FutureGivenAlive
from clvlib.models import bg_nbd, kernels, numerics
from clvlib.models.base import Likelihood, PurchaseExpectations, PurchaseModel
from clvlib.models.bg_nbd import BetaGeoModel
from clvlib.special import beta_mean_of_purchase_curve, log_beta_ratio, log_rising

# ============================================================================================
# The likelihood (PyTensor)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# MBG/NBD: Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models
# for customer base analysis"; the form BTYDplus fits. As BG/NBD, except the dropout coin is
# also flipped right after the first purchase, so a customer with x = 0 may be gone:
#   L = B(a, b+x+1)/B(a,b) * NB-part(T) + B(a+1, b+x)/B(a,b) * NB-part(t_x).
# --------------------------------------------------------------------------------------------


def _x_part(r, alpha, a, b, x):
    return (
        pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha)
        + pt.gammaln(a + b) + pt.gammaln(b + x) - pt.gammaln(b) - pt.gammaln(a + b + x + 1)
    )


def _timing_part(r, a, b, x, log_alpha_t_x, log_alpha_T):
    alive = pt.log(b + x) - (r + x) * log_alpha_T
    dropped_after_last = pt.log(a) - (r + x) * log_alpha_t_x
    return numerics.logaddexp(alive, dropped_after_last)


def logp(r, alpha, a, b, x, t_x, T):
    """MBG/NBD log-likelihood of each customer (parameters as for :func:`bg_nbd.logp`)."""
    r, alpha, a, b = numerics.float64(r, alpha, a, b)
    return _x_part(r, alpha, a, b, x) + _timing_part(
        r, a, b, x, pt.log(alpha + t_x), pt.log(alpha + T)
    )


def loglike(r, alpha, a, b, rows: CompressedRows):
    """Total MBG/NBD log-likelihood of weighted rows with columns ``x``, ``t_x``, ``T``."""
    r, alpha, a, b = numerics.float64(r, alpha, a, b)
    xs, x_weights, _ = rows.distinct("x")
    timing = _timing_part(r, a, b, rows["x"], numerics.log_shifted(alpha, rows, "t_x"),
                          numerics.log_shifted(alpha, rows, "T"))
    return pt.sum(x_weights * _x_part(r, alpha, a, b, xs)) + pt.sum(rows.weights * timing)


# ============================================================================================
# Closed forms (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# MBG/NBD (Batislam, Denizel & Filiztekin 2007): as BG/NBD, but a customer may also drop out
# right after the first purchase, so customers without repeat purchases are not sure to be alive.
# Expected purchases follow from the BG/NBD argument with p ~ Beta(a, b + x + 1) given survival.
# --------------------------------------------------------------------------------------------


def p_alive(r, alpha, a, b, x, t_x, T):
    """P(alive at T | x, t_x, T) under MBG/NBD."""
    odds = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return expit(-odds)


def expected_purchases_new(r, alpha, a, b, t):
    """E[X(t)] for a new MBG/NBD customer: b/(a-1) [1 - 2F1(r, a-1; a+b; -t/alpha)].

    The customer survives the first coin with probability 1 - p, so this is ``b/(a+b)`` times
    the BG/NBD curve with ``p ~ Beta(a, b+1)``.
    """
    t = np.asarray(t, dtype=float)
    return b / (a + b) * beta_mean_of_purchase_curve(r, t / alpha, a, b + 1)


def expected_purchases_alive(r, alpha, a, b, x, T, t):
    """E[Y(t) | alive at T, x, T] under MBG/NBD: as BG/NBD with p ~ Beta(a, b+x+1)."""
    x, T, t = (np.asarray(v, dtype=float) for v in (x, T, t))
    return beta_mean_of_purchase_curve(r + x, t / (alpha + T), a, b + x + 1)


def expected_purchases(r, alpha, a, b, x, t_x, T, t):
    """E[Y(t) | x, t_x, T] under MBG/NBD (Pfaff form, as for BG/NBD)."""
    return (expected_purchases_alive(r, alpha, a, b, x, T, t)
            * p_alive(r, alpha, a, b, x, t_x, T))


def prob_purchases(r, alpha, a, b, t, n):
    """P(X(t) = n) for a new MBG/NBD customer.

    Alive at ``t`` after ``n`` purchases (``n + 1`` survived coin flips), or dropped out at the
    ``n``-th purchase, which happened by ``t`` (certain for ``n = 0``).
    """
    n = np.asarray(n, dtype=float)
    log_t = np.log(t) - np.log(alpha + t)
    log_alpha = np.log(alpha) - np.log(alpha + t)
    alive = np.exp(
        log_beta_ratio(a, b, n + 1) + log_rising(r, n) - gammaln(n + 1)
        + r * log_alpha + np.where(n > 0, n * log_t, 0.0)
    )
    reached = np.where(n > 0, betainc(np.maximum(n, 1), r, t / (alpha + t)), 1.0)
    # B(a+1, b+n)/B(a, b) = a (b)_n / (a+b)_{n+1}
    dropped = np.log(a) + log_rising(b, n) - log_rising(a + b, n + 1)
    return alive + np.exp(dropped) * reached


def future_given_alive(r, alpha, a, b, x, T):
    """Each customer's traits given alive at ``T``: lambda ~ Gamma(r + x, alpha + T), and a
    dropout coin after each purchase with p ~ Beta(a, b + x + 1) (the first purchase's coin
    was survived too)."""
    return FutureGivenAlive(r + x, alpha + T, coin_a=a, coin_b=b + x + 1)


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# MBG/NBD (Batislam, Denizel & Filiztekin 2007)
# --------------------------------------------------------------------------------------------


def rvs(r, alpha, a, b, T, rng=None):
    """Simulate MBG/NBD summaries ``(x, t_x, T)``: BG/NBD with a dropout chance at time 0."""
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    p = rng.beta(a, b, size=T.size)
    gone_at_start = rng.random(T.size) < p
    # Survivors of the first flip buy as BG/NBD customers whose p is already drawn.
    customer, time = bg_nbd._geometric_dropout_times(rng.gamma(r, 1.0 / alpha, size=T.size), p,
                                              np.where(gone_at_start, -1.0, T), rng)
    return bg_nbd._summaries(customer, time, T)


# ============================================================================================
# The model
# ============================================================================================


class ModifiedBetaGeoModel(PurchaseModel):
    """MBG/NBD: BG/NBD where customers may also drop out right after their first purchase.

    This removes BG/NBD's assumption that customers without a repeat purchase are certainly
    alive. Parameters and default priors are those of :class:`BetaGeoModel`.
    """

    name = "mbg_nbd"
    title = "MBG/NBD"
    story = ("MBG/NBD (Batislam, Denizel & Filiztekin 2007): as BG/NBD (lambda_i ~ Gamma(r, "
             "alpha), p_i ~ Beta(a, b)), but a customer may also leave right after the first "
             "purchase, so one who never bought again may be gone.")
    kernel = kernels.MBG_NBD
    params = BetaGeoModel.params
    default_priors = BetaGeoModel.default_priors
    likelihood = Likelihood(pointwise=logp, total=loglike)
    #: The links of :class:`BetaGeoModel` (alpha for purchases, a for dropout).
    covariate_links = BetaGeoModel.covariate_links
    expectations = PurchaseExpectations.of_module(globals())
