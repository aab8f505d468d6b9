"""Log posterior densities and their gradients, compiled once per machine (numba, cached).

The NUTS and MAP fits of the BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma models (plain, with
covariates or pooled across groups; priors from :data:`PRIOR_KINDS`) evaluate their log
posterior here instead of through a PyTensor graph compiled in every process. Everything a fit
needs at run time (its priors, links and compressed rows) travels in one float64 buffer, so one
compiled function per model serves every prior, design and data set, and numba's on-disk cache
(``cache=True``) keeps it between processes: a refit loads it in a fraction of a second instead
of compiling for seconds (a first, cold, compile takes 2-4 s).

These are the likelihoods of :mod:`clvlib.likelihoods` written a second time, by hand, with
their gradients: no library differentiates them into code that can be cached this way (PyTensor's
numba backend recompiles its wrapper in every process, see issue 14). tests/test_kernels.py
holds each equal to the PyTensor model's log density and gradient to 1e-10 over a grid of
parameters, priors, designs and data.

Parameters indexed by customer. The compressed rows fall into *patterns*: distinct values of
the model's coded covariates and group (one pattern for a plain model). Each pattern ``p`` has
its own likelihood parameters ``P[p, j] = theta_j * exp(eta[p, j])`` (flat arrays, four
numbers per pattern), where ``theta_j`` is the
population parameter and ``eta`` a sum of *link terms* ``value * v[c1] * v[c2]`` over the
model's variables ``v`` (a covariate term: the sign of the link times the covariate, times a
coefficient; a group term: the sign times ``sigma`` times the group's ``z``). The likelihood
kernels return the log-likelihood and its gradient in ``P``; :func:`_unlink` carries that back
to the variables.

The buffer (see :func:`clvlib.models.density.compiled_density`): a header of :data:`HEADER`
numbers (model code, number of coordinates of the unconstrained point, whether the
log-Jacobian of the transforms is included, the buffer's length, the number of rows, of
distinct (pattern, ``x``) pairs and of the two value tables, two constants, the number of
likelihood parameters, of patterns and of link terms); four numbers per coordinate (prior kind,
its two parameters, shift); five per link term (pattern, parameter, ``c1``, ``c2`` or -1,
value); then the arrays: the distinct (pattern, ``x``) pairs' ``x``, pattern and weight; per
row (sorted by pattern) ``x``, its pair index, two columns ``c1``, ``c2`` and the row weight;
where each pattern's rows start (one more number than patterns); then the two value tables
``u`` and ``v``, each with the pattern of its entries. For BG/NBD, MBG/NBD and Pareto/NBD,
``c1`` and ``c2`` index the distinct (pattern, ``t_x``) (``u``) and (pattern,
``T``) (``v``); for Gamma-Gamma they hold ``m`` and ``log m``.

All kernels live in this one file on purpose: numba's cache is invalidated when the file of the
cached function changes, not when a helper in another module does.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

BG_NBD, MBG_NBD, PARETO_NBD, GAMMA_GAMMA = 1, 2, 3, 4


def _kernel(**options):
    """numba's njit, cached on disk, without the Python-callable wrapper: every kernel is called
    from other kernels or the C callbacks only, and the wrapper is a good share of the time a
    first (cold) compile takes."""
    return numba.njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True,
                      error_model="numpy", **options)


HEADER = 16
# Slots of the header that Python reads or sets (the kernels read them by number).
H_MODEL, H_COORDS, H_JACOBIAN, H_LENGTH = 0, 1, 2, 3
H_PARAMS, H_PATTERNS, H_TERMS = 10, 11, 12
PRIOR_WIDTH, TERM_WIDTH = 4, 5
#: Prior families with a hand-written log density, by code: those below :data:`UNBOUNDED` on
#: the excess over ``shift`` of a positive parameter (sampled as its log), the others on the
#: real line (sampled as they are).
PRIOR_KINDS = {"HalfFlat": 0, "LogNormal": 1, "Gamma": 2, "Exponential": 3, "HalfNormal": 4,
               "Weibull": 5, "Normal": 6, "Flat": 7}
UNBOUNDED = 6
#: The prior code of a group's effect sampled on its own scale ("centered"): ``e ~ Normal(0,
#: sigma)``, with sigma the coordinate named by the prior's first number; the model's variable
#: is the standardized ``z = e / sigma``. The same posterior as sampling ``z`` itself, and an
#: easier one for NUTS when every group has many customers.
CENTERED = 8
# Pareto/NBD: the Gauss-Legendre rule and cut-off of the quadrature in clvlib.likelihoods
# (which imports them from here).
PNBD_NODES, PNBD_WEIGHTS = np.polynomial.legendre.leggauss(16)
PNBD_CUTOFF = 25.0
# The kernel integrates each row with the fewest nodes that reach the 16-node rule's precision
# (relative error below 3e-14, checked against adaptive quadrature over 8,000 random integrands):
# a rule of n nodes serves an integrand whose rate times the interval's width is at most
# PNBD_TIER_RATE and whose singularity (of log(1 + c e^u)) lies far enough from the interval
# (the Bernstein-ellipse size |w| at least PNBD_TIER_REACH); the 16-node rule serves the rest.
PNBD_TIER_NODES = (8, 10, 12, 16)
PNBD_TIER_RATE = (3.0, 4.0, 10.0, math.inf)
PNBD_TIER_REACH = (8.0, 4.0, 4.0, 0.0)
_TIER_RULES = [np.polynomial.legendre.leggauss(n) for n in PNBD_TIER_NODES]
PNBD_TIER_HALF = np.concatenate([(1 - nodes) / 2 for nodes, _ in _TIER_RULES])
PNBD_TIER_LOG_WEIGHTS = np.concatenate([np.log(weights) for _, weights in _TIER_RULES])
PNBD_TIER_START = np.cumsum((0,) + PNBD_TIER_NODES)[:-1]
PNBD_TIER_SPECS = np.array([PNBD_TIER_NODES, PNBD_TIER_RATE, PNBD_TIER_REACH,
                            PNBD_TIER_START], dtype=np.float64)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_BLOCK = 256  # rows at a time in the BG/NBD row loop


# Fast-math without the no-NaN/no-infinity assumptions (a non-finite value still shows) and
# without reassociation: the kernels add in the order they are written. A sum LLVM vectorizes
# by reassociating it depends on how it split it, and that differed between the code compiled
# in a process and the same code loaded from numba's cache (a refit from the cache drew other
# draws than the first fit); exp_poly and log_poly rely on the order of their operations too.
FASTMATH = {"contract", "arcp", "nsz", "afn"}


# exp and log in plain arithmetic, written here because numba calls libm's exp and log one
# number at a time, which keeps LLVM from vectorizing a loop over them (its vector maths
# library, SVML, needs an llvmlite built with Intel's patch, which PyPI's is not). LLVM inlines
# these two into the BG/NBD row loop and the Pareto/NBD node loop and runs 8 rows or nodes per
# AVX-512 instruction: BG/NBD's gradient on 1,000,000 simulated customers (222,584 rows) takes
# 1.7 ms instead of 4.0 ms with libm's, Pareto/NBD's on CDNOW master (11,104 rows) 1.1 instead
# of 1.7 ms.
# Both are fdlibm's algorithms (Cody-Waite reduction, then a polynomial) and agree with NumPy's
# exp and log to 1 ulp (tests/test_kernels.py).
@intrinsic
def _float_bits(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))
    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, i):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))
    return types.float64(types.int64), codegen


_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_SQRT2 = math.sqrt(2.0)


@_kernel(fastmath=FASTMATH)
def exp_poly(x):
    """e^x for x in [-708, 709] (beyond, e^-708 or e^709: the kernels only sum such terms
    with ones near 1); NaN stays NaN."""
    x = min(max(x, -708.0), 709.0)
    n = math.floor(x * 1.4426950408889634 + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO  # |r| <= log(2) / 2: Taylor to r^13 is exact in float64
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _bits_float((numba.int64(n) + 1023) << 52)


@_kernel(fastmath=FASTMATH)
def log_poly(x):
    """log x for a positive, finite, normal x (the kernels' 1 + c e^u and 1 + e^-|z|)."""
    bits = _float_bits(x)
    k = (bits >> 52) - 1023
    m = _bits_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # x = m 2^k, m in [1, 2)
    big = m > _SQRT2
    m = 0.5 * m if big else m
    k = k + 1 if big else k
    f = m - 1.0  # in [-0.29, 0.41]
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                              + w * 1.531383769920937332e-01))
    t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (
        1.818357216161805012e-01 + w * 1.479819860511658591e-01)))
    hfsq = 0.5 * f * f
    dk = float(k)
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + t1 + t2) + dk * _LN2_LO)) - f)


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
    """Log prior and its derivative in the unconstrained ``y``.

    For a positive parameter, of the excess ``e = exp(y)``; with ``jacobian`` the log-Jacobian
    ``y`` of the log transform is added (NUTS samples ``y``), without it the density is that of
    ``e`` itself (MAP: the mode in the parameter's own scale). For a real one, of ``y`` itself.
    """
    if kind == 6:  # Normal(mu=p1, sigma=p2), on the real line
        z = (y - p1) / p2
        return -math.log(p2) - _HALF_LOG_2PI - 0.5 * z * z, -z / p2
    if kind == 7:  # Flat
        return 0.0, 0.0
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
def _unpack(buf, o, n_rows, n_x, n_u, n_v, n_pat):
    """The data arrays from offset ``o`` (the layout in the module's docstring): the (pattern,
    x) pairs' x, pattern and weight; the rows' x, pair index, c1, c2 and weight; where each
    pattern's rows start; the u and v tables with their patterns."""
    xs, xp, xw = buf[o:o + n_x], buf[o + n_x:o + 2 * n_x], buf[o + 2 * n_x:o + 3 * n_x]
    o += 3 * n_x
    x, xi = buf[o:o + n_rows], buf[o + n_rows:o + 2 * n_rows]
    c1, c2 = buf[o + 2 * n_rows:o + 3 * n_rows], buf[o + 3 * n_rows:o + 4 * n_rows]
    w = buf[o + 4 * n_rows:o + 5 * n_rows]
    o += 5 * n_rows
    starts = buf[o:o + n_pat + 1]
    o += n_pat + 1
    u, up = buf[o:o + n_u], buf[o + n_u:o + 2 * n_u]
    o += 2 * n_u
    v, vp = buf[o:o + n_v], buf[o + n_v:o + 2 * n_v]
    return xs, xp, xw, x, xi, c1, c2, w, starts, u, up, v, vp


