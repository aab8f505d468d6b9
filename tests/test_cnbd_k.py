"""(M)BG/CNBD-k: the regularity models' likelihood, closed forms, simulator, summary column,
replication and recovery.

Sources:
- BTYDplus (Platzer), src/slice-sampling.cpp's embedded unit test: with (k, r, alpha, a, b) =
  (3, 0.5, 2, 0.3, 0.6), the BG/CNBD-k log-likelihoods of (x, t_x, T, litt) = (3, 12, 14, 3)
  and (4, 12, 14, 3) are -10.42500 and -12.22396; P(X(10) = 2) is 0.05669 (BG) and 0.04548
  (MBG).
- k = 1 is BG/NBD (MBG/NBD): clvlib's own modules, themselves held to Fader, Hardie & Lee's
  published numbers, are the independent implementation; on CDNOW the k = 1 maximum is FHL's
  published BG/NBD fit (r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9582.4).
- The conditional expectation has no published values for k > 1 (BTYDplus approximates it);
  it is checked against the process itself, simulated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import FALSE_FAILURE, assert_recovers, fake_fit
from scipy import stats

import clvlib as clv
from clvlib.errors import CLVDataError
from clvlib.models import bg_nbd, cnbd_k, mbg_nbd
from clvlib.priors import Prior

BTYDPLUS = {"r": 0.5, "alpha": 2.0, "a": 0.3, "b": 0.6}
REGULAR = {"r": 0.85, "alpha": 1.45, "a": 0.79, "b": 2.42}  # BTYDplus's simulation tests
FHL = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
FLAT = {name: Prior("HalfFlat") for name in ("r", "alpha", "a", "b")}
# z bound of one two-sided normal test failing with probability FALSE_FAILURE
Z = stats.norm.isf(FALSE_FAILURE / 2)


def test_btydplus_unit_test_values():
    x, t_x, T, litt = (np.array(v, dtype=float) for v in ([3, 4], [12, 12], [14, 14], [3, 3]))
    ll = cnbd_k.logp(**BTYDPLUS, x=x, t_x=t_x, T=T, litt=litt, k=3, d=0).eval()
    np.testing.assert_allclose(ll, [-10.42500, -12.22396], atol=5e-6)
    assert cnbd_k.prob_purchases(**BTYDPLUS, t=10, n=2, k=3, d=0) == pytest.approx(
        0.05669, abs=5e-6)
    assert cnbd_k.prob_purchases(**BTYDPLUS, t=10, n=2, k=3, d=1) == pytest.approx(
        0.04548, abs=5e-6)


@pytest.mark.parametrize(("d", "reference"), [(0, bg_nbd), (1, mbg_nbd)], ids=["BG", "MBG"])
def test_k_1_is_bg_nbd(d, reference):
    x, t_x, T = np.array([0, 1, 2, 5, 40.0]), np.array([0, 3, 30.4, 35, 38]), np.array(
        [38.0, 38, 38.86, 39, 39])
    forms = dict(k=1, d=d)
    np.testing.assert_allclose(
        cnbd_k.logp(**FHL, x=x, t_x=t_x, T=T, litt=np.zeros(5), **forms).eval(),
        reference.logp(**FHL, x=x, t_x=t_x, T=T).eval(), rtol=1e-13)
    np.testing.assert_allclose(cnbd_k.p_alive(**FHL, x=x, t_x=t_x, T=T, **forms),
                               reference.p_alive(**FHL, x=x, t_x=t_x, T=T), rtol=1e-13)
    np.testing.assert_allclose(cnbd_k.expected_purchases(**FHL, x=x, t_x=t_x, T=T, t=39, **forms),
                               reference.expected_purchases(**FHL, x=x, t_x=t_x, T=T, t=39),
                               rtol=1e-12)
    t = np.array([1.0, 39, 78, 500])
    np.testing.assert_allclose(cnbd_k.expected_purchases_new(**FHL, t=t, **forms),
                               reference.expected_purchases_new(**FHL, t=t), rtol=1e-12)
    n = np.arange(8)
    np.testing.assert_allclose(cnbd_k.prob_purchases(**FHL, t=39, n=n, **forms),
                               reference.prob_purchases(**FHL, t=39, n=n), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("d", [0, 1], ids=["BG", "MBG"])
@pytest.mark.parametrize("k", [2, 3, 6])
def test_purchase_count_distribution_sums_to_one_with_the_expected_mean(k, d):
    n = np.arange(0, 3000)
    for t in (10.0, 52.0):
        p = cnbd_k.prob_purchases(**REGULAR, t=t, n=n, k=k, d=d)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert (n * p).sum() == pytest.approx(
            float(cnbd_k.expected_purchases_new(**REGULAR, t=t, k=k, d=d)), rel=1e-10)


def test_regularity_lowers_the_expected_purchases_of_a_customer_who_bought_just_now():
    """With Erlang gaps a customer who just bought will not buy again at once: k = 3 expects
    fewer purchases in the next week from t_x = T than from a customer whose gap is under way."""
    just_now = cnbd_k.expected_purchases_alive(**REGULAR, x=3, t_x=14, T=14, t=1, k=3, d=0)
    under_way = cnbd_k.expected_purchases_alive(**REGULAR, x=3, t_x=12, T=14, t=1, k=3, d=0)
    assert just_now < under_way


# -- the simulator and the conditional expectation --------------------------------------------


@pytest.mark.parametrize("d", [0, 1], ids=["BG", "MBG"])
def test_simulated_counts_follow_the_purchase_count_distribution(d):
    """200,000 simulated customers of age 26: counts 0..9 (and 10+) against P(X(26) = n) by a
    chi-square test that fails with probability 1e-4 when the simulator is right."""
    sims = cnbd_k.rvs(**REGULAR, T=np.full(200_000, 26.0), k=3, d=d, rng=5)
    p = cnbd_k.prob_purchases(**REGULAR, t=26.0, n=np.arange(10), k=3, d=d)
    expected = 200_000 * np.r_[p, 1 - p.sum()]
    observed = np.bincount(np.minimum(sims["x"], 10), minlength=11)
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, df=10) > FALSE_FAILURE, chi2


def _holdout_experiment(d: int, n: int = 20_000, horizon: float = 26.0, seed: int = 3):
    """Customers simulated past their calibration age T: their summaries and holdout counts."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(26, 52, n).round(2)
    customer, time, gap = cnbd_k.purchase_times(**REGULAR, T=T + horizon, k=3, d=d, rng=rng)
    calibration = time <= T[customer]
    x = np.bincount(customer[calibration], minlength=n)
    t_x = np.zeros(n)
    np.maximum.at(t_x, customer[calibration], time[calibration])
    holdout = np.bincount(customer[~calibration], minlength=n)
    return x, t_x, T, holdout


