"""Exact compression: weighted distinct rows give the same total log-likelihood.

Source: issue 2 sections 4 and 8 ("compressed and uncompressed log-likelihoods equal to 1e-8");
DESIGN.md section 3 (customers with identical (x, t_x, T) share one weighted term). The
uncompressed reference is the plain sum of the per-customer ``_logp`` over every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from helpers import (
    FH_GAMMA_GAMMA,
    FHL_BG_NBD,
    FHL_BG_NBD_LL,
    bg_nbd_logp_function,
    cdnow_summary,
    gamma_gamma_logp_function,
    xtT,
)

from clvlib import CompressedRows
from clvlib.models import bg_nbd, gamma_gamma

# Graphs evaluated at a few points: in the Python mode, without numba's compile of each
# (conftest.py's python_mode).
pytestmark = pytest.mark.usefixtures("python_mode")

# Parameters are passed as NumPy float64 values, as the likelihood module documents.
# (Plain Python floats such as 2.0 become float32 constants in PyTensor: see
# test_likelihoods.py::test_python_float_parameters_are_float64.)
FHL = tuple(np.float64(v) for v in FHL_BG_NBD.values())
FH = tuple(np.float64(v) for v in FH_GAMMA_GAMMA.values())


def f64(*values):
    return tuple(np.float64(v) for v in values)


def simulated_base(n=20_000, seed=1):
    """A simulated base with integer-day ages (many ties), as a summary would give."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 60, size=n) * 7 / 7.0  # whole weeks: heavy compression
    data = bg_nbd.rvs(0.8, 5.0, 1.2, 2.5, T, rng=rng)
    frame = pd.DataFrame(data)
    frame["t_x"] = np.round(frame["t_x"] * 7) / 7  # recency in whole days, as in summaries
    buyers = frame["x"] > 0
    frame["m"] = np.nan
    frame.loc[buyers, "m"] = np.round(
        gamma_gamma.rvs(6.0, 4.0, 15.0, frame.loc[buyers, "x"].to_numpy(), rng=rng), 0
    )
    return frame


def bg_nbd_totals(frame, params):
    rows = CompressedRows.from_frame(frame, ("x", "t_x", "T"))
    compressed = float(bg_nbd.loglike(*params, rows).eval())
    uncompressed = bg_nbd_logp_function()(*params, *xtT(frame)).sum()
    return compressed, uncompressed, rows


def gamma_gamma_totals(frame, params):
    buyers = frame[frame["x"] > 0]
    rows = CompressedRows.from_frame(buyers, ("x", "m"))
    compressed = float(gamma_gamma.loglike(*params, rows).eval())
    x, m = buyers["x"].to_numpy(dtype=float), buyers["m"].to_numpy(dtype=float)
    uncompressed = gamma_gamma_logp_function()(*params, x, m).sum()
    return compressed, uncompressed, rows


@pytest.mark.parametrize("name", ["cdnow_sample", "cdnow_master"])
@pytest.mark.parametrize("params", [FHL, f64(1.0, 2.0, 0.5, 3.0)])
def test_bg_nbd_compressed_equals_uncompressed_on_cdnow(name, params):
    """CDNOW: sum over weighted distinct (x, t_x, T) rows = sum over customers, to 1e-8 rel."""
    frame = cdnow_summary(name).customers
    compressed, uncompressed, rows = bg_nbd_totals(frame, params)
    assert compressed == pytest.approx(uncompressed, rel=1e-8)
    assert len(rows) < len(frame) / 2  # it did compress
    if name == "cdnow_sample" and params == FHL:
        assert compressed == pytest.approx(FHL_BG_NBD_LL, abs=0.01)


@pytest.mark.parametrize("params", [FHL, f64(0.8, 5.0, 1.2, 2.5)])
def test_bg_nbd_compressed_equals_uncompressed_on_simulated(params):
    """A simulated base of 20,000 customers: compressed = uncompressed to 1e-8 rel."""
    frame = simulated_base()
    compressed, uncompressed, rows = bg_nbd_totals(frame, params)
    assert compressed == pytest.approx(uncompressed, rel=1e-8)
    assert len(rows) < len(frame)


@pytest.mark.parametrize("name", ["cdnow_sample", "cdnow_master"])
@pytest.mark.parametrize("params", [FH, f64(2.0, 3.0, 10.0)])
def test_gamma_gamma_compressed_equals_uncompressed_on_cdnow(name, params):
    """CDNOW repeat buyers: weighted distinct (x, m) rows = per-customer sum, to 1e-8 rel."""
    frame = cdnow_summary(name).customers.rename(columns={"monetary": "m"})
    compressed, uncompressed, _ = gamma_gamma_totals(frame, params)
    assert compressed == pytest.approx(uncompressed, rel=1e-8)


