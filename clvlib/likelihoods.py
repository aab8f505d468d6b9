"""Every likelihood clvlib fits, written once in PyTensor (the simulators are in clvlib.simulate).

Each model has two pieces here:

- ``<model>_logp(params..., data...)``: the log-likelihood of each customer (row) as a PyTensor
  expression, in the notation of the paper it comes from. Models use it for pointwise
  log-likelihoods (model comparison) and tests check it against published numbers.
- ``<model>_loglike(params..., rows)``: the total over :class:`~clvlib.compression.CompressedRows`,
  each distinct row weighted by its count. It adds up the same two parts as ``_logp``, but sums
  the part that depends on ``x`` alone over the distinct values of ``x`` (a few dozen) instead of
  over every row: exact, and it removes most ``gammaln`` calls from the sampler's inner loop.
  Likewise ``log(alpha + T)`` and ``log(alpha + t_x)`` are computed once per distinct ``T`` and
  ``t_x`` (a few hundred for daily data) and gathered to the rows.

Parameters may be PyTensor variables or NumPy values; data are NumPy arrays.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from clvlib.compression import CompressedRows

# PyTensor's own logaddexp and logsumexp are log(sum(exp(.))): they underflow to -inf once the
# terms fall below about -745 (a customer with many purchases over a long age), and the graph
# rewrites that stabilize them do not reach every compiled form or gradient. These are the
# usual max-shifted versions, exact at any magnitude.


def _log_shifted(scale, rows: CompressedRows, column: str):
    """``log(scale + rows[column])``, computed once per distinct value and gathered to the rows."""
    values, _, index = rows.distinct(column)
    return pt.log(scale + values)[index]


def _float64(*values):
    """Parameters as float64 tensors: PyTensor would make a Python float such as 1.0 float32."""
    return [v if isinstance(v, pt.Variable) else pt.as_tensor_variable(np.float64(v))
            for v in values]


def _logaddexp(a, b):
    high = pt.maximum(a, b)
    return high + pt.log1p(pt.exp(-pt.abs(a - b)))


def _logsumexp(x, axis: int):
    high = pt.max(x, axis=axis, keepdims=True)
    return pt.squeeze(high, axis=axis) + pt.log(pt.sum(pt.exp(x - high), axis=axis))

# --------------------------------------------------------------------------------------------
# BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", eq. (6).
# Purchases follow a Poisson process with rate lambda ~ Gamma(r, alpha) while the customer is
# alive; after each repeat purchase the customer drops out with probability p ~ Beta(a, b).
# --------------------------------------------------------------------------------------------


def _bg_nbd_x_part(r, alpha, a, b, x):
    """The terms of the BG/NBD log-likelihood that depend on the data only through ``x``."""
    return (
        pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha)
        + pt.gammaln(a + b) + pt.gammaln(b + x) - pt.gammaln(b) - pt.gammaln(a + b + x)
    )


def _bg_nbd_timing_part(r, a, b, x, log_alpha_t_x, log_alpha_T):
    """log[(alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x)], computed without overflow.

    Takes ``log(alpha + t_x)`` and ``log(alpha + T)`` so totals can compute them per distinct
    value.
    """
    alive_throughout = -(r + x) * log_alpha_T
    # max(x, 1) keeps log(b + x - 1) finite (and its gradient) on rows where x = 0,
    # which the switch then discards.
    dropped_after_last = pt.log(a) - pt.log(b + pt.maximum(x, 1) - 1) - (r + x) * log_alpha_t_x
    return pt.switch(
        pt.gt(x, 0), _logaddexp(alive_throughout, dropped_after_last), alive_throughout
    )


def bg_nbd_logp(r, alpha, a, b, x, t_x, T):
    """BG/NBD log-likelihood of each customer (FHL 2005, eq. 6).

    Parameters
    ----------
    r, alpha : scalar
        Shape and rate of the gamma distribution of purchase rates.
    a, b : scalar
        Shape parameters of the beta distribution of dropout probabilities.
    x, t_x, T : array
        Repeat purchases, recency and age of each customer, in one time unit.

    Returns
    -------
    TensorVariable
        One log-likelihood per customer.
    """
    r, alpha, a, b = _float64(r, alpha, a, b)
    return _bg_nbd_x_part(r, alpha, a, b, x) + _bg_nbd_timing_part(
        r, a, b, x, pt.log(alpha + t_x), pt.log(alpha + T)
    )


def bg_nbd_loglike(r, alpha, a, b, rows: CompressedRows):
    """Total BG/NBD log-likelihood of weighted rows with columns ``x``, ``t_x``, ``T``."""
    r, alpha, a, b = _float64(r, alpha, a, b)
    xs, x_weights, _ = rows.distinct("x")
    timing = _bg_nbd_timing_part(
        r, a, b, rows["x"], _log_shifted(alpha, rows, "t_x"), _log_shifted(alpha, rows, "T")
    )
    return pt.sum(x_weights * _bg_nbd_x_part(r, alpha, a, b, xs)) + pt.sum(rows.weights * timing)


# --------------------------------------------------------------------------------------------
# MBG/NBD: Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models
# for customer base analysis"; the form BTYDplus fits. As BG/NBD, except the dropout coin is
# also flipped right after the first purchase, so a customer with x = 0 may be gone:
#   L = B(a, b+x+1)/B(a,b) * NB-part(T) + B(a+1, b+x)/B(a,b) * NB-part(t_x).
# --------------------------------------------------------------------------------------------


def _mbg_nbd_x_part(r, alpha, a, b, x):
    return (
        pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha)
        + pt.gammaln(a + b) + pt.gammaln(b + x) - pt.gammaln(b) - pt.gammaln(a + b + x + 1)
    )


def _mbg_nbd_timing_part(r, a, b, x, log_alpha_t_x, log_alpha_T):
    alive = pt.log(b + x) - (r + x) * log_alpha_T
    dropped_after_last = pt.log(a) - (r + x) * log_alpha_t_x
    return _logaddexp(alive, dropped_after_last)


def mbg_nbd_logp(r, alpha, a, b, x, t_x, T):
    """MBG/NBD log-likelihood of each customer (parameters as for :func:`bg_nbd_logp`)."""
    r, alpha, a, b = _float64(r, alpha, a, b)
    return _mbg_nbd_x_part(r, alpha, a, b, x) + _mbg_nbd_timing_part(
        r, a, b, x, pt.log(alpha + t_x), pt.log(alpha + T)
    )


def mbg_nbd_loglike(r, alpha, a, b, rows: CompressedRows):
    """Total MBG/NBD log-likelihood of weighted rows with columns ``x``, ``t_x``, ``T``."""
    r, alpha, a, b = _float64(r, alpha, a, b)
    xs, x_weights, _ = rows.distinct("x")
    timing = _mbg_nbd_timing_part(
        r, a, b, rows["x"], _log_shifted(alpha, rows, "t_x"), _log_shifted(alpha, rows, "T")
    )
    return pt.sum(x_weights * _mbg_nbd_x_part(r, alpha, a, b, xs)) + pt.sum(rows.weights * timing)


# --------------------------------------------------------------------------------------------
# Pareto/NBD: Schmittlein, Morrison & Colombo (1987); likelihood as in Fader, Hardie & Lee (2005),
# "A note on deriving the Pareto/NBD model and related expressions". Purchases are Poisson with
# rate lambda ~ Gamma(r, alpha) while alive; lifetimes are exponential with rate
# mu ~ Gamma(s, beta).
#
#   L = Gamma(r+x) alpha^r beta^s / Gamma(r)
#       * [ (alpha+T)^-(r+x) (beta+T)^-s  +  s * I ],
#   I = integral from t_x to T of (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau.
#
# The usual closed form writes s*I with Gauss hypergeometric functions, whose values overflow
# and whose parameter derivatives are slow and fragile for large x or long ages. Instead I is
# computed by Gauss-Legendre quadrature after a change of variables that makes the integrand
# smooth, so its gradient is plain autodiff of logs and exponentials (written by hand because no
# library offers a differentiable, stable version of this integral):
#   with m = min(alpha, beta) the smaller scale, v = (m+t_x)/(m+tau), u = log v in [u_T, 0],
#   I = (m+t_x)^-k  integral_{u_T}^{0} exp(k u) (1 + c e^u)^-e du,
#   k = r+s+x, c = |alpha-beta|/(m+t_x) >= 0, e = s+1 if alpha <= beta else r+x.
# exp(k u) decays from u = 0, so the integral is cut at u = -L/k - log(1+c), where the
# integrand is below e^-L of its peak. With 16 nodes and L = 25 the log-likelihood agrees with
# adaptive quadrature (mpmath, scipy) to 1e-12 for ordinary customers and 1e-7 at x = 200
# (tests/test_zoo.py); the CDNOW master total moves by 2e-11. 16 nodes rather than 20 make a
# gradient 20% cheaper.
# --------------------------------------------------------------------------------------------

# The rule and cut-off are defined with the compiled kernels, which receive them from there.
from clvlib.models.kernels import PNBD_CUTOFF as _PNBD_CUTOFF  # noqa: E402
from clvlib.models.kernels import PNBD_NODES, PNBD_WEIGHTS  # noqa: E402,F401


def _pareto_nbd_x_part(r, alpha, s, beta, x):
    return pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha) + s * pt.log(beta)


def pareto_nbd_substitution(xp, r, alpha, s, beta, x, t_x, T):
    """The change of variables above, for NumPy (``xp=np``) or PyTensor (``xp=pt``).

    Returns ``k, e, c, u_low, log_scale``: the integral is
    ``exp(log_scale) * sum_j w_j exp(k u_j - e log1p(c exp(u_j)))`` over Gauss-Legendre nodes
    ``u_j = u_low (1 - xi_j) / 2`` of ``[u_low, 0]`` (weights including ``-u_low / 2``).
    """
    k = r + s + x
    m = xp.minimum(alpha, beta)
    e = xp.where(xp.less_equal(alpha, beta), s + 1, r + x)
    c = xp.abs(alpha - beta) / (m + t_x)
    u_T = xp.log(m + t_x) - xp.log(m + T)
    u_low = xp.maximum(u_T, -_PNBD_CUTOFF / k - xp.log1p(c))
    width = xp.maximum(-u_low, 1e-12)  # t_x = T: an empty interval, I = 0 (to 1e-12)
    return k, e, c, u_low, -k * xp.log(m + t_x) + xp.log(width / 2)


def _pareto_nbd_timing_part(r, alpha, s, beta, x, t_x, T):
    alive_throughout = -(r + x) * pt.log(alpha + T) - s * pt.log(beta + T)
    k, e, c, u_low, log_scale = pareto_nbd_substitution(pt, r, alpha, s, beta, x, t_x, T)
    u = u_low[..., None] * (1 - PNBD_NODES) / 2  # nodes along a trailing axis
    log_terms = k[..., None] * u - e[..., None] * pt.log1p(c[..., None] * pt.exp(u))
    log_integral = log_scale + _logsumexp(log_terms + np.log(PNBD_WEIGHTS), axis=-1)
    return _logaddexp(alive_throughout, pt.log(s) + log_integral)


def pareto_nbd_logp(r, alpha, s, beta, x, t_x, T):
    """Pareto/NBD log-likelihood of each customer (Fader, Hardie & Lee 2005 note, eq. 2).

    Parameters
    ----------
    r, alpha : scalar
        Shape and rate of the gamma distribution of purchase rates.
    s, beta : scalar
        Shape and rate of the gamma distribution of dropout rates.
    x, t_x, T : array
        Repeat purchases, recency and age of each customer, in one time unit.
    """
    r, alpha, s, beta = _float64(r, alpha, s, beta)
    x, t_x, T = (pt.as_tensor_variable(v) for v in (x, t_x, T))
    return _pareto_nbd_x_part(r, alpha, s, beta, x) + _pareto_nbd_timing_part(
        r, alpha, s, beta, x, t_x, T
    )


def pareto_nbd_loglike(r, alpha, s, beta, rows: CompressedRows):
    """Total Pareto/NBD log-likelihood of weighted rows with columns ``x``, ``t_x``, ``T``."""
    r, alpha, s, beta = _float64(r, alpha, s, beta)
    xs, x_weights, _ = rows.distinct("x")
    x, t_x, T = (pt.as_tensor_variable(rows[c]) for c in ("x", "t_x", "T"))
    return pt.sum(x_weights * _pareto_nbd_x_part(r, alpha, s, beta, xs)) + pt.sum(
        rows.weights * _pareto_nbd_timing_part(r, alpha, s, beta, x, t_x, T)
    )


# --------------------------------------------------------------------------------------------
# Gamma-Gamma spend: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", eq. (4).
# Each transaction's value is Gamma(p, nu); nu ~ Gamma(q, gamma) across customers. Only
# customers with at least one repeat purchase (x > 0) carry information; m is the mean spend
# of their x repeat purchases.
# --------------------------------------------------------------------------------------------


def _gamma_gamma_x_part(p, q, gamma, x):
    px = p * x
    return pt.gammaln(px + q) - pt.gammaln(px) - pt.gammaln(q) + q * pt.log(gamma) + px * pt.log(x)


def _gamma_gamma_spend_part(p, q, gamma, x, m):
    px = p * x
    return (px - 1) * pt.log(m) - (px + q) * pt.log(gamma + x * m)


def gamma_gamma_logp(p, q, gamma, x, m):
    """Gamma-Gamma log-density of each customer's mean spend ``m`` over ``x > 0`` purchases.

    Parameters
    ----------
    p : scalar
        Shape of the gamma distribution of one transaction's value.
    q, gamma : scalar
        Shape and rate of the gamma distribution of the per-customer rate ``nu``.
    x, m : array
        Repeat purchases (all > 0) and their mean value.
    """
    p, q, gamma = _float64(p, q, gamma)
    return _gamma_gamma_x_part(p, q, gamma, x) + _gamma_gamma_spend_part(p, q, gamma, x, m)


def gamma_gamma_loglike(p, q, gamma, rows: CompressedRows):
    """Total Gamma-Gamma log-likelihood of weighted rows with columns ``x`` and ``m``."""
    p, q, gamma = _float64(p, q, gamma)
    xs, x_weights, _ = rows.distinct("x")
    return pt.sum(x_weights * _gamma_gamma_x_part(p, q, gamma, xs)) + pt.sum(
        rows.weights * _gamma_gamma_spend_part(p, q, gamma, rows["x"], rows["m"])
    )


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

def _rising_tables(bases, size):
    """PyTensor: log (b)_k = sum_{j<k} log(b+j) for k = 0 .. size-1, for each base b.

    Returns shape ``(len(bases),) + broadcast shape of the bases + (size,)``; ``size`` may be
    symbolic. Exact for any base: a sum of logarithms.
    """
    base = pt.stack(pt.broadcast_arrays(*bases))
    steps = (pt.arange(size - 1).astype("float64") if isinstance(size, pt.Variable)
             else np.arange(size - 1, dtype=float))
    logs = pt.log(pt.shape_padright(base) + steps)
    start = pt.shape_padright(pt.zeros_like(base))
    return pt.concatenate([start, pt.cumsum(logs, axis=-1)], axis=-1)


def _gather(table, steps):
    """``table[..., steps]``: whole-number ``steps`` looked up along the table's last axis, its
    other axes broadcast against ``steps`` as NumPy broadcasts (parameter draws against rows)."""
    if isinstance(steps, pt.Variable):
        index = pt.cast(pt.round(steps), "int64")
    else:
        index = pt.as_tensor_variable(np.rint(steps).astype(np.int64))
    if table.ndim == 1:  # scalar parameters: a flat lookup, the fastest gradient
        return table[index.flatten()].reshape(index.shape)
    lead = table.ndim - 1
    if index.ndim > lead:
        table = pt.shape_padleft(table, index.ndim - lead)
    elif index.ndim < lead:
        index = pt.shape_padleft(index, lead - index.ndim)
    return pt.take_along_axis(table, index[..., None], axis=-1)[..., 0]


def _as_data(*values):
    """Data as float arrays, or as they are if any is symbolic (then all become tensors)."""
    if any(isinstance(v, pt.Variable) for v in values):
        return True, [pt.as_tensor_variable(v).astype("float64") for v in values]
    return False, [np.asarray(v, dtype=float) for v in values]


def _bg_bb_parts(alpha, beta, gamma, delta, x, t_x, n, xs=None):
    """PyTensor: log (alpha)_x (the x part, at ``xs`` if given) and the log of the rest of L.

    The rest is the log-sum-exp of the 'alive throughout' term and the masked grid of dropout
    terms, one value per row.
    """
    symbolic, (x, t_x, n) = _as_data(x, t_x, n)
    lib = pt if symbolic else np
    size = pt.max(n).astype("int64") + 1 if symbolic else int(np.max(n)) + 1
    tables = _rising_tables((alpha, beta, alpha + beta, delta, gamma + delta), size)

    def rising(k, steps, grid=False):
        table = tables[k]
        # On the grid the parameters get a trailing axis too (see below).
        return _gather(table[..., None, :] if grid and table.ndim > 1 else table, steps)

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
    return x_part, _logsumexp(pt.concatenate([alive[..., None], dropped], axis=-1), axis=-1)


def bg_bb_logp(alpha, beta, gamma, delta, x, t_x, n):
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
    >>> logp = bg_bb_logp(1.204, 0.750, 0.657, 2.783, x=[6], t_x=[6], n=[6])
    >>> round(float(logp.eval()[0]), 4)
    -2.1822
    """
    alpha, beta, gamma, delta = _float64(alpha, beta, gamma, delta)
    x_part, rest = _bg_bb_parts(alpha, beta, gamma, delta, x, t_x, n)
    return x_part + rest


