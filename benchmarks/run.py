"""The benchmark command: run every case in a fresh subprocess, write benchmarks/RESULTS.md.

Usage::

    python -m benchmarks.run                 # the full run (`make bench`), about 3 hours 10 min
                                             # here (9 minutes of it the Python-only models)
    python -m benchmarks.run --quick         # a few minutes (`make bench BENCH=quick`)
    python -m benchmarks.run --only fit:ours --only report

The full run writes ``benchmarks/RESULTS.md``; a quick or partial run writes
``benchmarks/output/RESULTS-quick.md`` (so it never replaces the recorded full results) unless
``--results`` says otherwise. The raw measurements go beside it as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import psutil

from benchmarks import data
from benchmarks.probe import run_measured

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
FULL_RESULTS = BENCH_DIR / "RESULTS.md"
QUICK_RESULTS = data.OUTPUT / "RESULTS-quick.md"
VERSIONS = ("clvlib", "pymc", "pytensor", "nutpie", "numba", "numpy", "scipy", "arviz",
            "pymc-marketing", "lifetimes", "duckdb", "pyarrow", "pandas", "pyspark")
SETTINGS = {"draws": 1000, "tune": 1000, "chains": 4}
MODEL_TITLES = {"bg_nbd": "BG/NBD", "mbg_nbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD",
                "gamma_gamma": "Gamma-Gamma"}
TOOL_TITLES = {"ours": "clvlib",
               "pymc_marketing": "pymc-marketing 1.3.0 (PyMC 6 defaults: nutpie)",
               "lifetimes": "lifetimes 0.11.3 (MLE)"}


@dataclass
class Case:
    """One subprocess: a case function of :mod:`benchmarks.cases` (or a command) and its params.

    ``cache`` names the PyTensor/numba compile cache it uses: the first case of a name finds it
    empty (a cold run), later ones find what earlier ones left (warm runs).
    """

    name: str
    kind: str
    params: dict = field(default_factory=dict)
    timeout: float = 900
    cache: str | None = None
    run: str = "cold"
    result: dict = field(default_factory=dict)
    #: A peer case paced by one of ours: its time limit is ``PACE`` times that case's fit wall
    #: plus ``PACE_ALLOWANCE`` for the peer's imports (the peer's own ``timeout`` is the
    #: fallback when ours gave no time). Enough to show the 10x target, and no longer.
    paced_by: str | None = None


#: A paced peer's time limit: this many times our fit wall, plus the allowance below.
PACE = 10.2
PACE_ALLOWANCE = 60.0


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------


def plan(quick: bool) -> list[Case]:
    """The cases of a quick or full run, in the order they run."""
    cases: list[Case] = []

    def fits(model: str, dataset: str, peers: list[tuple[str, str]], ours_warm: bool = True,
             ours_timeout: float = 900, draws: dict | None = None):
        settings = {**SETTINGS, **(draws or {})}
        base = {"model": model, "dataset": dataset, **settings}
        key = f"{model}:{dataset}"
        cases.append(Case(f"fit:ours:{key}:cold", "fit_ours", base, ours_timeout,
                          cache=f"ours-{key}", run="cold"))
        if ours_warm:
            cases.append(Case(f"fit:ours:{key}:warm", "fit_ours", base, ours_timeout,
                              cache=f"ours-{key}", run="warm"))
        for tool, run in peers:
            cases.append(Case(f"fit:{tool}:{key}:{run}", "fit_pymc_marketing", base,
                              timeout=1500, cache=f"{tool}-{key}", run=run))
        cases.append(Case(f"fit:lifetimes:{key}", "fit_lifetimes", base, 600, run="-"))

    def map_fit(model: str, dataset: str):  # on the cache the NUTS fits of the model left
        cases.append(Case(f"fit:ours:{model}:{dataset}:map", "fit_ours",
                          {"model": model, "dataset": dataset, "method": "map", **SETTINGS},
                          cache=f"ours-{model}:{dataset}", run="warm"))

    if quick:
        fits("bg_nbd", "sample", [("pymc_marketing", "cold"), ("pymc_marketing", "warm")])
        map_fit("bg_nbd", "sample")
        fits("gamma_gamma", "sample", [])
        fits("bg_nbd", "master", [], ours_warm=False)
        fits("pareto_nbd", "sample", [], ours_warm=False)
        n_sim, n_score, n_rows = 100_000, 100_000, 10_000_000
        resolutions = [1.0]
    else:
        both = [("pymc_marketing", "cold"), ("pymc_marketing", "warm")]
        fits("bg_nbd", "sample", both)
        map_fit("bg_nbd", "sample")
        fits("bg_nbd", "master", both)
        fits("mbg_nbd", "sample", both)
        fits("mbg_nbd", "master", both)
        fits("gamma_gamma", "sample", both)
        fits("gamma_gamma", "master", both)
        fits("pareto_nbd", "sample", [("pymc_marketing", "cold")], ours_timeout=1500)
        fits("pareto_nbd", "master", [], ours_timeout=1500)
        n_sim, n_score, n_rows = 1_000_000, 1_000_000, 100_000_000
        resolutions = [1.0, None]
    # Models without a hand-written kernel (issue 24): what a model written in Python only
    # costs, first fit in a new process (cold compile caches) and a refit (warm), by nutpie on
    # the numba-compiled graph and by PyMC's sampler on PyTensor's C; BG/NBD through its graph
    # against its own kernel and pymc-marketing's BG/NBD (above) on the same data.
    python_only = [("bg_nbd", {"graph": True}), ("ggompertz_nbd", {}), ("bdw", {}),
                   ("mbg_cnbd_2", {}), ("pareto_nbd_abe", {})]
    for model, extra in python_only:
        samplers = ("nutpie",) if quick else ("nutpie", "pymc")
        for sampler in samplers:
            for run in ("cold", "warm"):
                params = {"model": model, "dataset": "sample", "sampler": sampler, **extra,
                          **SETTINGS}
                cases.append(Case(f"python:{model}:{sampler}:{run}", "fit_python_only",
                                  params, 1800, cache=f"python-{model}-{sampler}", run=run))
        params = {"model": model, "dataset": "sample", "method": "map", **extra, **SETTINGS}
        cases.append(Case(f"python:{model}:map:warm", "fit_python_only", params, 900,
                          cache=f"python-{model}-nutpie", run="warm"))
    # Heterogeneity explained (issue 11): a covariate Pareto/NBD and a pooled BG/NBD on
    # 100,000 simulated customers, against pymc-marketing's covariate models in the same run
    # (its NUTS on this many customers may meet the time limit: the ratio is then a bound).
    n_het = 10_000 if quick else 100_000
    # The peer runs until it finishes or has taken 10x clvlib's time (PACE): on the covariate
    # Pareto/NBD that is long (it did not finish 2,000 customers in 400 s), but shorter limits
    # cannot show the target.
    for kind, model in (("groups", "bg_nbd"), ("covariates", "pareto_nbd")):
        het = {"kind": kind, "model": model, "customers": n_het, **SETTINGS}
        key = f"{model}:{kind}{n_het}"
        ours = f"fit:ours:{key}:cold"
        cases.append(Case(ours, "fit_heterogeneous_ours", het, 1200, cache=f"ours-{key}",
                          run="cold"))
        if not quick:
            cases.append(Case(f"fit:pymc_marketing:{key}:cold",
                              "fit_heterogeneous_pymc_marketing", het, 7200,
                              cache=f"pymc_marketing-{key}", run="cold", paced_by=ours))
    for res in resolutions:
        tag = "days" if res is None else f"{res:g}wk"
        cases.append(Case(f"sim:fit:{n_sim}:{tag}", "simulated_fit",
                          {"customers": n_sim, "resolution": res, **SETTINGS},
                          timeout=1800, cache="ours-sim", run="cold" if res == 1.0 else "warm"))
    cases.append(Case(f"sim:score:{n_score}", "scoring",
                      {"customers": n_score, "resolution": 1.0, "draws": 1000, "horizon": 52},
                      timeout=1800, cache="ours-sim", run="warm"))
    cases.append(Case(f"parquet:generate:{n_rows}", "parquet_generate", {"rows": n_rows},
                      timeout=1200, run="-"))
    cases.append(Case(f"parquet:summary:{n_rows}", "duckdb_summary",
                      {"rows": n_rows, "duckdb_settings": {"memory_limit": "4GB", "threads": 2}},
                      timeout=1200, run="-"))
    if not quick:
        cases.append(Case("report:cdnow:cold", "report", {}, timeout=1800,
                          cache="report", run="cold"))
        cases.append(Case("report:cdnow:warm", "report", {}, timeout=1800,
                          cache="report", run="warm"))
    return cases


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def case_env(case: Case, scratch: Path) -> dict:
    """The environment of a case's subprocess: its own compile caches, the project on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if case.cache:
        cache = scratch / "caches" / case.cache
        flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",")
                 if f and not f.startswith(("compiledir=", "base_compiledir="))]
        env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={cache / 'pytensor'}"])
        env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    return env