@_kernel(fastmath=FASTMATH)
def _bg_nbd(P, buf, o, n_rows, n_x, n_u, n_v, modified, G):
    """BG/NBD (``modified`` False) or MBG/NBD log-likelihood of the rows; its gradient in each
    pattern's parameters ``P[p] = (r, alpha, a, b)`` goes to ``G``. clvlib.likelihoods has the
    formulas."""
    n_pat = P.size // 4
    xs, xp, xw, x, xi, ui, vi, w, starts, u, up, v, vp = _unpack(buf, o, n_rows, n_x, n_u, n_v,
                                                                 n_pat)
    extra = 1.0 if modified else 0.0
    ll = 0.0
    log_bx = np.empty(n_x)
    inv_bx = np.empty(n_x)
    k = 0  # the (pattern, x) pairs come sorted by pattern
    for p in range(n_pat):
        r, alpha, a, b = P[4 * p], P[4 * p + 1], P[4 * p + 2], P[4 * p + 3]
        log_alpha = math.log(alpha)
        lg_r, lg_ab, lg_b = math.lgamma(r), math.lgamma(a + b), math.lgamma(b)
        psi_r, psi_ab, psi_b = digamma(r), digamma(a + b), digamma(b)
        g_r = g_alpha = g_a = g_b = 0.0
        while k < n_x and int(xp[k]) == p:
            xk, wk = xs[k], xw[k]
            psi_abx = digamma(a + b + xk + extra)
            ll += wk * (math.lgamma(r + xk) - lg_r + r * log_alpha + lg_ab
                        + math.lgamma(b + xk) - lg_b - math.lgamma(a + b + xk + extra))
            g_r += wk * (digamma(r + xk) - psi_r + log_alpha)
            g_alpha += wk * r / alpha
            g_a += wk * (psi_ab - psi_abx)
            g_b += wk * (psi_ab + digamma(b + xk) - psi_b - psi_abx)
            bx = b + xk if modified else b + max(xk, 1.0) - 1.0
            log_bx[k] = math.log(bx)
            inv_bx[k] = 1.0 / bx
            k += 1
        G[4 * p] += g_r
        G[4 * p + 1] += g_alpha
        G[4 * p + 2] += g_a
        G[4 * p + 3] += g_b
    log_u, inv_u = np.empty(n_u), np.empty(n_u)
    for j in range(n_u):
        log_u[j] = math.log(P[4 * int(up[j]) + 1] + u[j])
        inv_u[j] = 1.0 / (P[4 * int(up[j]) + 1] + u[j])
    log_v, inv_v = np.empty(n_v), np.empty(n_v)
    for j in range(n_v):
        log_v[j] = math.log(P[4 * int(vp[j]) + 1] + v[j])
        inv_v[j] = 1.0 / (P[4 * int(vp[j]) + 1] + v[j])
    # The row loop, in blocks of rows: each row's log-likelihood and the shares of its two
    # branches (one exp, one log and one division per row; both branches computed, then
    # chosen) in a pass LLVM vectorizes (exp_poly, log_poly: no branch, no sum, contiguous
    # arrays), between a pass that gathers each row's logarithms and one that sums, in row
    # order. log(1 + e^-|z|) rather than log1p: the same to 1e-16 in absolute terms, which is
    # what the sum needs. Rows come sorted by pattern (pattern p's rows from starts[p] to
    # starts[p + 1]).
    alive_b, dropped_b, two_b = np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK)
    term_b, wd_b, wa_b = np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK)
    for p in range(n_pat):
        r, la = P[4 * p], math.log(P[4 * p + 2])
        g_r = g_alpha = g_drop = g_b = 0.0  # g_drop: sum of w * P(dropped branch), for d/da
        end = int(starts[p + 1])
        for first in range(int(starts[p]), end, _BLOCK):
            n = min(_BLOCK, end - first)
            for j in range(n):
                i = first + j
                rx = r + x[i]
                k = int(xi[i])
                alive_b[j] = -rx * log_v[int(vi[i])] + (log_bx[k] if modified else 0.0)
                dropped_b[j] = la - rx * log_u[int(ui[i])] - (0.0 if modified else log_bx[k])
                # BG/NBD: no dropped branch without a repeat purchase
                two_b[j] = 1.0 if modified or x[i] > 0 else 0.0
            for j in range(n):
                alive, dropped = alive_b[j], dropped_b[j]
                z = dropped - alive
                ez = exp_poly(-abs(z))
                share = 1.0 / (1.0 + ez)  # of the larger branch
                two = two_b[j] > 0.0
                term_b[j] = (max(dropped, alive) + log_poly(1.0 + ez)) if two else alive
                wd_b[j] = (share if z > 0 else ez * share) if two else 0.0
                wa_b[j] = (ez * share if z > 0 else share) if two else 1.0
            for j in range(n):
                i = first + j
                wi, w_drop, w_alive = w[i], wd_b[j], wa_b[j]
                k, iu, iv = int(xi[i]), int(ui[i]), int(vi[i])
                ll += wi * term_b[j]
                g_r -= wi * (w_alive * log_v[iv] + w_drop * log_u[iu])
                g_alpha -= wi * (r + x[i]) * (w_alive * inv_v[iv] + w_drop * inv_u[iu])
                g_drop += wi * w_drop
                g_b += wi * (w_alive if modified else -w_drop) * inv_bx[k]
        G[4 * p] += g_r
        G[4 * p + 1] += g_alpha
        G[4 * p + 2] += g_drop / P[4 * p + 2]
        G[4 * p + 3] += g_b
    return ll