def test_gamma_gamma_compressed_equals_uncompressed_on_simulated():
    """Simulated spends (rounded, so with ties): compressed = uncompressed to 1e-8 rel."""
    compressed, uncompressed, rows = gamma_gamma_totals(simulated_base(), FH)
    assert compressed == pytest.approx(uncompressed, rel=1e-8)
    assert rows.n_original == (simulated_base()["x"] > 0).sum()


def test_compressed_gradient_equals_uncompressed_gradient():
    """The gradient (what NUTS uses) is the same compressed or not, on the CDNOW sample."""
    frame = cdnow_summary().customers
    rows = CompressedRows.from_frame(frame, ("x", "t_x", "T"))
    theta = pt.dvector("theta")
    r, alpha, a, b = (theta[i] for i in range(4))
    compressed = bg_nbd.loglike(r, alpha, a, b, rows)
    # FAST_COMPILE: no C compilation of graphs that embed the data as constants (seconds).
    grad_c = pytensor.function([theta], pytensor.grad(compressed, theta),
                               mode="FAST_COMPILE")(np.array(FHL))
    x, t_x, T = xtT(frame)
    full = bg_nbd.logp(r, alpha, a, b, x, t_x, T).sum()
    grad_u = pytensor.function([theta], pytensor.grad(full, theta),
                               mode="FAST_COMPILE")(np.array(FHL))
    np.testing.assert_allclose(grad_c, grad_u, rtol=1e-8, atol=1e-8)
    # At the MLE the gradient is near zero (the published estimates are rounded to 4 d.p.).
    assert np.all(np.abs(grad_c) < 5.0)


def test_input_weights_are_carried():
    """Weighted input rows (e.g. already-compressed data) weigh the terms by their weights:
    compressing a frame with weights w equals the plain sum of w * logp."""
    rng = np.random.default_rng(3)
    frame = simulated_base(2_000, seed=4)
    w = rng.integers(1, 5, size=len(frame)).astype(float)
    rows = CompressedRows.from_frame(frame, ("x", "t_x", "T"), weights=w)
    assert rows.n_original == pytest.approx(w.sum())
    compressed = float(bg_nbd.loglike(*FHL, rows).eval())
    weighted = (w * bg_nbd_logp_function()(*FHL, *xtT(frame))).sum()
    assert compressed == pytest.approx(weighted, rel=1e-10)


# --------------------------------------------------------------------------------------------
# CompressedRows itself
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cdnow_sample", "cdnow_master"])
def test_expand_inverts_compression_and_weights_sum_to_customers(name):
    """expand() maps each distinct row back to the original rows exactly; weights are counts
    that sum to the number of customers; distinct rows are unique."""
    frame = cdnow_summary(name).customers
    columns = ("x", "t_x", "T")
    rows = CompressedRows.from_frame(frame, columns)
    assert rows.weights.sum() == len(frame) == rows.n_original
    assert np.all(rows.weights >= 1) and np.all(rows.weights == np.round(rows.weights))
    for col in columns:
        np.testing.assert_array_equal(rows.expand(rows[col]), frame[col].to_numpy(dtype=float))
    stacked = np.column_stack([rows[c] for c in columns])
    assert len(np.unique(stacked, axis=0)) == len(rows)
    # Weight k is the number of original rows mapped to row k.
    np.testing.assert_array_equal(np.bincount(rows.inverse, minlength=len(rows)), rows.weights)
    # Per-row values with leading draw axes expand along the last axis.
    draws = np.arange(3)[:, None] + rows["x"][None, :]
    np.testing.assert_array_equal(rows.expand(draws)[1], frame["x"].to_numpy() + 1)


def test_distinct_groups_one_column():
    """distinct('x') gives each x value, its total weight and each row's index into them."""
    frame = pd.DataFrame({"x": [0, 0, 1, 2, 2, 2, 1], "t_x": [0, 0, 1, 3, 3, 4, 1.5],
                          "T": [5, 5, 5, 5, 5, 5, 5]})
    rows = CompressedRows.from_frame(frame, ("x", "t_x", "T"))
    assert len(rows) == 5
    values, weights, index = rows.distinct("x")
    np.testing.assert_array_equal(values, [0, 1, 2])
    np.testing.assert_array_equal(weights, [2, 2, 3])
    np.testing.assert_array_equal(values[index], rows["x"])
    assert str(rows) == "CompressedRows: 7 rows of (x, t_x, T) in 5 distinct rows"


def test_gamma_gamma_logp_accepts_compressed_columns():
    """gamma_gamma.logp on distinct rows, weighted by hand, equals gamma_gamma.loglike."""
    frame = cdnow_summary().customers.rename(columns={"monetary": "m"})
    rows = CompressedRows.from_frame(frame[frame["x"] > 0], ("x", "m"))
    by_hand = float((rows.weights * gamma_gamma.logp(*FH, rows["x"], rows["m"])).sum().eval())
    assert float(gamma_gamma.loglike(*FH, rows).eval()) == pytest.approx(by_hand, rel=1e-12)
