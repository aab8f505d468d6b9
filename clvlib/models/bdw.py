"""BdW: the beta-discrete-Weibull model of contract duration (Fader, Hardie, Liu, Davin &
Steenburgh 2018).

Fader, Hardie, Liu, Davin & Steenburgh (2018), '"How to project customer retention" revisited:
the role of duration dependence', Journal of Interactive Marketing 43. The sBG model (Fader &
Hardie 2007, :mod:`clvlib.models.sbg`) lets each customer churn with their own constant
probability theta; the cohort's retention rate rises only because the customers likeliest to
churn leave first. BdW lets each customer's own churn probability change with tenure too: a
customer still active after ``t`` periods survives with probability ``(1 - theta)^(t^c)``
(discrete Weibull), ``theta ~ Beta(alpha, beta)``. ``c < 1``: a customer's churn probability
falls with tenure (they settle in); ``c > 1``: it rises (they tire); ``c = 1`` is the sBG model,
exactly.

Its sections follow the layout of every model module (:mod:`clvlib.models`); it has no
compiled kernel (it fits through its PyTensor graph), and its class takes the sBG
model's data: cohort survival tables or churn records.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytensor.tensor as pt
from scipy.special import gammaln

from clvlib.models import numerics
from clvlib.models.base import Likelihood
from clvlib.models.sbg import ShiftedBetaGeoModel
from clvlib.priors import Prior

# ============================================================================================
# The likelihood (PyTensor)
# ============================================================================================
# S(t) = P(T > t) = E[(1 - theta)^(t^c)] = B(alpha, beta + t^c) / B(alpha, beta), t = 0, 1, ...
# P(T = t) = S(t - 1) - S(t), t = 1, 2, ...  (churn at the end of period t)
# A row (duration, churned) contributes log P(T = duration) if churned, else log S(duration).
# --------------------------------------------------------------------------------------------


def _power(t, c, lib):
    """t^c, 0 at t = 0 with a finite gradient in c there (exp(c log t) would give 0 * -inf)."""
    if lib is pt:
        return pt.switch(pt.gt(t, 0), pt.exp(c * pt.log(pt.maximum(t, 1))), 0.0)
    return np.where(t > 0, np.exp(c * np.log(np.maximum(t, 1))), 0.0)


def _log_survival(alpha, beta, c, t, lib=pt):
    """log S(t) = log B(alpha, beta + t^c) - log B(alpha, beta)."""
    m = _power(t, c, lib)
    return (lib.gammaln(beta + m) - lib.gammaln(alpha + beta + m)
            + lib.gammaln(alpha + beta) - lib.gammaln(beta))


def logp(alpha, beta, c, duration, churned):
    """BdW log-likelihood of each customer row.

    Parameters
    ----------
    alpha, beta : scalar
        Shape parameters of the beta distribution of the churn parameter ``theta``.
    c : scalar
        The discrete Weibull's duration dependence (1: constant churn probability, sBG).
    duration : array
        Periods completed: the period at whose end the customer churned, or the periods
        survived so far by a customer still active.
    churned : array of bool or 0/1
        Whether the customer churned (else the duration is right-censored).

    Examples
    --------
    >>> round(float(logp(0.704, 1.182, 1.0, [1], [1]).eval()[0]), 4)  # sBG: log alpha/(a+b)
    -0.9854
    """
    alpha, beta, c = numerics.float64(alpha, beta, c)
    _, (duration, churned) = numerics.as_data(duration, churned)
    after = _log_survival(alpha, beta, c, duration)
    before = _log_survival(alpha, beta, c, pt.maximum(duration, 1) - 1)
    # log[S(t-1) - S(t)] = log S(t-1) + log(1 - S(t)/S(t-1)); the ratio is below 1 for t >= 1.
    churn = before + pt.log1mexp(pt.minimum(after - before, -1e-300))
    return pt.switch(pt.gt(churned, 0), churn, after)


# ============================================================================================
# Closed forms (NumPy)
# ============================================================================================


def survival(alpha, beta, c, t):
    """S(t) = B(alpha, beta + t^c) / B(alpha, beta): the share of a cohort active after ``t``.

    Examples
    --------
    >>> round(float(survival(0.704, 1.182, 1.0, 7)), 3)  # c = 1: sBG, regular segment
    0.239
    """
    t = np.asarray(t, dtype=float)
    m = _power(t, c, np)
    return np.exp(gammaln(beta + m) - gammaln(alpha + beta + m) + gammaln(alpha + beta)
                  - gammaln(beta))


def churn_probability(alpha, beta, c, t):
    """P(T = t) = S(t - 1) - S(t): churn at the end of period ``t``."""
    t = np.asarray(t, dtype=float)
    return survival(alpha, beta, c, t - 1) - survival(alpha, beta, c, t)


def retention_rate(alpha, beta, c, t):
    """r_t = S(t) / S(t - 1): the share of those active in period ``t`` who renew at its end."""
    t = np.asarray(t, dtype=float)
    return survival(alpha, beta, c, t) / survival(alpha, beta, c, t - 1)


#: DERL's sum stops where the discount factor falls below this (the survival ratio is <= 1).
DERL_TOLERANCE = 1e-12


def derl(alpha, beta, c, d, n):
    """Discounted expected residual lifetime of a customer in period ``n`` (n-1 renewals made).

    ``sum_{t >= n} S(t) / S(n-1) (1+d)^-(t-n)``, valued just before the ``n``-th renewal
    decision, as :func:`clvlib.models.sbg.derl` (which is its closed form at ``c = 1``). BdW
    has no closed form; the sum stops when ``(1+d)^-(t-n)`` falls below
    :data:`DERL_TOLERANCE`, which bounds the rest of the sum by ``1e-12 (1+d)/d``.

    Parameters
    ----------
    alpha, beta, c : float or array
        BdW parameters (draws broadcast against ``n``).
    d : float
        Discount rate per period (positive).
    n : int or array
        The period the customer is in (1 for a customer who has not yet renewed).
    """
    if not d > 0:
        raise ValueError(f"BdW DERL needs a positive discount rate per period, got d={d}")
    terms = int(np.ceil(np.log(1 / DERL_TOLERANCE) / np.log1p(d))) + 1
    k = np.arange(terms, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha, beta, c, n = (np.asarray(v, dtype=float)[..., None] for v in (alpha, beta, c, n))
    start = survival(alpha, beta, c, n - 1)
    total = 0.0
    for chunk in np.array_split(k, max(1, terms // 64)):  # bounded memory for many draws
        total = total + (survival(alpha, beta, c, n + chunk) * (1 + d) ** -chunk).sum(axis=-1)
    return total / start[..., 0]


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================


def churn_times(alpha, beta, c, size, rng=None):
    """Simulate BdW lifetimes: the period (1, 2, ...) at whose end each customer churns.

    Given theta, P(T > t) = (1 - theta)^(t^c), so ``T`` is the least ``t >= 1`` with
    ``t^c >= log U / log(1 - theta)`` for ``U ~ Uniform(0, 1)``.
    """
    rng = np.random.default_rng(rng)
    theta = rng.beta(alpha, beta, size=size)
    u = rng.uniform(size=size)
    with np.errstate(divide="ignore"):
        level = np.log(u) / np.log1p(-theta)
    # theta so small that 1 - theta rounds to 1 never churns: the largest lifetime an int64
    # holds stands for that (far beyond any horizon).
    return np.clip(np.ceil(level ** (1 / c)), 1, 2.0**62).astype(np.int64)


def rvs(alpha, beta, c, horizon, rng=None):
    """Simulate individual BdW churn records for customers observed for ``horizon`` periods.

    Returns
    -------
    dict of ndarray
        ``duration`` (the churn period, or ``horizon`` for customers still active) and
        ``churned`` (1 if the customer churned by the end of ``horizon``).
    """
    horizon = np.asarray(horizon, dtype=int).reshape(-1)
    lifetime = churn_times(alpha, beta, c, horizon.size, rng)
    churned = lifetime <= horizon
    return {"duration": np.where(churned, lifetime, horizon), "churned": churned.astype(int)}


# ============================================================================================
# The model
# ============================================================================================


class BetaDiscreteWeibullModel(ShiftedBetaGeoModel):
    """BdW model of contract renewals: the sBG model with duration dependence.

    Takes the sBG model's data (:meth:`from_survival_table`, :meth:`from_survival_tables`,
    :meth:`from_records`) and gives the same predictions (survival, retention rates, DERL,
    projection); the parameter ``c`` says whether each customer's churn probability falls
    (``c < 1``) or rises (``c > 1``) with tenure, ``c = 1`` being sBG.

    Default priors: ``LogNormal(0, 1.5)`` on ``alpha`` and ``beta`` (as sBG), ``LogNormal(0, 1)``
    on ``c`` (centred on sBG's constant churn; 95% between 0.14 and 7).

    Examples
    --------
    >>> table = clvlib.load_dataset("sbg_retention")  # doctest: +SKIP
    >>> model = BetaDiscreteWeibullModel.from_survival_table(table, "highend",
    ...                                                      cohort_size=1000, through=7)
    >>> model.fit("map", progressbar=False)  # doctest: +SKIP
    """

    name = "bdw"
    title = "BdW"
    story = ("BdW, beta-discrete-Weibull (Fader, Hardie, Liu, Davin & Steenburgh 2018): each "
             "contract customer survives t periods with probability (1 - theta_i)^(t^c), "
             "theta_i ~ Beta(alpha, beta); c > 1 means a customer's churn probability rises "
             "with tenure, c < 1 that it falls, c = 1 is sBG.")
    params = ("alpha", "beta", "c")
    default_priors = {**ShiftedBetaGeoModel.default_priors,
                      "c": Prior("LogNormal", mu=0, sigma=1)}
    likelihood = Likelihood(pointwise=logp)
    forms = replace(ShiftedBetaGeoModel.forms, survival=survival,
                    churn_probability=churn_probability, retention_rate=retention_rate,
                    derl=derl)
