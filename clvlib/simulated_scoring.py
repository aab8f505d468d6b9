"""The prediction engine's route for a model whose futures have no closed form (Pareto/GGG, the
time-varying Pareto/NBD).

:func:`clvlib.scoring.score_customers` comes here when the purchase model gives
``customer_posterior``: under each posterior draw, each customer's posterior given their
history (P(alive) exact; given alive, their traits to draw from), from which their future is
simulated. The predictions, their names and their intervals are the engine's:

- ``p_alive``: exact, per draw.
- ``expected_purchases`` over a finite horizon: per draw, the mean count of ``paths``
  simulated futures (or the posterior's closed form, where it has one: the time-varying
  Pareto/NBD's ``expected_purchases(horizon)``); over an unbounded one, DERT, the mean of
  ``paths`` unbiased estimates from the model (``discounted``). So a simulated expected
  value's credible interval holds that simulation's noise too (a count's spread over
  ``sqrt(paths)``).
- ``clv``: per draw, the customer's expected spend per purchase (Gamma-Gamma) times the mean
  of their simulated purchases each discounted from its own time (``exp(-delta t)``, the
  continuous discounting of :mod:`clvlib.discounting`), or times DERT.
- ``purchases_predictive`` and ``clv_predictive``: one simulated future per draw (draws
  repeated up to the engine's number of futures), each purchase worth a draw of Gamma-Gamma's
  spend (``nu ~ Gamma(p x + q, gamma + x m)``, then ``Gamma(p, nu)`` a purchase), discounted
  from its own time.

The work is a loop over draws (a quadrature per distinct row and draw), in chunks of rows.
Every simulated number is keyed (:class:`clvlib.keyed_random.Keys`): an expected value's by
the customer's row, the draw and the path, a predictive one's by the customer's id, so that,
as with the closed forms, a customer's values under a seed are the same whoever is scored
with them, in any chunk: a segment's totals add up to the base's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clvlib.keyed_random import Keys
from clvlib.predict import (
    Prediction,
    predictions_of,
    predictive_summary,
    require_finite,
    summarize_draws,
)
from clvlib.progress import bar

if TYPE_CHECKING:
    from clvlib.discounting import Discount
    from clvlib.models.base import PurchaseModel
    from clvlib.models.gamma_gamma import GammaGammaModel

#: Simulated futures per posterior draw behind each expected value (the models' default).
PATHS = 20
#: Customers x draws per chunk at least (about 50 bytes each): the loop over draws is Python's,
#: so each chunk's work per draw must outweigh its overhead (the CDNOW sample, 100 draws: 27.3 s
#: in chunks of 500 customers, 17.3 s in one).
SIMULATED_CELLS = 4_000_000
#: Distinct rows per chunk at most: a model's quadrature per row and draw has temporaries of
#: rows x nodes (Pareto/GGG: about 1,440 a row; the CDNOW master's 23,570 customers, 50 draws:
#: 85 s and 1.4 GB in one chunk of all their rows).
CHUNK_ROWS = 2_000
_SHORT = {"p_alive": "P(alive)", "expected_purchases": "expected purchases", "clv": "CLV",
          "purchases_predictive": "predicted purchases", "clv_predictive": "predicted CLV"}


def score_by_simulation(purchase_model: PurchaseModel, spend_model: GammaGammaModel | None,
                        frame: pd.DataFrame, wanted: list[str], draws: dict, n_future: int, *,
                        horizon: float, discount: Discount, names: dict[str, str],
                        weights: np.ndarray, seed: int, interval: float, paths: int,
                        chunk_cells: int) -> dict[str, Prediction]:
    """:func:`clvlib.scoring.score_customers` for a model with ``customer_posterior``; the
    arguments are what that function has worked out (``draws``: of both models, paired)."""
    if not horizon > 0:
        raise ValueError(f"{purchase_model.title}: horizon={horizon!r}; it must be positive")
    if not paths >= 1:
        raise ValueError(f"paths={paths!r}: at least one simulated future per draw")
    frame = purchase_model.check_data(frame, "customers")  # e.g. Pareto/GGG's litt, by name
    unbounded = np.isinf(horizon)
    delta = discount.per_unit(purchase_model.time_unit.days)
    if unbounded and not delta > 0:
        raise ValueError("an unbounded horizon (DERT, residual CLV) needs a positive discount "
                         "rate: undiscounted, a customer who may never leave has no finite "
                         "expected purchases")
    n = len(draws[purchase_model.params[0]])
    columns = purchase_model.columns
    with_spend = spend_model is not None and bool({"clv", "clv_predictive"} & set(wanted))
    x = frame["x"].to_numpy(dtype=float)
    m = frame["monetary"].fillna(0.0).to_numpy(dtype=float) if with_spend else None
    z_spend = spend_model.design_matrix(frame) if with_spend else None
    # A model may know its expected purchases over a finite horizon in closed form (the
    # time-varying Pareto/NBD); its CLV, discounted, is still simulated.
    exact = not unbounded and purchase_model.closed_form_purchases
    simulated = ("clv",) if exact else ("expected_purchases", "clv")
    names = {k: v + (f" (simulated, {paths} paths a draw)" if k in simulated else "")
             for k, v in names.items()}
    what = ", ".join(_SHORT[k] for k in wanted)
    stats = {k: np.empty((len(frame), 4 if k.endswith("_predictive") else 3)) for k in wanted}
    totals = {k: np.zeros(n_future if k.endswith("_predictive") else n) for k in wanted}
    predictive = [k for k in wanted if k.endswith("_predictive")]
    # Each distinct row's posterior once per draw: customers grouped by their row, in chunks
    # of whole rows holding about `step` customers and CHUNK_ROWS rows at most.
    every_row, row_of_all = np.unique(frame[list(columns)].to_numpy(dtype=float), axis=0,
                                      return_inverse=True)
    row_of_all = row_of_all.reshape(-1)
    row_keys = Keys.of_rows(every_row, seed)
    customer_keys = Keys.of_ids(frame.index, seed) if predictive else None
    by_row = np.argsort(row_of_all, kind="stable")
    ends = np.cumsum(np.bincount(row_of_all, minlength=len(every_row)))
    step = max(1, max(chunk_cells, SIMULATED_CELLS) // max(n, n_future if predictive else 0))
    first_row = 0
    while first_row < len(every_row):
        last_row = max(first_row + 1, min(first_row + CHUNK_ROWS, int(np.searchsorted(
            ends, (ends[first_row - 1] if first_row else 0) + step, side="right"))))
        chunk = by_row[(ends[first_row - 1] if first_row else 0):ends[last_row - 1]]
        rows = every_row[first_row:last_row]
        keys = row_keys.take(slice(first_row, last_row))
        row_of = row_of_all[chunk] - first_row
        first_row = last_row
        data = {c: rows[:, j] for j, c in enumerate(columns)}
        p_alive, purchases, discounted = (np.empty((len(rows), n)) for _ in range(3))
        future = {k: np.zeros((len(chunk), n_future)) for k in predictive}
        counted = future.get("purchases_predictive", np.empty((len(chunk), n_future)))
        spend = spend_model.linked_params(draws, z_spend[chunk]) if with_spend else {}
        for i in bar(range(n), f"{purchase_model.title}: {what} of {len(rows):,} rows x "
                     f"{n} draws"):
            posterior = purchase_model.customer_posterior(
                **{k: draws[k][i] for k in purchase_model.variables}, **data)
            p_alive[:, i] = posterior.chance
            if {"expected_purchases", "clv"} & set(wanted):
                if unbounded:
                    purchases[:, i] = discounted[:, i] = sum(
                        posterior.discounted(delta, keys.at(i, path))
                        for path in range(paths)) / paths
                else:
                    counts, value = np.zeros(len(rows)), np.zeros(len(rows))
                    for path in range(paths if "clv" in wanted or not exact else 0):
                        customer, time = posterior.future(horizon, keys.at(i, path))
                        counts += np.bincount(customer, minlength=len(rows))
                        value += np.bincount(customer, np.exp(-delta * time), len(rows))
                    purchases[:, i] = (posterior.expected_purchases(horizon) if exact
                                       else counts / paths)
                    discounted[:, i] = value / paths
            if predictive:
                each = posterior.take(row_of)
                whose = customer_keys.take(chunk)
                for j in range(i, n_future, n):
                    customer, time = each.future(horizon, whose.at(j, _PURCHASES))
                    counted[:, j] = np.bincount(customer, minlength=len(chunk))
                    if "clv_predictive" in future:
                        future["clv_predictive"][:, j] = _spent(
                            customer, np.exp(-delta * time), spend, j % n, x[chunk],
                            m[chunk], whose.at(j, _SPEND))
        for key, values in (("p_alive", p_alive), ("expected_purchases", purchases)):
            if key in wanted:
                require_finite(values, names[key])
                mean, lo, hi = summarize_draws(values, interval)
                stats[key][chunk] = np.column_stack([mean, lo, hi])[row_of]
                totals[key] += weights[chunk] @ values[row_of]
        if "clv" in wanted:
            per_purchase = require_finite(
                spend_model.expectations.expected_spend(**spend, x=x[chunk, None],
                                                        m=m[chunk, None]),
                "expected spend per purchase", spend)
            clv = per_purchase * require_finite(discounted, names["clv"])[row_of]
            stats["clv"][chunk] = np.column_stack(summarize_draws(clv, interval))
            totals["clv"] += weights[chunk] @ clv
        for key, values in future.items():
            stats[key][chunk] = predictive_summary(values, interval)
            totals[key] += weights[chunk] @ values
    return predictions_of(names, stats, totals, frame.index, interval)


#: The two sub-streams of a customer's predictive draw: their purchases, and what they spend.
_PURCHASES, _SPEND = range(2)


def _spent(customer, factor, spend: dict, draw: int, x, m, keys: Keys) -> np.ndarray:
    """Each customer's discounted spend on the purchases drawn (``customer``, each purchase's
    discount ``factor``) under Gamma-Gamma's draw ``draw``: their mean spend's scale ``nu ~
    Gamma(p x + q, gamma + x m)`` given their past (``x`` repeat purchases of mean ``m``),
    and each purchase ``Gamma(p, nu)``, the n-th purchase of a customer from their ``keys``'
    n-th number."""
    p, q, gamma = (np.broadcast_to(spend[k][:, draw], x.shape) for k in ("p", "q", "gamma"))
    nu = keys.gamma(p * x + q, 0) / (gamma + x * m)
    order = np.argsort(customer, kind="stable")
    ordinal = np.empty(len(customer), dtype=np.int64)
    firsts = np.searchsorted(customer[order], customer[order])  # each one's customer's first
    ordinal[order] = np.arange(len(customer)) - firsts
    worth = keys.gamma(p[customer], 1, ordinal, at=customer) / nu[customer]
    return np.bincount(customer, factor * worth, len(x))

