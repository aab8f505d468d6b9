"""Special functions the closed forms need, in NumPy, accurate over the whole parameter range.

- :func:`log_rising`: ``log (a)_m``, the log of a rising factorial, accurate for large ``a``
  where a difference of log-gammas loses every digit.

These are NumPy only: the PyTensor likelihoods (:mod:`clvlib.models.numerics`) use tables of sums
of logarithms instead (exact for the whole-number steps of the data).
"""

from __future__ import annotations

import numpy as np
from scipy import special

# From here up, log Gamma(a+m) - log Gamma(a) is taken inside Stirling's series.
_STIRLING_FROM = 10.0


def _stirling_tail(z):
    """log Gamma(z) - [(z - 1/2) log z - z + log(2 pi)/2] for z >= 10: Stirling's series to
    z^-7, truncation error below 1e-12 (Abramowitz & Stegun 6.1.41)."""
    z2 = z * z
    return (1 / 12 - (1 / 360 - (1 / 1260 - 1 / (1680 * z2)) / z2) / z2) / z


def log_rising(a, m):
    """NumPy: log (a)_m = log Gamma(a+m) - log Gamma(a), accurate for large ``a`` too.

    For ``a >= 10`` the difference is taken inside Stirling's series,
    ``(a - 1/2) log1p(m/a) + m log(a+m) - m + tail(a+m) - tail(a)`` (absolute error below
    1e-12); below, as a difference of log-gammas, which is accurate there.

    Examples
    --------
    >>> round(float(log_rising(1e8, 1.0)), 10)  # log(1e8); a gammaln difference: 18.4206805
    18.420680744
    """
    a, m = np.asarray(a, dtype=float), np.asarray(m, dtype=float)
    big, small = np.maximum(a, _STIRLING_FROM), np.minimum(a, _STIRLING_FROM)
    stirling = ((big - 0.5) * np.log1p(m / big) + m * np.log(big + m) - m
                + _stirling_tail(big + m) - _stirling_tail(big))
    direct = special.gammaln(small + m) - special.gammaln(small)
    return np.where(a >= _STIRLING_FROM, stirling, direct)


# --------------------------------------------------------------------------------------------
# The beta mean of a purchase curve, behind (M)BG/NBD expected purchases
# --------------------------------------------------------------------------------------------

# Power series in u where R u and u are at most this (alternating, ratio at most 1/2).
_SERIES_BELOW = 0.5
_SERIES_TERMS = 60
# Within this distance of a = 1 the closed form divides 0 by 0: interpolate across it.
_NEAR_ONE = 1e-4
# Double-exponential (tanh-sinh) quadrature in the logit of p: step and half-width in t.
_DE_STEP = 1 / 24
_DE_T = np.arange(-3.5, 3.5 + _DE_STEP / 2, _DE_STEP)
_DE_Z = np.sinh(np.pi / 2 * np.sinh(_DE_T))
_DE_W = _DE_STEP * np.pi / 2 * np.cosh(_DE_T) * np.cosh(np.pi / 2 * np.sinh(_DE_T))


def _purchase_curve(R, u, p):
    """(1 - (1 + p u)^-R) / p, the expected purchases of a customer with dropout chance p
    (R u at p = 0)."""
    safe = np.maximum(p, 1e-300)
    return np.where(p > 0, -np.expm1(-R * np.log1p(safe * u)) / safe, R * u)


def _by_series(R, u, a, b):
    """sum_k (-1)^k (R)_{k+1} u^{k+1} / (k+1)! (a)_k / (a+b)_k: E[p^k] term by term."""
    term = R * u
    total = term
    for k in range(_SERIES_TERMS):
        term = -term * (R + k + 1) * u / (k + 2) * (a + k) / (a + b + k)
        total = total + term
    return total


