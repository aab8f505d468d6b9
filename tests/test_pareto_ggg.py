"""Pareto/GGG (Platzer & Reutterer 2016): its likelihood against adaptive quadrature and
against the Pareto/NBD it becomes with every k = 1, its simulator against its P(alive) and
simulated futures, and parameter recovery from a MAP fit.

BTYDplus's published grocery comparison cannot be replicated here (the data are not bundled
and R is not available); the likelihood is held to independent quadrature instead.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from helpers import fake_fit, recovery_z_bound
from scipy import integrate, optimize, special, stats

import clvlib as clv
from clvlib import checks
from clvlib.discounting import Discount, purchase_weights
from clvlib.errors import CLVDataError
from clvlib.keyed_random import Keys
from clvlib.models import pareto_ggg as ggg
from clvlib.models import pareto_nbd

# (x, t_x, T, litt): no repeat purchase; one; two regular gaps; five; a heavy buyer still
# buying; a heavy buyer gone silent.
ROWS = [(0, 0.0, 39.0, 0.0), (1, 5.0, 39.0, np.log(5.0)),
        (2, 30.0, 39.0, np.log(10) + np.log(20)), (5, 20.0, 39.0, 5 * np.log(4.0)),
        (20, 38.0, 39.0, 20 * np.log(1.9) - 1.0), (60, 10.0, 39.0, 60 * np.log(10 / 60) - 3)]
# (r, alpha, s, beta): CDNOW's Pareto/NBD; fast buyers leaving slowly with a small beta.
RATES = [(0.55, 10.6, 0.6, 11.7), (0.5, 1.0, 0.3, 0.001)]
TRUTH = {"k_shape": 2.5, "k_rate": 1.5, "r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 30.0}


def _quad_given_k(k, r, alpha, s, beta, x, t_x, T, litt):
    """L_k by adaptive quadrature over the lifetime, in the paper's form: the gaps' density
    with lambda out, times P(no purchase between t_x and min(lifetime, T)), which is the
    incomplete beta of the k-mixture identity (SciPy's betainc, not the code's by-parts)."""
    a, b = r + k * x, alpha + k * t_x
    log_gaps = (k * x * np.log(k) + (k - 1) * litt - x * special.gammaln(k)
                + special.gammaln(a) - special.gammaln(r) + r * np.log(alpha) - a * np.log(b))

    def quiet(u):
        return special.betainc(a, k, b / (alpha + k * u))

    alive = (beta / (beta + T)) ** s * quiet(T)
    left = 0.0
    if T > t_x:
        cuts = t_x + (T - t_x) * np.concatenate([[0.0], np.geomspace(1e-7, 1.0, 60)])
        left = sum(integrate.quad(lambda u: quiet(u) * s * beta ** s / (beta + u) ** (s + 1),
                                  lo, hi, epsabs=0, epsrel=1e-13, limit=200)[0]
                   for lo, hi in zip(cuts[:-1], cuts[1:], strict=True))
    return log_gaps + np.log(alive), log_gaps + (np.log(left) if left > 0 else -np.inf)


@pytest.mark.parametrize("rates", RATES)
def test_the_likelihood_at_each_k_agrees_with_adaptive_quadrature(rates):
    """Measured: 4e-6 at most (k = 80 with a single repeat purchase), 1e-8 typically."""
    for k in (0.05, 0.7, 3.0, 15.0, 80.0):
        for row in ROWS:
            want = np.logaddexp(*_quad_given_k(k, *rates, *row))
            got = np.logaddexp(*ggg.given_k(np, *(np.float64(v) for v in (k, *rates, *row))))
            assert abs(got - want) < 2e-5, (k, rates, row, got, want)


@pytest.mark.parametrize("regularity", [(2.0, 2.0), (0.6, 0.3), (8.0, 2.0)])
def test_the_likelihood_and_p_alive_agree_with_a_dense_grid_over_k(regularity):
    """The quadrature over log k (Newton-centred panels and an exponential tail) against a
    dense trapezoid over log k in [-30, 6] of the per-k terms checked above. Measured: 3e-5
    at most (no repeat purchase, the skewed prior Gamma(0.6, 0.3))."""
    y = np.linspace(-30.0, 6.0, 24001)
    k_shape, k_rate = regularity
    prior = stats.gamma.logpdf(np.exp(y), k_shape, scale=1 / k_rate) + y
    for rates in RATES[:1] + [(1.2, 5.0, 1.0, 20.0)]:
        for row in ROWS:
            alive, left = ggg.given_k(np, np.exp(y), *rates, *row)
            step = np.log(y[1] - y[0])
            want_alive = np.logaddexp.reduce(prior + alive) + step
            want = np.logaddexp(want_alive, np.logaddexp.reduce(prior + left) + step)
            got = ggg.loglik(k_shape, k_rate, *rates, *row)
            assert abs(got - want) < 1e-4, (regularity, rates, row, got, want)
            assert abs(ggg.p_alive(k_shape, k_rate, *rates, *row)
                       - np.exp(want_alive - want)) < 1e-5


def test_with_every_k_one_it_is_the_pareto_nbd():
    """k ~ Gamma(1e9, 1e9) is 1 to within 3e-5: the likelihood and P(alive) are the
    Pareto/NBD's (the spread of k moves them by about 1e-9 x^2)."""
    x, t_x, T, litt = (np.array(v) for v in zip(*ROWS[:5], strict=True))
    for rates in RATES + [(1.2, 5.0, 1.0, 20.0)]:
        got = ggg.loglik(1e9, 1e9, *rates, x, t_x, T, litt)
        want = pareto_nbd.logp(*rates, x, t_x, T).eval() + litt * 0  # (k - 1) litt = 0
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
        np.testing.assert_allclose(ggg.p_alive(1e9, 1e9, *rates, x, t_x, T, litt),
                                   pareto_nbd.p_alive(*rates, x, t_x, T), rtol=0, atol=1e-6)