def paced_limit(case: Case, done: dict[str, Case]) -> float:
    """A case's time limit: its own, or for a paced peer ``PACE`` times our fit wall plus
    ``PACE_ALLOWANCE`` (its own limit when our case gave no fit time)."""
    pacer = done.get(case.paced_by) if case.paced_by else None
    ours = pacer.result.get("fit_seconds") if pacer else None
    return PACE * ours + PACE_ALLOWANCE if ours else case.timeout


def run_case(case: Case, scratch: Path, timeout_scale: float, limit: float | None = None
             ) -> None:
    logs = scratch / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / (case.name.replace(":", "_") + ".log")
    env = case_env(case, scratch)
    timeout = (case.timeout if limit is None else limit) * timeout_scale
    if case.kind == "report":
        measured, extra = run_report(case, scratch, env, timeout, log_path)
        case.result = {**extra}
    else:
        if case.kind in ("parquet_generate", "duckdb_summary"):
            case.params["folder"] = str(scratch / "parquet")
        if "duckdb_settings" in case.params:  # spill to the scratch folder, not ./.tmp
            case.params["duckdb_settings"]["temp_directory"] = str(scratch / "duckdb_spill")
        out = scratch / (case.name.replace(":", "_") + ".json")
        command = [sys.executable, "-m", "benchmarks.cases", case.kind,
                   json.dumps(case.params), str(out)]
        measured = run_measured(command, env=env, cwd=str(ROOT), timeout=timeout,
                                log_path=str(log_path))
        case.result = json.loads(out.read_text()) if out.is_file() else {}
        if not case.result and not measured.timed_out:
            case.result = {"error": f"no result (exit {measured.returncode})"}
    case.result.update({
        "process_seconds": measured.wall_seconds, "peak_rss_mb": measured.peak_rss_mb,
        "timed_out": measured.timed_out, "timeout_seconds": timeout,
        "returncode": measured.returncode,
    })
    if measured.timed_out:
        case.result["error"] = f"stopped at the time limit of {timeout:.0f} s"
    if case.result.get("error"):
        case.result["output_tail"] = measured.output_tail


