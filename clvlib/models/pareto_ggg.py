"""Pareto/GGG: the Pareto/NBD with regular purchases (Platzer & Reutterer 2016; BTYDplus's
``pggg.mcmc.DrawParameters`` is the reference implementation).

Platzer & Reutterer (2016), "Ticking away the moments: timing regularity helps to better
predict customer activity", Marketing Science 35(5). While alive, customer i's gaps between
purchases are Gamma(k_i, k_i lambda_i): their mean is ``1 / lambda_i`` and their coefficient of
variation ``1 / sqrt(k_i)``, so the larger ``k_i``, the more regular the customer. Customers
differ in all three traits: ``lambda_i ~ Gamma(r, alpha)``, ``k_i ~ Gamma(k_shape, k_rate)``
(BTYDplus's ``t`` and ``gamma``) and an exponential lifetime of rate ``mu_i ~ Gamma(s, beta)``.
With every ``k_i = 1`` it is the Pareto/NBD.

The likelihood reads ``litt``, the sum of the logs of the calibration inter-purchase times
(``clvlib.summarize(..., regularity=True)``). BTYDplus samples each customer's ``k``,
``lambda`` and lifetime by MCMC; here they are integrated out, so the model is fitted, compared
(PSIS-LOO) and predicted like the other models:

* ``lambda`` exactly: mixed over a Gamma, the chance that a Gamma(k, k lambda) gap outlasts a
  time is a regularized incomplete beta function (``P(G_k > k lambda D)`` with ``lambda ~
  Gamma(a, b)`` is ``I_{b / (b + kD)}(a, k)``, as ``G_k / (G_k + G_a)`` is Beta(k, a));
* the lifetime by parts, which leaves the density of that beta (no incomplete function) under
  a Gauss-Legendre quadrature in ``log v``, ``v = -a log(1 - z)``, on two panels (the slow
  power tail of a small ``k``, and the peak);
* ``log k`` by Gauss-Hermite quadrature centred where the prior and the customer's own gaps
  put it (the gaps' maximum-likelihood shape, weighted by its information).

This model is written in Python only: one function of the integrals, :func:`log_terms`, serves
the PyTensor likelihood (fits take its automatic gradient) and the NumPy P(alive);
``tests/test_pareto_ggg.py`` holds it equal to adaptive quadrature. No library offers these
integrals differentiably, hence the hand-written quadrature.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from scipy import special

from clvlib.keyed_random import Keys
from clvlib.models import numerics
from clvlib.models.base import (
    Likelihood,
    Mixing,
    PurchaseExpectations,
    PurchaseModel,
)
from clvlib.models.cnbd_k import check_regular_summary
from clvlib.models.pareto_nbd import ParetoNBDModel
from clvlib.predict import Prediction
from clvlib.priors import Prior
from clvlib.simulated_scoring import PATHS

# ============================================================================================
# The likelihood, once for PyTensor and NumPy
# ============================================================================================
# Given k (and lambda, mu integrated out), with a = r + kx, b = alpha + k t_x, S(u) = (beta /
# (beta + u))^s the share of lifetimes longer than u and z(u) = k(u - t_x) / (alpha + ku):
#   L_k = B(k) [ S(t_x) (1 - I_{z(T)}(k, a))
#                + integral_0^{z(T)} Beta(z; k, a) (S(t_x) - S(u(z))) dz ]       (by parts)
#   B(k) = k^{kx} e^{(k-1) litt} / G(k)^x  G(a) / G(r)  alpha^r / b^a  (the gaps, lambda out)
# of which S(T) (1 - I_{z(T)}(k, a)) B(k) is alive at T. In v = -a log(1 - z), u - t_x = b
# expm1(v / a) / k and Beta(z; k, a) dz = z^{k-1} e^{-v} v / (a B(k, a)) d(log v).
# --------------------------------------------------------------------------------------------

#: Gauss-Legendre nodes on each panel in log k, and the panels' edges around the mode, in
#: units of the mode's normal-approximation standard deviation (the last panel reaches 40 /
#: k_shape further down: the prior's tail there is e^{k_shape y}).
K_NODES, K_WEIGHTS = np.polynomial.legendre.leggauss(5)
K_PANELS = (-6.0, -3.0, -1.0, 1.0, 3.0)
K_TOP = 8.0
NEWTON_STEPS = 8
#: Gauss-Legendre nodes on each panel in log v.
V_NODES, V_WEIGHTS = np.polynomial.legendre.leggauss(6)


class BetaInc(Op):
    """The regularized incomplete beta function ``I_x(a, b)`` (SciPy's) with a gradient that
    holds where PyTensor's does not: ``pt.betainc``'s derivative in ``a`` and ``b`` is NaN
    for a parameter below about 0.01 (a k-quadrature node of a bursty customer). The
    derivatives in ``a`` and ``b`` are SciPy's central differences (relative step 1e-6,
    accurate to about 1e-8, far below the quadrature's error); in ``x``, the Beta density.
    Written by hand because no library offers this derivative for every parameter."""

    __props__ = ("which",)

    def __init__(self, which: int | None = None):
        self.which = which  # None: the value; 0 or 1: its derivative in a or b

    def make_node(self, a, b, x):
        inputs = [pt.as_tensor_variable(v).astype("float64") for v in (a, b, x)]
        kind = pt.TensorType("float64", shape=(None,) * max(v.ndim for v in inputs))
        return Apply(self, inputs, [kind()])

    def perform(self, node, inputs, outputs):
        a, b, x = np.broadcast_arrays(*inputs)
        if self.which is None:
            value = special.betainc(a, b, x)
        else:
            params = [a, b]
            step = 1e-6 * np.maximum(params[self.which], 1e-4)
            up, down = list(params), list(params)
            up[self.which], down[self.which] = params[self.which] + step, \
                params[self.which] - step
            value = (special.betainc(*up, x) - special.betainc(*down, x)) / (2 * step)
        outputs[0][0] = np.ascontiguousarray(value, dtype=float)

    def connection_pattern(self, node):
        return [[True], [True], [True]]

    def pullback(self, inputs, outputs, cotangents):
        if self.which is not None:
            raise NotImplementedError("BetaInc: no second derivatives")
        a, b, x = inputs
        (g,) = cotangents
        density = pt.exp((a - 1) * pt.log(x) + (b - 1) * pt.log1p(-x)
                         - (pt.gammaln(a) + pt.gammaln(b) - pt.gammaln(a + b)))
        return [g * BetaInc(0)(a, b, x), g * BetaInc(1)(a, b, x), g * density]


def _special(xp):
    """betainc and gammaln for PyTensor (``xp=pt``) or NumPy (``xp=np``)."""
    if xp is pt:
        return BetaInc(), pt.gammaln
    return special.betainc, special.gammaln


def gap_shape(x, t_x, litt):
    """Where a customer's own gaps put ``log k``: the mean and precision of its normal
    approximation (the maximum-likelihood shape of ``x`` Gamma gaps, Minka's approximation,
    and its Fisher information in ``log k``). Customers with fewer than two gaps tell nothing
    (precision 0); gaps all alike are taken as k about 500. Data only: NumPy arrays, or
    PyTensor variables that stand for them (the per-row likelihood compiled once)."""
    symbolic, (x, t_x, litt) = numerics.as_data(x, t_x, litt)
    xp = pt if symbolic else np
    f = numerics.functions(xp)
    enough = x >= 2
    spread = f.where(enough, xp.log(f.where(enough, t_x, 1.0) / xp.maximum(x, 1.0))
                     - litt / xp.maximum(x, 1.0), 1.0)
    spread = xp.maximum(spread, 1e-3)  # gaps nearly alike: k about 500
    k = (3 - spread + xp.sqrt((spread - 3) ** 2 + 24 * spread)) / (12 * spread)
    trigamma = pt.polygamma(1, k) if symbolic else special.polygamma(1, k)
    information = x * (k * k * trigamma - k)
    return xp.log(k), f.where(enough, information, 0.0)


def _logaddexp(xp, a, b):
    return numerics.logaddexp(a, b) if xp is pt else np.logaddexp(a, b)


def _trigamma(x):
    """The trigamma function roughly (within 10%), for placing quadrature nodes."""
    return 1 / (x + 0.5) + 1 / (x * x)


def given_k(xp, k, r, alpha, s, beta, x, t_x, T, litt):
    """The likelihood's two terms (alive, left), as logs, at regularity ``k`` (lambda and mu
    integrated out); arguments broadcast (NumPy or PyTensor)."""
    betainc, lgamma = _special(xp)
    f = numerics.functions(xp)
    log_k = xp.log(k)
    a = r + k * x
    b = alpha + k * t_x
    gaps = (k * x * log_k + (k - 1) * litt - x * lgamma(k) + lgamma(a) - lgamma(r)
            + r * xp.log(alpha) - a * xp.log(b))
    log_s_tx = s * (xp.log(beta) - xp.log(beta + t_x))
    # P(no purchase in (t_x, T] | alive): 1 - I_{z(T)}(k, a) = I_{1 - z(T)}(a, k). For a
    # customer who bought at T, 1 - z(T) is 1 whatever the parameters, where the Beta density
    # (the derivative in it) is infinite for k < 1: the switch keeps inf x 0 out of the gradient.
    quiet = betainc(a, k, f.where(T > t_x, b / (alpha + k * T), 1.0))
    log_quiet = xp.log(xp.maximum(quiet, 1e-300))
    alive = gaps + log_quiet + s * (xp.log(beta) - xp.log(beta + T))
    # Left between t_x and T, quiet throughout: (S(t_x) - S(T)) (1 - I_{z(T)}).
    span = xp.maximum(T - t_x, 1e-100)
    left_quiet = (gaps + log_quiet + log_s_tx
                  + xp.log(-f.expm1(-s * f.log1p(span / (beta + t_x)))))
    # Left after a purchase in (t_x, T): the integral over y = log v, v in (0, v(T)].
    v_top = xp.maximum(a * (xp.log(alpha + k * T) - xp.log(b)), 1e-100)
    # v is -a log(1 - z) for z ~ Beta(k, a): mean a (psi(a + k) - psi(a)), standard deviation
    # a sqrt(psi'(a) - psi'(a + k)); the integrand's bulk is there (taken roughly).
    # psi(a + k) - psi(a), with psi(x + 1) ~ log(x + 1/2) (within 0.12), free of cancellation
    mean = a * (f.log1p(k / (a + 0.5)) + k / (a * (a + k)))
    sd = a * xp.sqrt(xp.maximum(_trigamma(a) - _trigamma(a + k), 1e-12))
    y_hi = xp.minimum(xp.log(v_top), xp.log(mean + 10 * sd + 30))
    peak = xp.minimum(xp.log(mean), y_hi)
    step = xp.minimum(1.0, sd / mean)
    # Where the lifetime's factor S(t_x) - S(u) turns from linear in v to flat (u - t_x =
    # beta + t_x); a small beta puts it far below the peak.
    scale = xp.log(b) - log_k - xp.log(beta + t_x)
    turn = xp.log(a) + xp.log(f.log1p(xp.exp(-scale)))
    # Below `low` the integrand is e^{(k+1) y} to within its slow drift: an exponential tail.
    low = xp.minimum(xp.minimum(peak - 6 * step, turn - 3), y_hi)
    inner = [numerics.clip(xp, edge, low, y_hi) for edge in
             (turn, peak - 5 * step, peak - 2 * step, peak, peak + 2 * step, peak + 5 * step)]
    yv, log_weight = rule(xp, low, y_hi, inner, k + 1, V_NODES, V_WEIGHTS)
    # Below y = -600 the integrand is nil (e^{-600 (k+1)}); clamped, no step underflows.
    yv = xp.maximum(yv, -600.0)
    v = xp.exp(yv)
    u = v / e(a)
    later = e(xp.exp(scale)) * f.expm1(u)  # (u - t_x) / (beta + t_x)
    gone = -f.expm1(-e(s) * f.log1p(later))  # 1 - S(u) / S(t_x)
    integrand = ((e(k) - 1) * xp.log(-f.expm1(-u)) - v + yv + xp.log(xp.maximum(gone, 1e-300))
                 + log_weight)
    log_norm = -xp.log(a) - (lgamma(k) + lgamma(a) - lgamma(k + a))
    left_after = gaps + log_s_tx + log_norm + numerics.logsumexp_last(xp, integrand)
    return alive, _logaddexp(xp, left_quiet, left_after)


def e(value):
    """``value`` with a trailing axis, along which a quadrature's nodes run."""
    return (value if isinstance(value, pt.Variable) else np.asarray(value))[..., None]