@pytest.mark.parametrize("d", [0, 1], ids=["BG", "MBG"])
def test_conditional_expectation_is_unbiased_for_the_simulated_holdout(d):
    """E[Y(26) | x, t_x, T] is exact: over 20,000 simulated customers the holdout counts less
    their conditional expectations average 0 (a z-test failing with probability 1e-4 when the
    expectation is right). Leaving out the events since the last purchase (BTYDplus's kind of
    approximation, uncorrected) is far outside: z of 15 to 20."""
    x, t_x, T, holdout = _holdout_experiment(d)
    residual = holdout - cnbd_k.expected_purchases(**REGULAR, x=x, t_x=t_x, T=T, t=26.0, k=3,
                                                   d=d)
    z = residual.mean() / (residual.std() / np.sqrt(residual.size))
    assert abs(z) < Z, z
    without_phases = cnbd_k._series(REGULAR["r"] + 3 * x, REGULAR["alpha"] + T, 0 * T,
                                    REGULAR["a"], REGULAR["b"] + x + d, 26.0, 3) * \
        cnbd_k.p_alive(**REGULAR, x=x, t_x=t_x, T=T, k=3, d=d)
    residual = holdout - without_phases
    assert abs(residual.mean() / (residual.std() / np.sqrt(residual.size))) > 3 * Z


def test_predictive_draws_agree_with_the_expected_purchases():
    """The predictive engine's Erlang gaps (with the events since the last purchase drawn from
    their posterior) give, over many draws, the exact expectation."""
    sims = pd.DataFrame(cnbd_k.rvs(**REGULAR, T=np.full(400, 39.0), k=3, d=0, rng=6))
    sims.index = pd.Index([f"c{i}" for i in range(len(sims))], name="customer_id")
    model = cnbd_k.model_class(3)(sims)
    fake_fit(model, REGULAR, spread=0.0, draws=4000)
    expected = model.expected_purchases(20.0, n_draws=None).per_customer["mean"]
    predicted = model.predicted_purchases(20.0, n_draws=None)
    # 4,000 draws per customer, counts of variance below 10 here: the base's total is within
    # 5 standard errors (fails with probability below 1e-6)
    assert abs(predicted.per_customer["mean"].sum() - expected.sum()) < 5 * np.sqrt(
        len(sims) * 10.0 / 4000)
    np.testing.assert_allclose(predicted.per_customer["mean"], expected, atol=0.5)
    assert (predicted.per_customer["upper"] >= predicted.per_customer["lower"]).all()