@_kernel(fastmath=FASTMATH)
def _pnbd_rule(k, e, c, inv_1c, l1c, u_low, width, log_gap, lm_tx):
    """A Pareto/NBD row's quadrature: its rule (the fewest nodes that keep the 16-node
    precision, PNBD_TIER_*: how many, and where the rule starts in PNBD_TIER_HALF), and the
    integrand's largest log on [u_low, 0], which scales its terms (the log, G(u) = k u - e
    log(1 + c e^u), is concave: its maximum takes no pass over the nodes)."""
    specs = PNBD_TIER_SPECS
    rate = max(k, e * c * inv_1c) * width
    if c > 0:
        reach2 = (width - 2.0 * (log_gap - lm_tx)) ** 2 + 4.0 * math.pi * math.pi
    else:
        reach2 = math.inf
    tier = 0
    while tier < 3 and not (rate <= specs[1, tier]
                            and reach2 >= (specs[2, tier] * width) ** 2):
        tier += 1
    if c > 0 and k * (1.0 + c) < e * c:
        u_star = max(math.log(k / ((e - k) * c)), u_low)
        high = k * u_star - e * math.log1p(c * math.exp(u_star))
    else:
        high = -e * l1c  # at u = 0
    return int(specs[0, tier]), int(specs[3, tier]), high


