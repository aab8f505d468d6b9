"""What each benchmark subprocess does: ``python -m benchmarks.cases CASE PARAMS_JSON OUT_JSON``.

Every case is a function of a parameter dict that returns a JSON-ready dict of measurements;
the runner (:mod:`benchmarks.run`) starts each in a fresh process and adds wall time and peak
memory of the whole process tree. A case imports what it needs itself, so imports are part of
the process's time but not of the figures the case reports (fit wall time is model construction
plus ``fit()``, compilation included).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

from benchmarks import data

warnings.filterwarnings("ignore")

PARAMS = {
    "bg_nbd": ("r", "alpha", "a", "b"),
    "mbg_nbd": ("r", "alpha", "a", "b"),
    "pareto_nbd": ("r", "alpha", "s", "beta"),
    "gamma_gamma": ("p", "q", "gamma"),
    "ggompertz_nbd": ("r", "alpha", "b", "s", "beta"),
    "bdw": ("alpha", "beta", "c"),
    "mbg_cnbd_2": ("r", "alpha", "a", "b"),
    "pareto_nbd_abe": ("lam", "mu", "sigma_lambda", "sigma_mu", "rho"),
}
# What the peers call our parameters.
PEER_NAMES = {"gamma": "v"}


def posterior_stats(posterior, params, rename=None) -> dict:
    """Per parameter: mean, sd, MCSE of the mean, bulk ESS, R-hat; and their minimum/maximum."""
    import arviz as az

    rename = rename or {}
    names = [rename.get(p, p) for p in params]
    if hasattr(posterior, "to_dataset"):  # a DataTree node (ArviZ 1.x)
        posterior = posterior.to_dataset()
    post = posterior[names]
    ess = az.ess(post, method="bulk")
    mcse = az.mcse(post, method="mean")
    rhat = az.rhat(post)
    stats = {}
    for ours, theirs in zip(params, names, strict=True):
        values = post[theirs].to_numpy()
        stats[ours] = {"mean": float(values.mean()), "sd": float(values.std()),
                       "mcse": float(mcse[theirs]), "ess_bulk": float(ess[theirs]),
                       "r_hat": float(rhat[theirs])}
    return {"params": stats,
            "min_ess_bulk": min(s["ess_bulk"] for s in stats.values()),
            "max_r_hat": max(s["r_hat"] for s in stats.values())}


def _divergences(idata) -> int | None:
    stats = getattr(idata, "sample_stats", None)
    for name in ("diverging", "divergences"):
        if stats is not None and name in stats:
            return int(stats[name].to_numpy().sum())
    return None


# ---------------------------------------------------------------------------------------------
# Fits
# ---------------------------------------------------------------------------------------------


def fit_ours(p: dict) -> dict:
    import clvlib

    summary = data.cdnow_summary(p["dataset"])
    cls = clvlib.get_model(p["model"])
    start = time.perf_counter()
    model = cls(summary)
    method = p.get("method", "nuts")
    model.fit(method, draws=p["draws"], tune=p["tune"], chains=p["chains"], progressbar=False,
              random_seed=p.get("seed", 20240101))
    wall = time.perf_counter() - start
    if method == "map":
        return {"fit_seconds": wall, "method": "map", "estimate": model.point_estimate(),
                "customers": int(model.rows.n_original)}
    return {"fit_seconds": wall, "compile_seconds": model.timings.get("compile_seconds"),
            "sampler": model.settings.sampler, "customers": int(model.rows.n_original),
            "distinct_rows": len(model.rows), "divergences": _divergences(model.idata),
            **posterior_stats(model.idata.posterior, PARAMS[p["model"]])}


def fit_python_only(p: dict) -> dict:
    """A model fitted through its PyTensor graph, as a model written in Python only is: a
    Python-only model (GGompertz/NBD, BdW), or one of ours with its compiled kernel switched off
    (``graph``), by nutpie (the graph compiled with numba) or PyMC's sampler (PyTensor's C)."""
    import clvlib

    cls = clvlib.get_model(p["model"])
    if p.get("graph"):
        cls = type(cls.__name__, (cls,), {"kernel": None})
    if p["model"] == "bdw":
        table = clvlib.load_dataset("sbg_retention")
        start = time.perf_counter()
        model = cls.from_survival_table(table, "highend", cohort_size=1000, through=7)
    else:
        summary = data.cdnow_summary(p["dataset"], regularity="litt" in cls.columns)
        start = time.perf_counter()
        model = cls(summary)
    method = p.get("method", "nuts")
    model.fit(method, draws=p["draws"], tune=p["tune"], chains=p["chains"],
              sampler=p.get("sampler", "auto"), progressbar=False,
              random_seed=p.get("seed", 20240101))
    wall = time.perf_counter() - start
    out = {"fit_seconds": wall, "method": method, "customers": int(model.rows.n_original),
           "kernel": model.kernel is not None}
    if method == "map":
        return {**out, "estimate": model.point_estimate()}
    return {**out, "compile_seconds": model.timings.get("compile_seconds"),
            "sampler": model.settings.sampler, "divergences": _divergences(model.idata),
            **posterior_stats(model.idata.posterior, PARAMS[p["model"]])}


def fit_pymc_marketing(p: dict) -> dict:
    from pymc_marketing import clv as pmk

    summary = data.cdnow_summary(p["dataset"])
    frame = data.rfm_frame(summary, p["model"])
    cls = {"bg_nbd": pmk.BetaGeoModel, "mbg_nbd": pmk.ModifiedBetaGeoModel,
           "pareto_nbd": pmk.ParetoNBDModel,
           "gamma_gamma": pmk.GammaGammaModel}[p["model"]]
    # NUTS for every model (ParetoNBDModel.fit defaults to MAP; the others to NUTS), with the
    # peer's default sampler: PyMC 6 samples with nutpie when it is installed (it is here).
    options = {"method": "mcmc", "draws": p["draws"], "tune": p["tune"], "chains": p["chains"],
               "progressbar": False, "random_seed": p.get("seed", 20240101)}
    if p.get("sampler"):
        options["nuts_sampler"] = p["sampler"]
    start = time.perf_counter()
    model = cls()  # pymc-marketing 1.x: the data goes to fit()
    idata = model.fit(frame, **options)
    wall = time.perf_counter() - start
    sampler = idata["sample_stats"].attrs.get("inference_library", p.get("sampler"))
    return {"fit_seconds": wall, "compile_seconds": None,
            "sampler": sampler, "customers": len(frame),
            "divergences": _divergences(idata),
            **posterior_stats(idata.posterior, PARAMS[p["model"]], PEER_NAMES)}


def _min_ess_max_rhat(posterior, names) -> dict:
    """Smallest bulk ESS and largest R-hat over every element of the named variables."""
    import arviz as az

    post = posterior.to_dataset() if hasattr(posterior, "to_dataset") else posterior
    post = post[list(names)]
    ess, rhat = az.ess(post, method="bulk"), az.rhat(post)
    return {"min_ess_bulk": min(float(ess[n].min()) for n in names),
            "max_r_hat": max(float(rhat[n].max()) for n in names)}


def fit_heterogeneous_ours(p: dict) -> dict:
    """A covariate Pareto/NBD (three covariates on purchase and dropout) or a pooled BG/NBD
    (ten groups) by NUTS on a simulated base (:func:`benchmarks.data.heterogeneous_base`)."""
    import clvlib

    frame = data.heterogeneous_base(p["kind"], p["customers"])
    if p["kind"] == "covariates":
        columns = ["size", "channel_b", "promo"]
        options = {"purchase_covariates": columns, "dropout_covariates": columns}
    else:
        options = {"group": "group"}
    start = time.perf_counter()
    model = clvlib.get_model(p["model"])(frame, **options)
    model.fit(draws=p["draws"], tune=p["tune"], chains=p["chains"], progressbar=False,
              random_seed=p.get("seed", 20240101))
    wall = time.perf_counter() - start
    return {"fit_seconds": wall, "compile_seconds": model.timings.get("compile_seconds"),
            "sampler": model.settings.sampler, "customers": len(frame),
            "distinct_rows": len(model.rows), "divergences": _divergences(model.idata),
            **_min_ess_max_rhat(model.idata.posterior, model.variables)}


def fit_heterogeneous_pymc_marketing(p: dict) -> dict:
    """pymc-marketing 1.3's covariate model on the same base: ParetoNBDModel with the three
    covariates, or BetaGeoModel with the ten groups as nine 0/1 covariates (it has no pooling)."""
    import psutil
    from pymc_marketing import clv as pmk

    frame, columns = data.heterogeneous_peer_frame(
        data.heterogeneous_base(p["kind"], p["customers"]))
    cls = {"bg_nbd": pmk.BetaGeoModel, "pareto_nbd": pmk.ParetoNBDModel}[p["model"]]
    options = {"method": "mcmc", "draws": p["draws"], "tune": p["tune"], "chains": p["chains"],
               "progressbar": False, "random_seed": p.get("seed", 20240101)}
    # Stopped at its time limit, the peer's fit took at least the limit less this setup time.
    _write_partial({"setup_seconds": time.time() - psutil.Process().create_time()})
    start = time.perf_counter()
    model = cls(model_config={"purchase_covariate_cols": columns,
                              "dropout_covariate_cols": columns})
    idata = model.fit(frame, **options)
    wall = time.perf_counter() - start
    names = [v for v in idata.posterior.data_vars
             if "customer_id" not in idata.posterior[v].dims]
    return {"fit_seconds": wall, "compile_seconds": None, "customers": len(frame),
            "divergences": _divergences(idata), **_min_ess_max_rhat(idata.posterior, names)}


def fit_lifetimes(p: dict) -> dict:
    import lifetimes

    summary = data.cdnow_summary(p["dataset"])
    frame = data.rfm_frame(summary, p["model"])
    start = time.perf_counter()
    if p["model"] == "gamma_gamma":
        fitter = lifetimes.GammaGammaFitter()
        fitter.fit(frame["frequency"], frame["monetary_value"])
    else:
        fitter = {"bg_nbd": lifetimes.BetaGeoFitter,
                  "mbg_nbd": lifetimes.ModifiedBetaGeoFitter,
                  "pareto_nbd": lifetimes.ParetoNBDFitter}[p["model"]]()
        fitter.fit(frame["frequency"], frame["recency"], frame["T"])
    wall = time.perf_counter() - start
    mle = {ours: float(fitter.params_[PEER_NAMES.get(ours, ours)]) for ours in PARAMS[p["model"]]}
    return {"fit_seconds": wall, "customers": len(frame), "mle": mle}


# ---------------------------------------------------------------------------------------------
# A million customers
# ---------------------------------------------------------------------------------------------


def _fit_path(n: int, resolution, model: str) -> Path:
    tag = "days" if resolution is None else f"res{resolution:g}"
    return data.DATA / f"fit_{model}_{n}_{data.SIM_SEED}_{tag}.nc"


def simulated_fit(p: dict) -> dict:
    """BG/NBD NUTS on a simulated base; the fit is saved for the scoring case."""
    import clvlib

    summary, made = data.simulated_summary(p["customers"], p["resolution"])
    start = time.perf_counter()
    model = clvlib.BetaGeoModel(summary)
    model.fit(draws=p["draws"], tune=p["tune"], chains=p["chains"], progressbar=False)
    wall = time.perf_counter() - start
    model.save(_fit_path(p["customers"], p["resolution"], "bg_nbd"))
    return {"fit_seconds": wall, "compile_seconds": model.timings.get("compile_seconds"),
            "customers": int(model.rows.n_original), "distinct_rows": len(model.rows),
            "data": made, "truth": data.TRUE_BG_NBD, "divergences": _divergences(model.idata),
            **posterior_stats(model.idata.posterior, PARAMS["bg_nbd"])}


def scoring(p: dict) -> dict:
    """P(alive), expected purchases and CLV with ``draws`` posterior draws for every customer."""
    import psutil

    import clvlib

    summary, _ = data.simulated_summary(p["customers"], p["resolution"])
    purchases = clvlib.BetaGeoModel(summary)
    path = _fit_path(p["customers"], p["resolution"], "bg_nbd")
    notes = []
    if path.is_file():
        purchases.load_fit(path)
    else:
        notes.append("no saved NUTS fit of this base: fitted here first (not timed)")
        purchases.fit(progressbar=False)
    # Gamma-Gamma on a 50,000-customer subset: every repeat buyer has a distinct mean spend, so
    # a fit on all of them is a separate (slow) problem; the draws' source does not change the
    # scoring work measured here.
    subset = summary.customers.sample(n=min(50_000, len(summary.customers)), random_state=1)
    spend = clvlib.GammaGammaModel(summary.with_customers(subset))
    spend.fit(progressbar=False)
    baseline = psutil.Process().memory_info().rss / 2**20
    out = {"customers": len(summary.customers), "distinct_rows_xtT": len(purchases.rows),
           "draws": p["draws"], "baseline_rss_mb": baseline, "notes": notes, "steps": {}}
    steps = {
        "P(alive)": lambda: purchases.p_alive(n_draws=p["draws"]),
        f"expected purchases ({p['horizon']:g} weeks)":
            lambda: purchases.expected_purchases(p["horizon"], n_draws=p["draws"]),
        f"CLV ({p['horizon']:g} weeks, 10%)":
            lambda: clvlib.customer_lifetime_value(purchases, spend, horizon=p["horizon"],
                                                   n_draws=p["draws"]),
    }
    for name, step in steps.items():
        t0 = time.perf_counter()
        prediction = step()
        seconds = time.perf_counter() - t0
        out["steps"][name] = {
            "seconds": seconds,
            "rss_after_mb": psutil.Process().memory_info().rss / 2**20,
            "total_mean": prediction.total()["mean"],
        }
        _write_partial(out)  # what finished survives a time limit
    return out


# ---------------------------------------------------------------------------------------------
# 100 million transaction rows
# ---------------------------------------------------------------------------------------------


def parquet_generate(p: dict) -> dict:
    return data.write_parquet_log(Path(p["folder"]), p["rows"])


class _Recorder:
    """Wraps a DuckDB connection: notes when each query starts (its time runs to the next)."""

    def __init__(self, con, marks: list):
        self._con, self._marks = con, marks

    def execute(self, sql, *args, **kwargs):
        self._marks.append((" ".join(str(sql).split()), time.perf_counter()))
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _scans_log(sql: str) -> bool:
    """Whether a query reads the transaction rows (not DESCRIBE, not a view definition)."""
    upper = sql.upper()
    if upper.startswith(("CREATE VIEW", "SET ", "DESCRIBE")) or "(DESCRIBE" in upper:
        return False
    return any(f"FROM {v}" in upper for v in ("RAW_INPUT", "TYPED", "TRANSACTIONS", "DAYS"))


def duckdb_summary(p: dict) -> dict:
    """read_transactions + summarize over the Parquet files, each DuckDB query timed."""
    import duckdb

    import clvlib

    marks: list = []
    connect = duckdb.connect
    settings = p.get("duckdb_settings", {})

    def recording_connect(*args, **kwargs):
        con = connect(*args, **kwargs)
        for key, value in settings.items():
            con.execute(f"SET {key} = '{value}'")
        return _Recorder(con, marks)

    duckdb.connect = recording_connect
    source = str(Path(p["folder"]) / "*.parquet")
    t0 = time.perf_counter()
    log = clvlib.read_transactions(source)
    t1 = time.perf_counter()
    summary = clvlib.summarize(log)
    t2 = time.perf_counter()
    queries = []
    ends = [m[1] for m in marks[1:]] + [t2]
    for (sql, begin), end in zip(marks, ends, strict=True):
        queries.append({"sql": sql[:110], "seconds": end - begin, "scans_log": _scans_log(sql),
                        "phase": "read_transactions" if begin < t1 else "summarize"})
    return {"read_seconds": t1 - t0, "summarize_seconds": t2 - t1, "total_seconds": t2 - t0,
            "customers": len(summary.customers), "settings": settings, "queries": queries,
            "log_scans": sum(q["scans_log"] for q in queries)}


CASES = {
    "fit_ours": fit_ours,
    "fit_pymc_marketing": fit_pymc_marketing,
    "fit_python_only": fit_python_only,
    "fit_lifetimes": fit_lifetimes,
    "fit_heterogeneous_ours": fit_heterogeneous_ours,
    "fit_heterogeneous_pymc_marketing": fit_heterogeneous_pymc_marketing,
    "simulated_fit": simulated_fit,
    "scoring": scoring,
    "parquet_generate": parquet_generate,
    "duckdb_summary": duckdb_summary,
}

_OUT: Path | None = None


def _write_partial(result: dict) -> None:
    if _OUT is not None:
        _OUT.write_text(json.dumps({**result, "partial": True}, default=float))


def main(argv: list[str]) -> int:
    global _OUT
    case, params, out = argv[0], json.loads(argv[1]), Path(argv[2])
    _OUT = out
    try:
        result = CASES[case](params)
        status = 0
    except Exception as err:  # noqa: BLE001 - reported in the results, not raised
        result = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
        status = 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["self_maxrss_mb"] = usage.ru_maxrss / 1024
    result["children_maxrss_mb"] = children.ru_maxrss / 1024
    result["cpu_seconds"] = (usage.ru_utime + usage.ru_stime + children.ru_utime
                             + children.ru_stime)
    result["pid"] = os.getpid()
    out.write_text(json.dumps(result, default=float))
    return status


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv[1:]))