def rule(xp, low, high, inner, power, nodes, weights):
    """Nodes and log-weights (along a trailing axis) for an integral over ``(-inf, high]``:
    Gauss-Legendre on each panel between ``low``, the sorted ``inner`` edges (each within
    ``[low, high]``) and ``high``, and below ``low`` a tail taken as ``e^{power y}`` times a
    slowly varying factor, by Gauss-Legendre in ``w = e^{power (y - low)}`` on (0, 1), in
    which such a tail is nearly constant."""
    edges = [e(low)] + ([xp.sort(xp.stack(inner, axis=-1), axis=-1)] if inner else []) \
        + [e(high)]
    cuts = xp.concatenate(edges, axis=-1)  # every panel at once: a small graph
    width = xp.maximum(cuts[..., 1:] - cuts[..., :-1], 1e-200)
    panels = len(inner) + 1
    points = e(cuts[..., :-1]) + e(width) * (1 + nodes) / 2
    logs = e(xp.log(width / 2)) + np.log(weights) + xp.zeros_like(points)
    shape = [points.shape[i] for i in range(points.ndim - 2)] + [panels * len(nodes)]
    points, logs = [points.reshape(shape)], [logs.reshape(shape)]
    w = (1 + nodes) / 2
    points.append(e(low) + np.log(w) / e(power))
    logs.append(np.log(weights / 2) - np.log(w) - e(xp.log(power)) + xp.zeros_like(points[-1]))
    return xp.concatenate(points, axis=-1), xp.concatenate(logs, axis=-1)


