"""Each customer's future given their history: the posterior predictive draws of purchases,
dropout and spend that predictive intervals are made of (numba, one engine for the dropout
processes of the purchase models: a coin after each purchase (BG/NBD, MBG/NBD), a lifetime in
continuous time (Pareto/NBD, GGompertz/NBD), or none)."""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numba
import numpy as np
import pandas as pd

from clvlib.keyed_random import id_hashes

# --------------------------------------------------------------------------------------------
# Each customer's future given their history: the posterior predictive of what will happen
# --------------------------------------------------------------------------------------------
# Given the population parameters, a customer's latent traits have a posterior that is a
# two-part mixture: "alive at T" (probability P(alive)) or "gone". Given alive, each purchase
# model tells its future in the same few pieces, which its module writes as a
# :class:`FutureGivenAlive` (NumPy): a purchase rate lambda ~ Gamma(shape, rate) (BG/NBD, FHL
# 2005 eq. 3: Gamma(r + x, alpha + T)); a dropout coin after each purchase with p ~ Beta(a, b)
# (BG/NBD: Beta(a, b + x); MBG/NBD: b + x + 1, one more coin survived); and a remaining lifetime
# whose hazard is eta * b exp(b (T + u)), u after T, with eta ~ Gamma(shape, rate): b = 0 is an
# exponential lifetime (Pareto/NBD: mu ~ Gamma(s, beta + T), memoryless), b > 0 a Gompertz one
# that ages (GGompertz/NBD: eta ~ Gamma(s, beta + e^{bT} - 1)). Spend (Gamma-Gamma): nu ~
# Gamma(p x + q, gamma + x m), and each purchase is worth Gamma(p, nu). The future is then
# drawn as the model tells it: exponential gaps at rate lambda until the horizon, a dropout coin
# after each purchase, or the end of the lifetime, each purchase's value discounted from its
# own time. Written with Numba because the draws are a loop over purchases of varying number
# per customer and draw, which NumPy cannot vectorize without materializing the longest
# customer's purchases for everyone.


@dataclass(frozen=True)
class FutureGivenAlive:
    """A customer's traits given that they are alive at ``T``, as a model's module gives them.

    Each field is an array of parameter draws, broadcastable to ``(customers, draws)``.

    Attributes
    ----------
    rate_shape, rate_rate : array
        The purchase rate ``lambda ~ Gamma(rate_shape, rate_rate)`` (rate, per time unit);
        ``rate_rate = 0``: the rate is known, ``lambda = rate_shape`` (a point of a posterior
        that the model gives as points, Pareto/NBD (Abe)).
    coin_a, coin_b : array
        A dropout coin after each purchase, ``p ~ Beta(coin_a, coin_b)``; ``coin_a = 0``: none.
    life_shape, life_rate : array
        The remaining lifetime's frailty ``eta ~ Gamma(life_shape, life_rate)``;
        ``life_shape = 0``: no lifetime (the customer leaves only by the coin, or never);
        ``life_rate = 0``: the frailty is known, ``eta = life_shape``.
    life_b : array
        The Gompertz ageing of the hazard ``eta b exp(b t)``: 0 for an exponential lifetime of
        rate ``eta``.
    age : array
        The customer's age ``T`` (where the Gompertz hazard has got to).
    phases : array
        Purchases every ``phases``-th event of the Poisson process of rate ``lambda`` (Erlang
        gaps, the regularity models); 1: Poisson purchases.
    phase_age : array
        With ``phases > 1``: the time since the last purchase, ``T - t_x``, in which
        ``m < phases`` events have happened, ``m`` unknown: given alive, ``P(m)`` is
        proportional to ``(rate_shape)_m (phase_age / rate_rate)^m / m!`` and then
        ``lambda ~ Gamma(rate_shape + m, rate_rate)``.
    """

    rate_shape: np.ndarray
    rate_rate: np.ndarray
    coin_a: np.ndarray = 0.0
    coin_b: np.ndarray = 1.0
    life_shape: np.ndarray = 0.0
    life_rate: np.ndarray = 1.0
    life_b: np.ndarray = 0.0
    age: np.ndarray = 0.0
    phases: np.ndarray = 1.0
    phase_age: np.ndarray = 0.0


def customer_seeds(index: pd.Index, seed: int) -> np.ndarray:
    """One 32-bit seed per customer from its id and ``seed``: a customer's draws do not depend
    on which other customers are scored with it, or in which order (chunks, Spark batches)."""
    # Ids hashed by their text, so that an id read as a string by one engine and as another
    # string type (or a number) by another still gets the same draws.
    salt = np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]
    mixed = id_hashes(index) ^ np.uint64(salt)
    return (mixed % np.uint64(2**31 - 1)).astype(np.int64)  # the spend stream adds 2**31


