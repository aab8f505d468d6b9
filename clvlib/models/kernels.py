"""Log posterior densities and their gradients, compiled once per machine (numba, cached).

The NUTS and MAP fits of the plain BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma models (no
covariates, no groups, priors from :data:`PRIOR_KINDS`) evaluate their log posterior here
instead of through a PyTensor graph compiled in every process. Everything a fit needs at run
time (the model, its priors, the compressed rows) travels in one float64 buffer, so one
compiled function serves every model, prior and data set, and numba's on-disk cache
(``cache=True``) keeps it between processes: a refit loads it in milliseconds instead of
compiling for seconds.

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

import functools
import math
import warnings
from pathlib import Path

import numba
import numpy as np

BG_NBD, MBG_NBD, PARETO_NBD, GAMMA_GAMMA = 1, 2, 3, 4
HEADER = 10
#: Prior families with a hand-written log density (on the excess over ``shift``), by code.
PRIOR_KINDS = {"HalfFlat": 0, "LogNormal": 1, "Gamma": 2, "Exponential": 3, "HalfNormal": 4,
               "Weibull": 5}
MAX_PARAMS = 4
# Pareto/NBD: the Gauss-Legendre rule and cut-off of clvlib.likelihoods (imported there too).
PNBD_NODES, PNBD_WEIGHTS = np.polynomial.legendre.leggauss(16)
PNBD_LOG_WEIGHTS = np.log(PNBD_WEIGHTS)
PNBD_HALF = (1 - PNBD_NODES) / 2
PNBD_CUTOFF = 25.0
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@numba.njit(cache=True)
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


@numba.njit(cache=True)
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


@numba.njit(cache=True)
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
    for i in range(n_rows):
        xk, wi = x[i], w[i]
        k, iu, iv = int(xi[i]), int(ui[i]), int(vi[i])
        rx = r + xk
        if modified:
            alive = log_bx[k] - rx * log_v[iv]
        else:
            alive = -rx * log_v[iv]
        if modified or xk > 0:
            dropped = log_a - rx * log_u[iu]
            if not modified:
                dropped -= log_bx[k]
            z = dropped - alive
            if z > 0:
                ez = math.exp(-z)
                term, w_drop, w_alive = dropped + math.log1p(ez), 1.0 / (1.0 + ez), ez / (1.0 + ez)
            else:
                ez = math.exp(z)
                term, w_drop, w_alive = alive + math.log1p(ez), ez / (1.0 + ez), 1.0 / (1.0 + ez)
        else:
            term, w_drop, w_alive = alive, 0.0, 1.0
        ll += wi * term
        d_r -= wi * (w_alive * log_v[iv] + w_drop * log_u[iu])
        d_alpha -= wi * rx * (w_alive * inv_v[iv] + w_drop * inv_u[iu])
        d_a += wi * w_drop / a
        if modified:
            d_b += wi * w_alive * inv_bx[k]
        else:
            d_b -= wi * w_drop * inv_bx[k]
    g[0], g[1], g[2], g[3] = d_r, d_alpha, d_a, d_b
    return ll


# Fast-math without the no-NaN/no-infinity assumptions: a non-finite value still shows.
@numba.njit(cache=True, fastmath={"reassoc", "contract", "arcp", "nsz", "afn"})
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
    dm[:] = 0.0
    de[:] = 0.0
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


@numba.njit(cache=True)
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


@numba.njit(cache=True)
def log_density(y, buf, grad):
    """The log posterior density at the unconstrained point ``y`` (log excess of each
    parameter over its shift) and, into ``grad``, its gradient in ``y``."""
    model, n_params, jacobian = int(buf[0]), int(buf[1]), buf[2] > 0
    n_rows, n_x, n_u, n_v = int(buf[4]), int(buf[5]), int(buf[6]), int(buf[7])
    th = np.empty(MAX_PARAMS)
    excess = np.empty(MAX_PARAMS)
    logp = 0.0
    for j in range(n_params):
        kind, p1, p2, shift = buf[HEADER + 4 * j:HEADER + 4 * j + 4]
        excess[j] = math.exp(y[j])
        th[j] = shift + excess[j]
        lp, dlp = _prior(int(kind), p1, p2, y[j], jacobian)
        logp += lp
        grad[j] = dlp
    g = np.zeros(MAX_PARAMS)
    o = HEADER + 4 * n_params
    if model == BG_NBD:
        logp += _bg_nbd(th, buf, o, n_rows, n_x, n_u, n_v, False, g)
    elif model == MBG_NBD:
        logp += _bg_nbd(th, buf, o, n_rows, n_x, n_u, n_v, True, g)
    elif model == PARETO_NBD:
        logp += _pareto_nbd(th, buf, o, n_rows, n_x, n_u, n_v, g)
    else:
        logp += _gamma_gamma(th, buf, o, n_rows, n_x, g, buf[8], buf[9])
    for j in range(n_params):
        grad[j] += g[j] * excess[j]  # d/dy = d/dtheta * dtheta/dy
    return logp


@numba.njit(cache=True)
def log_density_and_gradient(y, buf):
    """:func:`log_density` returning ``(logp, gradient)`` (for Python callers: MAP, tests)."""
    grad = np.empty(y.size)
    return log_density(y, buf, grad), grad


_LOGP_SIGNATURE = numba.types.int64(numba.types.uint64, numba.types.CPointer(numba.types.double),
                                    numba.types.CPointer(numba.types.double),
                                    numba.types.CPointer(numba.types.double), numba.types.voidptr)
_EXPAND_SIGNATURE = numba.types.int64(numba.types.uint64, numba.types.uint64,
                                      numba.types.CPointer(numba.types.double),
                                      numba.types.CPointer(numba.types.double),
                                      numba.types.voidptr)


def _nutpie_logp(dim, x_, grad_, logp_, data_):
    """nutpie's C callback: the log density and gradient at ``x_`` (0 = fine, 3/4 = the
    gradient/value is not finite, as nutpie's own PyMC callback says)."""
    header = numba.carray(data_, (HEADER,), dtype=np.float64)
    buf = numba.carray(data_, (int(header[3]),), dtype=np.float64)
    if dim != int(header[1]):
        return -1
    x = numba.carray(x_, (dim,))
    grad = numba.carray(grad_, (dim,))
    logp = log_density(x, buf, grad)
    logp_[0] = logp
    for j in range(dim):
        if not math.isfinite(grad[j]):
            return 3
    if not math.isfinite(logp):
        return 4
    return 0