def _newton(xp, y, k_shape, k_rate, r, alpha, x, t_x, litt):
    """One Newton step towards the mode in ``y = log k`` of the prior times the gaps'
    likelihood (lambda out, the quiet end left aside), and the normal approximation's
    standard deviation at ``y``: NumPy, or PyTensor (differentiable)."""
    if xp is pt:
        # polygamma(1, .), not tri_gamma: PyTensor's trigamma has no NumPy implementation
        # and ran element by element in Python mode
        psi, trigamma = pt.psi, lambda v: pt.polygamma(1, v)
    else:
        psi, trigamma = special.psi, lambda v: special.polygamma(1, v)
    k = xp.exp(y)
    a, b = r + k * x, alpha + k * t_x
    slope = x * y + x + litt - x * psi(k) + x * psi(a) - x * xp.log(b) - a * t_x / b
    bend = (x / k - x * trigamma(k) + x * x * trigamma(a) - 2 * x * t_x / b
            + a * t_x * t_x / (b * b))
    first = k_shape - k_rate * k + k * slope
    second = xp.minimum(-k_rate * k + k * slope + k * k * bend, -1e-3)
    return y - numerics.clip(xp, first / second, -1.0, 1.0), 1 / xp.sqrt(-second)


def _regularity_mode(k_shape, k_rate, r, alpha, x, t_x, litt, gap_mean, gap_precision):
    """Newton's method (NumPy) for :func:`_newton`'s mode, from the prior's log-moments and
    the customer's gaps weighted by their precisions; the last step is left to the caller."""
    prior_var = special.polygamma(1, k_shape)
    precision = 1 / prior_var + gap_precision
    y = ((special.psi(k_shape) - np.log(k_rate)) / prior_var + gap_mean * gap_precision) \
        / precision
    for _ in range(NEWTON_STEPS - 1):
        y = _newton(np, y, k_shape, k_rate, r, alpha, x, t_x, litt)[0]
    return y


