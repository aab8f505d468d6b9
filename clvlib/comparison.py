"""Comparing purchase models on the same customers: PSIS-LOO, holdout density, forecast errors.

:func:`compare_models` takes fitted models and returns one ranking table:

- ``elpd_loo``: PSIS-LOO expected log predictive density (Vehtari, Gelman & Gabry 2017), from
  the log-likelihood of each distinct customer row per posterior draw. Identical customers have
  identical leave-one-out terms, so each distinct row counts as many times as its weight.
- ``holdout_lpd``: log predictive density of what customers did in the holdout period given
  their calibration history, ``sum_i log E_post[p(full_i) / p(calibration_i)]``: the likelihood
  of the whole observation period divided by that of the calibration period is the density of
  the holdout purchases given the calibration ones. Every model is scored on the same data.
- forecast errors of each customer's expected holdout purchases (MAE, RMSE, bias, correlation)
  and the tracking MAPE of purchases per period in the holdout.

Differences between models come with the standard error of the *difference*, from the paired
per-customer values: ``se = sqrt(n * var(d_i))`` over customers ``i`` with ``d_i`` the
difference of the two models' pointwise values (Vehtari, Gelman & Gabry 2017, eq. 24; ArviZ's
``compare`` reports the same as ``dse``). With compressed rows, each distinct row's value counts
as many times as its weight. :func:`margin_verdict` calls a margin clear only when it is both
larger than :data:`CLEAR_MARGIN_SE` standard errors and at least :data:`SMALL_DIFFERENCE` log
points, and "too close to call" otherwise.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from clvlib.compression import CompressedRows, row_weights
from clvlib.models import get_model, kernels
from clvlib.models.base import PurchaseModel
from clvlib.progress import Announce, fit_announced, to_stderr
from clvlib.psis import psis_loo, relative_ess
from clvlib.summary import CustomerSummary

PARETO_K_BAD = 0.7

#: A difference counts as clear only when it exceeds this many standard errors of the
#: difference: under a normal approximation a model that is in truth no better wins by that much
#: with probability 2.3%.
CLEAR_MARGIN_SE = 2.0
#: ... and is at least this many log points: below 4 the normal approximation of the
#: difference's uncertainty is poorly calibrated and the models predict about equally well
#: (Sivula, Magnusson, Matamoros & Vehtari 2022, "Uncertainty in Bayesian leave-one-out
#: cross-validation based model comparison").
SMALL_DIFFERENCE = 4.0


def margin_verdict(diff: float, se: float) -> str:
    """``"clear"`` when ``|diff| > CLEAR_MARGIN_SE * se`` and ``|diff| >= SMALL_DIFFERENCE``,
    else ``"too close to call"``.

    Examples
    --------
    >>> margin_verdict(-31.3, 8.2)
    'clear'
    >>> margin_verdict(-6.0, 4.1)
    'too close to call'
    >>> margin_verdict(0.0, 0.0)
    'too close to call'
    """
    diff, se = abs(float(diff)), float(se)
    clear = diff >= SMALL_DIFFERENCE and diff > CLEAR_MARGIN_SE * se
    return "clear" if clear else "too close to call"


def weighted_sum_se(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Sum of per-customer values given per distinct row, and its standard error.

    ``values[k]`` holds for ``weights[k]`` customers; the sum is ``sum_k w_k v_k`` and its
    standard error ``sqrt(n * var(v))`` over the ``n = sum_k w_k`` customers (the population
    variance, as in Vehtari, Gelman & Gabry 2017 and ArviZ).
    """
    w = np.asarray(weights, dtype=float)
    v = np.asarray(values, dtype=float)
    n = w.sum()
    mean = (w @ v) / n
    return float(w @ v), float(np.sqrt(n * (w @ (v - mean) ** 2) / n))


