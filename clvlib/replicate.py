"""Paper replication: refit published data sets and set our estimates beside the papers' tables.

Each study names its data, the models the paper fitted and the estimates it published (see
DESIGN.md section 5). :func:`replicate` fits each model twice, by MAP with flat priors (which
is the maximum-likelihood estimate the papers report) and by NUTS with clvlib's default priors,
and reports the relative differences. A study may also publish derived quantities (P(alive),
DERL, a projection to compare with the actual data): those are set beside ours too.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from clvlib.datasets import load_dataset
from clvlib.models import get_model, sbg
from clvlib.models.sbg import cohort_rows
from clvlib.priors import Prior
from clvlib.progress import Announce, fit_announced, to_stderr
from clvlib.summary import CustomerSummary, summarize
from clvlib.transactions import read_transactions


@dataclass(frozen=True)
class PublishedFit:
    """One model's published maximum-likelihood estimates (parameters named as in the paper).

    ``data`` gives this fit its own data (else the study's); ``label`` names the fit in the
    output when a study fits one model more than once (else the model's name).
    """

    model: str
    estimates: dict[str, float]
    source: str
    loglik: float | None = None
    data: Callable[[], object] | None = None
    label: str | None = None

    @property
    def key(self) -> str:
        return self.label or self.model


# Derived quantities of a study: called with the MAP fits and the NUTS fits (empty without
# NUTS), each keyed by PublishedFit.key; returns rows made by _derived_row.
Derived = Callable[[dict, dict], pd.DataFrame]


@dataclass(frozen=True)
class Study:
    """A paper to replicate: its data, its published fits and derived quantities."""

    name: str
    title: str
    data: Callable[[], CustomerSummary] | None
    fits: tuple[PublishedFit, ...]
    derived: Derived | None = None


def _cdnow_sample_calibration() -> CustomerSummary:
    with warnings.catch_warnings():
        # The CDNOW files' exact duplicate rows are known and kept (data/README.md).
        warnings.simplefilter("ignore", UserWarning)
        log = read_transactions("cdnow_sample")
    return summarize(log, time_unit="week", calibration_end="1997-09-30")


def _derived_row(quantity: str, reference: float, source: str, ours: float,
                 nuts=None) -> dict:
    """One derived quantity: the reference value (published, or actual data) beside ours.

    ``nuts`` is a one-row per-customer table of a Prediction (mean, lower, upper), if any.
    """
    row = {"quantity": quantity, "reference": reference, "source": source, "map": ours,
           "map_rel_diff": ours / reference - 1}
    if nuts is not None:
        row |= {"nuts_mean": nuts["mean"], "nuts_lower": nuts["lower"],
                "nuts_upper": nuts["upper"], "nuts_rel_diff": nuts["mean"] / reference - 1}
    return row


# Fader, Hardie & Shang (2010): P(alive in 2002), after the six opportunities 1996-2001.
FHS2010_P_ALIVE = {(0, 0): 0.11, (2, 4): 0.59, (6, 6): 0.93}


def _fhs2010_derived(map_fits: dict, nuts_fits: dict) -> pd.DataFrame:
    rows = []
    for (x, t_x), published in FHS2010_P_ALIVE.items():
        donor = pd.DataFrame({"x": [x], "t_x": [t_x], "n": [6]})
        ours = map_fits["bg_bb"].p_alive(donor).per_customer.iloc[0]["mean"]
        nuts = nuts_fits["bg_bb"].p_alive(donor).per_customer.iloc[0] if nuts_fits else None
        rows.append(_derived_row(f"P(alive in 2002 | x={x}, t_x={t_x}, n=6)", published,
                                 "FHS 2010", ours, nuts))
    return pd.DataFrame(rows)


def _donations():
    return load_dataset("donations")


# Fader & Hardie (2007) fitted the first 7 years of each segment (1,000 customers each) and
# compared the projection of years 8-12 with the actual survival.
FH2007_FITTED_YEARS = 7
FH2007_COHORT_SIZE = 1000
# Fader & Hardie (2010), eq. (6) at alpha=3.80, beta=15.20, d=0.1: DERL of a customer in
# period n = 1..5, i.e. who has made n-1 = 0..4 renewals.
FH2010_DERL = {"alpha": 3.80, "beta": 15.20, "d": 0.1,
               "values": {1: 3.31, 2: 3.45, 3: 3.59, 4: 3.72, 5: 3.84}}


def _retention_rows(segment: str) -> pd.DataFrame:
    return cohort_rows(load_dataset("sbg_retention"), segment, cohort_size=FH2007_COHORT_SIZE,
                       through=FH2007_FITTED_YEARS)


def _fh2007_derived(map_fits: dict, nuts_fits: dict) -> pd.DataFrame:
    rows = []
    for key, fit in map_fits.items():
        segment = key.removeprefix("sbg ")
        mine = fit.projection()
        nuts = nuts_fits[key].projection() if nuts_fits else None
        for year in mine.index[~mine["fitted"]]:
            rows.append(_derived_row(
                f"{segment}: % surviving year {year} (projected)", mine.loc[year, "actual"],
                "actual data", mine.loc[year, "mean"],
                None if nuts is None else nuts.loc[year],
            ))
    a, b, d = FH2010_DERL["alpha"], FH2010_DERL["beta"], FH2010_DERL["d"]
    for n, published in FH2010_DERL["values"].items():
        rows.append(_derived_row(
            f"DERL(d={d:g} | alpha={a:.2f}, beta={b:.2f}, n={n}, {n - 1} renewal"
            f"{'' if n == 2 else 's'} made)", published,
            "FH 2010", float(sbg.derl(a, b, d, n)),
        ))
    return pd.DataFrame(rows)


STUDIES: dict[str, Study] = {
    s.name: s
    for s in [
        Study(
            "fhl2005",
            "Fader, Hardie & Lee (2005), CDNOW sample (2,357 customers), weeks, "
            "39-week calibration",
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
        Study(
            "bg2012",
            "Bemmaor & Glady (2012), GGompertz/NBD on the CDNOW sample (2,357 customers), "
            "weeks, 39-week calibration; the maximum lies on a ridge where b -> 0 with beta / b "
            "about 12 (the Pareto/NBD), so b and beta are told apart only as beta / b",
            _cdnow_sample_calibration,
            (
                PublishedFit(
                    "ggompertz_nbd",
                    {"r": 0.553, "alpha": 10.578, "b": 0.0002, "s": 0.603, "beta": 0.0026},
                    "Bemmaor & Glady (2012), Management Science 58(5), Table 2", -9594.98,
                ),
            ),
        ),
        Study(
            "fhs2010",
            "Fader, Hardie & Shang (2010), BG/BB on the 1995 donor cohort (11,104 donors, six "
            "annual opportunities 1996-2001)",
            _donations,
            (
                PublishedFit(
                    "bg_bb", {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783},
                    "Fader, Hardie & Shang (2010), Marketing Science 29(6)",
                ),
            ),
            _fhs2010_derived,
        ),
        Study(
            "fh2007",
            "Fader & Hardie (2007), sBG on the regular and high-end survival curves (1,000 "
            "customers each), fitted on years 1-7; DERL from Fader & Hardie (2010)",
            None,
            tuple(
                PublishedFit(
                    "sbg", estimates, "Fader & Hardie (2007), J. Interactive Marketing 21(1)",
                    data=partial(_retention_rows, segment), label=f"sbg {segment}",
                )
                for segment, estimates in (
                    ("regular", {"alpha": 0.704, "beta": 1.182}),
                    ("highend", {"alpha": 0.668, "beta": 3.806}),
                )
            ),
            _fh2007_derived,
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
    derived: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        """JSON-ready: per model, per parameter, the published value and our fits."""
        models: dict[str, dict] = {}
        for row in self.table.itertuples(index=False):
            fit = {"parameters": {}, **self.loglik.get(row.model, {})}
            entry = models.setdefault(row.model, fit)
            entry["parameters"][row.parameter] = {
                k: (None if pd.isna(v) else float(v))
                for k, v in row._asdict().items() if k not in ("model", "parameter")
            }
        out = {"study": self.study.name, "title": self.study.title, "models": models}
        if self.derived is not None:
            out["derived"] = [
                {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
                for row in self.derived.to_dict("records")
            ]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        t = self.table
        lines = [self.study.title, ""]
        for model, rows in t.groupby("model", sort=False):
            lines.append(f"{model}")

            def fmt(col, spec, rows=rows):
                return [format(v, spec) for v in rows[col]]

            shown = pd.DataFrame({
                "published": fmt("published", ".5g"),
                "MAP (flat priors)": fmt("map", ".5g"),
                "MAP diff": fmt("map_rel_diff", "+.2%"),
            }, index=rows["parameter"].to_numpy())
            if "nuts_mean" in rows:
                shown["NUTS mean"] = fmt("nuts_mean", ".4g")
                shown["90% interval"] = [
                    f"{lo:.4g} to {hi:.4g}"
                    for lo, hi in zip(rows["nuts_lower"], rows["nuts_upper"], strict=True)
                ]
                shown["NUTS diff"] = fmt("nuts_rel_diff", "+.2%")
            lines.append(shown.to_string())
            ll = self.loglik.get(model, {})
            if ll.get("published_loglik") is not None:
                lines.append(f"log-likelihood at MAP {ll['map_loglik']:.2f} "
                             f"(published {ll['published_loglik']:.2f})")
            lines.append("")
        if self.derived is not None:
            lines += ["derived quantities", _derived_text(self.derived)]
        return "\n".join(lines).rstrip()


def _derived_text(table: pd.DataFrame) -> str:
    def fmt(col, spec):
        return ["" if pd.isna(v) else format(v, spec) for v in table[col]]

    shown = pd.DataFrame({
        "published/actual": fmt("reference", ".4g"),
        "source": table["source"].to_numpy(),
        "ours (MAP)": fmt("map", "#.4g"),
        "diff": fmt("map_rel_diff", "+.2%"),
    }, index=table["quantity"].to_numpy())
    if "nuts_mean" in table:
        shown["NUTS mean"] = fmt("nuts_mean", "#.4g")
        shown["90% interval"] = [
            "" if pd.isna(lo) else f"{lo:#.4g} to {hi:#.4g}"
            for lo, hi in zip(table["nuts_lower"], table["nuts_upper"], strict=True)
        ]
    return shown.to_string()


def _estimates_line(key: str, rows: list[dict]) -> str:
    """One model's estimates beside the published ones, for the progress stream."""
    parts = []
    for row in rows:
        nuts = f", NUTS {row['nuts_mean']:.4g}" if "nuts_mean" in row else ""
        parts.append(f"{row['parameter']} {row['map']:.4g} (published {row['published']:.4g}"
                     f"{nuts})")
    return f"  {key}: MAP " + "; ".join(parts)


def replicate(
    name: str, *, nuts: bool = True, draws: int = 1000, tune: int = 1000, chains: int = 4,
    random_seed: int = 20240101, progressbar: bool = False,
    progress: Announce | None = to_stderr,
) -> ReplicationResult:
    """Refit a study's data and compare with the published estimates.

    Parameters
    ----------
    name : str
        A study from :data:`STUDIES` (``"fhl2005"``, ``"bg2012"``, ``"fhs2010"``,
        ``"fh2007"``).
    nuts : bool
        Also fit by NUTS with the default priors (otherwise MAP only).
    draws, tune, chains, random_seed : int
        NUTS settings.
    progress : callable, optional
        Told each fit as it starts and ends (with its elapsed time) and each model's estimates
        beside the published ones as soon as they are known; default a line on standard error,
        ``None`` for silence.
    """
    study = get_study(name)
    summary = study.data() if study.data is not None else None
    rows, loglik, map_fits, nuts_fits = [], {}, {}, {}
    for fit in study.fits:
        cls = get_model(fit.model)
        data = fit.data() if fit.data is not None else summary
        flat = cls(data, priors={k: Prior("HalfFlat") for k in cls.params})
        fit_announced(flat, progress=progress, method="map", prefix=f"{fit.key}: ",
                      progressbar=progressbar, random_seed=random_seed)
        map_fits[fit.key] = flat
        map_est = flat.point_estimate()
        loglik[fit.key] = {
            "map_loglik": flat.log_likelihood(), "published_loglik": fit.loglik,
        }
        nuts_draws = None
        if nuts:
            model = cls(data)
            fit_announced(model, progress=progress, prefix=f"{fit.key}: ", draws=draws,
                          tune=tune, chains=chains, random_seed=random_seed,
                          progressbar=progressbar)
            nuts_fits[fit.key] = model
            nuts_draws = model.posterior_draws()
        for param, published in fit.estimates.items():
            row = {"model": fit.key, "parameter": param, "published": published,
                   "map": map_est[param], "map_rel_diff": map_est[param] / published - 1}
            if nuts_draws is not None:
                d = nuts_draws[param]
                lo, hi = np.quantile(d, [0.05, 0.95])
                row |= {"nuts_mean": d.mean(), "nuts_lower": lo, "nuts_upper": hi,
                        "nuts_rel_diff": d.mean() / published - 1}
            rows.append(row)
        if progress is not None:
            progress(_estimates_line(fit.key, rows[-len(fit.estimates):]))
    derived = study.derived(map_fits, nuts_fits) if study.derived is not None else None
    return ReplicationResult(study, pd.DataFrame(rows), loglik, derived)
