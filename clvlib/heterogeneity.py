"""Who differs, and why: covariate effects in words and how far pooled groups differ.

Both read a fitted model whose parameters are indexed by customer (``purchase_covariates=``,
``dropout_covariates=``, ``spend_covariates=`` or ``group=``; see
:class:`clvlib.models.base.CLVModel`). Every link is ``theta_i = theta * exp(sign * x_i'g)``
with the sign chosen so that ``exp(g)`` multiplies what the role is about: the purchase rate,
the dropout rate (Pareto/NBD) or the odds of dropping out after a purchase ((M)BG/NBD), and the
spend per purchase. So each coefficient reads as a factor, ``exp(g)``, with its interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

#: What ``exp(g)`` multiplies, in words, by model and role ("{f}" is the factor).
EFFECT_PHRASES = {
    ("pareto_nbd", "purchase"): "buy {f} times as often",
    ("pareto_nbd", "dropout"): "leave {f} times as fast",
    ("bg_nbd", "purchase"): "buy {f} times as often",
    ("bg_nbd", "dropout"): "have {f} times the odds of leaving after each purchase",
    ("mbg_nbd", "purchase"): "buy {f} times as often",
    ("mbg_nbd", "dropout"): "have {f} times the odds of leaving after each purchase",
    ("gamma_gamma", "spend"): "spend {f} times as much per purchase",
    ("ggompertz_nbd", "purchase"): "buy {f} times as often",
    ("ggompertz_nbd", "dropout"): "have {f} times the hazard of leaving at every age",
    ("pareto_nbd_tv", "purchase"): "buy {f} times as often",
    ("pareto_nbd_tv", "dropout"): "leave {f} times as fast",
}


def _effect_phrase(model, role: str, factor: str) -> str:
    """What a factor exp(g) means for the customers, in words; for a model without a phrase
    of its own (one written by a researcher), what it does to the linked parameter."""
    phrase = EFFECT_PHRASES.get((model.name, role))
    if phrase is not None:
        return phrase.format(f=factor)
    parameter, sign = model.covariate_links[role]
    if sign == 1:
        change = f"multiplied by {factor}"
    elif sign == -1:
        change = f"divided by {factor}"
    else:
        change = f"multiplied by {factor} to the power {sign:g}"
    return f"have their {parameter} {change} ({role} covariates)"


def _interval(values: np.ndarray, interval: float) -> tuple[float, float]:
    lo, hi = np.quantile(values, [(1 - interval) / 2, (1 + interval) / 2])
    return float(lo), float(hi)


def covariate_effects(model, interval: float = 0.9) -> pd.DataFrame:
    """Each covariate effect of a fitted model as a factor with its interval, and a sentence:
    the customers' covariates, and for the time-varying Pareto/NBD its calendar's, per period.

    Returns
    -------
    pandas.DataFrame
        One row per coefficient: ``role``, ``term``, ``coefficient`` (posterior mean of g),
        ``factor`` (posterior mean of exp(g)), ``lower`` and ``upper`` (the central
        ``interval`` of exp(g)) and ``sentence``, e.g. "Customers whose channel is 'B' rather
        than 'A' buy 1.9 times as often (90% interval 1.5 to 2.4)."

    Examples
    --------
    >>> covariate_effects(model)["sentence"].tolist()  # doctest: +SKIP
    """
    draws = model.posterior_draws()
    rows = []
    for role, design in model.designs.items():
        g = draws[design.coefficient]
        j = 0
        for coding in design.codings:
            for level, term in zip(coding.levels or (None,), coding.names, strict=True):
                factor = np.exp(g[:, j])
                lo, hi = _interval(factor, interval)
                if coding.kind == "categorical":
                    who = f"Customers whose {coding.column} is {level!r} rather than " \
                          f"{coding.baseline!r}"
                elif _zero_one(model, coding):
                    who = f"Customers with {coding.column} 1 rather than 0"
                elif coding.scale != 1.0 or coding.center != 0.0:
                    who = f"Per standard deviation ({coding.scale:.3g}) more {coding.column}, " \
                          "customers"
                else:
                    who = f"Per unit more {coding.column}, customers"
                phrase = _effect_phrase(model, role, f"{factor.mean():.2g}")
                sentence = (f"{who} {phrase} ({interval:.0%} interval {lo:.2g} to {hi:.2g}).")
                rows.append({"role": role, "term": term, "coefficient": float(g[:, j].mean()),
                             "factor": float(factor.mean()), "lower": lo, "upper": hi,
                             "sentence": sentence})
                j += 1
    calendar = getattr(model, "calendar", None)  # the time-varying Pareto/NBD: per period
    for role, names in (("purchase", model.purchase_names), ("dropout", model.dropout_names)) \
            if calendar is not None else ():
        for j, column in enumerate(names):
            factor = np.exp(draws[f"g_{role}"][:, j])
            lo, hi = _interval(factor, interval)
            who = (f"In periods with {column} 1 rather than 0, customers"
                   if calendar.values[column].isin([0, 1]).all()
                   else f"Per unit more {column} in a period, customers")
            phrase = _effect_phrase(model, role, f"{factor.mean():.2g}")
            rows.append({"role": role, "term": column, "coefficient": float(np.log(factor).mean()),
                         "factor": float(factor.mean()), "lower": lo, "upper": hi,
                         "sentence": f"{who} {phrase} ({interval:.0%} interval {lo:.2g} to "
                                     f"{hi:.2g})."})
    return pd.DataFrame(rows, columns=["role", "term", "coefficient", "factor", "lower",
                                       "upper", "sentence"])


def _zero_one(model, coding) -> bool:
    """Whether a numeric covariate, used as given, takes only the values 0 and 1 (an indicator:
    its effect reads "1 rather than 0", not "per unit more")."""
    if coding.kind != "numeric" or coding.scale != 1.0 or coding.center != 0.0:
        return False
    values = pd.to_numeric(model.customers[coding.column], errors="coerce")
    return bool(values.isin([0, 1]).all())


def group_parameters(model) -> xr.Dataset:
    """Posterior draws of each group's own parameters, with dims ``(chain, draw, group)``.

    For a role linked to the parameter ``theta`` with sign ``s``: ``theta_g = theta *
    exp(s * sigma * z_g)`` (covariates at 0: a customer at the baseline of every covariate).
    """
    post = model._require_fit().posterior
    out = {}
    for role in model.pooled_roles:
        name, sign = model.covariate_links[role]
        effect = post[f"sigma_{role}"] * post[f"z_{role}"]
        out[f"{name}_group"] = post[name] * np.exp(sign * effect)
    return xr.Dataset(out)


def group_summary(model, interval: float = 0.9) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How far the groups of a pooled model really differ, and how much each was shrunk.

    Returns
    -------
    spread : pandas.DataFrame
        One row per role: the linked parameter, the posterior mean of the spread ``sigma``
        (log scale) and its central interval, and ``typical_factor``: exp(sigma), how far a
        typical group sits from the pooled value as a factor.
    groups : pandas.DataFrame
        One row per role and group: the group's parameter (mean and interval), the pooled
        value, customers in the group, and ``shrinkage`` = Var(sigma z_g | data) /
        E[sigma^2 | data], the share of the population spread left in the group's estimate:
        near 0 for a group its own data pin down, near 1 for one shrunk almost wholly to the
        pooled value (for a normal group effect this is the weight on the pooled mean;
        Gelman & Pardoe 2006).
    """
    draws = model.posterior_draws()
    params = group_parameters(model)
    sizes = pd.Series(model.group_codes(model.customers)).value_counts()
    spread_rows, group_rows = [], []
    for role in model.pooled_roles:
        name, _ = model.covariate_links[role]
        sigma = draws[f"sigma_{role}"]
        lo, hi = _interval(sigma, interval)
        spread_rows.append({"role": role, "parameter": name, "sigma": float(sigma.mean()),
                            "lower": lo, "upper": hi,
                            "typical_factor": float(np.exp(sigma).mean())})
        effect = sigma[:, None] * draws[f"z_{role}"]
        shrinkage = effect.var(axis=0) / np.mean(sigma ** 2)
        values = params[f"{name}_group"].to_numpy().reshape(-1, len(model.group_levels))
        for k, level in enumerate(model.group_levels):
            glo, ghi = _interval(values[:, k], interval)
            group_rows.append({"role": role, "parameter": name, "group": level,
                               "customers": int(sizes.get(float(k), 0)),
                               "mean": float(values[:, k].mean()), "lower": glo, "upper": ghi,
                               "pooled": float(draws[name].mean()),
                               "shrinkage": float(min(shrinkage[k], 1.0))})
    return pd.DataFrame(spread_rows), pd.DataFrame(group_rows)