# -- the summary column and the data check ----------------------------------------------------


def test_litt_is_the_sum_of_log_inter_purchase_weeks():
    """Against pandas on the CDNOW sample's raw file: same-day purchases merged, the gaps in
    weeks between the calibration purchase days, their logs summed per customer."""
    summary = clv.summarize(clv.read_transactions("cdnow_sample"), calibration_end="1997-09-30",
                            observation_end="1998-06-30", regularity=True)
    raw = pd.read_csv(Path(__file__).parents[1] / "data" / "raw" / "CDNOW_sample.txt",
                      sep=r"\s+", header=None, dtype=str)
    frame = pd.DataFrame({"customer_id": raw[0], "day": pd.to_datetime(raw[2], format="%Y%m%d")
                          }).drop_duplicates().sort_values(["customer_id", "day"])
    for column, end in (("litt", "1997-09-30"), ("litt_full", "1998-06-30")):
        days = frame[frame["day"] <= end]
        gaps = days.groupby("customer_id")["day"].diff().dt.days / 7
        litt = np.log(gaps).groupby(days["customer_id"]).sum()
        np.testing.assert_allclose(summary.customers[column], litt.loc[summary.customers.index],
                                   rtol=1e-12, atol=1e-12, err_msg=column)
    assert summary.customers["litt"].sum() == pytest.approx(2909.5047, abs=1e-4)
    assert (summary.customers.loc[summary.customers["x"] == 0, "litt"] == 0).all()
    assert "litt" not in clv.summarize(clv.read_transactions("cdnow_sample")).customers


def test_a_summary_without_litt_is_refused_with_the_way_to_make_one():
    summary = clv.summarize(clv.read_transactions("cdnow_sample"))
    with pytest.raises(CLVDataError, match=r"litt.*regularity=True"):
        cnbd_k.model_class(2)(summary)
    bad = pd.DataFrame({"x": [0, 2], "t_x": [0.0, 3.0], "T": [5.0, 5.0], "litt": [0.4, 0.1]})
    with pytest.raises(CLVDataError, match="0 where x = 0"):
        cnbd_k.model_class(2)(bad)


# -- fits: replication, model choice, recovery ------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_regular():
    return clv.summarize(clv.read_transactions("cdnow_sample"), calibration_end="1997-09-30",
                         observation_end="1998-06-30", regularity=True)


def test_choose_k_on_cdnow_finds_the_published_bg_nbd(cdnow_regular):
    """CDNOW has no regularity: k = 1 has the highest likelihood, and its maximum is FHL's
    published BG/NBD fit (the likelihoods of k = 1 and 2 are comparable through litt)."""
    table = cnbd_k.choose_k(cdnow_regular, ks=(1, 2), priors=FLAT)
    assert table["best"].idxmax() == 1
    best = table.loc[1]
    for name, value in FHL.items():
        assert best[name] == pytest.approx(value, abs=1e-3), name
    assert best["log_likelihood"] == pytest.approx(-9582.43, abs=0.01)
    assert table.loc[2, "log_likelihood"] < best["log_likelihood"] - 100


# -- DERT: the discounted expected purchases of a customer known to be alive ------------------

ROWS = (np.array([0, 0, 1, 2, 5, 10, 40.0]), np.array([0, 0, 3, 30.4, 35, 10, 38]),
        np.array([38.0, 78, 38, 38.86, 39, 39, 39]))


