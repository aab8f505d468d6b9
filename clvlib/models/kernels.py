"""Log posterior densities and their gradients, compiled once per machine (numba, cached).

The NUTS and MAP fits of the plain BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma models (no
covariates, no groups, priors from :data:`PRIOR_KINDS`) evaluate their log posterior here
instead of through a PyTensor graph compiled in every process. Everything a fit needs at run
time (its priors and compressed rows) travels in one float64 buffer, so one compiled function
per model serves every prior and data set, and numba's on-disk cache (``cache=True``) keeps it
between processes: a refit loads it in a fraction of a second instead of compiling for seconds
(a first, cold, compile takes 2-4 s).

These are the likelihoods of :mod:`clvlib.likelihoods` written a second time, by hand, with
their gradients: no library differentiates them into code that can be cached this way (PyTensor's
numba backend recompiles its wrapper in every process, see issue 14). tests/test_kernels.py
holds each equal to the PyTensor model's log density and gradient to 1e-10 over a grid of
parameters and data.

The buffer (see :func:`clvlib.models.density.pack`): a header of :data:`HEADER` numbers
(model code, number of parameters, whether the log-Jacobian of the log transform is included,
the buffer's length, the number of rows, of distinct ``x``, and of the two value tables, two
constants), then four numbers per parameter (prior kind, its two parameters, shift), then the
arrays: distinct ``x`` and their weights; per row ``x``, its index among the distinct ``x``,
two columns ``c1``, ``c2`` and the row weight; then the two value tables ``u`` and ``v``. For
BG/NBD, MBG/NBD and Pareto/NBD, ``c1`` and ``c2`` index the distinct ``t_x`` (``u``) and ``T``
(``v``); for Gamma-Gamma they hold ``m`` and ``log m``.

All kernels live in this one file on purpose: numba's cache is invalidated when the file of the
cached function changes, not when a helper in another module does.
"""

from __future__ import annotations

import ctypes
import functools
import math
import warnings
from pathlib import Path

import numba
import numpy as np

BG_NBD, MBG_NBD, PARETO_NBD, GAMMA_GAMMA = 1, 2, 3, 4


def _kernel(**options):
    """numba's njit, cached on disk, without the Python-callable wrapper: every kernel is called
    from other kernels or the C callbacks only, and the wrapper is a good share of the time a
    first (cold) compile takes."""
    return numba.njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, **options)
HEADER = 10
# Slots of the header that Python reads or sets (the kernels read them by number).
H_MODEL, H_JACOBIAN = 0, 2
#: Prior families with a hand-written log density (on the excess over ``shift``), by code.
PRIOR_KINDS = {"HalfFlat": 0, "LogNormal": 1, "Gamma": 2, "Exponential": 3, "HalfNormal": 4,
               "Weibull": 5}
MAX_PARAMS = 4
# Pareto/NBD: the Gauss-Legendre rule and cut-off of the quadrature in clvlib.likelihoods
# (which imports them from here).
PNBD_NODES, PNBD_WEIGHTS = np.polynomial.legendre.leggauss(16)
PNBD_LOG_WEIGHTS = np.log(PNBD_WEIGHTS)
PNBD_HALF = (1 - PNBD_NODES) / 2
PNBD_CUTOFF = 25.0
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@_kernel()
def digamma(x):
    """psi(x) for x > 0: the recurrence up to x >= 10, then the asymptotic series (1e-15)."""
    result = 0.0
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (
        1.0 / 132 - f * (691.0 / 32760 - f / 12.0))))))
    return result + math.log(x) - 0.5 / x - series


