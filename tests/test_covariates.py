"""Time-invariant covariates on purchase, dropout and spend (issue 11, sections 1, 2 and 4).

The oracle is pymc-marketing 1.3's ParetoNBDModel with covariates, which uses the same links
(alpha_i = alpha exp(-x_i'g_p), beta_i = beta exp(-x_i'g_d)) and its own Pareto/NBD likelihood
(hypergeometric closed form, pymc_marketing.clv.distributions.ParetoNBD): an independent
implementation of the likelihood and the link.
"""

from __future__ import annotations

import json
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
from helpers import agrees_to_significant_figures, recovery_z_bound

import clvlib as clv
from clvlib.covariates import Design, attach_covariates
from clvlib.errors import CLVDataError
from clvlib.models import bg_nbd, gamma_gamma, pareto_nbd
from clvlib.models.samplers import FitSettings
from clvlib.priors import Prior
from clvlib.scoring import score_customers
from clvlib.simulate import linked_scale

TRUTH = {"r": 0.9, "alpha": 6.0, "s": 0.7, "beta": 12.0}
G_PURCHASE = np.array([0.4, 0.6])  # size, channel
G_DROPOUT = np.array([-0.5])  # size
FLAT = {k: Prior("HalfFlat") for k in TRUTH} | {"g_purchase": Prior("Flat"),
                                                "g_dropout": Prior("Flat")}


def simulated_base(n: int = 1500, seed: int = 11) -> pd.DataFrame:
    """Pareto/NBD customers with a numeric covariate (size) and a 0/1 one (channel)."""
    rng = np.random.default_rng(seed)
    size = rng.normal(size=n)
    channel = (rng.random(n) < 0.4).astype(float)
    alpha_i = linked_scale(TRUTH["alpha"], np.column_stack([size, channel]), G_PURCHASE)
    beta_i = linked_scale(TRUTH["beta"], size[:, None], G_DROPOUT)
    sim = pareto_nbd.rvs(TRUTH["r"], alpha_i, TRUTH["s"], beta_i, T=rng.uniform(30, 80, n),
                         rng=rng)
    frame = pd.DataFrame(sim, index=pd.Index([f"c{i:05d}" for i in range(n)],
                                             name="customer_id"))
    frame["size"], frame["channel"] = size, channel
    return frame


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    return simulated_base()


def covariate_model(frame, priors=None):
    return clv.ParetoNBDModel(frame, priors=priors, purchase_covariates=["size", "channel"],
                              dropout_covariates=["size"])


def peer_model(frame):
    """pymc-marketing's ParetoNBDModel with the same covariates and flat priors."""
    from pymc_extras.prior import Prior as PeerPrior
    from pymc_marketing.clv import ParetoNBDModel

    config = {**{k: PeerPrior("HalfFlat") for k in TRUTH},
              "purchase_coefficient": PeerPrior("Flat"),
              "dropout_coefficient": PeerPrior("Flat"),
              "purchase_covariate_cols": ["size", "channel"],
              "dropout_covariate_cols": ["size"]}
    data = pd.DataFrame({"customer_id": frame.index, "frequency": frame["x"],
                         "recency": frame["t_x"], "T": frame["T"], "size": frame["size"],
                         "channel": frame["channel"]})
    model = ParetoNBDModel(model_config=config)
    model.build_model(data)
    return model, data


def peer_loglike(peer, params: dict) -> float:
    """The log-likelihood of pymc-marketing's model (its observed variable only) at params."""
    model = peer.model
    logp = model.logp(vars=[model["recency_frequency"]], jacobian=False, sum=True)
    fn = model.compile_fn(logp, inputs=model.value_vars, on_unused_input="ignore")
    names = {"alpha_scale": "alpha", "beta_scale": "beta",
             "purchase_coefficient": "g_purchase", "dropout_coefficient": "g_dropout"}
    values = {}
    for var in model.value_vars:
        base = var.name.removesuffix("_log__")
        value = np.asarray(params[names.get(base, base)], dtype=float)
        values[var.name] = np.log(value) if var.name.endswith("_log__") else value
    return float(fn(values))