def _by_hyp2f1(R, u, a, b):
    """(a+b-1)/(a-1) [1 - 2F1(R, a-1; a+b-1; -u)], in either of Pfaff's two forms.

    Pfaff on the second parameter, ``(1+u)^(1-a) 2F1(a+b-1-R, a-1; a+b-1; z)``, and on the
    first, ``(1+u)^-R 2F1(R, b; a+b-1; z)``, z = u/(1+u) in [0, 1): the first form overflows
    for large ``a`` or heavy buyers, the second where ``R`` and ``u`` are both large. Each is
    taken as a product and, where that overflows, in logs; the first finite positive value is
    used (the second form is computed only where the first fails), NaN where there is none.
    """
    def pfaff(R, u, a, b, second):
        c, log1p_u = a + b - 1, np.log1p(u)
        if second:
            exponent, hyp = -R * log1p_u, special.hyp2f1(R, b, c, u / (1 + u))
        else:
            exponent, hyp = (1 - a) * log1p_u, special.hyp2f1(c - R, a - 1, c, u / (1 + u))
        plain = c / (a - 1) * (1 - np.exp(exponent) * hyp)
        in_logs = c / (a - 1) * -np.expm1(exponent + np.log(hyp))
        return np.where(np.isfinite(plain) & (plain > 0), plain, in_logs)

    out = pfaff(R, u, a, b, second=False)
    bad = ~(np.isfinite(out) & (out > 0))
    if bad.any():
        second = pfaff(R[bad], u[bad], a[bad], b[bad], second=True)
        out[bad] = np.where(np.isfinite(second) & (second > 0), second, np.nan)
    return out