@_kernel(fastmath=FASTMATH)
def _pareto_nbd(P, buf, o, n_rows, n_x, n_u, n_v, G):
    """Pareto/NBD log-likelihood of the rows (the quadrature of clvlib.likelihoods, with as
    few nodes per row as keep its precision, see PNBD_TIER_NODES) and
    its gradient in each pattern's ``P[p] = (r, alpha, s, beta)``, differentiated through the
    quadrature."""
    n_pat = P.size // 4
    xs, xp, xw, x, _, ui, vi, w, starts, u, up, v, vp = _unpack(buf, o, n_rows, n_x, n_u, n_v,
                                                                n_pat)
    ll = 0.0
    k = 0  # the (pattern, x) pairs come sorted by pattern
    for p in range(n_pat):
        r, alpha, s, beta = P[4 * p], P[4 * p + 1], P[4 * p + 2], P[4 * p + 3]
        lg_r, psi_r = math.lgamma(r), digamma(r)
        log_alpha, log_beta = math.log(alpha), math.log(beta)
        while k < n_x and int(xp[k]) == p:
            xk, wk = xs[k], xw[k]
            ll += wk * (math.lgamma(r + xk) - lg_r + r * log_alpha + s * log_beta)
            G[4 * p] += wk * (digamma(r + xk) - psi_r + log_alpha)
            G[4 * p + 1] += wk * r / alpha
            G[4 * p + 2] += wk * log_beta
            G[4 * p + 3] += wk * s / beta
            k += 1
    half, log_weights = PNBD_TIER_HALF, PNBD_TIER_LOG_WEIGHTS
    # The derivatives of m = min(alpha, beta), e, c, u_low and k = r + s + x in (r, alpha, s,
    # beta) are sparse: dk = (1, 0, 1, 0), dm and de one 1 each, dc in alpha and beta, du in all;
    # they are written out below as scalars (dm1 is d m / d alpha, and so on).
    # Logarithms and reciprocals per distinct (pattern, t_x) and (pattern, T), gathered to the
    # rows (m = min(alpha, beta)).
    log_m_u, inv_m_u = np.empty(n_u), np.empty(n_u)
    for j in range(n_u):
        p = 4 * int(up[j])
        m_tx = min(P[p + 1], P[p + 3]) + u[j]
        log_m_u[j], inv_m_u[j] = math.log(m_tx), 1.0 / m_tx
    # alpha + T, beta + T, m + T
    la_v, lb_v, lm_v = np.empty(n_v), np.empty(n_v), np.empty(n_v)
    ia_v, ib_v, im_v = np.empty(n_v), np.empty(n_v), np.empty(n_v)
    for j in range(n_v):
        p = 4 * int(vp[j])
        a_T, b_T = P[p + 1] + v[j], P[p + 3] + v[j]
        la_v[j], lb_v[j], ia_v[j], ib_v[j] = math.log(a_T), math.log(b_T), 1.0 / a_T, 1.0 / b_T
        lm_v[j], im_v[j] = min(la_v[j], lb_v[j]), max(ia_v[j], ib_v[j])
    n_most = PNBD_TIER_NODES[-1]
    node_t, node_u, node_l, node_q = (np.empty(n_most), np.empty(n_most), np.empty(n_most),
                                      np.empty(n_most))
    for p in range(n_pat):  # rows sorted by pattern, as in _bg_nbd
        r, alpha, s, beta = P[4 * p], P[4 * p + 1], P[4 * p + 2], P[4 * p + 3]
        acc0 = acc1 = acc2 = acc3 = 0.0  # the gradient of the pattern's rows
        alpha_le_beta = alpha <= beta
        gap = abs(alpha - beta)
        log_gap = math.log(gap) if gap > 0 else -math.inf
        log_s, inv_s = math.log(s), 1.0 / s
        dm1 = de2 = 1.0 if alpha_le_beta else 0.0  # m = alpha, e = s + 1
        dm3 = de0 = 1.0 - dm1  # m = beta, e = r + x
        for i in range(int(starts[p]), int(starts[p + 1])):
            xk, wi = x[i], w[i]
            iu, iv = int(ui[i]), int(vi[i])
            rx = r + xk
            k = r + s + xk
            inv_k = 1.0 / k
            la_T, lb_T = la_v[iv], lb_v[iv]
            alive = -rx * la_T - s * lb_T
            e = s + 1.0 if alpha_le_beta else rx
            lm_tx, inv_mtx = log_m_u[iu], inv_m_u[iu]
            c = gap * inv_mtx
            l1c = math.log1p(c)
            inv_1c = 1.0 / (1.0 + c)
            # d c: 1 / (m + t_x) is 1 / (alpha + t_x) or 1 / (beta + t_x), whichever is m.
            if alpha_le_beta:
                dc1, dc3 = -(1.0 + c) * inv_mtx, inv_mtx
            else:
                dc1, dc3 = inv_mtx, -(1.0 + c) * inv_mtx
            u_T = lm_tx - lm_v[iv]
            cut = -PNBD_CUTOFF * inv_k - l1c
            if u_T >= cut:
                u_low = u_T
                du0 = du2 = 0.0
                du1, du3 = dm1 * (inv_mtx - im_v[iv]), dm3 * (inv_mtx - im_v[iv])
            else:
                u_low = cut
                du0 = du2 = PNBD_CUTOFF * inv_k * inv_k
                du1, du3 = -dc1 * inv_1c, -dc3 * inv_1c
            width = -u_low
            clipped = width < 1e-12
            if clipped:
                width = 1e-12
            nodes, first, high = _pnbd_rule(k, e, c, inv_1c, l1c, u_low, width, log_gap, lm_tx)
            # The nodes' terms in one pass LLVM vectorizes (exp_poly, log_poly: no branch, no
            # sum), then their sums in node order.
            for j in range(nodes):
                h = half[first + j]
                uj = u_low * h
                eu = exp_poly(uj)
                y = 1.0 + c * eu
                lp = log_poly(y)
                t = exp_poly(log_weights[first + j] + k * uj - e * lp - high)
                node_t[j], node_u[j], node_l[j], node_q[j] = t, uj, lp, eu / y  # q: dlp / dc
            total = s_u = s_h = s_l = s_q = s_qh = 0.0
            for j in range(nodes):
                t, h = node_t[j], half[first + j]
                total += t
                s_u += t * node_u[j]
                s_h += t * h
                s_l += t * node_l[j]
                s_q += t * node_q[j]
                s_qh += t * node_q[j] * h
            s_qh *= c
            # Sums over nodes weighted by each node's share of the integral.
            inv_total = 1.0 / total
            s_u, s_h, s_l, s_q, s_qh = (s_u * inv_total, s_h * inv_total, s_l * inv_total,
                                        s_q * inv_total, s_qh * inv_total)
            integral_term = log_s - k * lm_tx + high + math.log(0.5 * width * total)
            z = integral_term - alive
            ez = math.exp(-abs(z))
            share = 1.0 / (1.0 + ez)  # of the larger term
            if z > 0:
                term, w_int, w_alive = integral_term + math.log1p(ez), share, ez * share
            else:
                term, w_int, w_alive = alive + math.log1p(ez), ez * share, share
            ll += wi * term
            inv_width = 0.0 if clipped else 1.0 / width
            # d log integral = (s_u - log(m + t_x)) dk + (k s_h - e s_qh - 1/width) du
            #   - s_l de - e s_q dc - k dm / (m + t_x)  (at node j: d F_j = u_j dk + k h_j du
            #   - log1p(c e^u_j) de - e q_j (dc + c h_j du)); log s adds 1/s in s.
            d_u = k * s_h - e * s_qh - inv_width
            d_k = s_u - lm_tx
            d0 = d_k + d_u * du0 - s_l * de0
            d1 = d_u * du1 - e * s_q * dc1 - k * dm1 * inv_mtx
            d2 = d_k + d_u * du2 - s_l * de2 + inv_s
            d3 = d_u * du3 - e * s_q * dc3 - k * dm3 * inv_mtx
            acc0 += wi * (w_int * d0 - w_alive * la_T)
            acc1 += wi * (w_int * d1 - w_alive * rx * ia_v[iv])
            acc2 += wi * (w_int * d2 - w_alive * lb_T)
            acc3 += wi * (w_int * d3 - w_alive * s * ib_v[iv])
        G[4 * p] += acc0
        G[4 * p + 1] += acc1
        G[4 * p + 2] += acc2
        G[4 * p + 3] += acc3
    return ll


