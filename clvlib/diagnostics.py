"""Convergence diagnostics of a fit, with a verdict in plain words.

Thresholds follow Vehtari, Gelman, Simpson, Carpenter & Buerkner (2021), "Rank-normalization,
folding, and localization: an improved R-hat": R-hat below 1.01 and at least 100 effective
draws per chain (bulk and tail); and any divergent transition is a warning sign.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
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
        ``"nuts"`` or ``"map"``.
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
        table = az.summary(idata, var_names=var_names, kind="all", round_to="none")
        table = table[["mean", "sd", "r_hat", "ess_bulk", "ess_tail"]]
        divergences = int(idata.sample_stats["diverging"].sum()) if "sample_stats" in idata else 0
        return cls(table, method, chains, draws, divergences)

    @property
    def ess_min(self) -> float:
        return ESS_PER_CHAIN_MIN * self.chains

    def problems(self) -> list[str]:
        """Each failed check, as a sentence; empty when all pass."""
        if self.method == "map":
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