def beta_expectation(fn, a, b):
    """``E[fn(p)]`` over ``p ~ Beta(a, b)``, by tanh-sinh quadrature in ``y = logit(p)``.

    The logit of a beta variable has a log-concave density ``p^a (1-p)^b / B(a, b)`` with mode
    ``log(a/b)`` and curvature scale ``sqrt(1/a + 1/b)``; 169 nodes are spread on that scale, so
    the rule follows the density from shapes of 1 to 1e6 and beyond, and the sum is divided by
    the rule's own integral of the density (which removes the error of the normalizing beta
    function at large shapes). A shape below 1 gives a
    tail too slow for the nodes, so it is first raised by one: ``E[fn] = fn(0) + a/(a+b)
    E_{Beta(a+1, b)}[(fn(p) - fn(0))/p]``, likewise at ``p = 1`` for ``b``, and both together
    with the line through ``fn(0)`` and ``fn(1)``. ``fn`` must be smooth on [0, 1] and accept
    arrays (it is called with ``p`` in [0, 1], 0 and 1 included).

    Examples
    --------
    >>> round(float(beta_expectation(lambda p: p * p, 2.0, 3.0)), 12)  # a(a+1)/((a+b)(a+b+1))
    0.2
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    shift_a, shift_b = (a < 1).astype(float), (b < 1).astype(float)
    f0, f1 = fn(np.zeros(a.shape)), fn(np.ones(a.shape))
    # the part subtracted before the shift: fn(0), fn(1) or the line between them
    slope = np.where((shift_a > 0) & (shift_b > 0), f1 - f0, 0.0)
    level = np.where(shift_a > 0, f0, np.where(shift_b > 0, f1, 0.0))
    A, B = a + shift_a, b + shift_b
    mode, scale = np.log(A) - np.log(B), np.sqrt(1 / A + 1 / B)
    log_norm = special.betaln(A, B)
    total = np.zeros(np.broadcast(f0, a).shape)
    mass = np.zeros(a.shape)  # the rule's own integral of the density, ideally 1
    for z, w in zip(_DE_Z, _DE_W, strict=True):
        y = mode + scale * z
        log_p, log_q = -np.logaddexp(0, -y), -np.logaddexp(0, y)
        p, q = np.exp(log_p), np.exp(log_q)
        reduced = (fn(p) - level - slope * p) / (p ** shift_a * q ** shift_b)
        density = scale * w * np.exp(A * log_p + B * log_q - log_norm)
        term = density * reduced
        total = total + np.where(np.isfinite(term), term, 0.0)
        mass = mass + density
    weight = np.exp(log_rising(a, shift_a) + log_rising(b, shift_b)
                    - log_rising(a + b, shift_a + shift_b))
    return level + slope * a / (a + b) + weight * total / mass


# 2F1(1, b; c; z) from SciPy only while both beta shapes of Euler's integral are below this.
_HYP2F1_SCIPY_BELOW = 100.0


def hyp2f1_one(b, c, z):
    """Gauss ``2F1(1, b; c; z)`` for ``0 < b < c`` and ``0 <= z < 1``, finite throughout.

    SciPy's value for moderate shapes; where ``b`` or ``c - b`` is 100 or more (SciPy keeps only
    about 7 digits at 1e6, and returns NaN beside a small ``c - b``) Euler's integral,
    ``E[1 / (1 - z v)]`` over ``v ~ Beta(b, c - b)``, by :func:`beta_expectation`. It is the
    sum behind discounted expected residual lifetimes and transactions (sBG DERL, BG/BB DERT).
    """
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, z)))
    with np.errstate(all="ignore"):
        out = np.array(special.hyp2f1(1.0, b, c, z), dtype=float)
        bad = ~np.isfinite(out) | (out < 1) | (np.maximum(b, c - b) >= _HYP2F1_SCIPY_BELOW)
        if bad.any():
            z_bad = z[bad]
            out[bad] = beta_expectation(lambda v: 1 / (1 - z_bad * v), b[bad], c[bad] - b[bad])
    return out[()] if out.ndim == 0 else out


def _beta_mean_away_from_one(R, u, a, b):
    value = _by_hyp2f1(R, u, a, b)
    bad = ~np.isfinite(value)
    if bad.any():
        R_, u_, a_, b_ = (np.broadcast_to(v, value.shape)[bad] for v in (R, u, a, b))
        value[bad] = beta_expectation(lambda p: _purchase_curve(R_, u_, p), a_, b_)
    return value


def beta_mean_of_purchase_curve(R, u, a, b):
    """``E[(1 - (1 + p u)^-R) / p]`` over ``p ~ Beta(a, b)``, finite for all positive inputs.

    With ``R = r + x``, ``u = t / (alpha + T)`` and ``b`` the beta's second shape given the
    data, this is the BG/NBD (and MBG/NBD) expected number of purchases in the next ``t`` of a
    customer known to be alive (FHL 2005, eq. 10, without P(alive)): the Gauss hypergeometric
    closed form ``(a+b-1)/(a-1) [1 - 2F1(R, a-1; a+b-1; -u)]``. That form overflows for large
    shapes (a = 62,556, b = 381,461 gave NaN) and for heavy buyers over long horizons, and
    divides 0 by 0 at ``a = 1``. Here, per element:

    - ``R u <= 1/2`` and ``u <= 1/2``: the power series in ``u``, ``sum_k E[p^k]`` times the
      binomial coefficients of ``(1 + p u)^-R`` (60 terms, each step at most half the last);
    - else the closed form in whichever of Pfaff's two forms is finite;
    - where neither is, tanh-sinh quadrature over the logit of ``p`` (the integrand is smooth
      and the beta density log-concave there);
    - within 1e-4 of ``a = 1``, where the closed form divides 0 by 0: the quadrature if
      ``b >= 100``, else interpolated between the values at ``a = 1 -/+ 1e-4`` (smooth in
      ``a``).

    tests/test_finite.py checks it against mpmath quadrature at 16 digits on a grid of shapes
    from 1e-3 to 1e6.

    Examples
    --------
    >>> # E[X(39)] of a new CDNOW customer at the FHL 2005 estimates
    >>> round(float(beta_mean_of_purchase_curve(0.2426, 39 / 4.4136, 0.7929, 2.4259)), 3)
    1.195
    """
    R, u, a, b = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (R, u, a, b)))
    out = np.empty(R.shape)
    series = (R * u <= _SERIES_BELOW) & (u <= _SERIES_BELOW)
    near_one = ~series & (np.abs(a - 1) < _NEAR_ONE)
    rest = ~series & ~near_one
    with np.errstate(all="ignore"):
        out[series] = _by_series(R[series], u[series], a[series], b[series])
        out[rest] = _beta_mean_away_from_one(R[rest], u[rest], a[rest], b[rest])
        # Near a = 1 with a large second shape the closed form's 0/0 is amplified by
        # (a+b-1)/(a-1); the quadrature has no such trouble there.
        by_quadrature = near_one & (b >= _HYP2F1_SCIPY_BELOW)
        if by_quadrature.any():
            R_, u_ = R[by_quadrature], u[by_quadrature]
            out[by_quadrature] = beta_expectation(lambda p: _purchase_curve(R_, u_, p),
                                                  a[by_quadrature], b[by_quadrature])
        near_one = near_one & ~by_quadrature
        if near_one.any():
            R_, u_, a_, b_ = R[near_one], u[near_one], a[near_one], b[near_one]
            low = _beta_mean_away_from_one(R_, u_, np.full(a_.shape, 1 - _NEAR_ONE), b_)
            high = _beta_mean_away_from_one(R_, u_, np.full(a_.shape, 1 + _NEAR_ONE), b_)
            share = (a_ - (1 - _NEAR_ONE)) / (2 * _NEAR_ONE)
            out[near_one] = low + share * (high - low)
    return out[()] if out.ndim == 0 else out


def log_beta_ratio(a, b, m):
    """log[B(a, b+m)/B(a, b)] = log[(b)_m / (a+b)_m]."""
    return log_rising(b, m) - log_rising(a + b, m)
