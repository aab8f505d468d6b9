"""The NumPy simulators (clvlib.simulate: each model's *_rvs, simulate_transactions) against the
closed forms.

A simulator and its model's closed forms are written separately, so agreement is a check of
both. Sources for the closed forms: Fader, Hardie & Lee (2005) eqs. (8)-(9) (P(X(t)=n) and
E[X(t)]) and P(alive) (Fader, Hardie & Lee 2008 note); Fader & Hardie (2013) for Gamma-Gamma
(E[spend] = p gamma / (q - 1); x m / gamma ~ beta-prime(p x, q)). Tolerances are 4 Monte-Carlo
standard errors, with fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import betaln

from clvlib import read_transactions, simulate_transactions, summarize
from clvlib.models import bg_nbd, gamma_gamma

FHL = (0.2426, 4.4136, 0.7929, 2.4259)
N = 200_000


def within(sample_mean, expected, standard_error, k=4.0):
    return abs(sample_mean - expected) <= k * standard_error


def clustered_standard_error(values, groups) -> float:
    """Standard error of the mean of ``values`` when values in one group are correlated
    (transactions of one customer share nu): the cluster-robust (sandwich) estimate."""
    values = np.asarray(values, dtype=float)
    _, index = np.unique(np.asarray(groups), return_inverse=True)
    residual_sums = np.bincount(index, weights=values - values.mean())
    return float(np.sqrt(np.sum(residual_sums**2)) / values.size)


@pytest.mark.parametrize("params, T", [(FHL, 39.0), ((1.0, 2.0, 1.5, 2.5), 52.0),
                                       ((0.5, 10.0, 3.0, 1.0), 100.0)])
def test_bg_nbd_rvs_matches_closed_forms(params, T):
    """200,000 customers of age T: the shares with x = 0..5 match P(X(T)=n) and the mean of x
    matches E[X(T)], each within 4 Monte-Carlo standard errors."""
    data = bg_nbd.rvs(*params, np.full(N, T), rng=12345)
    x = data["x"]
    for n in range(6):
        share = np.mean(x == n)
        p_n = float(bg_nbd.prob_purchases(*params, T, n))
        assert within(share, p_n, np.sqrt(p_n * (1 - p_n) / N)), (n, share, p_n)
    expected = float(bg_nbd.expected_purchases_new(*params, T))
    assert within(x.mean(), expected, x.std() / np.sqrt(N)), (x.mean(), expected)


def test_bg_nbd_rvs_mixed_ages():
    """With ages spread over 1..78 weeks, mean x matches the average of E[X(T_i)]."""
    rng = np.random.default_rng(7)
    T = rng.uniform(1, 78, size=N)
    x = bg_nbd.rvs(*FHL, T, rng=rng)["x"]
    expected = bg_nbd.expected_purchases_new(*FHL, T)
    # The variance of x - E[X(T_i)] bounds the standard error of the difference of means.
    assert within(x.mean(), expected.mean(), (x - expected).std() / np.sqrt(N))


def test_bg_nbd_p_alive_is_consistent_with_simulation():
    """Tower property: among simulated customers with x = n, the mean of P(alive | x, t_x, T)
    equals P(alive at T | X(T) = n) = B(a, b+n)/B(a, b) NB(n; r, alpha/(alpha+T)) / P(X(T)=n)
    (the alive term of FHL eq. 8); over everyone it equals sum_n of the alive terms."""
    r, alpha, a, b = FHL
    T = 39.0
    data = bg_nbd.rvs(*FHL, np.full(N, T), rng=99)
    alive = bg_nbd.p_alive(*FHL, data["x"], data["t_x"], data["T"])
    n = np.arange(0, 400)
    alive_term = np.exp(betaln(a, b + n) - betaln(a, b)) * stats.nbinom.pmf(
        n, r, alpha / (alpha + T))
    assert np.all(alive[data["x"] == 0] == 1.0)
    for k in (1, 2, 3, 5):
        group = alive[data["x"] == k]
        truth = alive_term[k] / float(bg_nbd.prob_purchases(*FHL, T, k))
        standard_error = group.std() / np.sqrt(group.size)
        assert within(group.mean(), truth, standard_error), (k, group.mean(), truth)
    assert within(alive.mean(), alive_term.sum(), alive.std() / np.sqrt(N))


def test_bg_nbd_rvs_structure_and_seed():
    """t_x = 0 exactly when x = 0, 0 < t_x <= T otherwise; the same seed gives the same draws;
    purchase times are per customer, within (0, T]."""
    T = np.linspace(0.5, 60, 5_000)
    first = bg_nbd.rvs(*FHL, T, rng=3)
    again = bg_nbd.rvs(*FHL, T, rng=3)
    for key in ("x", "t_x", "T"):
        np.testing.assert_array_equal(first[key], again[key])
    x, t_x = first["x"], first["t_x"]
    assert np.all((x == 0) == (t_x == 0))
    assert np.all((t_x <= T) & (t_x >= 0))
    customer, time = bg_nbd.purchase_times(*FHL, T, rng=3)
    assert np.all((time > 0) & (time <= T[customer]))
    np.testing.assert_array_equal(np.bincount(customer, minlength=T.size), x)


@pytest.mark.parametrize("params", [(6.25, 6.0, 15.44), (2.0, 8.0, 3.0)])
def test_gamma_gamma_rvs_mean_spend(params):
    """The mean of simulated mean spends is p gamma / (q - 1) within 4 standard errors (q > 4 so
    the sample variance is a stable estimate), for any x."""
    p, q, gamma = params
    rng = np.random.default_rng(5)
    x = rng.integers(1, 10, size=N)
    m = gamma_gamma.rvs(*params, x, rng=rng)
    assert np.all(m > 0)
    assert within(m.mean(), p * gamma / (q - 1), m.std() / np.sqrt(N))


@pytest.mark.parametrize("x", [1, 3, 12])
def test_gamma_gamma_rvs_distribution_is_beta_prime(x):
    """For fixed x, x m / gamma is beta-prime(p x, q) (FH 2013): a KS test does not reject."""
    p, q, gamma = 6.25, 3.74, 15.44
    m = gamma_gamma.rvs(p, q, gamma, np.full(50_000, x), rng=11 + x)
    result = stats.kstest(x * m / gamma, stats.betaprime(p * x, q).cdf)
    assert result.pvalue > 1e-3, result


def test_gamma_gamma_spend_rvs_shares_nu_within_customer():
    """Transactions of one customer share nu: spend of two transactions of the same customer
    are positively correlated, across customers they are not; the mean per transaction is
    p gamma / (q - 1)."""
    p, q, gamma = 6.25, 6.0, 15.44
    n = 100_000
    customer = np.repeat(np.arange(n), 2)
    spend = gamma_gamma.spend_rvs(p, q, gamma, customer, n, rng=8).reshape(n, 2)
    assert np.corrcoef(spend[:, 0], spend[:, 1])[0, 1] > 0.1
    assert abs(np.corrcoef(spend[:-1, 0], spend[1:, 1])[0, 1]) < 0.02
    standard_error = clustered_standard_error(spend.ravel(), customer)
    assert within(spend.mean(), p * gamma / (q - 1), standard_error)


# --------------------------------------------------------------------------------------------
# simulate_transactions -> read_transactions -> summarize
# --------------------------------------------------------------------------------------------

SIM = dict(r=0.5, alpha=5.0, a=1.2, b=2.5, p=6.0, q=4.0, gamma=15.0,
           start="2024-01-01", acquisition_days=90, end="2025-06-30", time_unit="week")


@pytest.fixture(scope="module")
def simulated_log():
    return simulate_transactions(20_000, **SIM, rng=2)


def test_simulated_log_is_accepted_and_summarized(simulated_log):
    """The simulated log passes read_transactions and summarize: 20,000 customers, first
    purchases inside the 90-day acquisition window, nothing after the end date."""
    log = read_transactions(simulated_log, date="timestamp", duplicates="error")
    summary = summarize(log, time_unit="week")
    c = summary.customers
    assert len(c) == 20_000
    assert c["first_purchase"].min() >= pd.Timestamp("2024-01-01")
    assert c["first_purchase"].max() <= pd.Timestamp("2024-01-01") + pd.Timedelta(days=89)
    assert simulated_log["timestamp"].max() <= pd.Timestamp("2025-06-30")
    assert (simulated_log["amount"] >= 0).all()
    # Same-day purchases are merged in the summary, so x is at most the repeat rows.
    repeat_rows = simulated_log.groupby("customer_id").size() - 1
    assert (c["x"] <= repeat_rows.reindex(c.index)).all()


def test_simulated_log_matches_bg_nbd_and_gamma_gamma(simulated_log):
    """Repeat purchases per customer (rows - 1) average E[X(age)] over customers' ages from
    first purchase to the end date, within 4 standard errors; amounts average
    p gamma / (q - 1), with a standard error that allows for each customer's shared nu."""
    first = simulated_log.groupby("customer_id")["timestamp"].min()
    age_weeks = (pd.Timestamp(SIM["end"]) - first).dt.total_seconds().to_numpy() / (7 * 86400)
    repeats = (simulated_log.groupby("customer_id").size() - 1).to_numpy()
    expected = bg_nbd.expected_purchases_new(SIM["r"], SIM["alpha"], SIM["a"], SIM["b"],
                                                age_weeks)
    assert within(repeats.mean(), expected.mean(), (repeats - expected).std() / np.sqrt(20_000))
    amounts = simulated_log["amount"].to_numpy()
    mean_spend = SIM["p"] * SIM["gamma"] / (SIM["q"] - 1)
    standard_error = clustered_standard_error(amounts, simulated_log["customer_id"])
    assert within(amounts.mean(), mean_spend, standard_error)


def test_simulate_transactions_is_reproducible_and_sorted():
    """The same seed gives the same log; rows are sorted by customer and time; ids are text."""
    small = dict(SIM, acquisition_days=10)
    one = simulate_transactions(500, **small, rng=42)
    two = simulate_transactions(500, **small, rng=42)
    pd.testing.assert_frame_equal(one, two)
    assert list(one.columns) == ["customer_id", "timestamp", "amount"]
    assert one["customer_id"].nunique() == 500
    assert one.equals(one.sort_values(["customer_id", "timestamp"], ignore_index=True))
    first = one.groupby("customer_id")["timestamp"].min()
    assert (first.dt.normalize() == first).all()  # first purchases fall on whole days
    assert first.max() < pd.Timestamp("2024-01-11")
