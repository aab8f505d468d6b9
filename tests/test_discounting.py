"""One discounting convention (clvlib.discounting): an annual effective rate, continuous in time.

Sources: the definition (1 + r) ** -years with years = days / 365.25; Gauss quadrature checked
against SciPy's adaptive quadrature; the Pareto/NBD DERT closed form of Fader, Hardie & Lee
(2005, "RFM and CLV: using iso-value curves for customer base analysis", eq. 2) as an
independent check of the unbounded horizon.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import gammaln, hyperu

from clvlib.discounting import Discount, purchase_weights
from clvlib.models import bg_nbd, pareto_nbd
from clvlib.timeunits import TIME_UNITS

FHL_PARETO = {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6650}


@pytest.mark.parametrize("unit", ["day", "week", "month", "year"])
def test_one_factor_for_every_unit_and_period(unit):
    """(1 + r) ** -years in any unit; a period's rate compounds to the annual rate."""
    days = TIME_UNITS[unit].days
    rate = Discount(0.12)
    t = np.array([0.0, 0.5, 1.0, 13.0])
    np.testing.assert_allclose(rate.factor(t, days), 1.12 ** -(t * days / 365.25), rtol=1e-14)
    d = rate.per_period(days)
    assert (1 + d) ** (365.25 / days) == pytest.approx(1.12, rel=1e-12)
    np.testing.assert_allclose((1 + d) ** -t, rate.factor(t, days), rtol=1e-12)
    assert rate.per_unit(days) == pytest.approx(np.log(1.12) * days / 365.25, rel=1e-14)


def test_a_year_ahead_is_one_over_one_plus_the_rate():
    assert Discount(0.1).factor(1, TIME_UNITS["year"].days) == pytest.approx(1 / 1.1, rel=1e-14)
    assert Discount(0.1).factor(12, TIME_UNITS["month"].days) == pytest.approx(1 / 1.1, rel=1e-14)
    assert "10% a year" in Discount(0.1).describe("week", 7.0)
    assert "not discounted" in Discount(0).describe("week", 7.0)


@pytest.mark.parametrize("rate", [-0.01, np.nan, np.inf])
def test_bad_rates_are_refused(rate):
    with pytest.raises(ValueError, match="annual_discount_rate"):
        Discount(rate)


@pytest.mark.parametrize("horizon", [0, -3])
def test_bad_horizons_are_refused(horizon):
    with pytest.raises(ValueError, match="horizon"):
        purchase_weights(horizon, 7.0, 0.1)


def test_an_unbounded_horizon_needs_a_positive_rate():
    with pytest.raises(ValueError, match="positive discount rate"):
        purchase_weights(np.inf, 7.0, 0.0)


def test_without_discounting_the_weights_give_the_expectation_at_the_horizon():
    times, weights = purchase_weights(52, 7.0, 0.0)
    assert times.tolist() == [52.0] and weights.tolist() == [1.0]


@pytest.mark.parametrize("horizon, rate", [(39, 0.1), (52, 0.3), (260, 0.1), (5, 0.05)])
def test_weights_integrate_discounted_purchases_as_adaptive_quadrature_does(horizon, rate):
    """sum w_k E[Y(t_k)] = integral_0^H exp(-delta t) dE[Y(t)] for a BG/NBD customer (FHL 2005
    estimates), against SciPy's adaptive quadrature of the by-parts form, to 1e-9."""
    params = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
    data = {"x": 3.0, "t_x": 30.0, "T": 38.0}

    def expected(t):
        return float(bg_nbd.expected_purchases(**params, **data, t=t))

    delta = Discount(rate).per_unit(7.0)
    tail, _ = quad(lambda t: np.exp(-delta * t) * expected(t), 0, horizon, epsabs=1e-13,
                   epsrel=1e-12)
    reference = np.exp(-delta * horizon) * expected(horizon) + delta * tail
    times, weights = purchase_weights(horizon, 7.0, rate)
    ours = sum(w * expected(t) for t, w in zip(times, weights, strict=True))
    assert ours == pytest.approx(reference, rel=1e-9)