# -- Per-row log-likelihoods (model comparison: PSIS-LOO, the holdout density) --------------


@_kernel(fastmath=FASTMATH)
def _bg_nbd_head(r, alpha, a, b, x, modified):
    """The part of a BG/NBD (or MBG/NBD) row's log-likelihood that depends on x alone."""
    extra = 1.0 if modified else 0.0
    return (math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) + math.lgamma(a + b)
            + math.lgamma(b + x) - math.lgamma(b) - math.lgamma(a + b + x + extra))


@_kernel(fastmath=FASTMATH)
def _bg_nbd_row(r, alpha, a, b, x, t_x, T, modified):
    """One row's BG/NBD (or MBG/NBD) log-likelihood less its head, as _bg_nbd sums it."""
    rx = r + x
    log_bx = math.log(b + x if modified else b + max(x, 1.0) - 1.0)
    alive = -rx * math.log(alpha + T) + (log_bx if modified else 0.0)
    if not (modified or x > 0):
        return alive
    dropped = math.log(a) - rx * math.log(alpha + t_x) - (0.0 if modified else log_bx)
    return max(dropped, alive) + math.log1p(math.exp(-abs(dropped - alive)))


@_kernel(fastmath=FASTMATH)
def _pareto_nbd_head(r, alpha, s, beta, x):
    """The part of a Pareto/NBD row's log-likelihood that depends on x alone."""
    return math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta)