def test_the_gradient_holds_for_a_customer_who_bought_on_the_last_day():
    """t_x = T puts the quiet probability's beta argument at 1 whatever the parameters, where
    the Beta density is infinite for k < 1; its gradient was NaN there (the CDNOW sample's MAP
    stopped at its start). The automatic gradient equals central differences of the NumPy
    log-likelihood (step 1e-6, relative; they agree to about 1e-8)."""
    import pytensor
    import pytensor.tensor as pt

    from clvlib.models.samplers import PYTHON_MODE

    rows = {"x": np.array([1.0, 3.0, 8.0, 0.0]), "t_x": np.array([38.4, 20.0, 39.0, 0.0]),
            "T": np.array([38.4, 20.0, 39.0, 30.0]),
            "litt": np.array([np.log(38.4), 1.5, 8 * np.log(39 / 8) - 6, 0.0])}
    theta = pt.dvector("theta")
    total = ggg.logp(*[theta[i] for i in range(6)], *rows.values()).sum()
    gradient = pytensor.function([theta], pytensor.grad(total, theta), mode=PYTHON_MODE)
    for point in ([1.65, 1.65, 1.65, 90.0, 1.65, 90.0], [0.3, 1.0, 0.5, 5.0, 0.6, 10.0]):
        point = np.array(point)
        numeric = np.empty(6)
        for i in range(6):
            up, down = point.copy(), point.copy()
            up[i], down[i] = point[i] * (1 + 1e-6), point[i] * (1 - 1e-6)
            numeric[i] = (ggg.loglik(*up, **rows).sum()
                          - ggg.loglik(*down, **rows).sum()) / (2e-6 * point[i])
        np.testing.assert_allclose(gradient(point), numeric, rtol=1e-5, atol=1e-7)


