"""clvlib.psis: PSIS-LOO over all observations at once, equal to ArviZ's per-observation loop."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
import xarray as xr

from clvlib.psis import psis_loo, relative_ess


def _normal_model(seed: int, chains: int, draws: int, outliers: bool):
    """A posterior of a normal model's mean and scale, and the pointwise log-likelihood of 300
    observations (with far outliers: heavy importance-ratio tails, Pareto k above 0.7)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 1, 300)
    if outliers:
        y[:8] = [6, -7, 9, 12, -15, 20, 5, 30]
    mu = rng.normal(y.mean(), 0.06, (chains, draws)).cumsum(axis=1) * 0.05 + y.mean()
    sigma = np.exp(rng.normal(np.log(y.std()), 0.04, (chains, draws)))
    ll = (-0.5 * ((y - mu[..., None]) / sigma[..., None]) ** 2 - np.log(sigma[..., None])
          - 0.5 * np.log(2 * np.pi))
    return {"mu": mu, "sigma": sigma}, ll


@pytest.mark.parametrize(("seed", "chains", "draws", "outliers"),
                         [(0, 4, 250, True), (1, 4, 1000, True), (2, 2, 100, False),
                          (3, 1, 500, True)])
def test_psis_loo_equals_arviz(seed, chains, draws, outliers):
    posterior, ll = _normal_model(seed, chains, draws, outliers)
    reference = az.loo(az.from_dict({"posterior": posterior, "log_likelihood": {"y": ll}}),
                       pointwise=True)
    r_eff = relative_ess(xr.Dataset({k: (("chain", "draw"), v) for k, v in posterior.items()}))
    elpd, khat = psis_loo(ll.reshape(chains * draws, -1), r_eff)
    np.testing.assert_allclose(elpd, reference.elpd_i.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(khat, reference.pareto_k.to_numpy(), rtol=1e-9, atol=1e-12)
    if outliers:
        assert np.any(khat > 0.7), "the test should reach heavy tails"