def plot_group_forest(model, role: str | None = None, *, interval: float = 0.9, ax=None):
    """Forest plot of each group's parameter (mean and interval) beside the pooled value.

    Parameters
    ----------
    model : CLVModel
        A fitted pooled model (``group=``).
    role : str, optional
        Which linked parameter (``"purchase"``, ``"dropout"``, ``"spend"``, ...); default the
        first of the model's pooled roles.
    interval : float
        Probability of the drawn intervals.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    role = role or model.pooled_roles[0]
    _, groups = group_summary(model, interval)
    rows = groups[groups["role"] == role].reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    ax.hlines(y, rows["lower"], rows["upper"], color="C0")
    ax.plot(rows["mean"], y, "o", color="C0", label=f"group mean, {interval:.0%} interval")
    pooled = rows["pooled"].iloc[0]
    ax.axvline(pooled, color="0.4", linestyle="--", label=f"pooled {pooled:.3g}")
    ax.set_yticks(y, [f"{g} ({n:,})" for g, n in zip(rows["group"], rows["customers"],
                                                      strict=True)])
    name = rows["parameter"].iloc[0]
    ax.set_xlabel(f"{name} per {model.group} ({role})")
    ax.set_title(f"{model.title}: {name} by {model.group}, pooled")
    # Beside the axes: inside, the legend can cover a group's interval.
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", frameon=False)
    return ax


def who_differs(model, interval: float = 0.9) -> str:
    """The report's "Who differs, and why" text for a fitted model: each covariate effect in
    words with its interval, how each covariate was coded (baseline level, standardization), and
    for a pooled model how far the groups really differ and which were shrunk most (Markdown;
    empty for a model without covariates or groups).

    Examples
    --------
    >>> print(who_differs(model))  # doctest: +SKIP
    - Customers whose channel is 'B' rather than 'A' buy 1.9 times as often (90% interval 1.5
      to 2.4).
    """
    lines = [f"- {s}" for s in covariate_effects(model, interval)["sentence"]]
    codings = list(dict.fromkeys(c for d in model.designs.values() for c in d.describe()))
    if codings:
        lines.append("- How the covariates were coded: " + "; ".join(codings) + ".")
    if model.pooled_roles:
        spread, groups = group_summary(model, interval)
        for row in spread.itertuples():
            part = groups[groups["role"] == row.role]
            most = part.loc[part["shrinkage"].idxmax()]
            least = part.loc[part["shrinkage"].idxmin()]
            lines.append(
                f"- {row.parameter} ({row.role}) differs across {model.group} groups by a "
                f"typical factor of {row.typical_factor:.2g} (spread sigma {row.sigma:.2g} on "
                f"the log scale, {interval:.0%} interval {row.lower:.2g} to {row.upper:.2g}); "
                f"group {most['group']!r} ({most['customers']:,} customers) was drawn "
                f"{most['shrinkage']:.0%} of the way to the pooled value, {least['group']!r} "
                f"({least['customers']:,}) {least['shrinkage']:.0%}."
            )
    return "\n".join(lines)
