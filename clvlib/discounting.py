"""Discounting: one convention for every value clvlib puts on the future.

The convention, said once: a discount rate is an **annual effective rate** ``r``, and money
received ``t`` years from the valuation date is worth ``(1 + r) ** -t`` today, for any ``t``,
whole or not. In a model's time unit (``days`` long) that is the continuous factor
``exp(-delta * t)`` with ``delta = log(1 + r) * days / 365.25`` per unit, and for a model that
counts whole periods (BG/BB opportunities, sBG contract periods, each ``days`` long) the
per-period rate ``d = (1 + r) ** (days / 365.25) - 1``, whose factor ``(1 + d) ** -k`` after
``k`` periods is the same function at whole periods.

Purchases arrive in continuous time, so the value of expected purchases over a horizon ``H``
is the integral ``integral_0^H exp(-delta t) dE[Y(t)]``: each purchase is discounted from the
moment it is expected, not from the end of a month. :func:`purchase_weights` turns it into a
weighted sum of ``E[Y(t)]`` at a few times (Gauss quadrature), the same for a finite horizon
(CLV) and an unbounded one (discounted expected residual transactions, DERT), so CLV over a
horizon converges to DERT as the horizon grows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clvlib.timeunits import DAYS_PER_YEAR

# Gauss-Legendre on [0, H] is exact for polynomials of degree 2n - 1 and converges
# geometrically for E[Y(t)], which is smooth in t.
_LEGENDRE_NODES, _LEGENDRE_WEIGHTS = np.polynomial.legendre.leggauss(16)
# Gauss-Laguerre for the unbounded horizon: integral_0^inf exp(-z) f(z) dz, less the nodes
# that cannot matter. Expected purchases E[Y(t)] are concave in t with E[Y(0)] = 0 (each
# customer buys at a rate that only falls as dropout becomes likelier), so f(z) / z falls and
# node k adds at most w_k z_k / (w_0 z_0) times node 0's term, itself part of the sum. The
# nodes from 26 on add at most 5e-17 of the sum together (below double precision) and cost
# most: SciPy's hyp2f1 takes 5 us at the far times against 0.1 us near zero.
_nodes, _weights = np.polynomial.laguerre.laggauss(40)
_bound = np.cumsum((_weights * _nodes)[::-1])[::-1] / (_weights[0] * _nodes[0])
_LAGUERRE_NODES, _LAGUERRE_WEIGHTS = _nodes[_bound >= 1e-16], _weights[_bound >= 1e-16]


@dataclass(frozen=True)
class Discount:
    """An annual effective discount rate and what it means in any time unit.

    Examples
    --------
    >>> rate = Discount(0.10)
    >>> round(rate.factor(52, unit_days=7.0), 4)   # 52 weeks = 364 days ahead
    0.9095
    >>> round(rate.per_period(365.25), 10)         # a yearly period: the annual rate itself
    0.1
    >>> str(rate)
    '10% a year'
    """

    annual_rate: float

    def __post_init__(self):
        if not np.isfinite(self.annual_rate) or self.annual_rate < 0:
            raise ValueError(f"annual_discount_rate={self.annual_rate!r} must be >= 0")

    def per_unit(self, unit_days: float) -> float:
        """Continuous rate ``delta`` per time unit: ``log(1 + r) * days / 365.25``."""
        return float(np.log1p(self.annual_rate) * unit_days / DAYS_PER_YEAR)

    def per_period(self, period_days: float) -> float:
        """Effective rate ``d`` per period of ``period_days`` days: ``(1+r)^(days/365.25) - 1``."""
        return float(np.expm1(np.log1p(self.annual_rate) * period_days / DAYS_PER_YEAR))

    def factor(self, t, unit_days: float):
        """What 1 received ``t`` time units ahead is worth today: ``(1 + r) ** -years``."""
        return np.exp(-self.per_unit(unit_days) * np.asarray(t, dtype=float))

    def plainly(self) -> str:
        """One sentence for a manager: the rate, and what an amount a year ahead counts."""
        if self.annual_rate == 0:
            return "Future value is not discounted (a discount rate of 0)."
        return (f"Future value is discounted at {self}: an amount due a year from the valuation "
                f"date counts {1 / (1 + self.annual_rate):.3f} of its value today.")

    def describe(self, unit_name: str, unit_days: float) -> str:
        """One sentence for a report's appendix: the rate, the formula, and the factor a year
        and a time unit ahead."""
        if self.annual_rate == 0:
            return "Future value is not discounted (a discount rate of 0)."
        return (
            f"Future value is discounted at {self} (annual effective rate): an amount expected "
            f"t years from the valuation date counts (1 + {self.annual_rate:g})^-t, continuously "
            f"in time, so one {unit_name} ahead it counts {float(self.factor(1, unit_days)):.4f} "
            f"and one year ahead {1 / (1 + self.annual_rate):.4f}."
        )

    def __str__(self) -> str:
        return f"{self.annual_rate * 100:.4g}% a year"

# Up to this many continuous discount periods (delta * H) a horizon is integrated by
# Gauss-Legendre directly (1e-10 relative or better, checked in tests/test_discounting.py);
# beyond, as the unbounded value less the value after H.
_LEGENDRE_UP_TO = 2.0


def purchase_weights(horizon: float, unit_days: float, annual_discount_rate: float):
    """Times and weights that discount expected purchases over ``horizon``.

    ``integral_0^H exp(-delta t) dE[Y(t)] = sum_k weights[k] * E[Y(times[k])]`` for a smooth
    cumulative expectation ``E[Y(t)]`` with ``E[Y(0)] = 0``. By parts, the integral is
    ``exp(-delta H) E[Y(H)] + delta integral_0^H exp(-delta t) E[Y(t)] dt``: 16 Gauss-Legendre
    nodes on ``[0, H]`` plus the horizon itself (relative error below 1e-9 on BG/NBD and
    Pareto/NBD customers). For ``horizon=inf`` (DERT) it is ``integral_0^inf exp(-z)
    E[Y(z / delta)] dz``, 40-node Gauss-Laguerre (relative error about 1e-5: the integrand
    decays algebraically) less its 14 farthest nodes, which add below 1e-16 of the sum to a
    concave ``E[Y(t)]``; it needs a positive rate. A horizon longer than two continuous
    discount periods (``delta H > 2``) is the unbounded value less the discounted value after
    ``H``, ``exp(-delta H) [sum_k w_k E(H + z_k / delta) - E(H)]``, so CLV over a horizon
    converges to the residual value as the horizon grows. Without discounting the weights
    give ``E[Y(H)]`` exactly.

    Parameters
    ----------
    horizon : float
        In the time unit; ``numpy.inf`` for the unbounded horizon.
    unit_days : float
        Length of the time unit in days.
    annual_discount_rate : float
        Annual effective rate (see :class:`Discount`).

    Returns
    -------
    times, weights : ndarray
        For a finite horizon, ``times[-1]`` is the horizon.
    """
    delta = Discount(annual_discount_rate).per_unit(unit_days)
    if not horizon > 0:
        raise ValueError(f"horizon={horizon!r} must be positive")
    if np.isinf(horizon):
        if delta == 0:
            raise ValueError("an unbounded horizon needs a positive discount rate")
        return _LAGUERRE_NODES / delta, _LAGUERRE_WEIGHTS.copy()
    horizon = float(horizon)
    if delta == 0:
        return np.array([horizon]), np.array([1.0])
    decay = np.exp(-delta * horizon)
    if delta * horizon <= _LEGENDRE_UP_TO:
        times = horizon * (_LEGENDRE_NODES + 1) / 2
        weights = delta * np.exp(-delta * times) * _LEGENDRE_WEIGHTS * horizon / 2
        return np.append(times, horizon), np.append(weights, decay)
    laguerre = _LAGUERRE_NODES / delta
    times = np.concatenate([laguerre, horizon + laguerre, [horizon]])
    weights = np.concatenate([_LAGUERRE_WEIGHTS, -decay * _LAGUERRE_WEIGHTS, [decay]])
    return times, weights