@_kernel()
def _prior(kind, p1, p2, y, jacobian):
    """Log prior of the excess ``e = exp(y)`` and its derivative in ``y``.

    With ``jacobian`` the log-Jacobian ``y`` of the log transform is added (NUTS samples ``y``);
    without it the density is that of ``e`` itself (MAP: the mode in the parameter's own scale).
    """
    e = math.exp(y)
    if kind == 0:  # HalfFlat
        logp, dlogp = 0.0, 0.0
    elif kind == 1:  # LogNormal(mu=p1, sigma=p2)
        z = (y - p1) / p2
        logp = -y - math.log(p2) - _HALF_LOG_2PI - 0.5 * z * z
        dlogp = -1.0 - z / p2
    elif kind == 2:  # Gamma(alpha=p1, beta=p2)
        logp = p1 * math.log(p2) - math.lgamma(p1) + (p1 - 1) * y - p2 * e
        dlogp = (p1 - 1) - p2 * e
    elif kind == 3:  # Exponential(lam=p1)
        logp = math.log(p1) - p1 * e
        dlogp = -p1 * e
    elif kind == 4:  # HalfNormal(sigma=p1)
        logp = 0.5 * math.log(2 / math.pi) - math.log(p1) - 0.5 * (e / p1) ** 2
        dlogp = -((e / p1) ** 2)
    else:  # Weibull(alpha=p1, beta=p2)
        power = (e / p2) ** p1
        logp = math.log(p1) - p1 * math.log(p2) + (p1 - 1) * y - power
        dlogp = (p1 - 1) - p1 * power
    if jacobian:
        logp += y
        dlogp += 1.0
    return logp, dlogp


@_kernel()
def _bg_nbd(th, buf, o, n_rows, n_x, n_u, n_v, modified, g):
    """BG/NBD (``modified`` False) or MBG/NBD log-likelihood of the rows; its gradient in the
    parameters (r, alpha, a, b) goes to ``g``. clvlib.likelihoods has the formulas."""
    r, alpha, a, b = th[0], th[1], th[2], th[3]
    xs, xw = buf[o:o + n_x], buf[o + n_x:o + 2 * n_x]
    o += 2 * n_x
    x, xi, ui, vi, w = (buf[o:o + n_rows], buf[o + n_rows:o + 2 * n_rows],
                        buf[o + 2 * n_rows:o + 3 * n_rows], buf[o + 3 * n_rows:o + 4 * n_rows],
                        buf[o + 4 * n_rows:o + 5 * n_rows])
    o += 5 * n_rows
    u, v = buf[o:o + n_u], buf[o + n_u:o + n_u + n_v]
    extra = 1.0 if modified else 0.0
    log_alpha, log_a = math.log(alpha), math.log(a)
    lg_r, lg_ab, lg_b = math.lgamma(r), math.lgamma(a + b), math.lgamma(b)
    psi_r, psi_ab, psi_b = digamma(r), digamma(a + b), digamma(b)
    ll = d_r = d_alpha = d_a = d_b = 0.0
    log_bx = np.empty(n_x)
    inv_bx = np.empty(n_x)
    for k in range(n_x):
        xk, wk = xs[k], xw[k]
        psi_abx = digamma(a + b + xk + extra)
        ll += wk * (math.lgamma(r + xk) - lg_r + r * log_alpha + lg_ab + math.lgamma(b + xk)
                    - lg_b - math.lgamma(a + b + xk + extra))
        d_r += wk * (digamma(r + xk) - psi_r + log_alpha)
        d_alpha += wk * r / alpha
        d_a += wk * (psi_ab - psi_abx)
        d_b += wk * (psi_ab + digamma(b + xk) - psi_b - psi_abx)
        bx = b + xk if modified else b + max(xk, 1.0) - 1.0
        log_bx[k] = math.log(bx)
        inv_bx[k] = 1.0 / bx
    log_u, inv_u = np.empty(n_u), np.empty(n_u)
    for j in range(n_u):
        log_u[j] = math.log(alpha + u[j])
        inv_u[j] = 1.0 / (alpha + u[j])
    log_v, inv_v = np.empty(n_v), np.empty(n_v)
    for j in range(n_v):
        log_v[j] = math.log(alpha + v[j])
        inv_v[j] = 1.0 / (alpha + v[j])
    # The row loop: one exp, one log and one division per row. log(1 + e^-|z|) rather than
    # log1p: the same to 1e-16 in absolute terms, which is what the sum needs, at half the cost.
    drop_total = 0.0  # sum of w * P(dropped branch), for d/da
    for i in range(n_rows):
        xk, wi = x[i], w[i]
        k, iu, iv = int(xi[i]), int(ui[i]), int(vi[i])
        rx = r + xk
        alive = -rx * log_v[iv]
        if modified:
            alive += log_bx[k]
        if modified or xk > 0:
            dropped = log_a - rx * log_u[iu]
            if not modified:
                dropped -= log_bx[k]
            z = dropped - alive
            ez = math.exp(-abs(z))
            share = 1.0 / (1.0 + ez)  # of the larger branch
            if z > 0:
                term, w_drop, w_alive = dropped + math.log(1.0 + ez), share, ez * share
            else:
                term, w_drop, w_alive = alive + math.log(1.0 + ez), ez * share, share
        else:
            term, w_drop, w_alive = alive, 0.0, 1.0
        ll += wi * term
        d_r -= wi * (w_alive * log_v[iv] + w_drop * log_u[iu])
        d_alpha -= wi * rx * (w_alive * inv_v[iv] + w_drop * inv_u[iu])
        drop_total += wi * w_drop
        if modified:
            d_b += wi * w_alive * inv_bx[k]
        else:
            d_b -= wi * w_drop * inv_bx[k]
    d_a += drop_total / a
    g[0], g[1], g[2], g[3] = d_r, d_alpha, d_a, d_b
    return ll