# -- the oracle ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("python_mode")
def test_log_likelihood_equals_pymc_marketing_at_the_same_parameters(base):
    """At parameters away from the truth, clvlib's covariate Pareto/NBD log-likelihood equals
    pymc-marketing 1.3's (hypergeometric closed form, same links) to 1e-6."""
    params = {"r": 0.8, "alpha": 5.0, "s": 0.9, "beta": 9.0,
              "g_purchase": np.array([0.3, -0.2]), "g_dropout": np.array([0.25])}
    ours = covariate_model(base).log_likelihood(params)
    peer, _ = peer_model(base)
    assert ours == pytest.approx(peer_loglike(peer, params), abs=1e-6)


@pytest.mark.slow
def test_flat_prior_map_equals_pymc_marketing_to_3_significant_figures(base):
    """With flat priors both MAP fits are the maximum-likelihood estimate: every population
    parameter and coefficient agrees to 3 significant figures, and the log-likelihoods at
    the two estimates agree to 1e-6 of each other's value at the same point."""
    ours = covariate_model(base, FLAT)
    ours.fit("map", progressbar=False)
    peer, data = peer_model(base)
    peer.fit(data, method="map", progressbar=False)
    post = peer.idata.posterior
    theirs = {"r": post["r"].values.ravel(), "alpha": post["alpha_scale"].values.ravel(),
              "s": post["s"].values.ravel(), "beta": post["beta_scale"].values.ravel(),
              "g_purchase": post["purchase_coefficient"].values.ravel(),
              "g_dropout": post["dropout_coefficient"].values.ravel()}
    est = ours.point_estimate()
    for name, reference in theirs.items():
        for value, ref in zip(np.atleast_1d(est[name]), reference, strict=True):
            assert agrees_to_significant_figures(value, ref, 3), (name, value, ref)
    at_theirs = {k: v if k.startswith("g_") else float(v[0]) for k, v in theirs.items()}
    assert ours.log_likelihood(at_theirs) == pytest.approx(peer_loglike(peer, at_theirs),
                                                           abs=1e-6)


# -- exact invariants ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls, params, roles", [
    (clv.ParetoNBDModel, TRUTH, ("purchase", "dropout")),
    (clv.BetaGeoModel, {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 3.0}, ("purchase", "dropout")),
    (clv.ModifiedBetaGeoModel, {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 3.0},
     ("purchase", "dropout")),
])
def test_zero_coefficients_give_the_plain_log_likelihood(base, cls, params, roles):
    """All coefficients at zero: every linked parameter is the population one, so the
    log-likelihood is the plain model's (to rounding: the plain total sums the x part per
    distinct x, the covariate total per row)."""
    plain = cls(base).log_likelihood(params)
    kwargs = {f"{role}_covariates": ["size", "channel"] for role in roles}
    model = cls(base, **kwargs)
    zeros = {f"g_{role}": np.zeros(2) for role in roles}
    assert model.log_likelihood({**params, **zeros}) == pytest.approx(plain, rel=1e-12)


def test_zero_spend_coefficients_give_the_plain_gamma_gamma_log_likelihood(base):
    rng = np.random.default_rng(3)
    frame = base.copy()
    frame["monetary"] = np.nan
    repeat = frame["x"] > 0
    frame.loc[repeat, "monetary"] = gamma_gamma.rvs(5.0, 4.0, 20.0, frame.loc[repeat, "x"],
                                                    rng=rng)
    params = {"p": 5.0, "q": 4.0, "gamma": 20.0}
    plain = clv.GammaGammaModel(frame).log_likelihood(params)
    model = clv.GammaGammaModel(frame, spend_covariates=["size", "channel"])
    assert model.log_likelihood({**params, "g_spend": np.zeros(2)}) == pytest.approx(
        plain, rel=1e-12)
    # and a non-zero coefficient is gamma_i = gamma exp(x_i'g): spend scales with exp(x_i'g)
    g = np.array([0.2, -0.3])
    gamma_i = linked_scale(20.0, frame.loc[repeat, ["size", "channel"]].to_numpy(), g, 1.0)
    direct = gamma_gamma.logp(5.0, 4.0, gamma_i, frame.loc[repeat, "x"].to_numpy(float),
                              frame.loc[repeat, "monetary"].to_numpy()).eval().sum()
    assert model.log_likelihood({**params, "g_spend": g}) == pytest.approx(direct, rel=1e-12)