@_kernel(fastmath=FASTMATH)
def _pareto_nbd_row(r, alpha, s, beta, x, t_x, T, terms):
    """One row's Pareto/NBD log-likelihood less its head (:func:`_pareto_nbd_head`), by
    _pareto_nbd's quadrature (``terms``: scratch for the nodes' terms)."""
    rx, k = r + x, r + s + x
    alive = -rx * math.log(alpha + T) - s * math.log(beta + T)
    m = min(alpha, beta)
    e = s + 1.0 if alpha <= beta else rx
    gap = abs(alpha - beta)
    log_gap = math.log(gap) if gap > 0 else -math.inf
    lm_tx = math.log(m + t_x)
    c = gap / (m + t_x)
    l1c = math.log1p(c)
    u_low = max(lm_tx - math.log(m + T), -PNBD_CUTOFF / k - l1c)
    width = max(-u_low, 1e-12)
    nodes, first, high = _pnbd_rule(k, e, c, 1.0 / (1.0 + c), l1c, u_low, width, log_gap, lm_tx)
    for j in range(nodes):
        uj = u_low * PNBD_TIER_HALF[first + j]
        lp = log_poly(1.0 + c * exp_poly(uj))
        terms[j] = exp_poly(PNBD_TIER_LOG_WEIGHTS[first + j] + k * uj - e * lp - high)
    total = 0.0
    for j in range(nodes):
        total += terms[j]
    integral = math.log(s) - k * lm_tx + high + math.log(0.5 * width * total)
    return max(integral, alive) + math.log1p(math.exp(-abs(integral - alive)))