class RegularityMode(Op):
    """:func:`_regularity_mode` in a PyTensor graph, without a gradient. The k quadrature's
    nodes sit at the mode that one more Newton step (in the graph) gives, and spread by the
    curvature there, so that they move with the parameters as smooth functions: the gradient
    of the quadrature, nodes and all, is then the derivative of the very function the fit
    evaluates (the last step's derivative is the mode's, by the implicit function theorem).
    An Op of its own: PyMC's pre-gradient rewrites remove ``disconnected_grad``, and the
    gradient of every Newton step then swamps the compiler."""

    __props__ = ()

    def make_node(self, *inputs):
        inputs = [pt.as_tensor_variable(v).astype("float64") for v in inputs]
        kind = pt.TensorType("float64", shape=(None,) * max(v.ndim for v in inputs))
        return Apply(self, inputs, [kind()])

    def perform(self, node, inputs, outputs):
        shape = np.broadcast_shapes(*(np.shape(v) for v in inputs))
        outputs[0][0] = np.ascontiguousarray(
            np.broadcast_to(_regularity_mode(*inputs), shape), dtype=float)

    def connection_pattern(self, node):
        return [[False] for _ in node.inputs]

    def pullback(self, inputs, outputs, cotangents):
        return [disconnected_type() for _ in inputs]


def node_terms(xp, k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt, gap_mean,
               gap_precision):
    """The likelihood's terms at each node of the quadrature in ``y = log k``: the nodes
    ``y`` and, as logs with the node's weight and prior density, (alive at T, left in (t_x,
    T]); the nodes run along a trailing axis."""
    lgamma = _special(xp)[1]
    placement = (k_shape, k_rate, r, alpha, x, t_x, litt, gap_mean, gap_precision)
    start = _regularity_mode(*placement) if xp is np else RegularityMode()(*placement)
    mode = _newton(xp, start, k_shape, k_rate, r, alpha, x, t_x, litt)[0]
    width = _newton(xp, mode, k_shape, k_rate, r, alpha, x, t_x, litt)[1]
    inner = [mode + d * width for d in K_PANELS]
    y, log_weight = rule(xp, inner[0], mode + K_TOP * width, inner[1:], k_shape, K_NODES,
                         K_WEIGHTS)
    log_weight = (log_weight + e(k_shape * xp.log(k_rate) - lgamma(k_shape)) + e(k_shape) * y
                  - e(k_rate) * xp.exp(y))
    alive, left = given_k(xp, xp.exp(y), *(e(v) for v in (r, alpha, s, beta, x, t_x, T, litt)))
    return y, log_weight + alive, log_weight + left


def log_terms(xp, *args):
    """The two terms of each customer's likelihood, (alive at T, left in (t_x, T]), as logs.

    ``xp`` is ``pytensor.tensor`` (the likelihood) or ``numpy`` (P(alive)); the arguments are
    :func:`node_terms`'s, parameters broadcasting against the rows.
    """
    _, alive, left = node_terms(xp, *args)
    return numerics.logsumexp_last(xp, alive), numerics.logsumexp_last(xp, left)


def _columns(x, t_x, T, litt):
    _, (x, t_x, T, litt) = numerics.as_data(x, t_x, T, litt)
    return (x, t_x, T, litt, *gap_shape(x, t_x, litt))


def logp(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt):
    """Pareto/GGG log-likelihood of each customer (Platzer & Reutterer 2016).

    Parameters
    ----------
    k_shape, k_rate : scalar or array
        Gamma shape and rate of the regularity ``k`` (BTYDplus's ``t`` and ``gamma``).
    r, alpha : scalar or array
        Gamma shape and rate of the purchase rates ``lambda`` (purchases per time unit).
    s, beta : scalar or array
        Gamma shape and rate of the dropout rates ``mu``.
    x, t_x, T, litt : array
        Repeat purchases, time of the last one, age, and the sum of the logs of the gaps
        between purchases (NumPy data, or PyTensor variables).

    Examples
    --------
    >>> round(float(logp(2.0, 2.0, 0.55, 10.6, 0.6, 11.7, [0], [0], [39], [0]).eval()[0]), 3)
    -0.6
    """
    k_shape, k_rate, r, alpha, s, beta = numerics.float64(k_shape, k_rate, r, alpha, s, beta)
    data = [pt.as_tensor_variable(v) for v in _columns(x, t_x, T, litt)]
    alive, left = log_terms(pt, k_shape, k_rate, r, alpha, s, beta, *data)
    return numerics.logaddexp(alive, left)


# ============================================================================================
# Closed forms (NumPy)
# ============================================================================================


def _broadcast(*values):
    shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    return [np.broadcast_to(np.asarray(v, dtype=float), shape) for v in values]


def _numpy_nodes(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt):
    return node_terms(np, *_broadcast(k_shape, k_rate, r, alpha, s, beta,
                                      *_columns(x, t_x, T, litt)))


def loglik(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt):
    """The log-likelihood of each customer, in NumPy (broadcasting)."""
    _, alive, left = _numpy_nodes(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt)
    return np.logaddexp(numerics.logsumexp_last(np, alive), numerics.logsumexp_last(np, left))


def p_alive(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt):
    """P(alive at T | x, t_x, T, litt): the 'alive' term over the likelihood."""
    return _alive_share(*_numpy_nodes(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt)[1:])


def _alive_share(alive, left):
    """The 'alive' term over the likelihood, from both terms' logs at each node."""
    alive, left = numerics.logsumexp_last(np, alive), numerics.logsumexp_last(np, left)
    return np.exp(alive - np.logaddexp(alive, left))


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================