def test_compressed_equals_uncompressed_with_a_categorical_covariate():
    """Whole-week summaries and a three-level channel: customers share a row only when summary
    and channel agree, and the weighted total equals the per-customer sum with each customer's
    own alpha_i and beta_i, coded by hand against the named baseline 'web'."""
    rng = np.random.default_rng(4)
    n = 3000
    channel = rng.choice(["web", "store", "phone"], n)
    sim = pareto_nbd.rvs(0.9, 6.0, 0.7, 12.0, T=rng.integers(20, 30, n).astype(float), rng=rng)
    frame = pd.DataFrame(sim)
    frame["t_x"] = np.floor(frame["t_x"])
    frame["channel"] = channel
    model = clv.ParetoNBDModel(frame, purchase_covariates=["channel"],
                               dropout_covariates=["channel"],
                               covariate_baselines={"channel": "web"})
    assert model.coords["purchase_covariate"] == ["channel[phone]", "channel[store]"]
    assert len(model.rows) == len(frame.drop_duplicates()) < n / 2
    g_p, g_d = np.array([0.5, -0.4]), np.array([0.3, 0.2])
    params = {**TRUTH, "g_purchase": g_p, "g_dropout": g_d}
    x_i = np.column_stack([channel == "phone", channel == "store"]).astype(float)
    per_customer = pareto_nbd.logp(0.9, 6.0 * np.exp(-x_i @ g_p), 0.7, 12.0 * np.exp(-x_i @ g_d),
                                   frame["x"].to_numpy(float), frame["t_x"].to_numpy(),
                                   frame["T"].to_numpy()).eval()
    assert model.log_likelihood(params) == pytest.approx(per_customer.sum(), rel=1e-12)


# -- coding and checks --------------------------------------------------------------------------


def test_coding_names_the_baseline_and_standardization(base):
    frame = base.assign(region=np.where(base["size"] > 0.5, "north", "south"))
    design = Design.fit("purchase", frame, ["region", "size"], standardize=True)
    assert design.names == ["region[north]", "size"]
    described = design.describe()
    assert "baseline 'south'" in described[0]  # the most frequent level
    assert described[1].startswith("size: numeric, standardized")
    z = design.matrix(frame)[:, 1]
    assert z.mean() == pytest.approx(0, abs=1e-12) and z.std() == pytest.approx(1)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.assign(flag=1.0), "'flag' takes one value"),
    (lambda f: f.assign(size=f["size"].astype(object).where(f.index != "c00003", "n/a")),
     "'size' is mostly numbers"),
    (lambda f: f.assign(size=f["size"].where(f.index != "c00007")), "'size' is empty"),
])
def test_bad_covariate_columns_are_named_with_the_first_customers(base, change, message):
    frame = change(base)
    column = "flag" if "flag" in frame else "size"
    with pytest.raises(CLVDataError, match=message) as error:
        clv.ParetoNBDModel(frame, purchase_covariates=[column])
    if "one value" not in message:
        assert ("c00003" if "mostly" in message else "c00007") in str(error.value)


def test_covariates_a_model_does_not_take_are_refused(base):
    with pytest.raises(ValueError, match="takes no spend_covariates"):
        clv.ParetoNBDModel(base, spend_covariates=["size"])
    with pytest.raises(CLVDataError, match=r"\['region'\] are not in the customer table"):
        clv.ParetoNBDModel(base, purchase_covariates=["region"])


def test_attach_covariates_refuses_missing_duplicate_and_empty_rows(base, tmp_path):
    customers = base[["x", "t_x", "T"]]
    table = pd.DataFrame({"customer_id": base.index, "channel": "web"})
    joined = attach_covariates(customers, table)
    assert list(joined.columns) == ["x", "t_x", "T", "channel"]
    with pytest.raises(CLVDataError, match="have no covariate row, the first: c00000"):
        attach_covariates(customers, table.iloc[1:])
    with pytest.raises(CLVDataError, match="more than one covariate row"):
        attach_covariates(customers, pd.concat([table, table.iloc[:1]]))
    gap = table.assign(channel=table["channel"].where(table.index != 2))
    with pytest.raises(CLVDataError, match="column 'channel' is empty .* the first: c00002"):
        attach_covariates(customers, gap)
    path = tmp_path / "covariates.csv"
    table.to_csv(path, index=False)
    assert attach_covariates(customers, path)["channel"].eq("web").all()


