"""The report's technical appendix: the diagnostics, scores and formulas behind its statements.

The manager's text (:mod:`clvlib.narrative`, :mod:`clvlib.decision_text`) states conclusions in
plain words; the pipeline notebooks put what this module writes in cells tagged ``appendix``,
which the report moves to its end (:mod:`clvlib.rendering`). Every technical term is given
a one-line meaning where it first appears here.
"""

from __future__ import annotations

import pandas as pd

from clvlib import narrative
from clvlib.diagnostics import ESS_PER_CHAIN_MIN, RHAT_MAX, SD_RATIO_MAX
from clvlib.discounting import Discount
from clvlib.simulated_scoring import PATHS
from clvlib.valuation import RETENTION_DEFINITIONS

__all__ = [
    "DIAGNOSTIC_FORMATS",
    "comparison_tables",
    "comparison_text",
    "diagnostics_table",
    "diagnostics_text",
    "methods_text",
]

#: One line per term of the diagnostics.
DIAGNOSTIC_TERMS = {
    "NUTS": "the sampler that draws the parameters' posterior distribution (a few chains run "
            "independently, each from its own start)",
    "R-hat": f"how well the chains agree; at most {RHAT_MAX} means they found the same "
             "distribution",
    "bulk and tail ESS": "effective sample size: how many independent draws the chains are "
                         "worth, for means (bulk) and for interval ends (tail); at least "
                         f"{ESS_PER_CHAIN_MIN} per chain is needed",
    "divergent transitions": "steps where the sampler met curvature it could not follow; any "
                             "is a warning sign",
    "identification": "the posterior's spread over the prior's for each parameter (on the log "
                      f"scale); at most {SD_RATIO_MAX:.0%} means the data, not the prior, "
                      "decided it",
    "MAP": "the single most probable parameter values (no uncertainty); its identification "
           "uses the normal approximation of the posterior at that point (Laplace)",
}

#: One line per score of the model comparison.
COMPARISON_TERMS = {
    "holdout lpd": "log predictive density of the holdout: how probable the model found what "
                   "each customer actually did in the holdout, given their calibration "
                   "history, summed over customers (higher is better)",
    "PSIS-LOO elpd": "the same for the calibration purchases, each customer predicted from a "
                     "fit that leaves them out (estimated by Pareto-smoothed importance "
                     "sampling)",
    "Δ and its SE": "the difference from the best model, in log points, and the standard "
                    "error of that difference over customers",
    "p_loo": "the effective number of parameters the data estimate",
    "share k > 0.7": "customers for whom the leave-one-out estimate is unreliable",
    "MAE, RMSE, bias, correlation": "errors of each customer's expected holdout purchases "
                                    "(mean absolute, root mean square, mean, and the "
                                    "correlation of expected with actual)",
    "tracking MAPE": "mean absolute percentage error of the purchases per period in the "
                     "holdout",
}


def _terms(terms: dict[str, str]) -> str:
    return "\n".join(f"- **{name}**: {meaning}." for name, meaning in terms.items())


def diagnostics_text(models) -> str:
    """The terms of the diagnostics and each fit's convergence and identification verdicts."""
    return ("### Convergence and identification of each fit\n\n" + _terms(DIAGNOSTIC_TERMS)
            + "\n\n" + narrative.fit_overview(models))


#: How :func:`diagnostics_table`'s columns read.
DIAGNOSTIC_FORMATS = {"bulk ESS": "{:,.0f}", "tail ESS": "{:,.0f}"}


def diagnostics_table(models) -> pd.DataFrame:
    """Posterior mean, sd, R-hat and ESS of each parameter of each fit."""
    table = pd.concat({m.title: m.diagnostics().table for m in models},
                      names=["model", "parameter"])
    return table.rename(columns={"r_hat": "R-hat", "ess_bulk": "bulk ESS",
                                 "ess_tail": "tail ESS"})


def comparison_text(result, chosen) -> str:
    """The terms of the comparison scores and the ranking with every margin and its SE."""
    return ("### Model comparison scores\n\n" + _terms(COMPARISON_TERMS) + "\n\n"
            + narrative.comparison(result, chosen))


def comparison_tables(result) -> dict[str, pd.DataFrame]:
    """The comparison table in two parts narrow enough for a page: the leave-one-out scores,
    and the holdout scores and forecast errors (absent without a holdout)."""
    table = narrative.comparison_table(result)
    loo = ["rank", "PSIS-LOO elpd", "SE", "Δ elpd", "SE of Δ elpd", "p_loo", "share k > 0.7"]
    hold = ["holdout lpd", "Δ holdout lpd", "SE of Δ holdout lpd", "MAE", "RMSE", "bias",
            "correlation", "tracking MAPE %"]
    parts = {"Leave-one-out scores of the calibration purchases (log points)":
             table[[c for c in loo if c in table.columns]]}
    present = [c for c in hold if c in table.columns]
    if present:
        parts["Holdout scores (log points) and forecast errors (purchases per customer)"] = (
            table[present])
    return parts


def methods_text(purchase_model, spend_model, annual_discount_rate: float) -> str:
    """How the value numbers are computed: the models' stories, discounting, CLV, retention."""
    unit = purchase_model.time_unit
    discount = Discount(annual_discount_rate)
    lines = ["### How the numbers are computed", ""]
    for model in (purchase_model, spend_model):
        if model is None:
            continue
        story = model.story or model.title
        if model.indexed:
            story += (" With covariates or groups, the linked parameters are each customer's "
                      "own: theta_i = theta exp(±x_i'g), x_i the customer's coded covariates "
                      "and g their coefficients (group effects pooled on the log scale).")
        lines.append(f"- {story}")
    lines.append(f"- **Discounting**: {discount.describe(unit.name, unit.days)}")
    if spend_model is not None:
        lines.append("- **CLV**: per posterior draw, a customer's expected spend per purchase "
                     "(Gamma-Gamma, given their own history) times their expected purchases "
                     "over the horizon, each purchase discounted from when it is expected; a "
                     "credible interval is over draws, a predictive interval over simulated "
                     "futures.")
        if purchase_model.closed_form_purchases:
            lines.append(f"- **Simulated expectations**: {purchase_model.title}'s expected "
                         "purchases are exact, but its CLV, each purchase discounted from its "
                         "own time, has no closed form: under each posterior draw it is the "
                         f"mean over simulated futures of the customer ({PATHS} a draw), so "
                         "its credible intervals hold that simulation's noise too.")
        elif purchase_model.customer_posterior is not None:
            lines.append(f"- **Simulated expectations**: {purchase_model.title}'s expected "
                         "purchases have no closed form; under each posterior draw they are "
                         f"the mean of simulated futures of the customer ({PATHS} a draw), so "
                         "their credible intervals hold that simulation's noise too.")
        if purchase_model.unbounded_horizon:  # no valuation, no sensitivities without
            lines.append("- **Retention** in the sensitivities: "
                         f"{RETENTION_DEFINITIONS[purchase_model.dropout_mixing.family]}.")
    return "\n".join(lines)