def test_the_unbounded_horizon_gives_the_pareto_nbd_dert_closed_form():
    """FHL (2005, 'RFM and CLV', eq. 2): DERT = alpha^r beta^s delta^(s-1) Gamma(r+x+1)
    Psi(s, s; delta(beta+T)) / (Gamma(r) (alpha+T)^(r+x+1) L), L the customer's likelihood;
    40 Gauss-Laguerre nodes agree to 1e-4."""
    delta = Discount(0.15).per_unit(7.0)
    times, weights = purchase_weights(np.inf, 7.0, 0.15)
    for x, t_x, T in [(0, 0, 38.0), (2, 30.4, 38.9), (10, 35.0, 39.0)]:
        data = {"x": x, "t_x": t_x, "T": T}
        ours = sum(w * pareto_nbd.expected_purchases(**FHL_PARETO, **data, t=t)
                   for t, w in zip(times, weights, strict=True))
        r, alpha, s, beta = FHL_PARETO.values()
        log_head = (r * np.log(alpha) + s * np.log(beta) + (s - 1) * np.log(delta)
                    + gammaln(r + x + 1) - gammaln(r) - (r + x + 1) * np.log(alpha + T))
        log_l = pareto_nbd.logp(**FHL_PARETO, **{k: np.array([v]) for k, v in data.items()})
        closed = np.exp(log_head - log_l.eval()[0]) * hyperu(s, s, delta * (beta + T))
        assert float(ours) == pytest.approx(float(closed), rel=1e-4)


def test_a_long_horizon_converges_to_the_unbounded_one():
    """CLV over H grows to the residual value as H grows: the gap is the value beyond H, and
    it shrinks like exp(-delta H) once H is long."""
    params = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
    data = {"x": 2.0, "t_x": 30.43, "T": 38.86}

    def value(horizon):
        times, weights = purchase_weights(horizon, 7.0, 0.1)
        return float(sum(w * bg_nbd.expected_purchases(**params, **data, t=t)
                         for t, w in zip(times, weights, strict=True)))

    unbounded = value(np.inf)
    horizons = (52, 260, 1040, 2080, 5200, 52000)
    gaps = [unbounded - value(h) for h in horizons]
    assert all(g > 0 for g in gaps[:-1]) and gaps == sorted(gaps, reverse=True)
    assert gaps[-2] / unbounded < 1e-3 and abs(gaps[-1]) / unbounded < 1e-15
    # Either side of the switch to the unbounded form (delta H = 2), the two forms agree to
    # the Laguerre rule's accuracy.
    switch = 2 / Discount(0.1).per_unit(7.0)
    assert value(switch * (1 + 1e-9)) == pytest.approx(value(switch), rel=2e-5)


@pytest.mark.parametrize("model, params", [
    ("bg_nbd", {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}),
    ("mbg_nbd", {"r": 0.5, "alpha": 6.0, "a": 1.8, "b": 0.4}),
    ("pareto_nbd", FHL_PARETO),
])
def test_the_dropped_laguerre_nodes_change_no_digit(model, params):
    """The unbounded rule keeps the 40-node Gauss-Laguerre nodes that can matter for a concave
    E[Y(t)]: against all 40 nodes, the value moves by under 1e-15 relative, light, heavy and
    long-lapsed customers alike, at low and high discount rates."""
    expected = importlib.import_module(f"clvlib.models.{model}").expected_purchases
    nodes, full = np.polynomial.laguerre.laggauss(40)
    for rate in (0.01, 0.1, 0.5):
        delta = Discount(rate).per_unit(7.0)
        times, weights = purchase_weights(np.inf, 7.0, rate)
        assert len(times) < 40
        for x, t_x, T in [(0, 0, 38.0), (2, 30.4, 38.9), (40, 77.0, 78.0), (3, 2.0, 70.0)]:
            data = {"x": x, "t_x": t_x, "T": T}
            kept = np.sum(weights * expected(**params, **data, t=times))
            every = np.sum(full * expected(**params, **data, t=nodes / delta))
            assert kept == pytest.approx(every, rel=1e-15)
