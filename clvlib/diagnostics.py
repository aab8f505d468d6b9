"""Convergence and identification diagnostics of a fit, each with a verdict in plain words.

Thresholds follow Vehtari, Gelman, Simpson, Carpenter & Buerkner (2021), "Rank-normalization,
folding, and localization: an improved R-hat": R-hat below 1.01 and at least 100 effective
draws per chain (bulk and tail); and any divergent transition is a warning sign.

Convergence says the sampler found the posterior; it does not say the data decided it. A
parameter the data cannot identify (one customer; no repeat buyers for a dropout parameter)
converges happily to its prior. :func:`identification` compares each parameter's posterior
with its prior (contraction and shift, on the sampler's unbounded scale) and says so in words.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100


@dataclass(frozen=True)
class Diagnostics:
    """Convergence diagnostics of one fit.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per parameter: ``mean``, ``sd``, ``r_hat``, ``ess_bulk``, ``ess_tail``.
    method : str
        ``"nuts"``, ``"map"`` or ``"laplace"`` (no sampler: R-hat and ESS are NaN).
    chains, draws : int
        Chains and draws per chain.
    divergences : int
        Divergent transitions after tuning.
    """

    table: pd.DataFrame
    method: str
    chains: int
    draws: int
    divergences: int

    @classmethod
    def from_idata(cls, idata: xr.DataTree, var_names: list[str], method: str) -> Diagnostics:
        post = idata.posterior
        chains, draws = post.sizes["chain"], post.sizes["draw"]
        if method == "map":
            table = pd.DataFrame(
                {"mean": [float(post[v].mean()) for v in var_names]}, index=var_names
            )
            return cls(table, method, chains, draws, 0)
        from arviz_stats import summary  # imported here: a second of import for what needs it

        table = summary(idata, var_names=var_names, kind="all", round_to="none")
        table = table[["mean", "sd", "r_hat", "ess_bulk", "ess_tail"]]
        if method == "laplace":  # independent draws of a normal distribution: nothing to check
            table = table.assign(r_hat=np.nan, ess_bulk=np.nan, ess_tail=np.nan)
            return cls(table, method, chains, draws, 0)
        divergences = int(idata.sample_stats["diverging"].sum()) if "sample_stats" in idata else 0
        return cls(table, method, chains, draws, divergences)

    @property
    def ess_min(self) -> float:
        return ESS_PER_CHAIN_MIN * self.chains

    def problems(self) -> list[str]:
        """Each failed check, as a sentence; empty when all pass (and for a fit without a
        sampler, which has none)."""
        if self.method in ("map", "laplace"):
            return []
        out = []
        t = self.table
        for name, row in t.iterrows():
            if not row["r_hat"] <= RHAT_MAX:
                out.append(
                    f"R-hat of {name} is {row['r_hat']:.3f} (above {RHAT_MAX}): the chains "
                    "disagree, so they have not converged to one posterior"
                )
        for col, label in (("ess_bulk", "bulk"), ("ess_tail", "tail")):
            worst = t[col].idxmin()
            if not t.loc[worst, col] >= self.ess_min:
                out.append(
                    f"{label} effective sample size of {worst} is {t.loc[worst, col]:,.0f} "
                    f"(below {self.ess_min:,.0f}): too few independent draws for stable "
                    f"{'means' if label == 'bulk' else 'intervals'}"
                )
        if self.divergences:
            out.append(
                f"{self.divergences:,} divergent transition(s): the sampler met curvature it "
                "could not follow, and the posterior may be biased"
            )
        return out

    @property
    def ok(self) -> bool:
        return not self.problems()

    def verdict(self) -> str:
        """One paragraph a manager can read: can these results be trusted?"""
        if self.method == "map":
            return (
                "This is a MAP (posterior mode) fit: a single point estimate, quick for iterating, "
                "with no uncertainty and no convergence diagnostics. Use NUTS for results to "
                "report."
            )
        if self.method == "laplace":
            return (
                f"This is the Laplace approximation: {self.chains * self.draws:,} independent "
                "draws from a normal distribution around the posterior mode on the log scale of "
                "each positive parameter, its spread from the curvature there. No sampler ran, "
                "so there are no convergence diagnostics (R-hat and ESS do not apply), and its "
                "intervals are as good as the posterior is near normal on that scale."
            )
        if self.ok:
            return (
                f"The sampler converged: {self.chains} chains of {self.draws:,} draws agree "
                f"(every R-hat at most {self.table['r_hat'].max():.3f}), the smallest effective "
                f"sample size is {self.table[['ess_bulk', 'ess_tail']].min().min():,.0f} "
                f"(at least {self.ess_min:,.0f} needed), and there were no divergent transitions."
            )
        return (
            "Do not trust these results yet. " + "; ".join(self.problems()) + ". Run more draws, "
            "check the priors, or simplify the model before reading the numbers below."
        )

    def __str__(self) -> str:
        return f"{self.table.to_string(float_format=lambda v: f'{v:.4g}')}\n{self.verdict()}"


# --------------------------------------------------------------------------------------------
# Identification: did the data, rather than the prior, decide each parameter?
# --------------------------------------------------------------------------------------------

#: A parameter counts as weakly identified when its posterior sd (of its logarithm) is more than
#: this share of its prior sd: the data have removed less than 75% of the prior variance.
SD_RATIO_MAX = 0.5
PRIOR_DRAWS = 4000


@dataclass(frozen=True)
class Identification:
    """How much the data moved each parameter from its prior.

    Both distributions are compared on the unbounded scale the sampler works on
    (:meth:`clvlib.priors.Prior.unbounded`: the log of a positive parameter, the log-odds of a
    bounded one such as a correlation), where a wide prior such as ``LogNormal(0, 3)`` has a
    finite, meaningful spread.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per parameter with a proper prior: ``prior_sd`` and ``posterior_sd`` (on the
        unbounded scale), ``sd_ratio`` (posterior over prior), ``contraction`` (``1 -
        sd_ratio**2``, the share of prior variance the data removed) and ``shift`` (posterior
        mean minus prior mean on that scale, in prior sds).
    flat : list of str
        Parameters with a flat prior, whose contraction is not defined.
    """

    table: pd.DataFrame
    flat: list[str]

    @classmethod
    def from_draws(cls, prior: dict[str, np.ndarray], posterior: dict[str, np.ndarray],
                   flat: list[str] | None = None, scales: dict | None = None
                   ) -> Identification:
        """Compare prior and posterior draws of each parameter (name -> values), each on the
        unbounded scale ``scales[name]`` maps its values to (default: the log)."""
        rows = {}
        for name, draws in prior.items():
            scale = (scales or {}).get(name, np.log)
            log_prior, log_post = scale(draws), scale(posterior[name])
            prior_sd, post_sd = float(np.std(log_prior)), float(np.std(log_post))
            ratio = post_sd / prior_sd
            rows[name] = {
                "prior_sd": prior_sd,
                "posterior_sd": post_sd,
                "sd_ratio": ratio,
                "contraction": 1 - ratio**2,
                "shift": float((np.mean(log_post) - np.mean(log_prior)) / prior_sd),
            }
        table = pd.DataFrame.from_dict(rows, orient="index")
        return cls(table, list(flat or []))

    @classmethod
    def unbounded(cls, prior: dict[str, np.ndarray], flat: list[str] | None = None,
                  scales: dict | None = None) -> Identification:
        """Every parameter unidentified: a MAP fit whose log density is flat (or curved
        upwards) in some direction at the mode, so no normal approximation exists."""
        rows = {name: {"prior_sd": float(np.std((scales or {}).get(name, np.log)(draws))),
                       "posterior_sd": np.inf, "sd_ratio": np.inf, "contraction": -np.inf,
                       "shift": np.nan}
                for name, draws in prior.items()}
        return cls(pd.DataFrame.from_dict(rows, orient="index"), list(flat or []))

    def weak(self) -> list[str]:
        """The parameters the data barely inform (posterior sd above half the prior's)."""
        return [n for n, r in self.table.iterrows() if not r["sd_ratio"] <= SD_RATIO_MAX]

    @property
    def ok(self) -> bool:
        return not self.weak()

    def problems(self) -> list[str]:
        """One sentence per weakly identified parameter."""
        out = []
        for name in self.weak():
            ratio = self.table.loc[name, "sd_ratio"]
            if np.isinf(ratio):
                out.append(f"nothing bounds {name}: the log density at the mode is not curved "
                           "downwards in every direction, so its value is arbitrary")
            else:
                out.append(f"the data barely inform {name}: its posterior sd is {ratio:.0%} of "
                           f"the prior's (on the sampler's unbounded scale; at most "
                           f"{SD_RATIO_MAX:.0%} expected), so its value mostly restates the "
                           "prior")
        return out

    def verdict(self) -> str:
        """Whether the data determine the answer: a separate verdict from convergence."""
        flat = (f" ({', '.join(self.flat)} had flat priors, where this cannot be measured.)"
                if self.flat else "")
        if self.table.empty:
            return "Identification was not measured: every prior is flat." + flat[1:]
        if self.ok:
            return (
                "The data determine the answer: for every parameter the posterior sd is at most "
                f"{self.table['sd_ratio'].max():.0%} of the prior's (on the sampler's unbounded "
                f"scale; {SD_RATIO_MAX:.0%} or less counts as informed)." + flat
            )
        return (
            "The data do not determine every parameter: " + "; ".join(self.problems()) + ". "
            "Predictions that depend on these parameters repeat the prior's assumptions; more "
            "customers, a longer history or repeat buyers are needed to learn them." + flat
        )

    def __str__(self) -> str:
        return f"{self.table.to_string(float_format=lambda v: f'{v:.3g}')}\n{self.verdict()}"


def identification(model, n_prior: int = PRIOR_DRAWS, seed: int = 0,
                   warn: bool = True) -> Identification:
    """How much the data moved each of a fitted model's parameters from its prior.

    Prior draws come from the model's :class:`~clvlib.priors.Prior` objects; posterior draws
    from its NUTS fit, or for a MAP fit from the Laplace approximation at the mode
    (:func:`clvlib.models.laplace.laplace_draws`: a MAP fit to data that cannot identify the
    model returns the prior's mode, and this says so). A weakly identified parameter is also
    reported by ``warnings.warn`` (unless ``warn=False``): "the sampler converged"
    (:class:`Diagnostics`) and "the data determine the answer" (this) are separate verdicts.

    Examples
    --------
    >>> print(identification(model).verdict())  # doctest: +SKIP
    The data determine the answer: for every parameter the posterior sd is at most 6% ...
    """
    flat = [n for n in model.params if not model.priors[n].is_proper]
    prior = {n: model.priors[n].draw(n_prior, seed=seed + i)
             for i, n in enumerate(model.params) if n not in flat}
    scales = {n: model.priors[n].unbounded for n in prior}
    if model.settings is not None and model.settings.method == "map":
        from clvlib.models.laplace import laplace_draws

        posterior = laplace_draws(model, n_prior, seed)
        if posterior is None:  # not curved downwards everywhere: the posterior sd is unbounded
            return Identification.unbounded(prior, flat, scales)
    else:
        posterior = model.posterior_draws()
    result = Identification.from_draws(prior, posterior, flat, scales)
    if warn and not result.ok:
        warnings.warn(f"{model.title}: {result.verdict()}", stacklevel=2)
    return result