def renewals(k, lam, clock, end, gamma):
    """Purchases with Gamma(k, k lam) gaps (mean ``1 / lam``) after a purchase at ``clock``,
    until ``end``, for each customer: ``(customer, time, gap)`` arrays, in rounds.
    ``gamma(shape, active, round)`` draws the round's Gamma(``shape``, 1) variates of the
    customers at ``active`` (e.g. ``lambda shape, *_: rng.gamma(shape)``)."""
    clock = np.array(clock, dtype=float)
    active = np.flatnonzero(clock <= end)
    customers, times, gaps = [np.empty(0, dtype=np.int64)], [np.empty(0)], [np.empty(0)]
    round_ = 0
    while active.size:
        # A gap of Gamma(k) with a small k can underflow to 0, which no summary holds
        # (its purchases are days apart at least); 1e-9 of a time unit is far below that.
        gap = np.maximum(gamma(k[active], active, round_) / (k[active] * lam[active]), 1e-9)
        clock[active] += gap
        kept = clock[active] <= end[active]
        active, gap = active[kept], gap[kept]
        customers.append(active)
        times.append(clock[active].copy())
        gaps.append(gap)
        round_ += 1
    return np.concatenate(customers), np.concatenate(times), np.concatenate(gaps)


def purchase_times(k_shape, k_rate, r, alpha, s, beta, T, rng=None):
    """Simulate Pareto/GGG repeat purchases for customers of ages ``T`` (BTYDplus
    ``pggg.GenerateData``): ``k ~ Gamma(k_shape, k_rate)``, ``lambda ~ Gamma(r, alpha)``,
    ``mu ~ Gamma(s, beta)``, an exponential lifetime of rate ``mu``, Gamma(k, k lambda) gaps
    from the first purchase at 0. Parameters may be per-customer arrays.

    Returns
    -------
    customer, time, gap : ndarray
        Each repeat purchase's customer (index into ``T``), time and the gap before it.
    """
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    k_shape, k_rate, r, alpha, s, beta = _broadcast(k_shape, k_rate, r, alpha, s, beta,
                                                    T)[:6]
    k = rng.gamma(k_shape, 1.0 / k_rate)
    lam = rng.gamma(r, 1.0 / alpha)
    life = rng.exponential(1.0, size=T.size) / rng.gamma(s, 1.0 / beta)
    return renewals(k, lam, np.zeros(T.size), np.minimum(life, T),
                    lambda shape, *_: rng.gamma(shape))


def rvs(k_shape, k_rate, r, alpha, s, beta, T, rng=None):
    """Simulate Pareto/GGG summaries ``(x, t_x, T, litt)`` for customers of ages ``T``."""
    T = np.asarray(T, dtype=float)
    customer, time, gap = purchase_times(k_shape, k_rate, r, alpha, s, beta, T, rng)
    t_x = np.zeros(T.size)
    np.maximum.at(t_x, customer, time)
    return {"x": np.bincount(customer, minlength=T.size).astype(float), "t_x": t_x, "T": T,
            "litt": np.bincount(customer, weights=np.log(gap), minlength=T.size)}


@dataclass(frozen=True)
class CustomerPosterior:
    """Each customer's posterior given ``(x, t_x, T, litt)`` under one parameter value, as the
    simulations of their future read it: whether they are alive at ``T`` (:attr:`chance`), and
    given alive their ``k`` among the quadrature's nodes in ``log k`` (:attr:`y`, with the
    nodes' cumulative posterior weights :attr:`cdf`, customers x nodes); the population's
    ``r, alpha, s, beta``.

    Exact but for the quadrature in ``log k``: given alive and ``k``, ``lambda`` and the gap
    to the next purchase are drawn together (given no purchase in ``(t_x, T]``: with ``G_k,
    G_a`` the gap and rate in Gamma variables, ``G_k / (G_k + G_a)`` is a Beta(k, a) above
    ``z(T)`` and ``G_k + G_a`` an independent Gamma(k + a)), the remaining lifetime is Lomax
    (``mu | alive ~ Gamma(s, beta + T)``), and Gamma gaps follow.

    The simulations draw their numbers from :class:`clvlib.keyed_random.Keys`, one key per
    customer, each number by its inverse distribution function from one keyed uniform: a
    customer's future depends on their key, not on who is simulated with them.
    """

    chance: np.ndarray
    y: np.ndarray
    cdf: np.ndarray
    r: float
    alpha: float
    s: float
    beta: float
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray

    @classmethod
    def of(cls, k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt) -> CustomerPosterior:
        """The posterior of customers ``x, t_x, T, litt`` (arrays) under scalar parameters."""
        y, alive, left = _numpy_nodes(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt)
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
        x, t_x, T = x.ravel(), t_x.ravel(), T.ravel()
        y, alive, left = (v.reshape(x.size, -1) for v in (y, alive, left))
        cdf = np.cumsum(np.exp(alive - alive.max(axis=-1, keepdims=True)), axis=-1)
        cdf /= cdf[:, -1:]
        cdf[:, -1] = 1.0
        return cls(_alive_share(alive, left), y, cdf, r, alpha, s, beta, x, t_x, T)

    def take(self, index: np.ndarray) -> CustomerPosterior:
        """The posterior of the customers at ``index`` (e.g. each customer's distinct row)."""
        return replace(self, **{f: getattr(self, f)[index]
                                for f in ("chance", "y", "cdf", "x", "t_x", "T")})

    def future(self, horizon: float, keys: Keys) -> tuple[np.ndarray, np.ndarray]:
        """One simulated future of each customer in ``(T, T + horizon]``: each purchase's
        customer (index) and time after ``T``, from their ``keys``."""
        is_alive = keys.uniform(_ALIVE) < self.chance
        k, lam, next_purchase = self._state_if_alive(keys)
        life = (self.beta + self.T) * np.expm1(keys.exponential(_LIFE) / self.s)
        end = self.T + np.minimum(horizon, life)
        starts = is_alive & (next_purchase <= end)
        first = np.flatnonzero(starts)
        customer, time, _ = renewals(
            k, lam, np.where(starts, next_purchase, np.inf), end,
            lambda shape, active, round_: keys.gamma(shape, _GAP, round_, at=active))
        customer = np.concatenate([first, customer])
        return customer, np.concatenate([next_purchase[first], time]) - self.T[customer]

    def discounted(self, delta: float, keys: Keys) -> np.ndarray:
        """One unbiased estimate of each customer's DERT (see :func:`discounted_future`), from
        their ``keys``."""
        k, lam, next_purchase = self._state_if_alive(keys)
        wait = np.maximum(next_purchase - self.T, 0.0)
        mu = keys.gamma(self.s, _DROPOUT) / (self.beta + self.T + wait)
        rate = delta + mu
        never_again = -np.expm1(-k * np.log1p(rate / (k * lam)))  # 1 - phi
        return self.chance * (np.exp(-delta * wait + self.s * np.log(
            (self.beta + self.T) / (self.beta + self.T + wait))) / never_again)

    def _state_if_alive(self, keys: Keys):
        """One draw of each customer's ``k``, ``lambda`` and next purchase time given alive
        at ``T``."""
        x, t_x, T, r, alpha = self.x, self.t_x, self.T, self.r, self.alpha
        # The node by its inverse distribution function, every customer's at once: their
        # cumulative weights laid end to end, customer i's on (i, i + 1].
        n, nodes = self.cdf.shape
        offset = np.arange(n)
        node = np.searchsorted((self.cdf + offset[:, None]).ravel(),
                               keys.uniform(_NODE) + offset, side="right") - offset * nodes
        k = np.exp(self.y[offset, np.minimum(node, nodes - 1)])
        a, b = r + k * x, alpha + k * t_x
        edge = b / (alpha + k * T)  # 1 - z(T): 1 - B ~ Beta(a, k) below it
        room = special.betainc(a, k, edge)
        u = keys.uniform(_SHARE)
        share = np.where(room > 1e-290, special.betaincinv(a, k, u * np.maximum(room, 1e-300)),
                         edge * u ** (1 / a))  # so far in the tail the density is ~ w^(a-1)
        total = keys.gamma(k + a, _TOTAL)
        lam = share * total / b
        return k, lam, t_x + (1 - share) * total / (k * lam)