def _simulated(n: int, seed: int, holdout: float = 30.0, delta: float = 0.0):
    """Customers of ages 20 to 39 weeks, purchases simulated over their age and a holdout:
    the calibration summary, the holdout's purchases (each counted ``exp(-delta (t - T))``)
    and who is alive at the end of calibration."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(20, 39, n)
    k = rng.gamma(TRUTH["k_shape"], 1 / TRUTH["k_rate"], n)
    lam = rng.gamma(TRUTH["r"], 1 / TRUTH["alpha"], n)
    life = rng.exponential(1.0, n) / rng.gamma(TRUTH["s"], 1 / TRUTH["beta"], n)
    customer, time, gap = ggg.renewals(k, lam, np.zeros(n), np.minimum(life, T + holdout),
                                       lambda shape, *_: rng.gamma(shape))
    past = time <= T[customer]
    t_x = np.zeros(n)
    np.maximum.at(t_x, customer[past], time[past])
    frame = pd.DataFrame({
        "x": np.bincount(customer[past], minlength=n).astype(float), "t_x": t_x, "T": T,
        "litt": np.bincount(customer[past], weights=np.log(gap[past]), minlength=n)},
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    weight = np.exp(-delta * (time[~past] - T[customer[~past]]))
    return frame, np.bincount(customer[~past], weight, minlength=n), life > T


def test_the_simulator_agrees_with_p_alive_and_the_simulated_futures():
    """20,000 simulated customers at the true parameters: the share alive at the end of
    calibration equals the mean P(alive), and the holdout's mean purchases the mean of the
    futures simulated from each customer's posterior, each within 4.5 standard errors (a
    false failure below 1e-5 each, the estimates being near normal)."""
    frame, holdout, alive = _simulated(20_000, 11)
    data = {c: frame[c].to_numpy() for c in ggg.ParetoGGGModel.columns}
    chance = ggg.p_alive(**TRUTH, **data)
    se = np.sqrt(np.sum(chance * (1 - chance))) / len(chance)
    assert abs(alive.mean() - chance.mean()) < 4.5 * se, (alive.mean(), chance.mean(), se)
    future = ggg.future_purchases(**TRUTH, **data, horizon=30.0,
                                  rng=np.random.default_rng(12), paths=4)
    se = np.sqrt(holdout.var() + future.var()) / np.sqrt(len(holdout))
    assert abs(holdout.mean() - future.mean()) < 4.5 * se, (holdout.mean(), future.mean(), se)


def test_with_every_k_one_dert_is_the_pareto_nbds():
    """k ~ Gamma(1e9, 1e9): DERT at 10% a year (weeks) is the Pareto/NBD's, its expected
    purchases discounted by :func:`clvlib.discounting.purchase_weights` (1e-5 relative), for
    five customers under three sets of rates: each mean of 200 means of 10 estimates within
    4.5 standard errors (15 checks, a false failure below 1e-4 together)."""
    rows = ROWS[:5]
    x, t_x, T, litt = (np.repeat(np.array(v), 200) for v in zip(*rows, strict=True))
    times, weights = purchase_weights(np.inf, 7.0, 0.1)
    delta = Discount(0.1).per_unit(7.0)
    for seed, rates in enumerate(RATES + [(1.2, 5.0, 1.0, 20.0)]):
        want = sum(w * pareto_nbd.expected_purchases(*rates, *np.array(rows).T[:3], t)
                   for t, w in zip(times, weights, strict=True))
        got = ggg.discounted_future(1e9, 1e9, *rates, x, t_x, T, litt, delta,
                                    np.random.default_rng(seed), paths=10)
        got = got.reshape(len(rows), -1)
        z = (got.mean(axis=1) - want) / (got.std(axis=1) / np.sqrt(got.shape[1]))
        assert np.all(np.abs(z) < 4.5), (rates, want, got.mean(axis=1), z)


def test_dert_is_the_discounted_value_of_the_simulated_futures():
    """5,000 simulated customers followed for 1,500 weeks after calibration, each purchase
    counted ``exp(-0.02 (t - T))`` (what falls later counts below e^-30): the base's mean
    equals the mean DERT from each customer's posterior at the true parameters within 4.5
    standard errors of the paired difference (a false failure below 1e-5)."""
    frame, value, _ = _simulated(5_000, 13, holdout=1_500.0, delta=0.02)
    data = {c: frame[c].to_numpy() for c in ggg.ParetoGGGModel.columns}
    dert = ggg.discounted_future(**TRUTH, **data, delta=0.02, rng=np.random.default_rng(14))
    difference = value - dert
    se = difference.std() / np.sqrt(len(difference))
    assert abs(difference.mean()) < 4.5 * se, (value.mean(), dert.mean(), se)


def _laplace(model):
    """The posterior mode of the log parameters and the Laplace approximation's covariance
    there, from the NumPy likelihood and the model's LogNormal priors (the same posterior as
    the graph's, which check_model holds equal). The mode of the log parameters' density,
    the transform's Jacobian included, which ``fit("map")`` (without it, as find_MAP) is not:
    L-BFGS-B and central differences here."""
    names = list(ggg.ParetoGGGModel.params)
    data = {c: model.customers[c].to_numpy() for c in model.columns}
    mu = np.array([model.priors[n].params["mu"] for n in names])
    sigma = np.array([model.priors[n].params["sigma"] for n in names])

    def log_post(y):
        return ggg.loglik(*np.exp(y), **data).sum() - 0.5 * np.sum(((y - mu) / sigma) ** 2)

    y0 = optimize.minimize(lambda y: -log_post(y), np.zeros(len(names)), method="L-BFGS-B",
                           bounds=[(-7, 7)] * len(names)).x
    h, n = 1e-3, len(names)
    hess = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            total = 0.0
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                y = y0.copy()
                y[i] += si * h
                y[j] += sj * h
                total += si * sj * log_post(y)
            hess[i, j] = hess[j, i] = total / (4 * h * h)
    return dict(zip(names, y0, strict=True)), np.linalg.inv(-hess)


def test_parameter_recovery_and_predictions():
    """500 simulated customers: the Laplace approximation at the posterior mode puts each
    true value (log scale) within the z bound of its posterior (a false failure below 1e-4,
    see helpers.FALSE_FAILURE). With that posterior attached, the model's predictions: P(alive)
    inside (0, 1), and the base's expected holdout purchases within 40% of the simulated ones:
    the realized total's standard deviation is 9% of it (the customers' own spread), the
    estimate's under 7% (parameters and 80 simulated futures a customer), so 40% is over 3.4
    standard deviations of the difference, a false failure below 1e-3."""
    frame, holdout, _ = _simulated(500, 21)
    model = clv.ParetoGGGModel(frame)
    mode, cov = _laplace(model)
    sd = dict(zip(mode, np.sqrt(np.diag(cov)), strict=True))
    z = {k: (mode[k] - np.log(v)) / sd[k] for k, v in TRUTH.items()}
    assert all(abs(v) <= recovery_z_bound(6) for v in z.values()), z
    draws = np.exp(np.random.default_rng(3).multivariate_normal(list(mode.values()), cov, 20))
    model.idata = az.from_dict({"posterior": {k: draws[None, :, i]
                                              for i, k in enumerate(mode)}})
    alive = model.p_alive(n_draws=20)
    assert ((alive.per_customer["mean"] > 0) & (alive.per_customer["mean"] < 1)).all()
    expected = model.expected_purchases(30.0, n_draws=20, paths=4)
    assert abs(expected.total()["mean"] / holdout.sum() - 1) < 0.40, (expected.total(),
                                                                      holdout.sum())
    assert expected.name == ("expected repeat purchases in the next 30 weeks (simulated, 4 "
                             "paths a draw)")
    dert = model.dert(0.1, n_draws=20, paths=2)
    assert dert.name == ("discounted expected residual purchases (DERT) at 10% a year "
                         "(simulated, 2 paths a draw)")
    # All purchases from now on, discounted by 2% a year at most over the first 30 weeks,
    # are more than those 30 weeks' (about 4 times more here).
    assert dert.total()["mean"] > expected.total()["mean"], (dert.total(), expected.total())


def test_fit_map_through_the_graph_is_the_mode_of_the_numpy_posterior():
    """``fit("map")`` (the PyMC graph, PyTensor's Python linker) on 200 simulated customers
    lands where no step of 0.01 in any log parameter raises the NumPy posterior it maximizes:
    the likelihood plus the LogNormal priors' log densities without the log transform's
    Jacobian, as PyMC's find_MAP (an exact check: no randomness is involved)."""
    frame, _, _ = _simulated(200, 5)
    model = clv.ParetoGGGModel(frame)
    model.fit("map", progressbar=False)
    names = list(ggg.ParetoGGGModel.params)
    data = {c: frame[c].to_numpy() for c in model.columns}
    priors = [stats.lognorm(model.priors[n].params["sigma"],
                            scale=np.exp(model.priors[n].params["mu"])) for n in names]

    def log_post(y):
        x = np.exp(y)
        prior = sum(p.logpdf(v) for p, v in zip(priors, x, strict=True))
        return ggg.loglik(*x, **data).sum() + prior

    y = np.log([model.point_estimate()[n] for n in names])
    best = log_post(y)
    for i in range(len(names)):
        for step in (-0.01, 0.01):
            moved = y.copy()
            moved[i] += step
            assert log_post(moved) < best, (names[i], step, log_post(moved) - best)


def test_fit_laplace_through_the_graph_is_the_independent_approximation():
    """``fit("laplace")`` on 100 simulated customers (the PyMC graph: its mode with the log
    transform's Jacobian by L-BFGS-B, its Hessian by differences of PyTensor's gradient) is
    the approximation :func:`_laplace` computes from the NumPy likelihood: its 4,000 draws'
    mean of each log parameter within 0.1 sd of the independent mode (the sampling sd of
    the mean is 0.016 sd, so this is over 6 of them; the two optimizers' tolerances are far
    below it) and their sd within 8% of the independent sd (the sampling sd of a sample sd
    is 1.1%, so over 7 of them; the two Hessians' differencing errors about 1e-4): a false
    failure below 1e-8 for the 12 checks."""
    frame, _, _ = _simulated(100, 5)
    model = clv.ParetoGGGModel(frame)
    mode, cov = _laplace(model)
    sd = dict(zip(mode, np.sqrt(np.diag(cov)), strict=True))
    model.fit("laplace", progressbar=False)
    logs = {k: np.log(v) for k, v in model.posterior_draws().items()}
    shift = {k: round((logs[k].mean() - mode[k]) / sd[k], 3) for k in mode}
    spread = {k: round(logs[k].std() / sd[k], 3) for k in mode}
    assert all(abs(v) < 0.1 for v in shift.values()), shift
    assert all(abs(v - 1) < 0.08 for v in spread.values()), spread


def test_a_summary_without_litt_is_refused_by_name_and_the_report_fits_it_by_laplace(
        monkeypatch):
    frame, _, _ = _simulated(50, 3)
    with pytest.raises(CLVDataError, match="litt"):
        clv.ParetoGGGModel(frame.drop(columns="litt"))
    model = fake_fit(clv.ParetoGGGModel(frame), TRUTH, draws=5)
    with pytest.raises(CLVDataError, match="customers: Pareto/GGG reads the column litt"):
        clv.score_customers(model, customers=frame.drop(columns="litt"), horizon=10)
    from clvlib.comparison import fit_candidates

    methods = []
    monkeypatch.setattr(clv.ParetoGGGModel, "fit",
                        lambda self, method, **options: methods.append((method, options)))
    fit_candidates(frame, ["pareto_ggg"], progress=None, draws=50, chains=2)
    assert methods == [("laplace", {"draws": 50, "chains": 2})]
    # The report's covariate versions of the candidates: it has none, and says so.
    said = []
    frame["segment"] = np.arange(len(frame)) % 2
    assert fit_candidates(frame, ["pareto_ggg"], progress=said.append,
                          model_options={"purchase_covariates": ["segment"]}) == []
    assert said == ["Pareto/GGG takes no customer covariates or groups: no such version of it"]


def test_a_future_in_which_nobody_buys_is_empty():
    """The holdout check scores small groups of customers: a simulated future in which none
    of them buys is no purchases (it failed to concatenate nothing)."""
    rng = np.random.default_rng(0)
    customer, time, gap = ggg.renewals(np.ones(3), np.ones(3), np.full(3, np.inf),
                                       np.ones(3), lambda shape, *_: rng.gamma(shape))
    assert customer.size == time.size == gap.size == 0 and customer.dtype.kind == "i"
    posterior = ggg.CustomerPosterior.of(**TRUTH, x=np.zeros(2), t_x=np.zeros(2),
                                         T=np.full(2, 30.0), litt=np.zeros(2))
    customer, time = posterior.future(1e-9, Keys.fresh(rng, 2))
    assert customer.size == time.size == 0


def test_the_simulated_route_gives_each_customer_their_own_numbers_in_any_company(
        monkeypatch):
    """Every prediction of the simulated route, expected and predictive, over 20 weeks and
    over the remaining lifetime: each customer's numbers are the same scored among all at
    once, in chunks of a few rows, alone or in a segment, in another order, so that two
    segments' totals add up to the base's in every draw (the report scores the base in its
    value section, again for its decisions and valuation, and each segment on its own). A
    customer's shuffled id gets other numbers (the keys are the ids, not the positions)."""
    from clvlib import simulated_scoring

    frame, _, _ = _simulated(40, 41)
    frame = pd.concat([frame, frame.iloc[::3]])  # rows shared by two customers
    frame.index = pd.Index([f"c{i}" for i in range(len(frame))], name="customer_id")
    rng = np.random.default_rng(42)
    frame["monetary"] = np.where(frame["x"] > 0, rng.gamma(4.0, 10.0, len(frame)), np.nan)
    model = fake_fit(clv.ParetoGGGModel(frame), TRUTH, draws=5)
    spend = fake_fit(clv.GammaGammaModel(frame[frame["x"] > 0]),
                     {"p": 4.0, "q": 3.0, "gamma": 15.0}, draws=5)
    closed = ["p_alive", "expected_purchases", "clv"]
    for horizon, wanted in ((20.0, closed + ["purchases_predictive", "clv_predictive"]),
                            (np.inf, closed[1:])):
        def score(customers, horizon=horizon, wanted=wanted, **options):
            return clv.score_customers(model, spend, customers=customers, horizon=horizon,
                                       predictions=wanted, n_draws=5, paths=3, **options)

        whole = score(frame)
        with monkeypatch.context() as patch:
            patch.setattr(simulated_scoring, "SIMULATED_CELLS", 1)
            chunked = score(frame.iloc[::-1], chunk_cells=15)
        alone = [score(frame.iloc[[i]]) for i in (0, 40, 2)]  # 40 shares 0's row
        first, rest = score(frame.iloc[:25]), score(frame.iloc[25:])
        for key in wanted:
            np.testing.assert_allclose(chunked[key].per_customer.loc[frame.index],
                                       whole[key].per_customer, rtol=1e-12, err_msg=key)
            np.testing.assert_allclose(chunked[key].total_draws, whole[key].total_draws,
                                       rtol=1e-12, err_msg=key)
            for i, scored in zip((0, 40, 2), alone, strict=True):
                np.testing.assert_allclose(scored[key].per_customer.iloc[0],
                                           whole[key].per_customer.iloc[i], rtol=1e-12,
                                           err_msg=key)
            np.testing.assert_allclose(first[key].total_draws + rest[key].total_draws,
                                       whole[key].total_draws, rtol=1e-12, err_msg=key)
        if "purchases_predictive" in wanted:
            renamed = frame.set_axis(frame.index[::-1])
            other = score(renamed)["purchases_predictive"].per_customer.loc[frame.index]
            assert not np.allclose(other, whole["purchases_predictive"].per_customer)


def test_with_every_k_one_the_engines_simulations_are_the_pareto_nbds_closed_forms():
    """k ~ Gamma(1e9, 1e9): scored through the prediction engine's simulated route, 200
    customers' P(alive) is the Pareto/NBD's closed form (1e-5); the base's expected purchases
    and expected CLV over 20 weeks, DERT and residual CLV at 10% a year are its closed
    forms, and the means of the predicted purchases and CLV over 20 weeks its expected
    purchases and CLV, each within 4.5 standard errors of the simulation over 100 draws (6
    checks of a near-normal mean, t with 99 degrees of freedom: a false failure below 2e-4
    together)."""
    frame, _, _ = _simulated(200, 31)
    rng = np.random.default_rng(32)
    frame["monetary"] = np.where(frame["x"] > 0, rng.gamma(4.0, 10.0, len(frame)), np.nan)
    rates = {"r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 30.0}
    regular = fake_fit(clv.ParetoGGGModel(frame), {"k_shape": 1e9, "k_rate": 1e9, **rates},
                       spread=0.0, draws=100)
    poisson = fake_fit(clv.ParetoNBDModel(frame), rates, spread=0.0, draws=100)
    spend = fake_fit(clv.GammaGammaModel(frame[frame["x"] > 0]),
                     {"p": 4.0, "q": 3.0, "gamma": 15.0}, spread=0.0, draws=100)
    options = {"customers": frame, "n_draws": 100}
    closed = ["p_alive", "expected_purchases", "clv"]
    for horizon, wanted in ((20.0, closed + ["purchases_predictive", "clv_predictive"]),
                            (np.inf, closed[1:])):
        got = clv.score_customers(regular, spend, horizon=horizon, predictions=wanted,
                                  **options)
        want = clv.score_customers(poisson, spend, horizon=horizon, predictions=closed,
                                   **options)
        if "p_alive" in wanted:
            np.testing.assert_allclose(got["p_alive"].per_customer["mean"],
                                       want["p_alive"].per_customer["mean"], rtol=0, atol=1e-5)
        for key, of in (("expected_purchases", "expected_purchases"), ("clv", "clv"),
                        ("purchases_predictive", "expected_purchases"),
                        ("clv_predictive", "clv")):
            if key not in wanted:
                continue
            exact = want[of].total_draws  # the same in each (identical) draw
            assert np.ptp(exact) < 1e-9 * exact.mean()
            draws = got[key].total_draws
            z = (draws.mean() - exact[0]) / (draws.std() / np.sqrt(len(draws)))
            assert abs(z) < 4.5, (horizon, key, draws.mean(), exact[0], z)
        assert got["expected_purchases"].name.endswith("(simulated, 20 paths a draw)")
    from clvlib.appendix import methods_text

    assert "expected purchases have no closed form" in methods_text(regular, spend, 0.1)
    assert "Simulated expectations" not in methods_text(poisson, spend, 0.1)


def test_with_every_k_one_a_new_customer_is_the_pareto_nbds():
    """k ~ Gamma(1e9, 1e9): a new customer's expected purchases and purchase-count distribution
    are the Pareto/NBD's closed forms, under two sets of rates, at three ages and for counts
    0-3: 40 simulations of 2,000 customers each (40 parameter values a billionth apart, each its
    own random stream) put the mean within the t quantile of their spread (49 df, 30 checks, a
    false failure below 1e-4 together)."""
    t = np.array([13.0, 39.0, 78.0])
    n = np.arange(4.0)
    copies = 40
    bound = stats.t.isf(1e-4 / (2 * 30), df=copies - 1)
    for rates in RATES:
        r = rates[0] * (1 + 1e-9 * np.arange(copies))[:, None]  # (copies, 1): distinct values
        means = ggg.expected_purchases_new(1e9, 1e9, r, *rates[1:], t=t[None, :])
        probs = ggg.prob_purchases(1e9, 1e9, r[:, :, None], *rates[1:], t=t[None, :, None],
                                   n=n[None, None, :])
        checks = [(means, pareto_nbd.expected_purchases_new(*rates, t)),
                  (probs, pareto_nbd.prob_purchases(*rates, t[:, None], n[None, :]))]
        for got, want in checks:
            z = (got.mean(axis=0) - want) / (got.std(axis=0, ddof=1) / np.sqrt(copies))
            assert np.all(np.abs(z) < bound), (rates, want, got.mean(axis=0), z)


def test_a_new_customers_predictions_through_the_model_and_the_checks():
    """Through the model API and the checks that read them: E[X(t)] per draw grows with t; the
    count distribution over 0..199 purchases sums to 1; the same seed gives the same numbers;
    the frequency check's expected customers add up to the base, and the tracking check's
    cumulative forecast grows."""
    data = pd.DataFrame(ggg.rvs(**TRUTH, T=np.linspace(26.0, 39.0, 300), rng=5))
    model = fake_fit(ggg.ParetoGGGModel(data), TRUTH, draws=30)
    t = np.array([0.0, 10.0, 20.0, 40.0])
    means = model.expected_purchases_new(t, n_draws=30)
    assert means.shape == (30, 4) and np.all(means[:, 0] == 0)
    assert np.all(np.diff(means, axis=1) > 0)
    np.testing.assert_array_equal(means, model.expected_purchases_new(t, n_draws=30))
    probs = model.prob_purchases(np.arange(200), 40.0, n_draws=30)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    frequency = checks.frequency_check(model, n_draws=30)
    assert frequency["mean"].sum() == pytest.approx(len(data), rel=1e-9)


def test_p_alive_of_hypothetical_histories_reads_equal_gaps_unless_told():
    """``p_alive_draws`` (the report's P(alive) figure reads it through checks.p_alive_grid):
    by default each history's x gaps are equal, so it is the closed form at ``litt = x
    log(t_x / x)`` draw by draw; a given ``litt`` is read; a history of repeat purchases at
    ``t_x = 0`` has no gaps and is NaN; after the same silence a bursty history (one long gap
    among short ones) is likelier alive than a regular one, as lesson 13 shows."""
    frame, _, _ = _simulated(50, 5)
    model = fake_fit(clv.ParetoGGGModel(frame), TRUTH, draws=20)
    x, t_x, T = np.array([0.0, 1, 4, 4, 6]), np.array([0.0, 10, 0, 12, 30]), 39.0
    got = model.p_alive_draws(x, t_x, T, n_draws=None)
    draws = model.posterior_draws()
    assert got.shape == (20, 5) and np.isnan(got[:, 2]).all()
    possible = [0, 1, 3, 4]
    litt = np.array([0.0, np.log(10), 0, 4 * np.log(3), 6 * np.log(5)])
    for i in range(20):
        expected = ggg.p_alive(**{k: v[i] for k, v in draws.items()}, x=x[possible],
                               t_x=t_x[possible], T=T, litt=litt[possible])
        np.testing.assert_allclose(got[i, possible], expected, rtol=1e-12)
    bursty = np.log(0.5) * 3 + np.log(12 - 1.5)  # three half-week gaps, then a long one
    told = model.p_alive_draws(4.0, 12.0, T, litt=bursty, n_draws=None)
    assert (told > got[:, 3]).all()
    grid = checks.p_alive_grid(model, T, max_x=4, n_recency=5, n_draws=20)
    assert grid.shape == (5, 5) and grid.iloc[1:, 0].isna().all()
    assert ((grid.iloc[:, 1:] > 0) & (grid.iloc[:, 1:] <= 1)).all().all()


def test_how_regular_customers_are_in_the_sentence_and_the_figure():
    """The heterogeneity section's regularity (Pareto/GGG's k ~ Gamma(2.5, 1.5) at every
    draw): the share more regular than at random is P(k > 1), and the quantiles of the gaps'
    coefficient of variation 1 / sqrt(k) those of a million draws of k (within 1%: their
    Monte Carlo error is about 0.1%); the figure's density of log10 of it integrates to 1
    over its axis (which holds all but 0.2% of customers); a model whose regularity does not
    differ says nothing of it."""
    import matplotlib

    matplotlib.use("Agg")
    from clvlib import narrative, plots
    from clvlib.formatting import share

    frame, _, _ = _simulated(50, 3)
    model = fake_fit(clv.ParetoGGGModel(frame), TRUTH, spread=0.0, draws=20)
    q = narrative.regularity_quantities(model)
    k = np.random.default_rng(0).gamma(TRUTH["k_shape"], 1 / TRUTH["k_rate"], 1_000_000)
    assert abs(q["share_regular"] - np.mean(k > 1)) < 0.005
    for level in (10, 50, 90):
        assert abs(q[f"cv_q{level}"] / np.quantile(k**-0.5, level / 100) - 1) < 0.01, q
    text = narrative.regularity(model)
    assert f"the median customer's is {q['cv_q50']:.2f}" in text
    assert f"{share(q['share_regular'])} of customers buy more regularly" in text
    ax = plots.plot_regularity(model)
    cv, density = ax.lines[0].get_data()
    assert abs(np.trapezoid(density, np.log10(cv)) - 1) < 2e-3
    pnbd = fake_fit(clv.ParetoNBDModel(frame), {"r": 1.0, "alpha": 5.0, "s": 1.0,
                                                "beta": 30.0}, draws=20)
    assert narrative.regularity(pnbd) == ""
    with pytest.raises(ValueError, match="regularity does not differ"):
        plots.plot_regularity(pnbd)