def pointwise_loglik(model, params, x, t_x, T, out):
    """The log-likelihood of each row under each draw: ``out[d, i]`` for the parameters
    ``params[d]`` ((r, alpha, a, b) or (r, alpha, s, beta)) and the row ``(x[i], t_x[i],
    T[i])``, for BG/NBD, MBG/NBD or Pareto/NBD (``model``, a model code)."""
    # The head of a row's log-likelihood depends on x alone: computed once per distinct x.
    # Found by NumPy here, not inside the kernel, where np.unique compiles for 1.4 s.
    values, at = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True)
    at = at.astype(np.int64)
    params = np.ascontiguousarray(params, dtype=np.float64)
    rows = [np.ascontiguousarray(v, dtype=np.float64) for v in (x, t_x, T)]
    # The draws are split between the cores (the kernel releases the GIL); each value is
    # computed alone, so the split does not change a bit of it.
    parts = np.array_split(np.arange(params.shape[0]), max(1, min(os.cpu_count() or 1,
                                                                     params.shape[0])))
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        for done in [pool.submit(_pointwise_loglik, model, params[part], values, at, *rows,
                                 out[part[0]:part[-1] + 1])
                     for part in parts if part.size]:
            done.result()


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def _pointwise_loglik(model, params, values, at, x, t_x, T, out):
    heads = np.empty(values.size)
    terms = np.empty(PNBD_TIER_NODES[-1])
    pareto, modified = model == PARETO_NBD, model == MBG_NBD
    for d in range(params.shape[0]):
        p0, p1, p2, p3 = params[d, 0], params[d, 1], params[d, 2], params[d, 3]
        for j in range(values.size):
            heads[j] = (_pareto_nbd_head(p0, p1, p2, p3, values[j]) if pareto
                        else _bg_nbd_head(p0, p1, p2, p3, values[j], modified))
        for i in range(x.size):
            out[d, i] = heads[at[i]] + (
                _pareto_nbd_row(p0, p1, p2, p3, x[i], t_x[i], T[i], terms) if pareto
                else _bg_nbd_row(p0, p1, p2, p3, x[i], t_x[i], T[i], modified))


@_kernel()
def _gamma_gamma(P, buf, o, n_rows, n_x, G, sum_wx_log_m, sum_w_log_m):
    """Gamma-Gamma log-likelihood of the rows and its gradient in each pattern's
    ``P[p] = (p, q, gamma)``."""
    n_pat = P.size // 4
    xs, xp, xw, x, _, m, _, w, starts, _, _, _, _ = _unpack(buf, o, n_rows, n_x, 0, 0, n_pat)
    # (p x - 1) log m summed over rows: p * sum(w x log m) - sum(w log m), both data constants
    # (p, the shape of each purchase's spend, is the same in every pattern).
    ll = P[0] * sum_wx_log_m - sum_w_log_m
    G[0] += sum_wx_log_m
    k = 0  # the (pattern, x) pairs come sorted by pattern
    for g in range(n_pat):  # and so do the rows, as in _bg_nbd
        p, q, gam = P[4 * g], P[4 * g + 1], P[4 * g + 2]
        log_gam, lg_q, psi_q = math.log(gam), math.lgamma(q), digamma(q)
        g_p = g_q = g_g = 0.0
        while k < n_x and int(xp[k]) == g:
            xk, wk = xs[k], xw[k]
            px = p * xk
            psi_pxq = digamma(px + q)
            ll += wk * (math.lgamma(px + q) - math.lgamma(px) - lg_q + q * log_gam
                        + px * math.log(xk))
            g_p += wk * xk * (psi_pxq - digamma(px) + math.log(xk))
            g_q += wk * (psi_pxq - psi_q + log_gam)
            g_g += wk * q / gam
            k += 1
        for i in range(int(starts[g]), int(starts[g + 1])):
            xk, wi = x[i], w[i]
            px = p * xk
            spend = gam + xk * m[i]
            log_spend = math.log(spend)
            ll -= wi * (px + q) * log_spend
            g_p -= wi * xk * log_spend
            g_q -= wi * log_spend
            g_g -= wi * (px + q) / spend
        G[4 * g] += g_p
        G[4 * g + 1] += g_q
        G[4 * g + 2] += g_g
    return ll