#: What each of a customer's keyed numbers is for (:class:`CustomerPosterior`).
_ALIVE, _NODE, _SHARE, _TOTAL, _LIFE, _GAP, _DROPOUT = range(7)


def future_purchases(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt, horizon, rng,
                     paths: int = 1):
    """Simulated repeat purchases of each customer in ``(T, T + horizon]`` from their
    posterior given ``(x, t_x, T, litt)`` under scalar parameters (arrays of customers): the
    mean of ``paths`` simulated futures each (:class:`CustomerPosterior`), from ``rng``."""
    posterior = CustomerPosterior.of(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt)
    n = posterior.x.size
    return sum(np.bincount(posterior.future(horizon, Keys.fresh(rng, n))[0], minlength=n)
               for _ in range(paths)) / paths


def discounted_future(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt, delta, rng,
                      paths: int = 1):
    """Discounted expected residual purchases (DERT) of each customer: every purchase after
    ``T`` counted ``exp(-delta (t - T))``, from their posterior given ``(x, t_x, T, litt)``
    under scalar parameters; the mean of ``paths`` estimates each.

    Each estimate is exact given one draw of the customer's ``k``, ``lambda`` and next
    purchase time ``T + R`` if alive (as :func:`future_purchases` draws them) and one draw
    of the dropout rate: while alive the purchases fall at ``R`` and then after each
    Gamma(k, k lambda) gap, so with ``mu`` the dropout rate they are worth
    ``sum_n exp(-(delta + mu) (R + G_1 + ... + G_n)) = exp(-(delta + mu) R) / (1 - phi)``,
    ``phi = (k lambda / (k lambda + delta + mu))^k`` a gap's Laplace transform. Given alive at
    ``T``, ``mu ~ Gamma(s, beta + T)``, and ``E[exp(-mu R) f(mu)]`` over it is
    ``((beta + T) / (beta + T + R))^s`` times ``E[f(mu)]`` over ``Gamma(s, beta + T + R)``,
    from which ``mu`` is drawn; the chance of being alive multiplies. Unbiased: the spread of
    the estimates is the simulation's, which ``paths`` reduces.

    Parameters
    ----------
    delta : float
        Continuous discount rate per time unit (:meth:`clvlib.discounting.Discount.per_unit`),
        positive: undiscounted, the purchases of a customer who may never leave need not
        have a finite expectation.
    """
    if not delta > 0:
        raise ValueError(f"delta={delta!r}: an unbounded horizon needs a positive discount rate")
    posterior = CustomerPosterior.of(k_shape, k_rate, r, alpha, s, beta, x, t_x, T, litt)
    n = posterior.x.size
    return sum(posterior.discounted(delta, Keys.fresh(rng, n))
               for _ in range(paths)) / paths


#: Simulated new customers per parameter value for a new customer's expected purchases and
#: purchase-count distribution: their Monte Carlo error is a count's standard deviation over
#: sqrt(NEW_CUSTOMERS), 2.2% of it, and independent between parameter values (posterior
#: draws), so that it averages out of a posterior mean.
NEW_CUSTOMERS = 2_000