@dataclass
class ModelComparison:
    """A ranking of fitted models on the same customers.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model (by title), best first: ``rank``, ``elpd_loo``, ``elpd_loo_se``,
        ``d_elpd_loo`` and ``d_elpd_loo_se`` (the difference from the first-ranked model and
        its paired standard error), ``p_loo``, ``pareto_k_bad`` (share of customers with
        k > 0.7), ``holdout_lpd``, ``d_holdout_lpd``, ``d_holdout_lpd_se``, ``mae``, ``rmse``,
        ``bias``, ``correlation``, ``tracking_mape``.
    models : dict
        The compared models by title.
    rank_by : str
        The column that ranks them.
    """

    table: pd.DataFrame
    models: dict[str, PurchaseModel]
    rank_by: str

    @property
    def best(self) -> PurchaseModel:
        return self.models[self.table.index[0]]

    def margin(self, title: str | None = None) -> tuple[float, float, str]:
        """How far ``title`` (default: the second-ranked model) is behind the first on the
        ranking measure: the difference, its paired standard error and
        :func:`margin_verdict`."""
        title = self.table.index[1] if title is None else title
        diff = float(self.table.loc[title, f"d_{self.rank_by}"])
        se = float(self.table.loc[title, f"d_{self.rank_by}_se"])
        return diff, se, margin_verdict(diff, se)

    def __str__(self) -> str:
        table = self.table.to_string(float_format="{:.4g}".format)
        return f"Models ranked by {self.rank_by}:\n{table}"


# Draws used for comparisons: every k-th draw of each chain, so that at most this many remain.
# PSIS-LOO and predictive densities are stable with 1,000 draws and cost a quarter of 4,000.
COMPARISON_DRAWS = 1000
#: Models whose per-row log-likelihood comes from a compiled kernel (tests/test_kernels.py holds
#: it equal to the PyTensor graph's); the others evaluate their graph.
POINTWISE_KERNELS = (kernels.BG_NBD, kernels.MBG_NBD, kernels.PARETO_NBD)


