"""Paper replication: refit published data sets and set our estimates beside the papers' tables.

Each study names its data, the models the paper fitted and the estimates it published (see
DESIGN.md section 5). :func:`replicate` fits each model twice, by MAP with flat priors (which
is the maximum-likelihood estimate the papers report) and by NUTS with clvlib's default priors,
and reports the relative differences.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clvlib.models import get_model
from clvlib.priors import Prior
from clvlib.summary import CustomerSummary, summarize
from clvlib.transactions import read_transactions


@dataclass(frozen=True)
class PublishedFit:
    """One model's published maximum-likelihood estimates (parameters named as in the paper)."""

    model: str
    estimates: dict[str, float]
    source: str
    loglik: float | None = None


@dataclass(frozen=True)
class Study:
    """A paper to replicate: its data and its published fits."""

    name: str
    title: str
    data: Callable[[], CustomerSummary]
    fits: tuple[PublishedFit, ...]


def _cdnow_sample_calibration() -> CustomerSummary:
    log = read_transactions("cdnow_sample")
    return summarize(log, time_unit="week", calibration_end="1997-09-30")


STUDIES: dict[str, Study] = {
    s.name: s
    for s in [
        Study(
            "fhl2005",
            "Fader, Hardie & Lee (2005), CDNOW sample (2,357 customers), weeks, 39-week calibration",
            _cdnow_sample_calibration,
            (
                PublishedFit(
                    "bg_nbd", {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259},
                    "Fader, Hardie & Lee (2005), Marketing Science 24(2), p. 281", -9582.43,
                ),
                PublishedFit(
                    "pareto_nbd", {"r": 0.5532, "alpha": 10.5763, "s": 0.6062, "beta": 11.6715},
                    "Fader, Hardie & Lee (2005), Marketing Science 24(2), p. 281", -9594.98,
                ),
                PublishedFit(
                    "mbg_nbd", {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
                    "Batislam, Denizel & Filiztekin (2007) form, as fitted by BTYDplus",
                ),
                PublishedFit(
                    "gamma_gamma", {"p": 6.25, "q": 3.74, "gamma": 15.44},
                    "Fader & Hardie (2013), 'The Gamma-Gamma model of monetary value'",
                ),
            ),
        ),
    ]
}


def get_study(name: str) -> Study:
    """The study registered as ``name``; unknown names fail listing the valid ones."""
    if name not in STUDIES:
        raise KeyError(f"unknown study {name!r}; valid names: {', '.join(STUDIES)}")
    return STUDIES[name]


@dataclass
class ReplicationResult:
    """Our estimates beside the published ones, one row per model parameter."""

    study: Study
    table: pd.DataFrame
    loglik: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready: per model, per parameter, the published value and our fits."""
        models: dict[str, dict] = {}
        for row in self.table.itertuples(index=False):
            entry = models.setdefault(row.model, {"parameters": {}, **self.loglik.get(row.model, {})})
            entry["parameters"][row.parameter] = {
                k: (None if pd.isna(v) else float(v))
                for k, v in row._asdict().items() if k not in ("model", "parameter")
            }
        return {"study": self.study.name, "title": self.study.title, "models": models}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        t = self.table
        lines = [self.study.title, ""]
        for model, rows in t.groupby("model", sort=False):
            lines.append(f"{model}")
            fmt = lambda col, spec: [format(v, spec) for v in rows[col]]  # noqa: E731
            shown = pd.DataFrame({
                "published": fmt("published", ".5g"),
                "MAP (flat priors)": fmt("map", ".5g"),
                "MAP diff": fmt("map_rel_diff", "+.2%"),
            }, index=rows["parameter"].to_numpy())
            if "nuts_mean" in rows:
                shown["NUTS mean"] = fmt("nuts_mean", ".4g")
                shown["90% interval"] = [
                    f"{lo:.4g} to {hi:.4g}" for lo, hi in zip(rows["nuts_lower"], rows["nuts_upper"])
                ]
                shown["NUTS diff"] = fmt("nuts_rel_diff", "+.2%")
            lines.append(shown.to_string())
            ll = self.loglik.get(model, {})
            if ll.get("published_loglik") is not None:
                lines.append(
                    f"log-likelihood at MAP {ll['map_loglik']:.2f} (published {ll['published_loglik']:.2f})"
                )
            lines.append("")
        return "\n".join(lines).rstrip()


def replicate(
    name: str, *, nuts: bool = True, draws: int = 1000, tune: int = 1000, chains: int = 4,
    random_seed: int = 20240101, progressbar: bool = False,
) -> ReplicationResult:
    """Refit a study's data and compare with the published estimates.

    Parameters
    ----------
    name : str
        A study from :data:`STUDIES` (``"fhl2005"``).
    nuts : bool
        Also fit by NUTS with the default priors (otherwise MAP only).
    draws, tune, chains, random_seed : int
        NUTS settings.
    """
    study = get_study(name)
    summary = study.data()
    rows, loglik = [], {}
    for fit in study.fits:
        cls = get_model(fit.model)
        flat = cls(summary, priors={k: Prior("HalfFlat") for k in cls.params})
        flat.fit("map", progressbar=progressbar, random_seed=random_seed)
        map_est = flat.point_estimate()
        loglik[fit.model] = {
            "map_loglik": flat.log_likelihood(), "published_loglik": fit.loglik,
        }
        nuts_draws = None
        if nuts:
            model = cls(summary)
            model.fit("nuts", draws=draws, tune=tune, chains=chains, random_seed=random_seed,
                      progressbar=progressbar)
            nuts_draws = model.posterior_draws()
        for param, published in fit.estimates.items():
            row = {"model": fit.model, "parameter": param, "published": published,
                   "map": map_est[param], "map_rel_diff": map_est[param] / published - 1}
            if nuts_draws is not None:
                d = nuts_draws[param]
                lo, hi = np.quantile(d, [0.05, 0.95])
                row |= {"nuts_mean": d.mean(), "nuts_lower": lo, "nuts_upper": hi,
                        "nuts_rel_diff": d.mean() / published - 1}
            rows.append(row)
    return ReplicationResult(study, pd.DataFrame(rows), loglik)