def _new_customers(params, t, n, evaluate, seed):
    """``evaluate(customer, time, t, n)`` at each cell of the broadcast of the parameters,
    ``t`` and ``n``, from :data:`NEW_CUSTOMERS` new customers simulated by
    :func:`purchase_times` once per distinct parameter value, up to the longest ``t`` asked of
    it (each value's own random stream, drawn from ``seed`` in the order of the values)."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in (*params, t, n)))
    cells = np.column_stack([np.broadcast_to(np.asarray(v, dtype=float), shape).ravel()
                             for v in params])
    t, n = (np.broadcast_to(np.asarray(v, dtype=float), shape).ravel() for v in (t, n))
    values, inverse = np.unique(cells, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(values) + 1))
    streams = np.random.default_rng(seed).spawn(len(values))
    out = np.empty(len(cells))
    for i, (value, rng) in enumerate(zip(values, streams, strict=True)):
        at = order[bounds[i]:bounds[i + 1]]
        customer, time, _ = purchase_times(*value, T=np.full(NEW_CUSTOMERS,
                                                             max(t[at].max(), 0.0)), rng=rng)
        out[at] = evaluate(customer, time, t[at], n[at])
    return out.reshape(shape)


def expected_purchases_new(k_shape, k_rate, r, alpha, s, beta, t, seed: int = 0):
    """E[X(t)], a new customer's expected repeat purchases in the ``t`` time units after their
    first purchase, by simulation (:data:`NEW_CUSTOMERS` customers per parameter value, as
    :func:`purchase_times` draws them: the renewal process of Gamma gaps has no closed form);
    arguments broadcast."""

    def mean(customer, time, t, n):
        return np.searchsorted(np.sort(time), t, side="right") / NEW_CUSTOMERS

    return _new_customers((k_shape, k_rate, r, alpha, s, beta), t, 0.0, mean, seed)


def prob_purchases(k_shape, k_rate, r, alpha, s, beta, t, n, seed: int = 0):
    """P(X(t) = n), the chance that a new customer makes ``n`` repeat purchases in the ``t``
    time units after their first, by simulation as :func:`expected_purchases_new`; ``n``
    holds whole counts; arguments broadcast."""
    if np.any(np.asarray(n) < 0) or np.any(np.asarray(n) != np.floor(n)):
        raise ValueError("prob_purchases: n must hold whole numbers of purchases (0, 1, ...)")

    def share(customer, time, t, n):
        out = np.empty(len(t))
        for age in np.unique(t):
            at = t == age
            counts = np.bincount(customer[time <= age], minlength=NEW_CUSTOMERS)
            histogram = np.bincount(counts, minlength=int(n[at].max()) + 1) / NEW_CUSTOMERS
            out[at] = histogram[n[at].astype(np.int64)]
        return out

    return _new_customers((k_shape, k_rate, r, alpha, s, beta), t, n, share, seed)


# ============================================================================================
# The model
# ============================================================================================


class ParetoGGGModel(PurchaseModel):
    """Pareto/GGG: the Pareto/NBD with Gamma gaps between purchases whose regularity differs
    across customers (Platzer & Reutterer 2016).

    Default priors: the Pareto/NBD's on ``r, alpha, s, beta``, and ``LogNormal(0, 1)`` on both
    ``k_shape`` and ``k_rate`` of the regularity ``k ~ Gamma(k_shape, k_rate)`` (a median
    customer's ``k`` near 1, Poisson-like gaps). It takes no covariates or groups yet.

    Notes
    -----
    Its likelihood reads ``litt`` (``clvlib.summarize(..., regularity=True)``). P(alive) is
    exact (to its quadrature); expected and predicted purchases and CLV are simulated from
    each customer's posterior (:class:`CustomerPosterior`, through the prediction engine's
    simulated route, :mod:`clvlib.simulated_scoring`), as BTYDplus does, because the renewal
    process of Gamma gaps has no closed form; DERT is an average of estimates each exact
    given one such draw (:func:`discounted_future`). A new customer's expected purchases and
    purchase-count distribution are simulated too (:func:`expected_purchases_new`,
    :func:`prob_purchases`), so the tracking and frequency checks
    (:func:`clvlib.checks.tracking_check`, :func:`clvlib.checks.frequency_check`) take it.
    Each likelihood evaluation integrates over ``k`` and the lifetime by quadrature (about
    1,400 points a customer), so a fit costs hundreds of times the Pareto/NBD's
    (``benchmarks/RESULTS.md``): on thousands of customers MAP, or the Laplace approximation
    for intervals (``fit("laplace")``, which the report uses for it), is the practical fit.
    P(alive) of hypothetical histories (:meth:`p_alive_draws`) reads their gaps too: equal
    ones unless given. Its lifetimes are the Pareto/NBD's (exponential, of rate ``mu ~
    Gamma(s, beta)``).
    """

    name = "pareto_ggg"
    title = "Pareto/GGG"
    story = ("Pareto/GGG (Platzer & Reutterer 2016): while active, customer i's gaps between "
             "purchases are Gamma(k_i, k_i lambda_i), mean 1/lambda_i and coefficient of "
             "variation 1/sqrt(k_i); lambda_i ~ Gamma(r, alpha), their regularity k_i ~ "
             "Gamma(k_shape, k_rate), and an exponential lifetime of rate mu_i ~ Gamma(s, "
             "beta).")
    params = ("k_shape", "k_rate") + ParetoNBDModel.params
    columns = ("x", "t_x", "T", "litt")
    default_priors = {
        "k_shape": Prior("LogNormal", mu=0, sigma=1),
        "k_rate": Prior("LogNormal", mu=0, sigma=1),
        **ParetoNBDModel.default_priors,
    }
    likelihood = Likelihood(pointwise=logp)
    dropout_kind = "lifetime"
    lifetimes = ParetoNBDModel.lifetimes
    dropout_mixing = Mixing("gamma", "s", "beta")
    regularity_mixing = Mixing("gamma", "k_shape", "k_rate")
    # Its customers' futures have no closed form: the prediction engine simulates them from
    # each customer's posterior (customer_posterior). A new customer's (simulated) go through
    # PurchaseModel's, as every model's do: the expectations name this module's functions (the
    # class binds the two methods of the same names only after this line).
    expectations = PurchaseExpectations(
        p_alive=None, expected_purchases=None, expected_purchases_alive=None,
        expected_purchases_new=expected_purchases_new, prob_purchases=prob_purchases,
        future_given_alive=None)
    expected_purchases_new = PurchaseModel.expected_purchases_new
    prob_purchases = PurchaseModel.prob_purchases
    customer_posterior = staticmethod(CustomerPosterior.of)
    p_alive_caveat = (
        "Pareto/GGG reads how regular each customer's gaps between purchases were too: the map "
        "assumes equal gaps (the most regular history of each count and recency); a customer "
        "whose gaps varied is likelier alive after the same silence."
    )
    report_fit = "laplace"
    #: Draws x rows per evaluation of the per-row likelihood (model comparison): each cell
    #: spans about 1,440 quadrature points.
    pointwise_cells = 5_000

    def check_data(self, customers: pd.DataFrame, source: str) -> pd.DataFrame:
        return check_regular_summary(customers, source, self.title)

    # -- predictions --------------------------------------------------------------------------

    # Its predictions draw a quadrature per customer and posterior draw: 200 draws by default.

    def p_alive(self, customers=None, *, n_draws: int | None = 200, seed: int = 0,
                interval: float = 0.9) -> Prediction:
        """Posterior probability that each customer is alive at the end of calibration."""
        return self.score(customers, "p_alive", n_draws=n_draws, seed=seed, interval=interval)

    def p_alive_draws(self, x, t_x, T, *, litt=None, customers=None,
                      n_draws: int | None = 1000, seed: int = 0) -> np.ndarray:
        """P(alive) per posterior draw for hypothetical histories ``x, t_x, T`` (arrays that
        broadcast): shape ``(draws, *shape)``, as :meth:`PurchaseModel.p_alive_draws`.

        This model reads how regular a history's gaps were too: ``litt``, the sum of the logs
        of its ``x`` gaps. By default each history's gaps are equal, ``t_x / x`` each
        (``litt = x log(t_x / x)``): the most regular history of its count and recency, whose
        silence since its last purchase weighs most. A history of repeat purchases with
        ``t_x = 0`` has no gaps to read: NaN there. ``customers`` is accepted as the other
        models' and changes nothing: the model has no covariates.
        """
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
        possible = (x == 0) | (t_x > 0)
        if litt is None:
            gap = np.where((x > 0) & possible, t_x, 1.0) / np.maximum(x, 1)
            litt = np.where(x > 0, x * np.log(gap), 0.0)
        litt = np.broadcast_to(np.asarray(litt, dtype=float), x.shape)
        draws = self.posterior_draws(n_draws, seed)
        out = np.full((len(draws["r"]), x.size), np.nan)
        at = possible.ravel()
        data = {"x": x.ravel()[at], "t_x": t_x.ravel()[at], "T": T.ravel()[at],
                "litt": litt.ravel()[at]}
        for i in range(len(draws["r"])):
            out[i, at] = p_alive(**{k: v[i] for k, v in draws.items()}, **data)
        return out.reshape((len(draws["r"]), *x.shape))

    def expected_purchases(self, t: float, customers=None, *, n_draws: int | None = 200,
                           seed: int = 0, interval: float = 0.9,
                           paths: int = PATHS) -> Prediction:
        """Expected repeat purchases of each customer in the next ``t`` time units, each
        posterior draw's expectation the mean of ``paths`` simulated futures
        (:class:`CustomerPosterior`): its credible interval holds that simulation's noise too
        (the purchases' standard deviation over ``sqrt(paths)``)."""
        return self.score(customers, "expected_purchases", horizon=t, n_draws=n_draws,
                          seed=seed, interval=interval, paths=paths)

    def dert(self, annual_discount_rate: float, customers=None, *, n_draws: int | None = 200,
             seed: int = 0, interval: float = 0.9, paths: int = PATHS) -> Prediction:
        """Discounted expected residual transactions (DERT) of each customer: all purchases
        after the end of calibration, each discounted from when it falls at
        ``annual_discount_rate`` (an annual effective rate, :mod:`clvlib.discounting`).

        Each posterior draw's DERT is the mean of ``paths`` unbiased estimates, each exact
        given one draw of the customer's regularity, purchase rate, next purchase and dropout
        rate (:func:`discounted_future`): its credible interval holds that simulation's noise
        too. Needs a positive rate.
        """
        return self.score(customers, "expected_purchases", horizon=np.inf,
                          annual_discount_rate=annual_discount_rate, n_draws=n_draws,
                          seed=seed, interval=interval, paths=paths)

    def predicted_purchases(self, t: float, customers=None, *, n_draws: int | None = 200,
                            seed: int = 0, interval: float = 0.9) -> Prediction:
        """Posterior predictive repeat purchases in the next ``t`` time units: one simulated
        future per posterior draw, so the interval holds the actual count with probability
        ``interval``."""
        return self.score(customers, "purchases_predictive", horizon=t, n_draws=n_draws,
                          seed=seed, interval=interval)
