"""Every likelihood clvlib fits, written once in PyTensor, and a simulator for each.

Each model has three pieces here:

- ``<model>_logp(params..., data...)``: the log-likelihood of each customer (row) as a PyTensor
  expression, in the notation of the paper it comes from. Models use it for pointwise
  log-likelihoods (model comparison) and tests check it against published numbers.
- ``<model>_loglike(params..., rows)``: the total over :class:`~clvlib.compression.CompressedRows`,
  each distinct row weighted by its count. It adds up the same two parts as ``_logp``, but sums
  the part that depends on ``x`` alone over the distinct values of ``x`` (a few dozen) instead of
  over every row: exact, and it removes most ``gammaln`` calls from the sampler's inner loop.
  Likewise ``log(alpha + T)`` and ``log(alpha + t_x)`` are computed once per distinct ``T`` and
  ``t_x`` (a few hundred for daily data) and gathered to the rows.
- ``<model>_rvs(params..., ...)``: a simulator (NumPy) drawing customers from the model.

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


def bg_nbd_purchase_times(r, alpha, a, b, T, rng=None):
    """Simulate BG/NBD repeat-purchase times for customers of ages ``T``.

    Each customer draws ``lambda ~ Gamma(r, rate=alpha)`` and ``p ~ Beta(a, b)``, then buys at
    exponential intervals until the age ``T``, dropping out after each repeat purchase with
    probability ``p``. Vectorized over customers, one round per purchase.

    Returns
    -------
    customer : ndarray of int
        The index (into ``T``) of the customer making each repeat purchase.
    time : ndarray of float
        When each repeat purchase happened, measured from the customer's first purchase.
    """
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    lam = rng.gamma(r, 1.0 / alpha, size=T.size)
    return _geometric_dropout_times(lam, rng.beta(a, b, size=T.size), T, rng)


def _geometric_dropout_times(lam, p, T, rng):
    """Poisson purchases at rates ``lam`` until ``T``, dropping out w.p. ``p`` after each."""
    clock = np.zeros(T.size)
    active = np.flatnonzero(T >= 0)
    customers, times = [], []
    while active.size:
        clock[active] += rng.exponential(1.0, size=active.size) / lam[active]
        active = active[clock[active] <= T[active]]
        customers.append(active)
        times.append(clock[active].copy())
        active = active[rng.random(active.size) >= p[active]]
    return np.concatenate(customers), np.concatenate(times)


def bg_nbd_rvs(r, alpha, a, b, T, rng=None):
    """Simulate BG/NBD summaries ``(x, t_x, T)`` for customers of ages ``T``.

    Returns
    -------
    dict of ndarray
        ``x`` (repeat purchases), ``t_x`` (time of the last one, 0 if none) and ``T``.
    """
    T = np.asarray(T, dtype=float)
    return _summaries(*bg_nbd_purchase_times(r, alpha, a, b, T, rng), T)


def _summaries(customer: np.ndarray, time: np.ndarray, T: np.ndarray) -> dict[str, np.ndarray]:
    """``x`` and ``t_x`` per customer from repeat-purchase (customer, time) pairs."""
    x = np.bincount(customer, minlength=T.size)
    t_x = np.zeros(T.size)
    np.maximum.at(t_x, customer, time)
    return {"x": x, "t_x": t_x, "T": T}


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


def mbg_nbd_rvs(r, alpha, a, b, T, rng=None):
    """Simulate MBG/NBD summaries ``(x, t_x, T)``: BG/NBD with a dropout chance at time 0."""
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    p = rng.beta(a, b, size=T.size)
    gone_at_start = rng.random(T.size) < p
    # Survivors of the first flip buy as BG/NBD customers whose p is already drawn.
    customer, time = _geometric_dropout_times(rng.gamma(r, 1.0 / alpha, size=T.size), p,
                                              np.where(gone_at_start, -1.0, T), rng)
    return _summaries(customer, time, T)


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

_PNBD_NODES, _PNBD_WEIGHTS = np.polynomial.legendre.leggauss(16)
_PNBD_CUTOFF = 25.0


def _pareto_nbd_x_part(r, alpha, s, beta, x):
    return pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha) + s * pt.log(beta)


def _pareto_nbd_substitution(xp, r, alpha, s, beta, x, t_x, T):
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
    k, e, c, u_low, log_scale = _pareto_nbd_substitution(pt, r, alpha, s, beta, x, t_x, T)
    u = u_low[..., None] * (1 - _PNBD_NODES) / 2  # nodes along a trailing axis
    log_terms = k[..., None] * u - e[..., None] * pt.log1p(c[..., None] * pt.exp(u))
    log_integral = log_scale + _logsumexp(log_terms + np.log(_PNBD_WEIGHTS), axis=-1)
    return _logaddexp(alive_throughout, pt.log(s) + log_integral)


def pareto_nbd_log_terms(r, alpha, s, beta, x, t_x, T):
    """NumPy: log of the 'alive throughout' and 'dropped out' terms of the likelihood bracket.

    Their log-sum-exp plus the ``x`` part is the log-likelihood; P(alive) is the first term's
    share. Nodes are summed one at a time, so memory stays at the size of the broadcast inputs.
    """
    alive_throughout = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    k, e, c, u_low, log_scale = _pareto_nbd_substitution(np, r, alpha, s, beta, x, t_x, T)
    total = np.full(np.broadcast(k, u_low).shape, -np.inf)
    for node, weight in zip(_PNBD_NODES, _PNBD_WEIGHTS, strict=True):
        u = u_low * (1 - node) / 2
        total = np.logaddexp(total, k * u - e * np.log1p(c * np.exp(u)) + np.log(weight))
    return alive_throughout, np.log(s) + log_scale + total


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


def pareto_nbd_purchase_times(r, alpha, s, beta, T, rng=None):
    """Simulate Pareto/NBD repeat-purchase times for customers of ages ``T``.

    Each customer draws ``lambda ~ Gamma(r, rate=alpha)``, ``mu ~ Gamma(s, rate=beta)`` and an
    exponential lifetime with rate ``mu``; purchases are Poisson with rate ``lambda`` until the
    lifetime or ``T`` ends. Returns ``(customer, time)`` arrays as
    :func:`bg_nbd_purchase_times` does.
    """
    rng = np.random.default_rng(rng)
    T = np.asarray(T, dtype=float)
    lam = rng.gamma(r, 1.0 / alpha, size=T.size)
    mu = rng.gamma(s, 1.0 / beta, size=T.size)
    end = np.minimum(rng.exponential(1.0, size=T.size) / mu, T)
    counts = rng.poisson(lam * end)
    customer = np.repeat(np.arange(T.size), counts)
    # Given their number, Poisson arrival times are uniform on the observed lifetime.
    return customer, rng.uniform(0.0, 1.0, size=customer.size) * end[customer]


def pareto_nbd_rvs(r, alpha, s, beta, T, rng=None):
    """Simulate Pareto/NBD summaries ``(x, t_x, T)`` for customers of ages ``T``."""
    T = np.asarray(T, dtype=float)
    return _summaries(*pareto_nbd_purchase_times(r, alpha, s, beta, T, rng), T)


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


def gamma_gamma_spend_rvs(p, q, gamma, customer, n_customers=None, rng=None):
    """Simulate the value of each transaction made by the customers in ``customer``.

    Each customer draws ``nu ~ Gamma(q, rate=gamma)``; each of their transactions is worth
    ``Gamma(p, rate=nu)``.

    Parameters
    ----------
    customer : array of int
        The customer index of each transaction (repeats allowed).
    n_customers : int, optional
        Number of customers (default ``customer.max() + 1``).
    """
    rng = np.random.default_rng(rng)
    customer = np.asarray(customer)
    n = int(customer.max()) + 1 if n_customers is None else n_customers
    nu = rng.gamma(q, 1.0 / gamma, size=n)
    return rng.gamma(p, 1.0, size=customer.size) / nu[customer]


def gamma_gamma_rvs(p, q, gamma, x, rng=None):
    """Simulate mean spends ``m`` for customers with ``x > 0`` repeat purchases."""
    rng = np.random.default_rng(rng)
    x = np.asarray(x)
    customer = np.repeat(np.arange(x.size), x)
    spend = gamma_gamma_spend_rvs(p, q, gamma, customer, x.size, rng)
    return np.bincount(customer, weights=spend, minlength=x.size) / x


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
# of opportunity t_x+i+1. Each B(alpha+x, beta+k-x) = Gamma(alpha+x) Gamma(beta+k-x) /
# Gamma(alpha+beta+k), so Gamma(alpha+x) is the part that depends on x alone. Customers may
# have different n: the sum runs over i = 0 .. max(n - t_x) - 1 along a trailing axis, with
# the terms beyond each customer's own n - t_x masked out.
# --------------------------------------------------------------------------------------------


def _betaln(xp_gammaln, a, b):
    return xp_gammaln(a) + xp_gammaln(b) - xp_gammaln(a + b)


def _bg_bb_x_part(gammaln, alpha, beta, gamma, delta, x):
    """log[Gamma(alpha+x) / (B(alpha,beta) B(gamma,delta))]: the x-only part and constants."""
    return (
        gammaln(alpha + x) - _betaln(gammaln, alpha, beta) - _betaln(gammaln, gamma, delta)
    )


def _bg_bb_alive_term(gammaln, alpha, beta, gamma, delta, x, n):
    """log of the 'alive throughout' term of the bracket (without the x part)."""
    return (
        gammaln(beta + n - x) - gammaln(alpha + beta + n) + _betaln(gammaln, gamma, delta + n)
    )


def _bg_bb_dropout_term(gammaln, alpha, beta, gamma, delta, x, t_x, i):
    """log of the term for dropping out at the start of opportunity t_x + i + 1."""
    return (
        gammaln(beta + t_x - x + i) - gammaln(alpha + beta + t_x + i)
        + _betaln(gammaln, gamma + 1, delta + t_x + i)
    )


def _bg_bb_bracket(alpha, beta, gamma, delta, x, t_x, n):
    """PyTensor: log of the bracket (all terms of L after the x part), one value per row."""
    x, t_x, n = (v if isinstance(v, pt.Variable) else np.asarray(v, dtype=float)
                 for v in (x, t_x, n))
    gap = n - t_x
    if any(isinstance(v, pt.Variable) for v in (x, t_x, n)):
        i = pt.arange(pt.max(gap)).astype("float64")
    else:  # data known now: the grid and its mask are constants of the graph
        i = np.arange(int(np.max(gap)), dtype=float)
    alive = _bg_bb_alive_term(pt.gammaln, alpha, beta, gamma, delta, x, n)
    # Parameters get a trailing axis too, so arrays of them (draws of shape (S, 1) against rows
    # of shape (1, C)) broadcast against the grid as they do against the data.
    padded = (pt.shape_padright(p) for p in (alpha, beta, gamma, delta))
    dropped = _bg_bb_dropout_term(pt.gammaln, *padded, x[..., None], t_x[..., None], i)
    dropped = pt.switch(pt.lt(i, gap[..., None]), dropped, -np.inf)
    alive = pt.broadcast_to(alive, dropped.shape[:-1])
    return _logsumexp(pt.concatenate([alive[..., None], dropped], axis=-1), axis=-1)


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
        opportunities, per customer; ``n`` may differ across customers.

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
    return _bg_bb_x_part(pt.gammaln, alpha, beta, gamma, delta, x) + _bg_bb_bracket(
        alpha, beta, gamma, delta, x, t_x, n
    )


def bg_bb_loglike(alpha, beta, gamma, delta, rows: CompressedRows):
    """Total BG/BB log-likelihood of weighted rows with columns ``x``, ``t_x``, ``n``."""
    alpha, beta, gamma, delta = _float64(alpha, beta, gamma, delta)
    xs, x_weights, _ = rows.distinct("x")
    return pt.sum(x_weights * _bg_bb_x_part(pt.gammaln, alpha, beta, gamma, delta, xs)) + pt.sum(
        rows.weights * _bg_bb_bracket(alpha, beta, gamma, delta, rows["x"], rows["t_x"], rows["n"])
    )


def bg_bb_log_terms(alpha, beta, gamma, delta, x, t_x, n):
    """NumPy: log of the 'alive throughout' and 'dropped out' parts of the BG/BB likelihood.

    Their log-sum-exp is the log-likelihood; P(alive) and the conditional expectations use the
    first part's share. Broadcasts like :mod:`clvlib.expectations`; the terms of the sum over
    the dropout opportunity are added one at a time, so memory stays at the size of the
    broadcast inputs.
    """
    from scipy.special import gammaln

    x, t_x, n = (np.asarray(v, dtype=float) for v in (x, t_x, n))
    head = _bg_bb_x_part(gammaln, alpha, beta, gamma, delta, x)
    alive = head + _bg_bb_alive_term(gammaln, alpha, beta, gamma, delta, x, n)
    gap = n - t_x
    dropped = np.full(np.broadcast(alive, gap).shape, -np.inf)
    for i in range(int(np.max(gap, initial=0))):
        term = _bg_bb_dropout_term(gammaln, alpha, beta, gamma, delta, x, t_x, float(i))
        dropped = np.logaddexp(dropped, np.where(i < gap, head + term, -np.inf))
    return alive, dropped


def bg_bb_rvs(alpha, beta, gamma, delta, n, rng=None):
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
    >>> sim = bg_bb_rvs(1.204, 0.750, 0.657, 2.783, n=[6] * 1000, rng=1)
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


# --------------------------------------------------------------------------------------------
# sBG, the shifted-beta-geometric model of contract duration: Fader & Hardie (2007), "How to
# project customer retention", Journal of Interactive Marketing 21(1), eqs. (5)-(7). At each
# renewal a customer churns with probability theta ~ Beta(alpha, beta). The lifetime T (in
# periods) has
#   P(T = t) = B(alpha+1, beta+t-1) / B(alpha, beta),   S(t) = P(T > t) = B(alpha, beta+t) /
#   B(alpha, beta),   t = 1, 2, ...
# A row is (duration, churned): a customer who churned at the end of period ``duration``
# contributes log P(T = duration); one still active after ``duration`` periods, log S(duration).
# A cohort survival table becomes such rows, weighted by the number of customers lost each
# period and by the survivors at the last period (clvlib.models.sbg).
# --------------------------------------------------------------------------------------------


def _sbg_row_part(alpha, beta, duration, churned):
    """log P(T = duration) or log S(duration), without the -log B(alpha, beta) constant."""
    # max(duration, 1) keeps the churn branch finite (and its gradient) on rows the switch
    # discards: a customer still active after 0 periods.
    churn = _betaln(pt.gammaln, alpha + 1, beta + pt.maximum(duration, 1) - 1)
    survive = _betaln(pt.gammaln, alpha, beta + duration)
    return pt.switch(pt.gt(churned, 0), churn, survive)


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
    duration = pt.as_tensor_variable(np.asarray(duration, dtype=float)
                                     if not isinstance(duration, pt.Variable) else duration)
    return _sbg_row_part(alpha, beta, duration, churned) - _betaln(pt.gammaln, alpha, beta)


def sbg_loglike(alpha, beta, rows: CompressedRows):
    """Total sBG log-likelihood of weighted rows with columns ``duration`` and ``churned``."""
    alpha, beta = _float64(alpha, beta)
    return pt.sum(rows.weights * _sbg_row_part(alpha, beta, rows["duration"], rows["churned"])) - (
        rows.n_original * _betaln(pt.gammaln, alpha, beta)
    )


def sbg_churn_times(alpha, beta, size, rng=None):
    """Simulate sBG lifetimes: the period (1, 2, ...) at whose end each customer churns."""
    rng = np.random.default_rng(rng)
    return rng.geometric(rng.beta(alpha, beta, size=size))


def sbg_rvs(alpha, beta, horizon, rng=None):
    """Simulate individual sBG churn records for customers observed for ``horizon`` periods.

    Returns
    -------
    dict of ndarray
        ``duration`` (the churn period, or ``horizon`` for customers still active) and
        ``churned`` (1 if the customer churned by the end of ``horizon``).

    Examples
    --------
    >>> records = sbg_rvs(0.704, 1.182, horizon=[7] * 1000, rng=1)
    >>> int(records["duration"].max())
    7
    """
    horizon = np.asarray(horizon, dtype=int).reshape(-1)
    lifetime = sbg_churn_times(alpha, beta, horizon.size, rng)
    churned = lifetime <= horizon
    return {"duration": np.where(churned, lifetime, horizon), "churned": churned.astype(int)}
