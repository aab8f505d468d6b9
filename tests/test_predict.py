"""Per-customer summaries of posterior draws (clvlib.predict), against NumPy.

The Numba quickselect summaries must give NumPy's mean and its default (linear) quantiles, and
the fused product its per-draw weighted total, on draws with ties and any count of draws.
"""

from __future__ import annotations

import numpy as np
import pytest

from clvlib.predict import summarize_draws, summarize_product


@pytest.mark.parametrize("n_draws", [1, 2, 7, 1000])
@pytest.mark.parametrize("interval", [0.5, 0.9, 0.94])
def test_summaries_are_numpy_mean_and_quantiles(n_draws, interval):
    rng = np.random.default_rng(n_draws)
    values = rng.gamma(0.7, size=(150, n_draws))
    values[::3] = np.round(values[::3], 1)  # ties
    values[5] = 2.0  # all equal
    mean, lower, upper = summarize_draws(values, interval)
    np.testing.assert_allclose(mean, values.mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(lower, np.quantile(values, (1 - interval) / 2, axis=1),
                               rtol=1e-13)
    np.testing.assert_allclose(upper, np.quantile(values, (1 + interval) / 2, axis=1),
                               rtol=1e-13)


@pytest.mark.parametrize("n_draws", [3, 400])
def test_the_fused_product_summary_is_the_product_summarized(n_draws):
    rng = np.random.default_rng(7)
    factors = [rng.gamma(2.0, size=(n, n_draws)) for n in (11, 5, 17)]
    indices = [rng.integers(0, f.shape[0], 300) for f in factors]
    weights = rng.integers(1, 4, 300).astype(float)
    product = np.prod([f[i] for f, i in zip(factors, indices, strict=True)], axis=0)
    mean, lower, upper, total = summarize_product(factors, indices, 0.9, weights)
    np.testing.assert_allclose(mean, product.mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(lower, np.quantile(product, 0.05, axis=1), rtol=1e-13)
    np.testing.assert_allclose(upper, np.quantile(product, 0.95, axis=1), rtol=1e-13)
    np.testing.assert_allclose(total, (weights[:, None] * product).sum(axis=0), rtol=1e-12)
    unweighted = summarize_product(factors, indices, 0.9)[3]
    np.testing.assert_allclose(unweighted, product.sum(axis=0), rtol=1e-12)