@pytest.mark.parametrize("k", [1, 3, 6])
@pytest.mark.parametrize("s", [0.2, 1.3, 12.0, 200.0])
def test_the_average_over_the_purchase_rate_agrees_with_adaptive_quadrature(s, k):
    """For each phase m < k, E[q^(k-m) 2F1(1, b; a + b; q^k)] over lambda ~ Gamma(s + m, R),
    q = lambda / (lambda + delta), against SciPy's adaptive quadrature in lambda, at discount
    rates of 1e-4 a week, 10% and 100% a year."""
    from scipy import integrate, special

    R, a, b = 45.0, 0.79, 5.4
    for delta in (1e-4, np.log(1.1) / 52.18, np.log(2) / 52.18):
        for m in range(k):
            def integrand(lam, delta=delta, m=m):
                q = lam / (lam + delta)
                return (q**(k - m) * special.hyp2f1(1, b, a + b, q**k)
                        * stats.gamma.pdf(lam, s + m, scale=1 / R))

            mode = max(s + m - 1, 1e-3) / R
            exact = sum(integrate.quad(integrand, lo, hi, epsabs=0, epsrel=1e-11, limit=200)[0]
                        for lo, hi in ((0, mode), (mode, np.inf)))
            weights = [np.array([float(j == m)]) for j in range(k)]
            ours = cnbd_k._over_purchase_rate(np.array([s]), np.array([R]), np.array([a]),
                                              np.array([b]), np.array([delta]), weights, k)
            assert ours[0] == pytest.approx(exact, rel=1e-9), (delta, m)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("d", [0, 1], ids=["BG", "MBG"])
@pytest.mark.parametrize("k", [2, 4])
def test_dert_is_the_discounted_series_of_expected_purchases(k, d):
    """At 100% a year, against adaptive quadrature (SciPy) of ``integral delta e^(-delta t)
    E[Y(t) | alive] dt`` over the exact series (:func:`expected_purchases_alive`), to 3,000
    weeks (e^(-delta t) is below 1e-17 after that)."""
    from scipy import integrate

    from clvlib.discounting import Discount

    delta = Discount(1.0).per_unit(7.0)
    ours = cnbd_k.discounted_purchases_alive(**REGULAR, x=ROWS[0], t_x=ROWS[1], T=ROWS[2],
                                             delta=delta, k=k, d=d)
    for i, row in enumerate(zip(*ROWS, strict=True)):
        def discounted(t, row=row):
            alive = cnbd_k.expected_purchases_alive(**REGULAR, x=row[0], t_x=row[1], T=row[2],
                                                    t=t, k=k, d=d)
            return delta * np.exp(-delta * t) * alive

        exact = sum(integrate.quad(discounted, lo, hi, epsabs=0, epsrel=1e-11, limit=400)[0]
                    for lo, hi in ((0, 50), (50, 500), (500, 3000)))
        assert ours[i] == pytest.approx(exact, rel=1e-9), row


@pytest.mark.parametrize(("d", "reference"), [(0, bg_nbd), (1, mbg_nbd)], ids=["BG", "MBG"])
def test_with_one_event_per_purchase_dert_is_bg_nbds(d, reference):
    """k = 1 at 10% a year: the closed form against BG/NBD's (MBG/NBD's) own expected
    purchases, discounted by the engine's Gauss-Laguerre (its error, about 1e-5)."""
    from clvlib.discounting import Discount, purchase_weights

    times, weights = purchase_weights(np.inf, 7.0, 0.1)
    expected = sum(w * reference.expected_purchases_alive(**FHL, x=ROWS[0], T=ROWS[2], t=t)
                   for t, w in zip(times, weights, strict=True))
    ours = cnbd_k.discounted_purchases_alive(**FHL, x=ROWS[0], t_x=ROWS[1], T=ROWS[2],
                                             delta=Discount(0.1).per_unit(7.0), k=1, d=d)
    np.testing.assert_allclose(ours, expected, rtol=1e-4)


def test_dert_through_the_model_and_the_engine(cdnow_regular):
    """``model.dert`` scores every customer with the closed form: P(alive) times it."""
    from clvlib.discounting import Discount

    model = fake_fit(cnbd_k.model_class(2, dropout_at_zero=True)(cdnow_regular), REGULAR,
                     spread=0.0, draws=4)
    customers = cdnow_regular.customers.iloc[:50]
    dert = model.dert(0.1, customers, n_draws=None).per_customer["mean"].to_numpy()
    x, t_x, T = (customers[c].to_numpy(dtype=float) for c in ("x", "t_x", "T"))
    forms = {"k": 2, "d": 1}
    expected = (cnbd_k.p_alive(**REGULAR, x=x, t_x=t_x, T=T, **forms)
                * cnbd_k.discounted_purchases_alive(**REGULAR, x=x, t_x=t_x, T=T,
                                                    delta=Discount(0.1).per_unit(7.0), **forms))
    np.testing.assert_allclose(dert, expected, rtol=1e-12)