def run_report(case: Case, scratch: Path, env: dict, timeout: float, log_path: Path):
    """`clvlib report` on the default parameters, into a scratch folder."""
    import yaml

    from clvlib.report import load_params, pipeline_steps

    _, values = load_params(ROOT / "clvlib" / "params" / "cdnow.yaml")
    declared = set()
    for step in pipeline_steps():
        declared |= set(step.defaults())
    extra = {"fit_cache": bool(values.get("fit_cache")) and "fit_cache" in declared,
             "candidate_models": list(values.get("candidate_models") or [])}
    # So that the cold run finds no fits of earlier runs (and the project's own fit cache is not
    # touched), the report caches its fits in the case's scratch folder (CLVLIB_FIT_CACHE).
    env = {**env, "CLVLIB_FIT_CACHE": str(scratch / "caches" / case.cache / "fits")}
    params = scratch / "report_params.yaml"
    params.write_text(yaml.safe_dump(values))
    out = scratch / "report"
    clvlib_cli = Path(sys.executable).with_name("clvlib")
    command = [str(clvlib_cli), "report", "--params", str(params), "--out", str(out)]
    measured = run_measured(command, env=env, cwd=str(ROOT), timeout=timeout,
                            log_path=str(log_path))
    manifest = out / "manifest.json"
    if manifest.is_file():
        extra["timings"] = json.loads(manifest.read_text()).get("timings")
    if measured.returncode not in (0, None):
        extra["error"] = f"clvlib report exited {measured.returncode}"
    return measured, extra