# Fast-math without the no-NaN/no-infinity assumptions: a non-finite value still shows.
@_kernel(fastmath={"reassoc", "contract", "arcp", "nsz", "afn"})
def _pareto_nbd(th, buf, o, n_rows, n_x, n_u, n_v, g):
    """Pareto/NBD log-likelihood of the rows (16-node quadrature of clvlib.likelihoods) and
    its gradient in (r, alpha, s, beta), differentiated through the quadrature."""
    r, alpha, s, beta = th[0], th[1], th[2], th[3]
    xs, xw = buf[o:o + n_x], buf[o + n_x:o + 2 * n_x]
    o += 2 * n_x
    x, ui, vi, w = (buf[o:o + n_rows], buf[o + 2 * n_rows:o + 3 * n_rows],
                    buf[o + 3 * n_rows:o + 4 * n_rows], buf[o + 4 * n_rows:o + 5 * n_rows])
    o += 5 * n_rows
    u, v = buf[o:o + n_u], buf[o + n_u:o + n_u + n_v]
    log_alpha, log_beta = math.log(alpha), math.log(beta)
    lg_r, psi_r = math.lgamma(r), digamma(r)
    ll = 0.0
    grad = np.zeros(4)
    for k in range(n_x):
        xk, wk = xs[k], xw[k]
        ll += wk * (math.lgamma(r + xk) - lg_r + r * log_alpha + s * log_beta)
        grad[0] += wk * (digamma(r + xk) - psi_r + log_alpha)
        grad[1] += wk * r / alpha
        grad[2] += wk * log_beta
        grad[3] += wk * s / beta
    nodes = PNBD_HALF.size
    # d(m), d(e), d(c), d(u_low), d(log scale), d(alive), d(log integral): 4-vectors in
    # (r, alpha, s, beta).
    dm, de, dc, du = np.zeros(4), np.zeros(4), np.zeros(4), np.zeros(4)
    dk = np.array([1.0, 0.0, 1.0, 0.0])
    alpha_le_beta = alpha <= beta
    m = alpha if alpha_le_beta else beta
    if alpha_le_beta:
        dm[1] = 1.0
        de[2] = 1.0
    else:
        dm[3] = 1.0
        de[0] = 1.0
    # Logarithms per distinct t_x and T, gathered to the rows.
    log_m_u, log_m_v = np.empty(n_u), np.empty((3, n_v))
    for j in range(n_u):
        log_m_u[j] = math.log(m + u[j])
    for j in range(n_v):
        log_m_v[0, j] = math.log(alpha + v[j])
        log_m_v[1, j] = math.log(beta + v[j])
        log_m_v[2, j] = math.log(m + v[j])
    for i in range(n_rows):
        xk, wi = x[i], w[i]
        iu, iv = int(ui[i]), int(vi[i])
        t_x, T = u[iu], v[iv]
        rx = r + xk
        k = r + s + xk
        la_T, lb_T = log_m_v[0, iv], log_m_v[1, iv]
        alive = -rx * la_T - s * lb_T
        e = s + 1.0 if alpha_le_beta else rx
        c = abs(alpha - beta) / (m + t_x)
        dc[:] = 0.0
        if alpha_le_beta:
            dc[1] = -(1.0 + c) / (alpha + t_x)
            dc[3] = 1.0 / (alpha + t_x)
        else:
            dc[1] = 1.0 / (beta + t_x)
            dc[3] = -(1.0 + c) / (beta + t_x)
        lm_tx = log_m_u[iu]
        u_T = lm_tx - log_m_v[2, iv]
        cut = -PNBD_CUTOFF / k - math.log1p(c)
        if u_T >= cut:
            u_low = u_T
            for j in range(4):
                du[j] = dm[j] * (1.0 / (m + t_x) - 1.0 / (m + T))
        else:
            u_low = cut
            for j in range(4):
                du[j] = dk[j] * PNBD_CUTOFF / (k * k) - dc[j] / (1.0 + c)
        width = -u_low
        clipped = width < 1e-12
        if clipped:
            width = 1e-12
        log_scale = -k * lm_tx + math.log(width / 2)
        # The integrand's log, G(u) = k u - e log(1 + c e^u), is concave: its largest value on
        # [u_low, 0] scales the terms (in place of a first pass for their maximum).
        u_star = 0.0
        if c > 0 and k * (1.0 + c) < e * c:
            u_star = max(math.log(k / ((e - k) * c)), u_low)
        high = k * u_star - e * math.log1p(c * math.exp(u_star))
        # Symmetric nodes: h_j + h_(n-1-j) = 1, so e^(u_j) of the partner node is
        # e^(u_low) / e^(u_j); and log(1 + c e^u) in place of log1p, as precise here in
        # absolute terms (what the sum needs) and half the cost.
        edge = math.exp(u_low)
        total = s_u = s_h = s_l = s_q = s_qh = 0.0
        for j in range(nodes // 2):
            z_near = math.exp(u_low * PNBD_HALF[j])
            for side in range(2):
                jj = j if side == 0 else nodes - 1 - j
                h = PNBD_HALF[jj]
                if side == 0:
                    eu = z_near
                elif edge > 0.0:
                    eu = edge / z_near
                else:
                    eu = math.exp(u_low * h)
                uj = u_low * h
                lp = math.log(1.0 + c * eu)
                qj = eu / (1.0 + c * eu)  # d log(1 + c e^u) / dc
                t = math.exp(PNBD_LOG_WEIGHTS[jj] + k * uj - e * lp - high)
                total += t
                s_u += t * uj
                s_h += t * h
                s_l += t * lp
                s_q += t * qj
                s_qh += t * c * qj * h
        # Sums over nodes weighted by each node's share of the integral.
        s_u, s_h, s_l, s_q, s_qh = (s_u / total, s_h / total, s_l / total, s_q / total,
                                    s_qh / total)
        log_integral = log_scale + high + math.log(total)
        integral_term = math.log(s) + log_integral
        z = integral_term - alive
        if z > 0:
            ez = math.exp(-z)
            term, w_int, w_alive = integral_term + math.log1p(ez), 1.0 / (1.0 + ez), ez / (1.0 + ez)
        else:
            ez = math.exp(z)
            term, w_int, w_alive = alive + math.log1p(ez), ez / (1.0 + ez), 1.0 / (1.0 + ez)
        ll += wi * term
        for j in range(4):
            # d F_j = u_j dk + k h_j du - log1p(c e^u_j) de - e q_j (dc + c h_j du)
            d_nodes = (s_u * dk[j] + k * s_h * du[j] - s_l * de[j]
                       - e * s_q * dc[j] - e * s_qh * du[j])
            d_scale = -dk[j] * lm_tx - k * dm[j] / (m + t_x)
            if not clipped:
                d_scale -= du[j] / width
            d_int = d_scale + d_nodes
            d_alive = 0.0
            if j == 0:
                d_alive = -la_T
            elif j == 1:
                d_alive = -rx / (alpha + T)
            elif j == 2:
                d_alive = -lb_T
                d_int += 1.0 / s
            else:
                d_alive = -s / (beta + T)
            grad[j] += wi * (w_alive * d_alive + w_int * d_int)
    for j in range(4):
        g[j] = grad[j]
    return ll


@_kernel()
def _gamma_gamma(th, buf, o, n_rows, n_x, g, sum_wx_log_m, sum_w_log_m):
    """Gamma-Gamma log-likelihood of the rows and its gradient in (p, q, gamma)."""
    p, q, gam = th[0], th[1], th[2]
    xs, xw = buf[o:o + n_x], buf[o + n_x:o + 2 * n_x]
    o += 2 * n_x
    x, m = buf[o:o + n_rows], buf[o + 2 * n_rows:o + 3 * n_rows]
    w = buf[o + 4 * n_rows:o + 5 * n_rows]
    log_gam = math.log(gam)
    lg_q, psi_q = math.lgamma(q), digamma(q)
    # (p x - 1) log m summed over rows: p * sum(w x log m) - sum(w log m), both data constants.
    ll = p * sum_wx_log_m - sum_w_log_m
    d_p, d_q, d_g = sum_wx_log_m, 0.0, 0.0
    for k in range(n_x):
        xk, wk = xs[k], xw[k]
        px = p * xk
        psi_pxq = digamma(px + q)
        ll += wk * (math.lgamma(px + q) - math.lgamma(px) - lg_q + q * log_gam + px * math.log(xk))
        d_p += wk * xk * (psi_pxq - digamma(px) + math.log(xk))
        d_q += wk * (psi_pxq - psi_q + log_gam)
        d_g += wk * q / gam
    for i in range(n_rows):
        xk, wi = x[i], w[i]
        px = p * xk
        spend = gam + xk * m[i]
        log_spend = math.log(spend)
        ll -= wi * (px + q) * log_spend
        d_p -= wi * xk * log_spend
        d_q -= wi * log_spend
        d_g -= wi * (px + q) / spend
    g[0], g[1], g[2] = d_p, d_q, d_g
    return ll


@_kernel()
def _priors(y, buf, grad, th, excess):
    """The log prior of the point ``y`` (its gradient into ``grad``); fills the parameters
    ``th`` (shift + excess) and their excess ``exp(y)``."""
    jacobian = buf[2] > 0
    logp = 0.0
    for j in range(int(buf[1])):
        kind, p1, p2, shift = buf[HEADER + 4 * j:HEADER + 4 * j + 4]
        excess[j] = math.exp(y[j])
        th[j] = shift + excess[j]
        lp, dlp = _prior(int(kind), p1, p2, y[j], jacobian)
        logp += lp
        grad[j] = dlp
    return logp


@_kernel()
def _chain(grad, g, excess, n):
    """Add the likelihood's gradient in the parameters, ``g``, to ``grad`` (in ``y``)."""
    for j in range(n):
        grad[j] += g[j] * excess[j]  # d/dy = d/dtheta * dtheta/dy


# One density per model, so that a fit compiles (the first time) only its own model's code.
# Each takes the unconstrained point y (log excess of each parameter over its shift), the buffer
# and the array its gradient in y goes to, and returns the log posterior density.


@_kernel()
def bg_nbd_density(y, buf, grad):
    """BG/NBD log posterior density (:func:`_bg_nbd` and the priors)."""
    th, excess, g = np.empty(MAX_PARAMS), np.empty(MAX_PARAMS), np.zeros(MAX_PARAMS)
    logp = _priors(y, buf, grad, th, excess)
    logp += _bg_nbd(th, buf, HEADER + 4 * int(buf[1]), int(buf[4]), int(buf[5]), int(buf[6]),
                    int(buf[7]), False, g)
    _chain(grad, g, excess, int(buf[1]))
    return logp


@_kernel()
def mbg_nbd_density(y, buf, grad):
    """MBG/NBD log posterior density (:func:`_bg_nbd` and the priors)."""
    th, excess, g = np.empty(MAX_PARAMS), np.empty(MAX_PARAMS), np.zeros(MAX_PARAMS)
    logp = _priors(y, buf, grad, th, excess)
    logp += _bg_nbd(th, buf, HEADER + 4 * int(buf[1]), int(buf[4]), int(buf[5]), int(buf[6]),
                    int(buf[7]), True, g)
    _chain(grad, g, excess, int(buf[1]))
    return logp


@_kernel()
def pareto_nbd_density(y, buf, grad):
    """Pareto/NBD log posterior density (:func:`_pareto_nbd` and the priors)."""
    th, excess, g = np.empty(MAX_PARAMS), np.empty(MAX_PARAMS), np.zeros(MAX_PARAMS)
    logp = _priors(y, buf, grad, th, excess)
    logp += _pareto_nbd(th, buf, HEADER + 4 * int(buf[1]), int(buf[4]), int(buf[5]),
                        int(buf[6]), int(buf[7]), g)
    _chain(grad, g, excess, int(buf[1]))
    return logp


@_kernel()
def gamma_gamma_density(y, buf, grad):
    """Gamma-Gamma log posterior density (:func:`_gamma_gamma` and the priors)."""
    th, excess, g = np.empty(MAX_PARAMS), np.empty(MAX_PARAMS), np.zeros(MAX_PARAMS)
    logp = _priors(y, buf, grad, th, excess)
    logp += _gamma_gamma(th, buf, HEADER + 4 * int(buf[1]), int(buf[4]), int(buf[5]), g,
                         buf[8], buf[9])
    _chain(grad, g, excess, int(buf[1]))
    return logp


def evaluate(y, buf) -> tuple[float, np.ndarray]:
    """The log density at ``y`` and its gradient, for Python callers (MAP, tests): through the
    model's nutpie callback, so nothing else is compiled."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    grad, logp = np.empty(y.size), np.empty(1)
    callback = nutpie_callbacks(int(buf[0]))[0]
    double = ctypes.POINTER(ctypes.c_double)
    status = callback.ctypes(y.size, y.ctypes.data_as(double), grad.ctypes.data_as(double),
                             logp.ctypes.data_as(double), buf.ctypes.data_as(ctypes.c_void_p))
    if status < 0:
        raise ValueError(f"the point has {y.size} coordinates; the model has {int(buf[1])}")
    return float(logp[0]), grad


# -- nutpie's C callbacks ---------------------------------------------------------------------

_LOGP_SIGNATURE = numba.types.int64(numba.types.uint64, numba.types.CPointer(numba.types.double),
                                    numba.types.CPointer(numba.types.double),
                                    numba.types.CPointer(numba.types.double), numba.types.voidptr)
_EXPAND_SIGNATURE = numba.types.int64(numba.types.uint64, numba.types.uint64,
                                      numba.types.CPointer(numba.types.double),
                                      numba.types.CPointer(numba.types.double),
                                      numba.types.voidptr)


@_kernel()
def _buffer(data):
    """The buffer behind nutpie's user-data pointer (its length is in its header)."""
    header = numba.carray(data, (HEADER,), dtype=np.float64)
    return numba.carray(data, (int(header[3]),), dtype=np.float64)


@_kernel()
def _status(grad, logp):
    """nutpie's return code: 0 fine, 3 a gradient that is not finite, 4 a log density that is
    not (as nutpie's own PyMC callback says)."""
    for j in range(grad.size):
        if not math.isfinite(grad[j]):
            return 3
    return 0 if math.isfinite(logp) else 4


# The log-density callbacks, one per model (-1: nutpie passed a point of another dimension).

def _logp_bg_nbd(dim, x_, grad_, logp_, data_):
    buf = _buffer(data_)
    if dim != int(buf[1]):
        return -1
    grad = numba.carray(grad_, (dim,))
    logp_[0] = bg_nbd_density(numba.carray(x_, (dim,)), buf, grad)
    return _status(grad, logp_[0])


def _logp_mbg_nbd(dim, x_, grad_, logp_, data_):
    buf = _buffer(data_)
    if dim != int(buf[1]):
        return -1
    grad = numba.carray(grad_, (dim,))
    logp_[0] = mbg_nbd_density(numba.carray(x_, (dim,)), buf, grad)
    return _status(grad, logp_[0])


def _logp_pareto_nbd(dim, x_, grad_, logp_, data_):
    buf = _buffer(data_)
    if dim != int(buf[1]):
        return -1
    grad = numba.carray(grad_, (dim,))
    logp_[0] = pareto_nbd_density(numba.carray(x_, (dim,)), buf, grad)
    return _status(grad, logp_[0])


def _logp_gamma_gamma(dim, x_, grad_, logp_, data_):
    buf = _buffer(data_)
    if dim != int(buf[1]):
        return -1
    grad = numba.carray(grad_, (dim,))
    logp_[0] = gamma_gamma_density(numba.carray(x_, (dim,)), buf, grad)
    return _status(grad, logp_[0])


def _expand(dim, n_expanded, x_, out_, data_):
    """nutpie's callback that turns an unconstrained point into the parameters' values."""
    buf = _buffer(data_)
    if dim != int(buf[1]) or n_expanded != dim:
        return -1
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    for j in range(dim):
        out[j] = buf[HEADER + 4 * j + 3] + math.exp(x[j])
    return 0


_CALLBACKS = {BG_NBD: _logp_bg_nbd, MBG_NBD: _logp_mbg_nbd, PARETO_NBD: _logp_pareto_nbd,
              GAMMA_GAMMA: _logp_gamma_gamma}


@functools.cache
def nutpie_callbacks(model: int):
    """The C callbacks nutpie calls for a model, ``(logp, expand)``: compiled on first use (not
    on import) and loaded from numba's on-disk cache by later processes.

    A cache file that cannot be read (truncated, from a crashed write) is removed and the
    callbacks compiled again, rather than failing or trusting it.
    """
    def compile_them():
        return (numba.cfunc(_LOGP_SIGNATURE, cache=True)(_CALLBACKS[model]),
                numba.cfunc(_EXPAND_SIGNATURE, cache=True)(_expand))

    try:
        return compile_them()
    except Exception as err:  # noqa: BLE001 - any failure to load the cache is treated alike
        _cache_unreadable(err)
        return compile_them()


def _cache_unreadable(err: Exception) -> None:
    removed = clear_cache()
    warnings.warn(f"clvlib: the compiled-kernel cache could not be loaded ({err}); removed "
                  f"{removed} cache file(s) and compiled again", stacklevel=3)


def cache_files() -> list[Path]:
    """numba's cache files of this module's kernels (index ``.nbi`` and data ``.nbc``)."""
    folder = Path(bg_nbd_density._cache._cache_path)
    return sorted(folder.glob(f"{Path(__file__).stem}.*.nb[ic]"))


def clear_cache() -> int:
    """Remove this module's cache files; returns how many were removed."""
    files = cache_files()
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)