def bg_bb_loglike(alpha, beta, gamma, delta, rows: CompressedRows):
    """Total BG/BB log-likelihood of weighted rows with columns ``x``, ``t_x``, ``n``."""
    alpha, beta, gamma, delta = _float64(alpha, beta, gamma, delta)
    xs, x_weights, _ = rows.distinct("x")
    x_part, rest = _bg_bb_parts(alpha, beta, gamma, delta, rows["x"], rows["t_x"], rows["n"],
                                xs=xs)
    return pt.sum(x_weights * x_part) + pt.sum(rows.weights * rest)


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


def _sbg_row_part(alpha, beta, duration, churned):
    """log P(T = duration) for churned rows, log S(duration) for the others (PyTensor)."""
    symbolic, (duration, churned) = _as_data(duration, churned)
    lib = pt if symbolic else np
    size = (pt.max(duration).astype("int64") if symbolic else int(np.max(duration))) + 1
    tables = _rising_tables((beta, alpha + beta), size)

    def ratio(steps):  # log[(beta)_m / (alpha+beta)_m]
        return _gather(tables[0], steps) - _gather(tables[1], steps)

    # max(duration, 1) keeps the churn branch finite on rows the switch discards: a customer
    # still active after 0 periods.
    before = lib.maximum(duration, 1) - 1
    churn = pt.log(alpha) - pt.log(alpha + beta + before) + ratio(before)
    return pt.switch(pt.gt(churned, 0), churn, ratio(duration))


def sbg_logp(alpha, beta, duration, churned):
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
    >>> round(float(sbg_logp(0.704, 1.182, [1], [1]).eval()[0]), 4)  # log alpha/(alpha+beta)
    -0.9854
    """
    alpha, beta = _float64(alpha, beta)
    return _sbg_row_part(alpha, beta, duration, churned)


def sbg_loglike(alpha, beta, rows: CompressedRows):
    """Total sBG log-likelihood of weighted rows with columns ``duration`` and ``churned``."""
    alpha, beta = _float64(alpha, beta)
    return pt.sum(rows.weights * _sbg_row_part(alpha, beta, rows["duration"], rows["churned"]))