def test_summarize_carries_the_covariates():
    log = clv.read_transactions("cdnow_sample")
    plain = clv.summarize(log, calibration_end="1997-09-30")
    ids = plain.customers.index
    table = pd.DataFrame({"customer_id": ids, "half": np.where(np.arange(len(ids)) % 2, "odd",
                                                               "even")})
    summary = clv.summarize(log, calibration_end="1997-09-30", covariates=table)
    assert summary.customers["half"].tolist() == table["half"].tolist()
    model = clv.BetaGeoModel(summary, purchase_covariates=["half"])
    assert model.coords == {"purchase_covariate": ["half[odd]"]}


# -- predictions use each customer's own parameters ---------------------------------------------


def fake_covariate_fit(model, draws: int = 50, seed: int = 1):
    """A stand-in posterior whose coefficients keep their dimension."""
    rng = np.random.default_rng(seed)
    posterior = {k: (v * np.exp(0.05 * rng.standard_normal(draws)))[None]
                 for k, v in TRUTH.items()}
    posterior["g_purchase"] = (G_PURCHASE + 0.05 * rng.standard_normal((draws, 2)))[None]
    posterior["g_dropout"] = (G_DROPOUT + 0.05 * rng.standard_normal((draws, 1)))[None]
    model.idata = az.from_dict(
        {"posterior": posterior},
        dims={"g_purchase": ["purchase_covariate"], "g_dropout": ["dropout_covariate"]},
        coords=model.coords)
    return model


def test_p_alive_and_expected_purchases_use_each_customers_parameters(base):
    model = fake_covariate_fit(covariate_model(base))
    draws = model.posterior_draws(None)
    assert draws["g_purchase"].shape == (50, 2) and draws["alpha"].shape == (50,)
    scores = score_customers(model, horizon=26, n_draws=None)
    x, t_x, T = (base[c].to_numpy(float)[:, None] for c in ("x", "t_x", "T"))
    alpha_i = draws["alpha"] * np.exp(-base[["size", "channel"]].to_numpy() @ draws["g_purchase"].T)
    beta_i = draws["beta"] * np.exp(-base[["size"]].to_numpy() @ draws["g_dropout"].T)
    p_alive = pareto_nbd.p_alive(draws["r"], alpha_i, draws["s"], beta_i, x, t_x, T)
    np.testing.assert_allclose(scores["p_alive"].per_customer["mean"], p_alive.mean(axis=1),
                               rtol=1e-10)
    expected = pareto_nbd.expected_purchases(draws["r"], alpha_i, draws["s"], beta_i,
                                                x, t_x, T, 26.0)
    np.testing.assert_allclose(scores["expected_purchases"].per_customer["mean"],
                               expected.mean(axis=1), rtol=1e-8)