# ---------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------


def machine() -> dict:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "ram_gib": psutil.virtual_memory().total / 2**30,
            "cpu": model, "platform": platform.platform(),
            "python": platform.python_version()}


def versions() -> dict:
    out = {}
    for name in VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return commit + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a few minutes: smaller data, peers on the CDNOW sample only")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run only the cases whose name contains TEXT (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--results", type=Path, default=None,
                        help="where to write the Markdown results (default: RESULTS.md for a "
                             "full run, output/RESULTS-quick.md otherwise)")
    parser.add_argument("--timeout-scale", type=float, default=1.0,
                        help="multiply every case's time limit (default 1)")
    parser.add_argument("--note", default="",
                        help="a note for the results header (e.g. what else ran meanwhile)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch folder (logs, compile caches, Parquet files)")
    args = parser.parse_args(argv)

    cases = plan(args.quick)
    if args.only:
        cases = [c for c in cases if any(text in c.name for text in args.only)]
    if args.list:
        for c in cases:
            limit = (f"{PACE:g} x {c.paced_by}'s fit + {PACE_ALLOWANCE:.0f} s" if c.paced_by
                     else f"{c.timeout:.0f} s")
            print(f"{c.name:45s} {c.kind:20s} limit {limit}")
        return 0
    partial = bool(args.only)
    mode = "quick" if args.quick else "full"
    results_path = args.results or (FULL_RESULTS if mode == "full" and not partial
                                    else QUICK_RESULTS)
    data.OUTPUT.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="clvlib-bench-"))
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    command = "make bench" + (" BENCH=quick" if args.quick else "")
    if argv or len(sys.argv) > 1:
        command = "python -m benchmarks.run " + " ".join(argv if argv is not None
                                                          else sys.argv[1:])
    print(f"clvlib benchmarks ({mode}): {len(cases)} cases; scratch folder {scratch}")
    try:
        done: dict[str, Case] = {}
        for i, case in enumerate(cases, 1):
            limit = paced_limit(case, done)
            print(f"[{i}/{len(cases)}] {case.name} (limit {limit * args.timeout_scale:.0f} s)"
                  " ...", end=" ", flush=True)
            try:
                run_case(case, scratch, args.timeout_scale, limit)
            except Exception as err:  # noqa: BLE001 - one broken case must not stop the run
                case.result = {"error": f"the runner failed: {type(err).__name__}: {err}",
                               "process_seconds": 0.0, "peak_rss_mb": 0.0}
            r = case.result
            headline = r.get("fit_seconds") or r.get("total_seconds") or r.get(
                "generate_seconds") or r["process_seconds"]
            status = f"ERROR: {r['error']}" if r.get("error") else "ok"
            print(f"{headline:.1f} s (process {r['process_seconds']:.1f} s, peak "
                  f"{r['peak_rss_mb']:,.0f} MB) {status}", flush=True)
            done[case.name] = case
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    from benchmarks.results import render, with_recorded

    meta = {
        "mode": mode, "partial": partial, "command": command, "note": args.note,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_before": load_before, "load_after": os.getloadavg(),
        "machine": machine(), "versions": versions(), "commit": git_commit(),
    }
    raw = {"meta": meta, "cases": [{"name": c.name, "kind": c.kind, "run": c.run,
                                    "params": c.params, "result": c.result} for c in cases]}
    json_path = results_path.resolve().with_suffix(".json")
    if json_path.parent == BENCH_DIR:
        json_path = data.OUTPUT / json_path.name
    json_path.write_text(json.dumps(raw, indent=1, default=float))
    previous = results_path.read_text() if results_path.exists() else ""
    results_path.write_text(with_recorded(render(raw), previous))
    print(f"results: {results_path} (raw measurements: {json_path})")
    return 1 if any(_failed(c) for c in cases) else 0


def _failed(case: Case) -> bool:
    """A case that gave no measurement. A peer stopped at its time limit is a measurement (it
    took at least that long; the results mark its ratios as lower bounds), not a failure."""
    peer = case.kind in ("fit_pymc_marketing", "fit_heterogeneous_pymc_marketing",
                         "fit_lifetimes")
    return bool(case.result.get("error")) and not (peer and case.result.get("timed_out"))


if __name__ == "__main__":
    sys.exit(main())
