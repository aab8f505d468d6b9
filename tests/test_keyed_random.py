"""Keyed random numbers (clvlib.keyed_random): uniform, independent between units and counters,
the same for a unit whoever is drawn with it, Gamma variates with the right moments.

The numbers are a fixed function of their keys, so each check below passes or fails the same
way at every run; the thresholds are those a true generator would miss once in 10,000 runs
(each test's docstring), so a failure says the hash has a flaw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clvlib.keyed_random import Keys


def test_uniforms_are_uniform_and_independent_across_units_and_counters():
    """400 customers' ids x 500 counters (200,000 uniforms): Kolmogorov-Smirnov against the
    uniform (p > 1e-4), a chi-square on 20 x 20 cells of the pairs of consecutive counters'
    and of consecutive ids' numbers (p > 1e-4 each), all in (0, 1): a true generator fails
    one of the three with chance 3e-4."""
    keys = Keys.of_ids(pd.Index(range(400)), seed=0)
    u = np.stack([keys.uniform(7, c) for c in range(500)], axis=1)  # ids x counters
    assert u.min() > 0 and u.max() < 1
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-4
    for a, b in ((u[:, :-1], u[:, 1:]), (u[:-1], u[1:])):
        cells = np.histogram2d(a.ravel(), b.ravel(), bins=20, range=[[0, 1], [0, 1]])[0]
        assert stats.chisquare(cells.ravel()).pvalue > 1e-4


def test_rows_that_differ_in_one_bit_get_unrelated_numbers():
    """Rows whose values differ by one unit in the last place (neighbouring doubles) and rows
    of small integers (a summary's counts): their uniforms' correlation over 100,000 counters
    is within 4.5 standard errors (1/sqrt(n)) of 0, in 3 checks (false failure below 2e-5)."""
    near = np.array([[3.0, 10.5, 30.0], [3.0, np.nextafter(10.5, 11.0), 30.0],
                     [4.0, 10.5, 30.0], [3.0, 10.5, 31.0]])
    keys = Keys.of_rows(near, seed=5)
    u = np.stack([keys.uniform(c) for c in range(100_000)], axis=1)
    for other in (1, 2, 3):
        assert abs(np.corrcoef(u[0], u[other])[0, 1]) < 4.5 / np.sqrt(u.shape[1])


def test_a_units_numbers_do_not_depend_on_who_is_drawn_with_it():
    """Exact invariants: the numbers of units taken from a set are theirs within it, in any
    order; equal rows get equal keys (-0.0 reads as 0.0); an id as a number or as its text
    gets the same keys; a repeated id's rows get different ones; another seed, other ones."""
    rows = np.array([[1.0, 2.0], [0.0, 5.0], [1.0, 2.0], [-0.0, 5.0]])
    keys = Keys.of_rows(rows, seed=3)
    assert keys.keys[0] == keys.keys[2] and keys.keys[1] == keys.keys[3]
    assert len(set(Keys.of_rows(rows, seed=4).keys) & set(keys.keys)) == 0
    ids = Keys.of_ids(pd.Index(np.arange(100) * 7), seed=1)
    np.testing.assert_array_equal(
        Keys.of_ids(pd.Index([str(i * 7) for i in range(100)]), seed=1).keys, ids.keys)
    at = np.array([50, 3, 99, 3])
    for counters in ((), (2,), (2, 9)):
        whole = ids.uniform(*counters)
        np.testing.assert_array_equal(ids.take(at).uniform(*counters), whole[at])
        np.testing.assert_array_equal(ids.uniform(*counters, at=at), whole[at])
    np.testing.assert_array_equal(ids.at(4).take(at).uniform(2), ids.take(at).at(4).uniform(2))
    # A counter per unit: each unit's number is the one it has with that counter alone.
    np.testing.assert_array_equal(ids.uniform(2, np.arange(4), at=at),
                                  [ids.uniform(2, j)[unit] for j, unit in enumerate(at)])
    repeated = Keys.of_ids(pd.Index(["a", "b", "a", "a"]), seed=1)
    assert len(set(repeated.keys)) == 4
    assert repeated.keys[1] == Keys.of_ids(pd.Index(["b"]), seed=1).keys[0]


@pytest.mark.parametrize("shape", [0.2, 1.0, 7.5])
def test_gamma_and_exponential_variates_have_their_moments(shape):
    """100,000 Gamma(shape, 1) variates by the inverse distribution function: mean within 4.5
    standard errors of ``shape``, their Kolmogorov-Smirnov p-value against Gamma(shape) above
    1e-4; the exponentials' likewise (false failure below 3e-4 in each case)."""
    keys = Keys.of_ids(pd.Index(range(100_000)), seed=11)
    draws = keys.gamma(shape, 3)
    assert abs(draws.mean() - shape) < 4.5 * np.sqrt(shape / draws.size)
    assert stats.kstest(draws, stats.gamma(shape).cdf).pvalue > 1e-4
    waits = keys.exponential(4)
    assert abs(waits.mean() - 1) < 4.5 / np.sqrt(waits.size)
    assert stats.kstest(waits, "expon").pvalue > 1e-4
