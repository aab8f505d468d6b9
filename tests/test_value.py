"""The pure functions of clvlib.value: concentration of value.

Sources: hand-computable cases; the Gini coefficient's mean-absolute-difference definition,
G = sum_i sum_j |v_i - v_j| / (2 n^2 mean), which the trapezoidal Lorenz-curve form equals
exactly. Discounting is tested in tests/test_discounting.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvlib.value import decile_table, gini, lorenz_curve, top_share

# --------------------------------------------------------------------------------------------
# Lorenz curve, Gini, top share
# --------------------------------------------------------------------------------------------


def test_lorenz_curve_by_hand():
    """Values 4, 1, 3, 2: sorted 1, 2, 3, 4 of total 10 -> value shares 0, .1, .3, .6, 1."""
    curve = lorenz_curve([4, 1, 3, 2])
    np.testing.assert_allclose(curve["customer_share"], [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve["value_share"], [0, 0.1, 0.3, 0.6, 1.0])


def test_gini_by_hand():
    """1, 2, 3, 4: sum |v_i - v_j| over ordered pairs = 20, 2 n^2 mean = 80 -> G = 0.25."""
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25, abs=1e-15)


@pytest.mark.parametrize("n", [1, 2, 10, 1000])
def test_equal_values_have_gini_zero(n):
    """Every customer worth the same: Gini 0, top 10% hold 10% (one customer at least)."""
    values = np.full(n, 7.5)
    assert gini(values) == pytest.approx(0.0, abs=1e-12)
    k = max(1, round(0.1 * n))
    assert top_share(values, 0.1) == pytest.approx(k / n, rel=1e-12)
    curve = lorenz_curve(values)
    np.testing.assert_allclose(curve["value_share"], curve["customer_share"], atol=1e-12)


@pytest.mark.parametrize("n", [2, 10, 1000])
def test_one_holder(n):
    """One customer holds everything: top share 1 (any fraction), Gini 1 - 1/n (its maximum
    for n customers)."""
    values = np.zeros(n)
    values[n // 2] = 123.0
    assert top_share(values, 0.1) == 1.0
    assert top_share(values, 0.5) == 1.0
    assert gini(values) == pytest.approx(1 - 1 / n, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gini_equals_mean_absolute_difference(seed):
    """On random positive values (lognormal, 500 customers) the Gini equals the
    mean-absolute-difference definition computed directly."""
    values = np.random.default_rng(seed).lognormal(3, 1.5, size=500)
    direct = np.abs(values[:, None] - values[None, :]).sum() / (2 * values.size**2 * values.mean())
    assert gini(values) == pytest.approx(direct, rel=1e-12)
    assert gini(values * 17.0) == pytest.approx(direct, rel=1e-12)  # scale free
    assert gini(np.random.default_rng(seed).permutation(values)) == pytest.approx(direct, rel=1e-12)


def test_top_share_by_hand():
    """Values 1..10 (total 55): the top 10% is {10}: 10/55; top 20%: 19/55; top 50%: 40/55."""
    values = np.arange(1, 11)
    assert top_share(values, 0.1) == pytest.approx(10 / 55)
    assert top_share(values, 0.2) == pytest.approx(19 / 55)
    assert top_share(values, 0.5) == pytest.approx(40 / 55)
    assert top_share(values, 1.0) == pytest.approx(1.0)


def test_top_share_reads_off_the_lorenz_curve():
    """Top share of the top k/n equals 1 minus the Lorenz value share at 1 - k/n."""
    values = np.random.default_rng(4).gamma(0.5, 100, size=1000)
    curve = lorenz_curve(values)
    for k in (10, 100, 250):
        lorenz_at = curve["value_share"].iloc[1000 - k]
        assert top_share(values, k / 1000) == pytest.approx(1 - lorenz_at, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Decile table
# --------------------------------------------------------------------------------------------


def test_decile_table_by_hand():
    """Values 1..100: decile 1 holds 91..100 (955 of 5050), decile 10 holds 1..10 (55);
    shares sum to 1; the cumulative share ends at 1; counts are 10 each."""
    values = pd.Series(np.arange(1, 101, dtype=float), index=[f"c{i}" for i in range(100)])
    table = decile_table(values)
    assert list(table.index) == list(range(1, 11))
    assert table.index.name == "decile"
    assert table["customers"].tolist() == [10] * 10
    assert table.loc[1, "total_value"] == 955.0 and table.loc[10, "total_value"] == 55.0
    assert table.loc[1, "share_of_value"] == pytest.approx(955 / 5050)
    assert table.loc[1, "mean_value"] == pytest.approx(95.5)
    assert table["share_of_value"].sum() == pytest.approx(1.0, abs=1e-12)
    assert table["cumulative_share"].iloc[-1] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(table["mean_value"]) < 0)


@pytest.mark.parametrize("n", [10, 25, 997, 10_000])
def test_decile_table_shares_and_sizes(n):
    """Any size: ten groups whose sizes differ by at most one, covering every customer; shares
    sum to 1; decile 1's share equals top_share of the top tenth when n is a multiple of 10."""
    values = pd.Series(np.random.default_rng(n).lognormal(2, 1, size=n))
    table = decile_table(values)
    assert len(table) == 10
    assert table["customers"].sum() == n
    assert table["customers"].max() - table["customers"].min() <= 1
    assert table["share_of_value"].sum() == pytest.approx(1.0, abs=1e-12)
    assert table["total_value"].sum() == pytest.approx(values.sum(), rel=1e-12)
    if n % 10 == 0:
        assert table.loc[1, "share_of_value"] == pytest.approx(top_share(values, 0.1), rel=1e-12)


@pytest.mark.parametrize("fn", [lorenz_curve, gini, top_share])
@pytest.mark.parametrize("values, match", [([3.0, -1.0, 2.0], "negative"),
                                           ([1.0, np.nan], "not finite"),
                                           ([0.0, 0.0], "sum to 0")])
def test_concentration_refuses_what_it_cannot_measure(fn, values, match):
    """Negative values are refused, never clipped (a clipped curve would disagree with the
    decile table of the same values)."""
    with pytest.raises(ValueError, match=match):
        fn(values)
