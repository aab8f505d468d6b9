"""The fit cache: ``CLVModel.fit(..., cache_dir=...)``.

Source: issue 4 sections 2 and 4 ("a second run with unchanged data and parameters reuses cached
fits (cache keyed by data hash, model and config)"; "cache hits return identical numbers and
misses happen when data or config change"). A hit reads the netCDF file the miss wrote, so its
posterior must equal the sampled one bit for bit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import cdnow_summary

import clvlib
from clvlib import BetaGeoModel, GammaGammaModel, Prior

MAP = dict(method="map", progressbar=False)


def bg(summary=None, **kwargs) -> BetaGeoModel:
    return BetaGeoModel(summary or cdnow_summary(), **kwargs)


def read() -> clvlib.TransactionLog:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the CDNOW files hold exact duplicates
        return clvlib.read_transactions("cdnow_sample")


def assert_identical(first, second) -> None:
    """Every variable of the two posteriors equal bit for bit (same values, dims, dtypes)."""
    assert set(first.posterior.data_vars) == set(second.posterior.data_vars)
    for name in first.posterior.data_vars:
        a, b = first.posterior[name].to_numpy(), second.posterior[name].to_numpy()
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), name
    xr.testing.assert_identical(first.posterior, second.posterior)


@pytest.fixture(scope="module")
def cached_map(tmp_path_factory):
    """One MAP fit of BG/NBD on the CDNOW sample, written to a fresh cache folder."""
    folder = tmp_path_factory.mktemp("fit_cache")
    model = bg()
    model.fit(**MAP, cache_dir=folder)
    return folder, model


def test_miss_fits_and_writes_one_file(cached_map):
    folder, model = cached_map
    assert model.cache_hit is False
    assert model.cache_path.parent == folder and model.cache_path.is_file()
    assert [p.name for p in folder.iterdir()] == [model.cache_path.name]
    assert model.cache_path.name == f"bg_nbd-{model.cache_key()}.nc"


def test_hit_returns_identical_numbers_without_fitting(cached_map, monkeypatch):
    folder, first = cached_map
    second = bg()

    def no_sampling(*args, **kwargs):
        raise AssertionError("a cache hit must not build or fit the model")

    monkeypatch.setattr(BetaGeoModel, "build", no_sampling)
    second.fit(**MAP, cache_dir=folder)
    assert second.cache_hit is True and second.cache_path == first.cache_path
    assert_identical(first.idata, second.idata)
    assert second.point_estimate() == first.point_estimate()
    assert second.settings == first.settings
    assert second.config() == first.config()
    assert second.timings["cached_fit_seconds"] == first.timings["fit_seconds"]


@pytest.mark.slow
def test_nuts_hit_is_bitwise_identical(tmp_path):
    """NUTS draws and sampler statistics come back from the cache exactly as sampled."""
    settings = dict(draws=60, tune=60, chains=2, progressbar=False)
    first = bg()
    first.fit(**settings, cache_dir=tmp_path)
    second = bg()
    second.fit(**settings, cache_dir=tmp_path)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert_identical(first.idata, second.idata)
    for name in first.idata.sample_stats.data_vars:
        a = first.idata.sample_stats[name].to_numpy()
        b = second.idata.sample_stats[name].to_numpy()
        assert a.tobytes() == b.tobytes(), name
    assert first.diagnostics().table.equals(second.diagnostics().table)


def test_key_is_stable_for_the_same_model_data_and_settings():
    settings = clvlib.FitSettings(method="map")
    assert bg().cache_key(settings) == bg().cache_key(settings)
    # The sampler is resolved first: "auto" and what it resolves to give one key.
    resolved = settings.resolved()
    assert bg().cache_key(settings) == bg().cache_key(resolved)


@pytest.mark.parametrize(
    "change",
    ["data", "priors", "draws", "seed", "method", "target_accept", "time_unit", "resolution",
     "model"],
)
def test_key_changes_with_data_priors_settings_and_model(change):
    base_settings = clvlib.FitSettings()
    summary = cdnow_summary()
    reference = bg().cache_key(base_settings)
    settings = base_settings
    if change == "data":
        model = bg(summary.with_customers(summary.customers.iloc[1:]))
    elif change == "priors":
        model = bg(priors={"r": Prior("LogNormal", mu=0, sigma=2)})
    elif change == "time_unit":
        model = bg(clvlib.summarize(read(), time_unit="day", calibration_end="1997-09-30"))
    elif change == "resolution":
        model = bg(clvlib.summarize(read(), calibration_end="1997-09-30",
                                    observation_end="1998-06-30", resolution=1 / 7))
        # Days as the resolution leave every t_x and T as they were: only the record differs.
        assert model.data_hash() == bg().data_hash()
    elif change == "model":
        model = clvlib.ModifiedBetaGeoModel(summary)
    else:
        model = bg()
        field = {"draws": "draws", "seed": "random_seed", "method": "method",
                 "target_accept": "target_accept"}[change]
        value = {"draws": 500, "seed": 1, "method": "map", "target_accept": 0.9}[change]
        settings = clvlib.FitSettings(**{**base_settings.__dict__, field: value})
    assert model.cache_key(settings) != reference


def test_changed_data_priors_or_settings_miss_and_refit(cached_map):
    folder, first = cached_map
    summary = cdnow_summary()
    fewer = bg(summary.with_customers(summary.customers.iloc[::2]))
    fewer.fit(**MAP, cache_dir=folder)
    assert fewer.cache_hit is False and fewer.cache_path != first.cache_path
    other_priors = bg(priors={"a": Prior("LogNormal", mu=0, sigma=2)})
    other_priors.fit(**MAP, cache_dir=folder)
    assert other_priors.cache_hit is False
    other_settings = bg()
    other_settings.fit(**MAP, random_seed=1, cache_dir=folder)
    assert other_settings.cache_hit is False
    assert len(list(folder.glob("bg_nbd-*.nc"))) == 4
    assert fewer.point_estimate() != first.point_estimate()
    # ... and each is a hit the second time.
    again = bg(summary.with_customers(summary.customers.iloc[::2]))
    again.fit(**MAP, cache_dir=folder)
    assert again.cache_hit is True
    assert again.point_estimate() == fewer.point_estimate()


def test_a_file_of_other_data_under_the_key_is_not_used(cached_map, tmp_path):
    """A cached fit whose recorded data hash differs from the model's is refitted, not read."""
    _, first = cached_map
    summary = cdnow_summary()
    other = bg(summary.with_customers(summary.customers.iloc[5:]))
    target = tmp_path / f"bg_nbd-{other.cache_key(clvlib.FitSettings(method='map'))}.nc"
    target.write_bytes(first.cache_path.read_bytes())
    with pytest.warns(UserWarning, match="not this model's"):
        other.fit(**MAP, cache_dir=tmp_path)
    assert other.cache_hit is False
    assert other.point_estimate() != first.point_estimate()


def test_an_unreadable_cache_file_is_refitted_and_replaced(tmp_path):
    model = GammaGammaModel(cdnow_summary())
    path = tmp_path / f"gamma_gamma-{model.cache_key(clvlib.FitSettings(method='map'))}.nc"
    path.write_text("not a netCDF file")
    with pytest.warns(UserWarning, match="unreadable cached fit"):
        model.fit(**MAP, cache_dir=tmp_path)
    assert model.cache_hit is False and model.cache_path == path
    again = GammaGammaModel(cdnow_summary())
    again.fit(**MAP, cache_dir=tmp_path)
    assert again.cache_hit is True
    assert np.array_equal(again.idata.posterior["p"], model.idata.posterior["p"])


def test_without_cache_dir_nothing_is_cached():
    model = GammaGammaModel(cdnow_summary())
    model.fit(**MAP)
    assert model.cache_hit is None and model.cache_path is None
