"""The prediction engine: P(alive), expected and predictive purchases, and CLV, in one pass.

Every per-customer prediction of a purchase model goes through :func:`score_customers`: the
model's own methods (``p_alive``, ``expected_purchases``, ``dert``),
:func:`clvlib.value.customer_lifetime_value` and Spark scoring (:func:`clvlib.spark.score`)
all call it, so there is one way each number is computed.

Two kinds of interval, named in every :class:`~clvlib.predict.Prediction`:

- ``kind="expected"``: the credible interval of an *expected* value (parameter uncertainty
  only): "we are 90% sure this customer's expected purchases lie in ...".
- ``kind="predictive"``: the posterior predictive interval of what will *happen*: purchases,
  dropout and spend are drawn for each customer under each posterior draw
  (:func:`clvlib.futures.simulate_future`), so a 90% predictive interval holds the actual
  outcome 90% of the time. Base totals add the customers within each draw. Plans use these.

Expected values factor as ``E[Y(t) | x, t_x, T] = E[Y(t) | alive, x, T] * P(alive | x, t_x, T)``;
the first factor, the expensive one (a hypergeometric function for (M)BG/NBD), depends on
``(x, T)`` only, so it is computed once per distinct ``(x, T)`` pair and draw; P(alive) once
per distinct ``(x, t_x, T)`` row. Customers are processed in chunks sorted by ``(x, T, t_x)``,
so memory stays at a few chunks of customers x draws whatever the size of the base.
Discounting follows :mod:`clvlib.discounting` (an annual effective rate, continuous in time).

A model whose customers' futures have no closed form (Pareto/GGG, the time-varying Pareto/NBD:
their ``customer_posterior``) takes the engine's simulated route, :mod:`clvlib.simulated_scoring`:
the same predictions, names and intervals, each expected value the mean of simulated futures per
posterior draw (or its closed form, where the model has one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clvlib.compression import row_weights
from clvlib.discounting import Discount, purchase_weights
from clvlib.futures import customer_seeds, simulate_future
from clvlib.predict import (
    DEFAULT_CHUNK_CELLS,
    Prediction,
    predictions_of,
    predictive_summary,
    require_finite,
    summarize_draws,
    summarize_product,
)
from clvlib.simulated_scoring import PATHS, score_by_simulation
from clvlib.summary import customer_frame

if TYPE_CHECKING:
    from clvlib.models.base import PurchaseModel
    from clvlib.models.gamma_gamma import GammaGammaModel

#: What :func:`score_customers` can compute.
PREDICTIONS = ("p_alive", "expected_purchases", "clv", "purchases_predictive",
               "clv_predictive")
_NEEDS_SPEND = ("clv", "clv_predictive")
#: Cells (times x pairs x draws) of one call of a model's expected purchases given alive: the
#: closed forms' temporaries then stay small (BG/NBD on CDNOW master, 1,000 draws: blocks of
#: 4 million cells scored 20% slower than blocks of 250,000).
ALIVE_CELLS = 250_000


def paired_draws(first: dict, second: dict) -> dict:
    """Pair draws of two independently fitted models (a single MAP draw is repeated)."""
    n1, n2 = len(next(iter(first.values()))), len(next(iter(second.values())))
    n = max(n1, n2) if 1 in (n1, n2) else min(n1, n2)

    def pick(values, size):  # along the draw axis; indexed parameters keep their dimension
        return values[np.zeros(n, dtype=int)] if size == 1 else values[:n]

    return {**{k: pick(v, n1) for k, v in first.items()},
            **{k: pick(v, n2) for k, v in second.items()}}


def score_customers(
    purchase_model: PurchaseModel,
    spend_model: GammaGammaModel | None = None,
    customers=None,
    *,
    horizon: float = 52,
    annual_discount_rate: float = 0.10,
    predictions=None,
    n_draws: int | None = 1000,
    seed: int = 0,
    interval: float = 0.9,
    chunk_cells: int = DEFAULT_CHUNK_CELLS,
    paths: int = PATHS,
) -> dict[str, Prediction]:
    """P(alive), expected and predictive purchases over ``horizon`` and CLV, per customer.

    CLV is, per posterior draw, the customer's expected spend per purchase (Gamma-Gamma) times
    their expected purchases over the horizon, each purchase discounted from the moment it is
    expected (:func:`clvlib.discounting.purchase_weights`). Draws of both models are used, so
    intervals carry the uncertainty of purchases and of spend. The predictive versions draw
    what will happen instead (see the module docstring).

    Parameters
    ----------
    purchase_model : PurchaseModel
        Fitted BG/NBD, MBG/NBD or Pareto/NBD; ``horizon`` is in its time unit.
    spend_model : GammaGammaModel, optional
        Fitted spend model; needed for ``"clv"`` and ``"clv_predictive"``.
    customers : CustomerSummary or DataFrame, optional
        Customers to score (default: those the purchase model was fitted to); CLV needs a
        ``monetary`` column.
    horizon : float
        How far ahead, in the purchase model's time unit; ``numpy.inf`` for the discounted
        expected residual purchases (DERT) and residual value.
    annual_discount_rate : float
        Annual effective rate (:class:`clvlib.discounting.Discount`); expected purchases
        are discounted too when ``horizon`` is unbounded.
    predictions : sequence of str, optional
        Any of :data:`PREDICTIONS`; default ``p_alive``, ``expected_purchases`` and, with a
        spend model, ``clv``.
    n_draws : int, optional
        Posterior draws used from each model (default 1000; None for all).
    seed : int
        Picks the draws (and seeds each customer's predictive draws, from its id); the same
        seed gives the same numbers, in chunks or not, locally or on Spark.
    interval : float
        Probability of the central intervals.
    chunk_cells : int
        Customers x draws evaluated at once (memory: about 40 bytes per cell).
    paths : int
        For a model whose futures are simulated (its ``customer_posterior``,
        :mod:`clvlib.simulated_scoring`), simulated futures per posterior draw behind each
        expected value; the closed forms of the other models do not read it.

    Returns
    -------
    dict of Prediction
        One entry per requested prediction, in the order of :data:`PREDICTIONS`.

    Raises
    ------
    ValueError
        For an unknown prediction, or a CLV without a spend model or ``monetary`` column;
        an unbounded horizon for a model without one, or a horizon past where the model's
        covariates reach (the time-varying Pareto/NBD's calendar), said.
    FloatingPointError
        For a prediction that is not finite (:func:`clvlib.predict.require_finite`: the
        message names the quantity and the parameter draw); never a NaN in a table or a total.

    Examples
    --------
    >>> scores = score_customers(bg_nbd, gamma_gamma, horizon=52)  # doctest: +SKIP
    >>> scores["clv"].per_customer.nlargest(5, "mean")  # doctest: +SKIP
    """
    wanted = _requested(predictions, spend_model)
    frame = purchase_model.customers if customers is None else customer_frame(customers)
    unit = purchase_model.time_unit
    discount = Discount(annual_discount_rate)
    unbounded = np.isinf(horizon)
    times, weights = purchase_weights(horizon, unit.days, annual_discount_rate)
    if set(wanted) - {"p_alive"}:  # P(alive) is at the calibration end, whatever the horizon
        purchase_model.check_horizon(horizon)
    if unbounded and {"purchases_predictive", "clv_predictive"} & set(wanted):
        raise ValueError("predictive draws need a finite horizon")
    draws = purchase_model.posterior_draws(n_draws, seed)
    spend_keys: tuple[str, ...] = ()
    if set(_NEEDS_SPEND) & set(wanted):
        if "monetary" not in frame.columns:
            raise ValueError("CLV needs a 'monetary' column (mean repeat spend per customer)")
        draws = paired_draws(draws, spend_model.posterior_draws(n_draws, seed + 1))
        spend_keys = spend_model.params
    n = len(next(iter(draws.values())))
    # A fit with few draws (MAP: one) still needs many simulated futures for a predictive
    # interval: its draws are repeated up to n_draws (default 1000) for the simulation.
    n_future = max(n, n_draws or n, 1000 if n_draws is None and n < 1000 else 0)
    names = _names(wanted, purchase_model, horizon, discount)
    # How many customers each row stands for (a ``weights`` column): base totals count them.
    w = row_weights(frame)
    w = np.ones(len(frame)) if w is None else w
    if purchase_model.customer_posterior is not None:
        return score_by_simulation(
            purchase_model, spend_model if spend_keys else None, frame, wanted, draws,
            n_future, horizon=horizon, discount=discount, names=names, weights=w, seed=seed,
            interval=interval, paths=paths, chunk_cells=chunk_cells)
    future_draws = np.arange(n_future) % n
    model = purchase_model.expectations
    # Coded covariates of each customer (no columns without covariates): customers share a
    # distinct row only when their summaries and covariates agree, and each row's parameters
    # are its own (linked_params: (1, S) for population parameters, (rows, S) for linked ones).
    z = purchase_model.design_matrix(frame)
    z_spend = spend_model.design_matrix(frame) if spend_keys else None

    x = frame["x"].to_numpy(dtype=float)
    t_x, T = frame["t_x"].to_numpy(dtype=float), frame["T"].to_numpy(dtype=float)
    m = frame["monetary"].fillna(0.0).to_numpy(dtype=float) if spend_keys else None
    seeds = customer_seeds(frame.index, seed)
    order = np.lexsort((t_x, T, x))
    stats = {k: np.empty((len(frame), 4 if k.endswith("_predictive") else 3)) for k in wanted}
    totals = {k: np.zeros(n_future if k.endswith("_predictive") else n) for k in wanted}
    step = max(1, chunk_cells // n)
    for start in range(0, len(frame), step):
        chunk = order[start:start + step]
        cx, ctx, cT = x[chunk], t_x[chunk], T[chunk]
        rows, row_of = np.unique(np.column_stack([cx, ctx, cT, z[chunk]]), axis=0,
                                 return_inverse=True)
        row_of = row_of.reshape(-1)
        params = purchase_model.linked_params(draws, rows[:, 3:])
        p_alive = require_finite(model.p_alive(**params, x=rows[:, :1], t_x=rows[:, 1:2],
                                                  T=rows[:, 2:3]), "P(alive)", params)
        weight_of_row = np.bincount(row_of, weights=w[chunk], minlength=len(rows))
        results = {"p_alive": p_alive}
        given_alive = {"x": cx, "t_x": ctx, "T": cT}
        given_alive = {c: given_alive[c] for c in purchase_model.alive_columns}
        if {"expected_purchases", "clv"} & set(wanted):
            # E[Y | alive] per distinct (x, T) (the columns the model's future given alive
            # depends on), at the quadrature times of the horizon.
            n_alive = len(given_alive)
            pairs, pair_of = np.unique(np.column_stack([*given_alive.values(), z[chunk]]),
                                       axis=0, return_inverse=True)
            pair_of = pair_of.reshape(-1)
            pair_params = purchase_model.linked_params(draws, pairs[:, n_alive:])
            pair_data = {c: pairs[:, j:j + 1] for j, c in enumerate(given_alive)}

            # Discounted over the horizon's quadrature times for CLV and DERT; a count over a
            # finite horizon is not discounted: E[Y(H)] (times[-1] is H).
            if unbounded and model.discounted_purchases_alive is not None:
                alive_weighted = require_finite(model.discounted_purchases_alive(
                    **pair_params, **pair_data, delta=discount.per_unit(unit.days)),
                    "expected purchases", pair_params)
            elif "clv" in wanted or unbounded:
                alive_at = require_finite(
                    _alive_at_times(model.expected_purchases_alive, pair_params, pair_data,
                                    times, min(chunk_cells, ALIVE_CELLS)),
                    "expected purchases", pair_params)
                alive_weighted = sum(w * a for w, a in zip(weights, alive_at, strict=True))
            alive_count = alive_weighted if unbounded else (
                alive_at[-1] if "clv" in wanted else
                require_finite(model.expected_purchases_alive(**pair_params, **pair_data,
                                                              t=times[-1]),
                               "expected purchases", pair_params))
            row_pair = pair_of[np.unique(row_of, return_index=True)[1]]
            results["expected_purchases"] = alive_count[row_pair] * p_alive
        for key in ("p_alive", "expected_purchases"):
            if key in wanted:
                mean, lo, hi = summarize_draws(results[key], interval)
                stats[key][chunk] = np.column_stack([mean, lo, hi])[row_of]
                totals[key] += weight_of_row @ results[key]
        spend = (spend_model.linked_params(draws, z_spend[chunk]) if spend_keys else {})
        if "clv" in wanted:
            per_purchase = require_finite(
                spend_model.expectations.expected_spend(**spend, x=cx[:, None], m=m[chunk, None]),
                "expected spend per purchase", spend)
            *summary, total = summarize_product(
                (per_purchase, alive_weighted, p_alive),
                (np.arange(len(chunk)), pair_of, row_of), interval, w[chunk],
            )
            stats["clv"][chunk] = np.column_stack(summary)
            totals["clv"] += total
        if {"purchases_predictive", "clv_predictive"} & set(wanted):
            future = model.future_given_alive(
                **{k: _per_customer(params[k], row_of)[:, future_draws]
                   for k in purchase_model.params},
                **{c: v[:, None] for c, v in given_alive.items()})
            counts, value = simulate_future(
                future, p_alive[:, future_draws][row_of], horizon,
                delta=discount.per_unit(unit.days),
                spend=([_per_customer(spend[k], None)[:, future_draws] for k in spend_keys]
                       if "clv_predictive" in wanted else None),
                x=cx, m=None if m is None else m[chunk], seeds=seeds[chunk],
            )
            for key, values in (("purchases_predictive", counts), ("clv_predictive", value)):
                if key in wanted:
                    stats[key][chunk] = predictive_summary(values, interval)
                    totals[key] += w[chunk] @ values
    return predictions_of(names, stats, totals, frame.index, interval)


def _alive_at_times(expected_alive, params: dict, data: dict, times: np.ndarray,
                    cells: int) -> np.ndarray:
    """``E[Y(t) | alive]`` at each of ``times``, shape ``(times, pairs, draws)``: asked of the
    model for every time at once (``t`` with a leading axis; a model may share work between
    the times, as Abe's quadrature its nodes), for as many pairs at a time as keep times x
    pairs x draws within ``cells``."""
    n_pairs = len(next(iter(data.values())))
    n_draws = max(v.shape[1] for v in params.values())
    block = max(1, cells // (len(times) * n_draws))
    parts = []
    for start in range(0, n_pairs, block):
        part = slice(start, start + block)
        parts.append(expected_alive(
            **{k: v if v.shape[0] == 1 else v[part] for k, v in params.items()},
            **{c: v[part] for c, v in data.items()}, t=times[:, None, None]))
    return np.concatenate(parts, axis=1)


def _per_customer(values: np.ndarray, row_of: np.ndarray | None) -> np.ndarray:
    """Parameter draws ``(1, S)`` as they are, or per distinct row ``(rows, S)`` gathered to
    the chunk's customers (``row_of``; None when already per customer)."""
    if values.shape[0] == 1 or row_of is None:
        return values
    return values[row_of]


def _requested(predictions, spend_model) -> list[str]:
    if predictions is None:
        predictions = PREDICTIONS[:3] if spend_model is not None else PREDICTIONS[:2]
    predictions = [predictions] if isinstance(predictions, str) else list(predictions)
    unknown = [p for p in predictions if p not in PREDICTIONS]
    if unknown:
        raise ValueError(f"unknown prediction(s) {unknown}; choose from {', '.join(PREDICTIONS)}")
    if spend_model is None and set(_NEEDS_SPEND) & set(predictions):
        raise ValueError(f"predictions {sorted(set(_NEEDS_SPEND) & set(predictions))} need a "
                         "fitted spend model (Gamma-Gamma)")
    return [p for p in PREDICTIONS if p in predictions]


def _names(wanted, purchase_model, horizon: float, discount: Discount) -> dict[str, str]:
    unit = purchase_model.time_unit
    if np.isinf(horizon):
        over = f"over the customer's remaining lifetime, discounted at {discount}"
        purchases = f"discounted expected residual purchases (DERT) at {discount}"
    else:
        over = f"over the next {horizon:g} {unit.plural}"
        purchases = f"expected repeat purchases in the next {horizon:g} {unit.plural}"
    names = {
        "p_alive": "P(alive)",
        "expected_purchases": purchases,
        "clv": f"expected CLV {over}" + ("" if np.isinf(horizon) else f" at {discount}"),
        "purchases_predictive": f"repeat purchases in the next {horizon:g} {unit.plural} "
                                "(predictive)",
        "clv_predictive": f"CLV {over} at {discount} (predictive)",
    }
    return {k: names[k] for k in wanted}