def _thinned_posterior(model: PurchaseModel, max_draws: int):
    post = model.idata["posterior"].to_dataset()[list(getattr(model, "variables",
                                                              model.params))]
    total = post.sizes["chain"] * post.sizes["draw"]
    return post.thin(draw=max(1, -(-total // max_draws)))


def pointwise_loglik(model: PurchaseModel, rows: CompressedRows, *, columns=None,
                     max_draws: int = COMPARISON_DRAWS, cells: int | None = None) -> np.ndarray:
    """Log-likelihood of each distinct row per posterior draw, shape ``(chains, draws, rows)``.

    Parameters
    ----------
    rows : CompressedRows
        Rows whose columns include ``columns``, which are passed to the model's per-row
        likelihood as its :attr:`~clvlib.models.base.CLVModel.columns` (default: those).
    max_draws : int
        Use every k-th draw of each chain so that at most this many remain.
    cells : int, optional
        Draws x rows evaluated at once by the model's graph (default: the model's
        ``pointwise_cells``).
    """
    columns = tuple(columns or model.columns)
    post = _thinned_posterior(model, max_draws)
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    if model.kernel in POINTWISE_KERNELS and not getattr(model, "indexed", False):
        # the compiled kernel: no graph to evaluate
        draws_by_param = np.column_stack([post[k].to_numpy().reshape(-1) for k in model.params])
        out = np.empty((chains * draws, len(rows)))
        kernels.pointwise_loglik(model.kernel, draws_by_param,
                                 *(np.asarray(rows[c], dtype=float) for c in columns), out)
        return out.reshape(chains, draws, len(rows))
    # covariates or groups (each row's own parameters), or no kernel: the model's graph
    flat = {k: post[k].to_numpy().reshape((chains * draws,) + post[k].shape[2:])
            for k in model.variables}
    return model.pointwise_loglik(flat, rows, columns, cells).reshape(chains, draws, len(rows))


def loo_pointwise(model: PurchaseModel, rows: CompressedRows | None = None,
                  loglik: np.ndarray | None = None):
    """PSIS-LOO of a NUTS fit per distinct row: ``elpd_i``, ``lppd_i`` and Pareto ``k``.

    Parameters
    ----------
    rows : CompressedRows, optional
        The rows to score (default: the model's own); identical customers have identical
        leave-one-out terms, so one term per distinct row stands for all of them.
    loglik : ndarray, optional
        Their :func:`pointwise_loglik`, when the caller has it already.

    Returns
    -------
    dict of str to ndarray
        ``elpd_i``, ``lppd_i`` (log pointwise predictive density) and ``pareto_k``, one value
        per row.
    """
    rows = model.rows if rows is None else rows
    ll = pointwise_loglik(model, rows) if loglik is None else loglik
    post = _thinned_posterior(model, COMPARISON_DRAWS)
    flat = ll.reshape(-1, ll.shape[-1])
    elpd_i, pareto_k = psis_loo(flat, relative_ess(post[list(model.params)]))
    return {
        "elpd_i": elpd_i,
        "lppd_i": logsumexp(flat, axis=0) - np.log(flat.shape[0]),
        "pareto_k": pareto_k,
    }


def _loo_totals(pointwise: dict, w: np.ndarray) -> dict[str, float]:
    elpd, se = weighted_sum_se(pointwise["elpd_i"], w)
    return {
        "elpd_loo": elpd,
        "elpd_loo_se": se,
        "p_loo": float(w @ (pointwise["lppd_i"] - pointwise["elpd_i"])),
        "pareto_k_bad": float(w[pointwise["pareto_k"] > PARETO_K_BAD].sum() / w.sum()),
    }


def loo(model: PurchaseModel) -> dict[str, float]:
    """Weighted PSIS-LOO of a NUTS fit over its distinct customer rows: ``elpd_loo``, its
    standard error ``elpd_loo_se``, ``p_loo`` and ``pareto_k_bad`` (share of customers with
    k > 0.7)."""
    return _loo_totals(loo_pointwise(model), model.rows.weights)


def holdout_rows(summary: CustomerSummary, extra: pd.DataFrame | None = None,
                 columns=("x", "t_x", "T")) -> CompressedRows:
    """Distinct (calibration, whole-period) histories of the summary's customers, each counted
    as often as it occurs (times its ``weights`` column, when the summary has one): the
    likelihood ``columns`` and each one's whole-period value ``<column>_full``; ``extra``
    adds columns per customer (the covariates of models indexed by customer)."""
    if not summary.has_holdout:
        raise ValueError("the holdout log predictive density needs a summary with a holdout "
                         "period (observation_end)")
    c = summary.customers
    full = pd.DataFrame({
        "x": c["x"], "t_x": c["t_x"], "T": c["T"],
        "x_full": c["x"] + c["x_holdout"], "t_x_full": c["t_x_full"],
        "T_full": c["T"] + summary.holdout_length,
    })
    for column in (name for name in columns if name not in full):
        if column not in c or f"{column}_full" not in c:
            raise ValueError(f"the holdout log predictive density reads {column} and "
                             f"{column}_full, which the summary lacks"
                             + (" (clvlib.summarize(..., regularity=True))"
                                if column == "litt" else ""))
        full[column], full[f"{column}_full"] = c[column], c[f"{column}_full"]
    if extra is not None:
        full = full.join(extra)
    return CompressedRows.from_frame(full, tuple(full.columns),
                                     row_weights(c, summary.source or "summary"))


def holdout_lpd_pointwise(model: PurchaseModel, rows: CompressedRows,
                          calibration: np.ndarray | None = None) -> np.ndarray:
    """Log predictive density of each row's holdout purchases given its calibration ones.

    ``log E_post[p(full) / p(calibration)]`` per distinct row of :func:`holdout_rows`: the
    likelihood of the whole observation period divided by that of the calibration period is the
    density of the holdout purchases (their number and the time of the last) given the
    calibration history, averaged over the posterior. ``calibration``, when given, is the
    calibration part, :func:`pointwise_loglik` of the rows (:func:`compare_models` takes it from
    the leave-one-out's rows instead of evaluating the likelihood again).
    """
    if calibration is None:
        calibration = pointwise_loglik(model, rows)
    whole = pointwise_loglik(model, rows, columns=tuple(f"{c}_full" for c in model.columns))
    ratio = (whole - calibration).reshape(-1, len(rows))
    return logsumexp(ratio, axis=0) - np.log(ratio.shape[0])


def holdout_lpd(model: PurchaseModel, summary: CustomerSummary) -> float:
    """Log predictive density of the holdout purchases given each customer's calibration ones,
    summed over customers (see :func:`holdout_lpd_pointwise`)."""
    rows = holdout_rows(summary, columns=model.columns)
    return float(rows.weights @ holdout_lpd_pointwise(model, rows))


def _indexed_columns(models: list[PurchaseModel], customers: pd.DataFrame) -> pd.DataFrame:
    """The coded covariates and group codes of every model indexed by customer, per customer
    (one column per name; two models coding a name differently cannot be compared)."""
    columns: dict[str, np.ndarray] = {}
    for model in models:
        if not getattr(model, "indexed", False):
            continue
        matrix = model.design_matrix(customers)
        for j, name in enumerate(model.design_columns):
            if name in columns and not np.array_equal(columns[name], matrix[:, j]):
                raise ValueError(f"models code the covariate column {name!r} differently; "
                                 "compare models with one coding of each covariate")
            columns[name] = matrix[:, j]
    return pd.DataFrame(columns, index=customers.index)


def _comparison_rows(models: list[PurchaseModel], summary: CustomerSummary):
    """The rows every model is scored on, and the holdout rows: the models' own shared rows, or
    with covariate or pooled models (or models that read different columns, such as a
    regularity model's litt), the summary compressed on every model's likelihood and covariate
    columns, so each model reads its customers' own."""
    columns = list(dict.fromkeys(column for m in models for column in m.columns))
    hold = (functools.partial(holdout_rows, summary, columns=columns) if summary.has_holdout
            else lambda extra=None: None)
    if (not any(getattr(m, "indexed", False) for m in models)
            and all(m.columns == models[0].columns for m in models)):
        return _same_rows(models), hold()
    c = summary.customers
    extra = _indexed_columns(models, c)
    frame = c[columns].join(extra)
    rows = CompressedRows.from_frame(frame, tuple(frame.columns),
                                     row_weights(c, summary.source or "summary"))
    for model in models:
        if not np.isclose(model.rows.n_original, rows.n_original):
            raise ValueError(f"{model.title} was fitted to other customers than the summary; "
                             "models are compared on the same customers only")
    return rows, hold(extra)


def _history_rows(hold: CompressedRows, rows: CompressedRows) -> np.ndarray | None:
    """The row of ``rows`` that holds each holdout row's calibration history (the same values
    in every column of ``rows``), or None when one has none. A quadrature likelihood costs
    seconds per evaluation over the posterior: the holdout density reads the calibration part
    from the leave-one-out's evaluation."""
    columns = list(rows.columns)
    if not set(columns) <= set(hold.columns):
        return None
    at = pd.MultiIndex.from_arrays([rows[c] for c in columns]).get_indexer(
        pd.MultiIndex.from_arrays([hold[c] for c in columns]))
    return None if (at < 0).any() else at


def _same_rows(models: list[PurchaseModel]) -> CompressedRows:
    """The distinct customer rows all models were fitted to (pairing needs the same ones)."""
    rows = models[0].rows
    for model in models[1:]:
        same = (len(model.rows) == len(rows)
                and np.array_equal(model.rows.weights, rows.weights)
                and all(np.array_equal(model.rows[c], rows[c]) for c in rows.columns))
        if not same:
            raise ValueError(
                f"{model.title} was fitted to other customers than {models[0].title}; models "
                "are compared on the same customers only"
            )
    return rows


def compare_models(
    models: list[PurchaseModel], summary: CustomerSummary, *,
    repeat_purchases: pd.DataFrame | None = None, rank_by: str | None = None,
) -> ModelComparison:
    """Rank fitted purchase models on the same customers.

    Parameters
    ----------
    models : list of PurchaseModel
        Models fitted by NUTS to ``summary``.
    summary : CustomerSummary
        The customers; with a holdout period the table adds the holdout density and errors.
    repeat_purchases : pandas.DataFrame, optional
        Actual repeat purchases per period (:func:`clvlib.checks.repeat_purchases_by_period`),
        for the tracking MAPE.
    rank_by : str, optional
        Column to rank by: ``"holdout_lpd"`` when there is a holdout, else ``"elpd_loo"``.

    Examples
    --------
    >>> comparison = compare_models([bg, pareto], summary)  # doctest: +SKIP
    >>> comparison.best.title  # doctest: +SKIP
    'BG/NBD'
    """
    from clvlib.checks import holdout_errors, tracking_check, tracking_mape

    titles = [m.title for m in models]
    if len(set(titles)) < len(titles):
        raise ValueError(f"models to compare need distinct titles; got {titles}")
    rank_by = rank_by or ("holdout_lpd" if summary.has_holdout else "elpd_loo")
    rows, hold = _comparison_rows(models, summary)
    history = None if hold is None else _history_rows(hold, rows)
    table, pointwise = {}, {}
    for model in models:
        loglik = pointwise_loglik(model, rows)
        loo_i = loo_pointwise(model, rows, loglik)
        row = _loo_totals(loo_i, rows.weights)
        pointwise[model.title] = {"elpd_loo": loo_i["elpd_i"]}
        if hold is not None:
            lpd_i = holdout_lpd_pointwise(
                model, hold, None if history is None else loglik[..., history])
            pointwise[model.title]["holdout_lpd"] = lpd_i
            row |= {"holdout_lpd": float(hold.weights @ lpd_i),
                    **holdout_errors(model, summary)[1]}
            if repeat_purchases is not None:
                row["tracking_mape"] = tracking_mape(
                    tracking_check(model, summary, repeat_purchases)
                )
        table[model.title] = row
    table = pd.DataFrame.from_dict(table, orient="index").sort_values(rank_by, ascending=False)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    first = table.index[0]
    measures = {"elpd_loo": rows.weights, "holdout_lpd": None if hold is None else hold.weights}
    for column, weights in measures.items():
        if column not in table:
            continue
        diffs = [weighted_sum_se(pointwise[t][column] - pointwise[first][column], weights)
                 for t in table.index]
        at = table.columns.get_loc(column) + (2 if column == "elpd_loo" else 1)
        table.insert(at, f"d_{column}", [d for d, _ in diffs])
        table.insert(at + 1, f"d_{column}_se", [se for _, se in diffs])
    table.index.name = "model"
    return ModelComparison(table, {m.title: m for m in models}, rank_by)


def fit_candidates(summary: CustomerSummary, names, *, progress: Announce | None = to_stderr,
                   model_options: dict | None = None, calendar=None,
                   calendar_covariates: dict | None = None,
                   **fit_options) -> list[PurchaseModel]:
    """Fit each named purchase model (``"bg_nbd"``, ``"mbg_nbd"``, ``"pareto_nbd"``) by NUTS,
    or by the Laplace approximation where NUTS would take hours (a model's ``report_fit``,
    Pareto/GGG: its ``draws x chains`` draws; the tuning and NUTS settings do not apply).

    Each fit announces itself and its elapsed time through ``progress`` (default: a line on
    standard error; ``None`` for none), so a long run never looks hung. ``model_options``
    (``purchase_covariates``, ``dropout_covariates``, ``group``, ...) go to every model's
    constructor, e.g. to fit the covariate or pooled version of each candidate; a model that
    takes none (Pareto/GGG) is then left out, and says so. The time-varying Pareto/NBD
    (``"pareto_nbd_tv"``) takes ``calendar`` (a :class:`~clvlib.time_varying.CovariateCalendar`)
    and ``calendar_covariates`` (its ``purchase_covariates`` and ``dropout_covariates``).
    """
    from clvlib.models.pareto_nbd_tv import ParetoNBDTimeVaryingModel

    models = []
    for name in names:
        is_tv = name == ParetoNBDTimeVaryingModel.name
        cls = ParetoNBDTimeVaryingModel if is_tv else get_model(name)
        if not issubclass(cls, PurchaseModel):
            raise ValueError(f"{name!r} is not a purchase model; candidates must predict purchases")
        if not cls.report_candidate:
            raise ValueError(f"{cls.title} ({name!r}) is not yet a report candidate: "
                             f"{cls.candidate_note}; fit it with clvlib.get_model({name!r}) and "
                             "compare it with compare_models")
        if is_tv and (calendar is None or not any((calendar_covariates or {}).values())):
            raise ValueError(f"{cls.title} ({name!r}) needs a calendar of covariates per "
                             "period: give calendar_file and calendar_purchase_covariates or "
                             "calendar_dropout_covariates")
        if model_options and not cls.covariate_links:
            if progress is not None:  # its plain version is among the candidates already
                progress(f"{cls.title} takes no customer covariates or groups: no such version "
                         "of it")
            continue
        model = (cls(summary, calendar, **calendar_covariates) if is_tv
                 else cls(summary, **(model_options or {})))
        if is_tv:
            model.check_identified()
        fit_announced(model, progress=progress, method=cls.report_fit, **fit_options)
        models.append(model)
    return models


def choose_model(comparison: ModelComparison, name: str = "best") -> PurchaseModel:
    """The best-ranked model, or the one named (by registry name or title)."""
    if name == "best":
        return comparison.best
    for model in comparison.models.values():
        if name in (model.name, model.title):
            return model
    raise ValueError(
        f"value_model={name!r} is not among the candidates "
        f"{[m.name for m in comparison.models.values()]}; use one of them or 'best'"
    )