def test_is_a_report_candidate_whose_purchase_rate_is_every_kth_event(cdnow_regular):
    """The report reads the purchase rate lambda / k ~ Gamma(r, k alpha): its mean r / (k
    alpha), and the share below it is the gamma's."""
    from clvlib.mixing import purchase_rate_mixture

    cls = cnbd_k.model_class(3)
    assert cls.report_candidate and cls.unbounded_horizon
    model = fake_fit(cls(cdnow_regular), REGULAR, spread=0.0, draws=2)
    rates = purchase_rate_mixture(model, point=True)
    mean = REGULAR["r"] / (3 * REGULAR["alpha"])
    assert rates.mean()[0] == pytest.approx(mean, rel=1e-12)
    assert rates.cdf(mean)[0] == pytest.approx(
        stats.gamma.cdf(mean, REGULAR["r"], scale=1 / (3 * REGULAR["alpha"])), rel=1e-12)


def test_registry_names_any_k():
    assert clv.get_model("bg_cnbd_2") is cnbd_k.model_class(2)
    assert clv.get_model("mbg_cnbd_5") is cnbd_k.model_class(5, dropout_at_zero=True)
    assert clv.get_model("mbg_cnbd_5").title == "MBG/CNBD-5"
    with pytest.raises(KeyError, match="bg_cnbd_<k>"):
        clv.get_model("bg_cnbd_0")


@pytest.mark.slow
def test_parameter_recovery_and_k_by_likelihood():
    """3,000 simulated customers with Erlang-3 gaps, acquired over a year and observed for 52
    to 104 weeks: MAP's likelihood is highest at k = 3 among k = 1..5 (the log-likelihood gap to
    its neighbours is in the hundreds), and NUTS puts every true value within the z bound of its
    posterior (fails with probability below 1e-4 when sampler and model are right, see
    helpers.FALSE_FAILURE)."""
    rng = np.random.default_rng(12)
    sims = pd.DataFrame(cnbd_k.rvs(**REGULAR, T=rng.uniform(52, 104, 3000).round(2), k=3, d=1,
                                   rng=rng))
    table = cnbd_k.choose_k(sims, ks=range(1, 6), dropout_at_zero=True)
    assert table["best"].idxmax() == 3, table
    model = cnbd_k.model_class(3, dropout_at_zero=True)(sims)
    model.fit(draws=1000, tune=1000, chains=2, random_seed=2, progressbar=False)
    assert model.diagnostics().ok, model.diagnostics().problems()
    assert_recovers(model.posterior_draws(), REGULAR, "MBG/CNBD-3")


def test_compared_with_bg_nbd_on_the_same_customers(cdnow_regular):
    """compare_models scores MBG/CNBD-k and MBG/NBD on the same customers although their
    likelihoods read different columns; the holdout density reads litt_full. With k = 1 the
    two are the same model: equal PSIS-LOO and holdout densities, row by row."""
    from clvlib.comparison import compare_models, holdout_rows

    models = []
    for cls in (clv.ModifiedBetaGeoModel, cnbd_k.model_class(1, dropout_at_zero=True)):
        models.append(fake_fit(cls(cdnow_regular), {"r": 0.52, "alpha": 6.2, "a": 0.89,
                                                    "b": 1.61}, spread=0.05, draws=200))
    table = compare_models(models, cdnow_regular).table
    for column in ("elpd_loo", "holdout_lpd"):
        assert table[column].iloc[0] == pytest.approx(table[column].iloc[1], abs=1e-6), column
    assert holdout_rows(cdnow_regular, columns=("x", "t_x", "T", "litt")).n_original == len(
        cdnow_regular.customers)


@pytest.mark.slow
def test_a_report_valued_with_mbg_cnbd_2(tmp_path, monkeypatch):
    """The smoke report with MBG/CNBD-2 beside BG/NBD as candidates and as the value model:
    every announced table and figure is there (the valuation's DERT of existing and new
    customers included), and the comparison ranks BG/NBD first, clearly, as k = 1 is CDNOW's
    best k by likelihood (BTYDplus; test_choose_k_on_cdnow_finds_the_published_bg_nbd)."""
    from report_checks import smoke_report_valued_with

    html = smoke_report_valued_with("mbg_cnbd_2", ["bg_nbd", "mbg_cnbd_2"], tmp_path, monkeypatch)
    assert ("<strong>BG/NBD</strong> forecasts the held-out purchases best: it leads over "
            "MBG/CNBD-2 clearly") in html
    assert "The sections that follow use <strong>MBG/CNBD-2</strong>, as requested" in html
    assert "gaps between purchases are Erlang-2" in html