def _nutpie_expand(dim, n_expanded, x_, out_, data_):
    """nutpie's C callback that turns an unconstrained point into the parameters' values."""
    header = numba.carray(data_, (HEADER,), dtype=np.float64)
    buf = numba.carray(data_, (int(header[3]),), dtype=np.float64)
    if dim != int(header[1]) or n_expanded != dim:
        return -1
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    for j in range(dim):
        out[j] = buf[HEADER + 4 * j + 3] + math.exp(x[j])
    return 0


@functools.cache
def nutpie_callbacks():
    """The C callbacks nutpie calls, ``(logp, expand)``: compiled on first use (not on import)
    and loaded from numba's on-disk cache by later processes.

    A cache file that cannot be read (truncated, from a crashed write) is removed and the
    callbacks compiled again, rather than failing or trusting it.
    """
    try:
        return _compile_callbacks()
    except Exception as err:  # noqa: BLE001 - any failure to load the cache is treated alike
        removed = clear_cache()
        warnings.warn(f"clvlib: the compiled-kernel cache could not be loaded ({err}); "
                      f"removed {removed} cache file(s) and compiled again", stacklevel=2)
        return _compile_callbacks()


def evaluate(y, buf):
    """:func:`log_density_and_gradient` for Python callers, with the same recovery from an
    unreadable cache as :func:`nutpie_callbacks`."""
    try:
        return log_density_and_gradient(y, buf)
    except Exception as err:
        if log_density_and_gradient.signatures:  # compiled already: the error is not the cache's
            raise
        removed = clear_cache()
        warnings.warn(f"clvlib: the compiled-kernel cache could not be loaded ({err}); "
                      f"removed {removed} cache file(s) and compiled again", stacklevel=2)
        return log_density_and_gradient(y, buf)


def _compile_callbacks():
    return (numba.cfunc(_LOGP_SIGNATURE, cache=True)(_nutpie_logp),
            numba.cfunc(_EXPAND_SIGNATURE, cache=True)(_nutpie_expand))


def cache_files() -> list[Path]:
    """numba's cache files of this module's kernels (index ``.nbi`` and data ``.nbc``)."""
    folder = Path(log_density._cache._cache_path)
    return sorted(folder.glob(f"{Path(__file__).stem}.*.nb[ic]"))


def clear_cache() -> int:
    """Remove this module's cache files; returns how many were removed."""
    files = cache_files()
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)