def simulate_future(future: FutureGivenAlive, p_alive, horizon: float, *, delta: float = 0.0,
                    spend=None, x=None, m=None, seeds=None):
    """Draw each customer's future purchases (and discounted spend) once per parameter draw.

    Parameters
    ----------
    future : FutureGivenAlive
        The customers' traits given alive, from the purchase model's module (each field
        ``(S,)``, ``(1, S)`` or ``(c, S)``); or an object whose ``draw(seeds)`` gives them,
        drawn from a discrete posterior with the customers' seeds (Pareto/NBD (Abe)).
    p_alive : ndarray
        ``(c, S)`` P(alive) of each customer under each draw.
    horizon : float
        How far ahead, in the time unit.
    delta : float
        Continuous discount rate per time unit (:meth:`clvlib.discounting.Discount.per_unit`).
    spend : sequence of three ndarray, optional
        Draws of Gamma-Gamma's ``p, q, gamma`` (shaped as the future's fields); with ``x``
        (repeat purchases) and ``m`` (mean repeat spend), the discounted value of the drawn
        purchases is returned too.
    seeds : ndarray of int, optional
        One seed per customer (:func:`customer_seeds`); default ``0 .. c-1``.

    Returns
    -------
    counts : ndarray
        ``(c, S)`` purchases in the horizon.
    value : ndarray or None
        ``(c, S)`` their discounted value (with ``spend``).
    """
    c, n_draws = p_alive.shape
    seeds = np.arange(c, dtype=np.int64) if seeds is None else np.asarray(seeds, dtype=np.int64)
    if not isinstance(future, FutureGivenAlive):
        future = future.draw(seeds)
    with_spend = spend is not None
    spend = spend if with_spend else (np.ones(n_draws),) * 3

    def per_customer(v):  # (c, S) views: a shared draw is not copied per customer
        return np.broadcast_to(np.asarray(v, dtype=np.float64), (c, n_draws))

    x = np.zeros(c) if x is None else np.ascontiguousarray(x, dtype=np.float64)
    m = np.zeros(c) if m is None else np.ascontiguousarray(m, dtype=np.float64)
    counts, value = _future_kernel(
        *(per_customer(v) for v in astuple(future)),
        np.ascontiguousarray(p_alive, dtype=np.float64), float(horizon), float(delta),
        *(per_customer(v) for v in spend), x, m, with_spend, seeds,
    )
    return counts, (value if with_spend else None)


@numba.njit(cache=True)
def _future_kernel(rate_shape, rate_rate, coin_a, coin_b, life_shape, life_rate, life_b, age,
                   phases, phase_age, p_alive, horizon, delta, sp, sq, sgamma, x, m, with_spend,
                   seeds):
    # Purchases and spend use separate random streams (each customer's seed, then the seed
    # plus 2**31): the purchases drawn are the same whether or not spend is asked for. Each
    # purchase's discount factor is kept until its spend is drawn.
    # The legacy np.random API is the one Numba compiles (hence the noqa: NPY002 below).
    c, n_draws = p_alive.shape
    counts = np.zeros((c, n_draws))
    value = np.zeros((c, n_draws))
    factors = np.empty(1024)
    starts = np.zeros(n_draws + 1, dtype=np.int64)
    for i in range(c):
        np.random.seed(seeds[i])  # noqa: NPY002
        kept = 0
        for s in range(n_draws):
            starts[s] = kept
            if np.random.random() >= p_alive[i, s]:  # noqa: NPY002
                continue
            k = int(phases[i, s])
            done = 0  # events since the last purchase (Erlang gaps)
            if k > 1:
                done = _phases_done(rate_shape[i, s], phase_age[i, s] / rate_rate[i, s], k)
            if rate_rate[i, s] == 0:
                lam = rate_shape[i, s]
            else:
                lam = np.random.gamma(rate_shape[i, s] + done,  # noqa: NPY002
                                      1.0 / rate_rate[i, s])
            end, p = horizon, 0.0
            if life_shape[i, s] > 0:
                eta = life_shape[i, s]
                if life_rate[i, s] > 0:
                    eta = np.random.gamma(life_shape[i, s],  # noqa: NPY002
                                          1.0 / life_rate[i, s])
                e = np.random.exponential(1.0)  # noqa: NPY002
                b = life_b[i, s]
                # Exponential: u = e / eta; Gompertz aged T: eta e^{bT} (e^{bu} - 1) = e.
                u = e / eta if b == 0 else np.log1p(e / (eta * np.exp(b * age[i, s]))) / b
                end = min(horizon, u)
            if coin_a[i, s] > 0:
                p = np.random.beta(coin_a[i, s], coin_b[i, s])  # noqa: NPY002
            t, n = 0.0, 0
            while True:
                for _ in range(k - done):
                    t += np.random.exponential(1.0 / lam)  # noqa: NPY002
                done = 0
                if t > end:
                    break
                n += 1
                if with_spend:
                    if kept == factors.size:
                        grown = np.empty(2 * factors.size)
                        for j in range(kept):  # a loop: slice assignment compiles for 0.5 s
                            grown[j] = factors[j]
                        factors = grown
                    factors[kept] = np.exp(-delta * t)
                    kept += 1
                if p > 0 and np.random.random() < p:  # noqa: NPY002
                    break
            counts[i, s] = n
        starts[n_draws] = kept
        if not with_spend:
            continue
        np.random.seed(seeds[i] + 2**31)  # noqa: NPY002
        for s in range(n_draws):
            if starts[s + 1] == starts[s]:
                continue
            rate = sgamma[i, s] + x[i] * m[i]
            nu = np.random.gamma(sp[i, s] * x[i] + sq[i, s], 1.0 / rate)  # noqa: NPY002
            total = 0.0
            for j in range(starts[s], starts[s + 1]):
                total += factors[j] * np.random.gamma(sp[i, s], 1.0 / nu)  # noqa: NPY002
            value[i, s] = total
    return counts, value


@numba.njit(cache=True)
def _phases_done(shape, ratio, k):
    """Draw ``m < k``, the events since the last purchase, with probability proportional to
    ``(shape)_m ratio^m / m!`` (:class:`FutureGivenAlive`, ``phase_age``)."""
    weights = np.empty(k)
    weights[0] = 1.0
    for j in range(1, k):
        weights[j] = weights[j - 1] * (shape + j - 1) * ratio / j
    u = np.random.random() * weights.sum()  # noqa: NPY002
    for j in range(k - 1):
        u -= weights[j]
        if u < 0:
            return j
    return k - 1