def test_predictive_draws_follow_the_covariates():
    """Two groups of new-ish customers with equal summaries: channel 1 buys exp(0.6) = 1.8
    times as often, and the predictive means (4,000 customers x 200 draws each) show it."""
    n = 4000
    frame = pd.DataFrame({"x": np.zeros(n), "t_x": np.zeros(n), "T": np.full(n, 1e-6),
                          "size": np.tile([0.0, 0.0, 1.0, -1.0], n // 4),
                          "channel": np.repeat([0.0, 1.0], n // 2)})
    frame.index = pd.Index([f"n{i}" for i in range(n)], name="customer_id")
    model = fake_covariate_fit(covariate_model(frame), draws=200)
    scores = score_customers(model, horizon=4, predictions=["expected_purchases",
                                                            "purchases_predictive"], n_draws=None)
    expected = scores["expected_purchases"].per_customer["mean"]
    predictive = scores["purchases_predictive"].per_customer["mean"]
    by_channel = predictive.groupby(frame["channel"]).mean()
    expected_by = expected.groupby(frame["channel"]).mean()
    # 4,000 x 200 Poisson-gamma draws: the group means' relative standard error is below 1%;
    # 6% is more than 6 standard errors (false-failure rate below 1e-8).
    np.testing.assert_allclose(by_channel.to_numpy(), expected_by.to_numpy(), rtol=0.06)
    assert by_channel[1.0] / by_channel[0.0] > 1.5


# -- parameter recovery -------------------------------------------------------------------------


@pytest.mark.slow
def test_parameter_recovery_with_covariates():
    """NUTS on 4,000 simulated customers with two covariates: every population parameter (log
    scale) and coefficient lies within the z bound of its posterior; over simulated bases the
    check fails with probability below 1e-4 when sampler and model are right
    (helpers.FALSE_FAILURE, a union bound over the 7 quantities)."""
    frame = simulated_base(4000, seed=21)
    model = covariate_model(frame)
    model.fit(draws=400, tune=400, chains=2, progressbar=False, random_seed=3)
    draws = model.posterior_draws()
    z = {k: (np.log(draws[k]).mean() - np.log(v)) / np.log(draws[k]).std()
         for k, v in TRUTH.items()}
    for name, truth in (("g_purchase", G_PURCHASE), ("g_dropout", G_DROPOUT)):
        for j, value in enumerate(truth):
            z[f"{name}[{j}]"] = (draws[name][:, j].mean() - value) / draws[name][:, j].std()
    bound = recovery_z_bound(len(z))
    assert all(abs(v) <= bound for v in z.values()), (bound, z)


def test_pointwise_log_likelihood_for_comparison_uses_each_rows_parameters(base):
    """The comparison's pointwise log-likelihood (PSIS-LOO, holdout density) of a covariate
    model: its weighted row sum at each draw is the model's total log-likelihood there,
    evaluated in chunks of draws or, when one draw's rows exceed the cells, in blocks of rows
    (each block with its own rows' covariates: the same numbers)."""
    from clvlib.comparison import pointwise_loglik

    model = fake_covariate_fit(covariate_model(base), draws=6)
    ll = pointwise_loglik(model, model.rows, cells=4 * len(model.rows))  # two chunks
    assert ll.shape == (1, 6, len(model.rows))
    draws = model.posterior_draws()
    for j in (0, 5):
        total = model.log_likelihood({k: v[j] for k, v in draws.items()})
        assert model.rows.weights @ ll[0, j] == pytest.approx(total, rel=1e-10)
    blocks = pointwise_loglik(model, model.rows, cells=len(model.rows) // 3)  # 4 row blocks
    np.testing.assert_allclose(blocks, ll, rtol=1e-13, atol=1e-13)


def test_a_saved_covariate_fit_reloads_with_its_coding(base, tmp_path):
    """load_model rebuilds the covariates, their baseline and standardization from the file."""
    frame = base.assign(region=np.where(base["size"] > 0, "north", "south"))
    model = clv.ParetoNBDModel(frame, purchase_covariates=["size", "region"],
                               dropout_covariates=["size"], standardize_covariates=True,
                               covariate_baselines={"region": "north"})
    model = fake_covariate_fit(model)
    model.idata.attrs["clvlib"] = json.dumps(model.config(FitSettings("map")))
    path = model.save(tmp_path / "fit.nc")
    loaded = clv.load_model(path, frame)
    assert loaded.coords == model.coords == {
        "purchase_covariate": ["size", "region[south]"], "dropout_covariate": ["size"]}
    assert loaded.standardize_covariates
    np.testing.assert_allclose(loaded.p_alive(n_draws=None).per_customer["mean"],
                               model.p_alive(n_draws=None).per_customer["mean"])


def test_spend_covariates_in_expected_spend_and_clv(base):
    """Gamma-Gamma with a spend covariate: each customer's expected spend uses gamma_i =
    gamma exp(x_i'g_spend), and CLV (expected and predictive) runs with both models indexed."""
    rng = np.random.default_rng(6)
    frame = base.copy()
    frame["monetary"] = np.nan
    repeat = frame["x"] > 0
    gamma_i = linked_scale(20.0, frame.loc[repeat, ["channel"]].to_numpy(), [0.5], 1.0)
    frame.loc[repeat, "monetary"] = gamma_gamma.rvs(5.0, 4.0, gamma_i, frame.loc[repeat, "x"],
                                                    rng=rng)
    spend = clv.GammaGammaModel(frame, spend_covariates=["channel"])
    draws = 30
    post = {k: np.full((1, draws), v) * np.exp(0.02 * rng.standard_normal((1, draws)))
            for k, v in {"p": 5.0, "q": 4.0, "gamma": 20.0}.items()}
    post["g_spend"] = (0.5 + 0.05 * rng.standard_normal((1, draws, 1)))
    spend.idata = az.from_dict({"posterior": post}, dims={"g_spend": ["spend_covariate"]},
                               coords=spend.coords)
    d = spend.posterior_draws()
    expected = spend.expected_spend(n_draws=None).per_customer["mean"]
    g_i = d["gamma"] * np.exp(frame[["channel"]].to_numpy() @ d["g_spend"].T)
    direct = gamma_gamma.expected_spend(d["p"], d["q"], g_i, frame["x"].to_numpy(float)[:, None],
                                           frame["monetary"].fillna(0).to_numpy()[:, None])
    np.testing.assert_allclose(expected, direct.mean(axis=1), rtol=1e-12)
    purchases = fake_covariate_fit(covariate_model(frame))
    scores = score_customers(purchases, spend, horizon=26, n_draws=30,
                             predictions=["clv", "clv_predictive"])
    assert all(np.isfinite(s.per_customer["mean"]).all() for s in scores.values())


def test_a_covariate_model_ranks_beside_the_plain_one():
    """compare_models scores both on rows carrying the covariate; with every coefficient draw
    at 0 the covariate BG/NBD is the plain one, so their PSIS-LOO and holdout densities agree
    to rounding, and the covariate model is named as such."""
    from helpers import FHL_BG_NBD, cdnow_summary

    from clvlib.comparison import compare_models

    plain_summary = cdnow_summary()
    customers = plain_summary.customers.assign(
        half=np.where(np.arange(len(plain_summary)) % 2, "odd", "even"))
    summary = plain_summary.with_customers(customers)
    rng = np.random.default_rng(2)
    post = {k: (v * np.exp(0.03 * rng.standard_normal((2, 100)))) for k, v in FHL_BG_NBD.items()}
    plain = clv.BetaGeoModel(summary)
    plain.idata = az.from_dict({"posterior": post})
    linked = clv.BetaGeoModel(summary, purchase_covariates=["half"])
    assert linked.title == "BG/NBD (covariates: half)"
    linked.idata = az.from_dict({"posterior": post | {"g_purchase": np.zeros((2, 100, 1))}},
                                dims={"g_purchase": ["purchase_covariate"]}, coords=linked.coords)
    table = compare_models([plain, linked], summary).table
    for column in ("elpd_loo", "holdout_lpd"):
        assert table.loc[linked.title, column] == pytest.approx(table.loc[plain.title, column],
                                                                rel=1e-9)


def test_the_fit_cache_keys_on_the_covariates(tmp_path):
    """A second identical covariate fit is read back, coefficients with their dimension; other
    covariate values are another fit."""
    frame = simulated_base(400)
    first = covariate_model(frame)
    first.fit("map", progressbar=False, cache_dir=tmp_path)
    again = covariate_model(frame)
    again.fit("map", progressbar=False, cache_dir=tmp_path)
    assert (first.cache_hit, again.cache_hit) == (False, True)
    np.testing.assert_array_equal(again.posterior_draws()["g_purchase"],
                                  first.posterior_draws()["g_purchase"])
    assert list(again.idata.posterior["g_purchase"].dims) == ["chain", "draw",
                                                             "purchase_covariate"]
    other = covariate_model(frame.assign(size=2 * frame["size"]))
    assert other.cache_key(first.settings) != first.cache_key(first.settings)


# -- checks and base totals use each customer's own parameters (not the baseline customer) -------


def _half_summary_and_model(coefficient: float = 0.8):
    """The CDNOW sample, every second customer 'odd' (a 0/1 covariate on the purchase rate), and
    a covariate BG/NBD with a stand-in posterior whose coefficient is near ``coefficient``."""
    from helpers import FHL_BG_NBD, cdnow_summary

    plain = cdnow_summary()
    summary = plain.with_customers(plain.customers.assign(
        half=np.where(np.arange(len(plain)) % 2, "odd", "even")))
    model = clv.BetaGeoModel(summary, purchase_covariates=["half"])
    rng = np.random.default_rng(4)
    post = {k: v * np.exp(0.03 * rng.standard_normal((1, 60))) for k, v in FHL_BG_NBD.items()}
    post["g_purchase"] = coefficient + 0.03 * rng.standard_normal((1, 60, 1))
    model.idata = az.from_dict({"posterior": post}, dims={"g_purchase": ["purchase_covariate"]},
                               coords=model.coords)
    return summary, model


def _own_alpha(model, draws):
    """Each customer's alpha per draw, (customers, draws): alpha exp(-g [half is odd])."""
    odd = (model.customers["half"] == "odd").to_numpy(float)[:, None]
    return draws["alpha"][None, :] * np.exp(-odd * draws["g_purchase"][:, 0][None, :])


def test_tracking_expects_each_customers_own_purchases():
    """The tracking check's expected cumulative purchases are sum_i E[X(tau - s_i) | alpha_i],
    computed customer by customer here; the baseline customer's (every covariate 0) would be
    far lower, as the bug of issue 23 had it (-35% on an apparel-like file)."""
    from clvlib import checks
    from clvlib.transactions import read_transactions

    summary, model = _half_summary_and_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        actual = checks.repeat_purchases_by_period(read_transactions("cdnow_sample"), summary)
    table = checks.tracking_check(model, summary, actual, n_draws=None)
    draws = model.posterior_draws(None)
    alpha_i = _own_alpha(model, draws)
    c = summary.customers
    start = c["first_purchase"].min()
    s_i = ((c["first_purchase"] - start).dt.days.to_numpy() / 7.0)[:, None]
    for period in (10, 38, 77):
        tau = table.loc[period, "period"] + table.loc[period, "period_share"]
        by_hand = bg_nbd.expected_purchases_new(
            draws["r"], alpha_i, draws["a"], draws["b"], np.clip(tau - s_i, 0, None)).sum(axis=0)
        assert table.loc[period, "mean"] == pytest.approx(by_hand.mean(), rel=1e-10)
        baseline = bg_nbd.expected_purchases_new(
            draws["r"], draws["alpha"], draws["a"], draws["b"],
            np.clip(tau - s_i, 0, None)).sum(axis=0)
        assert by_hand.mean() > 1.2 * baseline.mean()  # exp(0.8) = 2.2 for half the customers


def test_frequency_check_and_new_customer_values_average_the_customers_own_parameters():
    """P(X(T_i) = k | alpha_i) summed over customers, and a new customer's E[X(t)] as the mean
    over the customers' covariates (each customer's own alpha), by hand."""
    from clvlib import checks

    summary, model = _half_summary_and_model()
    table = checks.frequency_check(model, max_x=3, n_draws=None)
    draws = model.posterior_draws(None)
    alpha_i = _own_alpha(model, draws)
    T = model.customers["T"].to_numpy(float)[:, None]
    for k in range(3):
        p = bg_nbd.prob_purchases(draws["r"], alpha_i, draws["a"], draws["b"], T, k)
        assert table.loc[str(k), "mean"] == pytest.approx(p.sum(axis=0).mean(), rel=1e-9)
    new = model.expected_purchases_new(np.array([10.0, 52.0]), n_draws=None)
    by_hand = bg_nbd.expected_purchases_new(
        draws["r"][:, None], alpha_i[:, :, None], draws["a"][:, None], draws["b"][:, None],
        np.array([10.0, 52.0])).mean(axis=0)
    np.testing.assert_allclose(new, by_hand, rtol=1e-10)


def test_acquisition_value_of_a_covariate_model_is_the_mean_over_its_customers():
    """With a spend covariate too, a new customer's value is, per draw, the mean over customers
    of margin x E[spend | gamma_i] x (1 + DERT(alpha_i)), the two factors of the same customer
    multiplied first; the baseline customer's value would be far off. The new customer follows
    the mix of the first 101 customers (51 even, 50 odd), which the by-hand sum goes through
    one by one."""
    from clvlib import valuation
    from clvlib.discounting import purchase_weights

    summary, purchases = _half_summary_and_model()
    spend = clv.GammaGammaModel(summary, spend_covariates=["half"])
    rng = np.random.default_rng(5)
    post = {k: v * np.exp(0.03 * rng.standard_normal((1, 60)))
            for k, v in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items()}
    post["g_spend"] = -0.5 + 0.03 * rng.standard_normal((1, 60, 1))
    spend.idata = az.from_dict({"posterior": post}, dims={"g_spend": ["spend_covariate"]},
                               coords=spend.coords)
    mix = summary.customers.iloc[:101]
    value = valuation.acquisition_value(purchases, spend, margin=0.3, n_draws=None, seed=0,
                                        customers=mix)
    draws = purchases.posterior_draws(None)
    s_draws = spend.posterior_draws(None, 1)
    odd = (mix["half"] == "odd").to_numpy(float)[:, None]
    alpha_i = draws["alpha"][None, :] * np.exp(-odd * draws["g_purchase"][:, 0][None, :])
    gamma_i = s_draws["gamma"][None, :] * np.exp(odd * s_draws["g_spend"][:, 0][None, :])
    times, weights = purchase_weights(np.inf, 7.0, 0.1)
    dert = bg_nbd.expected_purchases_new(
        draws["r"][None, :, None], alpha_i[:, :, None], draws["a"][None, :, None],
        draws["b"][None, :, None], times[None, None, :]) @ weights
    mean_spend = s_draws["p"] * gamma_i / (s_draws["q"] - 1)
    by_hand = (0.3 * mean_spend * (1 + dert)).mean(axis=0)
    np.testing.assert_allclose(value.draws, by_hand, rtol=1e-9)


def test_the_average_customer_of_a_covariate_model_is_the_average_over_its_customers():
    """At the posterior means, the average purchase rate is the mean over customers of
    r / alpha_i, and the share buying less often is the mixture CDF there, by hand."""
    from scipy import stats

    from clvlib.narrative import average_customer

    summary, model = _half_summary_and_model()
    means = {k: v.mean(axis=0) for k, v in model.posterior_draws().items()}
    odd = (summary.customers["half"] == "odd").to_numpy(float)
    alpha_i = means["alpha"] * np.exp(-odd * means["g_purchase"][0])
    mean_rate = float(np.mean(means["r"] / alpha_i))
    avg = average_customer(model)
    assert avg["rate_per_year"] == pytest.approx(mean_rate * 365.25 / 7, rel=1e-12)
    below = np.mean(stats.gamma.cdf(mean_rate, means["r"], scale=1 / alpha_i))
    assert avg["share_below"] == pytest.approx(below, rel=1e-12)
    median = avg["rate_q50"] / (365.25 / 7)
    assert np.mean(stats.gamma.cdf(median, means["r"], scale=1 / alpha_i)) == pytest.approx(0.5)


def test_a_covariates_file_keyed_by_the_logs_own_id_column(tmp_path):
    """The covariates file's id column is the one named (the report passes the log's
    customer_id_column, e.g. Id); without it the error names the column looked for."""
    log = clv.read_transactions(pd.DataFrame({
        "Id": ["7", "7", "9"], "Date": ["2024-01-01", "2024-02-01", "2024-01-15"],
        "Price": [10.0, 20.0, 5.0]}), customer_id="Id", date="Date", amount="Price")
    path = tmp_path / "cov.csv"
    pd.DataFrame({"Id": ["9", "7"], "Gender": [0, 1]}).to_csv(path, index=False)
    summary = clv.summarize(log, calibration_end="2024-02-01", covariates=path,
                            covariates_id_column="Id")
    assert summary.customers.loc["7", "Gender"] == 1 and summary.customers.loc["9", "Gender"] == 0
    with pytest.raises(CLVDataError, match="needs a 'customer_id' column .* has \\['Id', "):
        clv.summarize(log, calibration_end="2024-02-01", covariates=path)