@_kernel()
def _variables(y, buf, grad):
    """What every density starts from, at the point ``y``: the log prior (its gradient into
    ``grad``); the variables ``th`` (shift + exp(y) for a positive one, y for a real one) and
    their derivatives in y ``dth``; each pattern's likelihood parameters ``P = theta *
    exp(eta)`` and ``eta``, from the buffer's link terms; a zeroed gradient ``G`` in ``P``; and
    where the buffer's data start. Returns ``(log prior, P, G, data, (eta, th, dth))``, the last
    for :func:`_unlink`."""
    jacobian = buf[2] > 0
    n, n_params, n_pat, n_terms = int(buf[1]), int(buf[10]), int(buf[11]), int(buf[12])
    th, dth = np.empty(n), np.empty(n)
    logp = 0.0
    for j in range(n):
        b = HEADER + PRIOR_WIDTH * j
        kind = int(buf[b])
        if kind >= UNBOUNDED:
            th[j], dth[j] = y[j], 1.0
        else:
            dth[j] = math.exp(y[j])
            th[j] = buf[b + 3] + dth[j]
        if kind == CENTERED:
            c = int(buf[b + 1])  # sigma's coordinate, before this one
            z = y[j] / th[c]
            logp -= math.log(th[c]) + _HALF_LOG_2PI + 0.5 * z * z
            grad[j] = -z / th[c]
            grad[c] += (z * z - 1.0) / th[c] * dth[c]
            continue
        lp, dlp = _prior(kind, buf[b + 1], buf[b + 2], y[j], jacobian)
        logp += lp
        grad[j] = dlp
    o = HEADER + PRIOR_WIDTH * n
    eta = np.zeros(4 * n_pat)
    for t in range(n_terms):
        b = o + TERM_WIDTH * t
        term = buf[b + 4] * th[int(buf[b + 2])]
        if buf[b + 3] >= 0:
            term *= th[int(buf[b + 3])]
        eta[4 * int(buf[b]) + int(buf[b + 1])] += term
    P = np.zeros(4 * n_pat)
    for p in range(n_pat):
        for j in range(n_params):
            P[4 * p + j] = th[j] * math.exp(eta[4 * p + j])
    return logp, P, np.zeros(P.size), o + TERM_WIDTH * n_terms, (eta, th, dth)


@_kernel()
def _unlink(G, P, links, buf, grad):
    """Add the likelihood's gradient, ``G`` in each pattern's parameters, to ``grad`` (in y):
    through the links to the population parameters, coefficients and group effects."""
    eta, th, dth = links
    n, n_params, n_pat, n_terms = int(buf[1]), int(buf[10]), int(buf[11]), int(buf[12])
    d = np.zeros(n)
    for p in range(n_pat):
        for j in range(n_params):
            d[j] += G[4 * p + j] * math.exp(eta[4 * p + j])
            G[4 * p + j] *= P[4 * p + j]  # now the gradient in eta
    o = HEADER + PRIOR_WIDTH * n
    for t in range(n_terms):
        b = o + TERM_WIDTH * t
        g = G[4 * int(buf[b]) + int(buf[b + 1])] * buf[b + 4]
        c1, c2 = int(buf[b + 2]), int(buf[b + 3])
        if c2 >= 0:
            d[c1] += g * th[c2]
            d[c2] += g * th[c1]
        else:
            d[c1] += g
    for j in range(n):
        grad[j] += d[j] * dth[j]  # d/dy = d/dv * dv/dy


# One density per model, so that a fit compiles (the first time) only its own model's code.
# Each takes the unconstrained point y, the buffer and the array its gradient in y goes to, and
# returns the log posterior density.


@_kernel()
def bg_nbd_density(y, buf, grad):
    """BG/NBD log posterior density (:func:`_bg_nbd` and the priors)."""
    logp, P, G, data, links = _variables(y, buf, grad)
    logp += _bg_nbd(P, buf, data, int(buf[4]), int(buf[5]), int(buf[6]), int(buf[7]), False, G)
    _unlink(G, P, links, buf, grad)
    return logp


@_kernel()
def mbg_nbd_density(y, buf, grad):
    """MBG/NBD log posterior density (:func:`_bg_nbd` and the priors)."""
    logp, P, G, data, links = _variables(y, buf, grad)
    logp += _bg_nbd(P, buf, data, int(buf[4]), int(buf[5]), int(buf[6]), int(buf[7]), True, G)
    _unlink(G, P, links, buf, grad)
    return logp


@_kernel()
def pareto_nbd_density(y, buf, grad):
    """Pareto/NBD log posterior density (:func:`_pareto_nbd` and the priors)."""
    logp, P, G, data, links = _variables(y, buf, grad)
    logp += _pareto_nbd(P, buf, data, int(buf[4]), int(buf[5]), int(buf[6]), int(buf[7]), G)
    _unlink(G, P, links, buf, grad)
    return logp


@_kernel()
def gamma_gamma_density(y, buf, grad):
    """Gamma-Gamma log posterior density (:func:`_gamma_gamma` and the priors)."""
    logp, P, G, data, links = _variables(y, buf, grad)
    logp += _gamma_gamma(P, buf, data, int(buf[4]), int(buf[5]), G, buf[8], buf[9])
    _unlink(G, P, links, buf, grad)
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
        b = HEADER + PRIOR_WIDTH * j
        out[j] = x[j] if buf[b] >= UNBOUNDED else buf[b + 3] + math.exp(x[j])
        if buf[b] == CENTERED:
            out[j] = x[j] / out[int(buf[b + 1])]  # z = e / sigma
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
