"""benchmarks/RESULTS.md from the raw measurements of a run (see :mod:`benchmarks.run`)."""

from __future__ import annotations

import math
import re

TARGET_FIT_RATIO = 10.0
TARGET_SECONDS = 60.0
TARGET_SCORING_MB = 4096.0
TARGET_REPORT_SECONDS = 120.0
TARGET_REFIT_SECONDS = 2.0
TARGET_MAP_SECONDS = 1.0
TARGET_PARETO_MASTER_SECONDS = 30.0

MODEL_TITLES = {"bg_nbd": "BG/NBD", "mbg_nbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD",
                "gamma_gamma": "Gamma-Gamma"}
TOOL_TITLES = {"ours": "clvlib", "pymc_marketing": "pymc-marketing",
               "lifetimes": "lifetimes (MLE)"}
DATA_TITLES = {"sample": "CDNOW sample (2,357)", "master": "CDNOW master (23,570)",
               "covariates10000": "simulated, 3 covariates (10,000)",
               "covariates100000": "simulated, 3 covariates (100,000)",
               "groups10000": "simulated, 10 groups pooled (10,000)",
               "groups100000": "simulated, 10 groups pooled (100,000)"}


def _f(value, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}{unit}"


def _g(value, sig: int = 4) -> str:
    return "–" if value is None else f"{value:.{sig}g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _fit_cases(raw: dict) -> dict:
    """{(model, dataset): {(tool, run): result}} of the fit cases."""
    out: dict = {}
    for case in raw["cases"]:
        if not case["name"].startswith("fit:"):
            continue
        parts = case["name"].split(":")
        tool, model, dataset = parts[1], parts[2], parts[3]
        run = parts[4] if len(parts) > 4 else "-"
        out.setdefault((model, dataset), {})[(tool, run)] = case["result"]
    return out


def _status(result: dict) -> str | None:
    if result.get("timed_out"):
        return f"stopped at {result['timeout_seconds']:.0f} s"
    if result.get("error"):
        return "error: " + result["error"].splitlines()[0][:80]
    return None


def render(raw: dict) -> str:
    meta = raw["meta"]
    m = meta["machine"]
    lines = [
        "# clvlib benchmarks",
        "",
        f"Produced by `{meta['command']}` ({meta['mode']} mode"
        + (", a subset of the cases" if meta.get("partial") else "") + "), "
        f"{meta['started']} to {meta['finished']} (UTC), commit {meta['commit']}.",
        "",
        f"Machine: {m['cores']} cores, {m['ram_gib']:.0f} GiB RAM, {m['cpu']}; {m['platform']}; "
        f"Python {m['python']}. Load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in meta["load_before"]) + "; after: "
        + ", ".join(f"{x:.2f}" for x in meta["load_after"])
        + " (above the core count means other work shared the machine and the times are high).",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v) + ".",
        "",
        "Every figure is from a fresh Python subprocess. **cold** = an empty PyTensor/numba "
        "compile cache (a first run), **warm** = a second run on the cache the cold run left. "
        "clvlib's log-density kernels are C, compiled when clvlib is installed (`pip install`, "
        "as `make` runs it), so neither run compiles them; the numba code clvlib has elsewhere "
        "(predictions, simulation) compiles in a cold run as the peer's code does. "
        "Fit wall time = model construction + `fit()` (compilation included), NUTS 4 chains × "
        "1000 draws + 1000 tuning steps, default priors and sampler of each tool (clvlib: "
        "nutpie; pymc-marketing 1.3 on PyMC 6: nutpie too, PyMC 6's default when it is "
        "installed). Peak RSS = largest resident memory of the subprocess and its children "
        "(sampler workers), sampled every 50 ms. ESS/s = smallest bulk ESS over the "
        "parameters / fit wall time.",
        "",
    ]
    if meta.get("note"):
        lines += [f"**Note:** {meta['note']}", ""]
    if meta["mode"] == "quick":
        lines += [
            "**Quick mode**: pymc-marketing only for BG/NBD on the CDNOW sample (its Pareto/NBD "
            "takes ~500 s and is left out), fewer warm runs, 100,000 simulated customers "
            "instead of 1,000,000 and 10 million Parquet rows instead of 100 million, no report "
            "run. `make bench` runs the full set.",
            "",
        ]
    lines += _targets_section(raw)
    lines += _fits_section(raw)
    lines += _posterior_section(raw)
    lines += _python_only_section(raw)
    lines += _simulated_section(raw)
    lines += _scoring_section(raw)
    lines += _parquet_section(raw)
    lines += _report_section(raw)
    return "\n".join(lines).rstrip() + "\n"


RECORDED = "<!-- recorded by "


def with_recorded(rendered: str, previous: str) -> str:
    """``rendered`` followed by the sections of ``previous`` (the results file it replaces)
    that a one-off benchmark recorded by hand (``benchmarks/time_varying.py``,
    ``pareto_ggg.py``, ``map_compile.py``, ``nuts_compile.py``, ``laplace.py``; marked by a
    line starting with :data:`RECORDED`), so that a run keeps them."""
    kept = [part for part in re.split(r"(?m)^(?=## )", previous)[1:] if RECORDED in part]
    return rendered + "".join("\n" + part.rstrip() + "\n" for part in kept)


def _case(raw: dict, name: str) -> dict:
    return next((c["result"] for c in raw["cases"] if c["name"] == name), {})


def _targets_section(raw: dict) -> list[str]:
    """One row per speed target of issue 14 (and issue 11's heterogeneous fits): the figure
    measured in this run and whether it meets the target."""
    rows = []

    def seconds(name: str, key: str = "fit_seconds"):
        r = _case(raw, name)
        return None if _status(r) else r.get(key)

    def add(target: str, value, limit: float, detail: str = ""):
        verdict = "–" if value is None else ("met" if value < limit else "short")
        rows.append([target, _f(value, 2), verdict, detail])

    fits = _fit_cases(raw)
    for (model, dataset), by_tool in sorted(fits.items()):
        for run in ("cold", "warm"):
            ours, theirs = by_tool.get(("ours", run)), by_tool.get(("pymc_marketing", run))
            if run == "warm" and theirs is None:  # the peer ran cold only: compare with that
                theirs = by_tool.get(("pymc_marketing", "cold"))
            row = _ratio_row(ours, theirs)
            if row is None:
                continue
            speed = row[2].strip("*")
            rows.append([f"{MODEL_TITLES[model]}, {DATA_TITLES.get(dataset, dataset)}, {run}: "
                         "≥ 10× pymc-marketing", speed, row[4],
                         f"clvlib {row[1]} s, pymc-marketing {row[0]} s"])
    add("Refit in a new process, warm caches (BG/NBD, CDNOW sample) < 2 s",
        seconds("fit:ours:bg_nbd:sample:warm"), TARGET_REFIT_SECONDS, "fit wall, s")
    add("MAP, warm caches (BG/NBD, CDNOW sample) < 1 s", seconds("fit:ours:bg_nbd:sample:map"),
        TARGET_MAP_SECONDS, "fit wall, s")
    for run in ("cold", "warm"):
        add(f"Pareto/NBD NUTS on CDNOW master, {run} < 30 s",
            seconds(f"fit:ours:pareto_nbd:master:{run}"), TARGET_PARETO_MASTER_SECONDS,
            "fit wall, s")
    add("1,000,000 customers at day resolution, BG/NBD NUTS < 60 s",
        seconds("sim:fit:1000000:days"), TARGET_SECONDS, "fit wall, s")
    parquet = [c for c in raw["cases"] if c["name"].startswith("parquet:summary")]
    if parquet:
        add("100 million Parquet rows to customer summaries < 60 s",
            None if _status(parquet[0]["result"]) else parquet[0]["result"].get("total_seconds"),
            TARGET_SECONDS, "read + summarize, s")
    report = _case(raw, "report:cdnow:cold")
    if report:
        timings = report.get("timings") or {}
        candidates = report.get("candidate_models") or []
        named = ", ".join(MODEL_TITLES.get(m, m) for m in candidates)
        condition = ("" if "pareto_nbd" in candidates else
                     " (Pareto/NBD is not among them, so the target's condition is not met)")
        add("make report, first run (empty compile and fit caches) < 120 s, with Pareto/NBD "
            "among the candidates", None if _status(report) else timings.get("total"),
            TARGET_REPORT_SECONDS, f"report steps, s; candidates {named}{condition}")
    if not rows:
        return []
    return ["## Targets", "",
            *_table(["target", "measured", "verdict", "what"], rows)]


def _fits_section(raw: dict) -> list[str]:
    fits = _fit_cases(raw)
    if not fits:
        return []
    rows, ratio_rows = [], []
    for (model, dataset), by_tool in fits.items():
        for (tool, run), r in sorted(by_tool.items(), key=lambda kv: _tool_order(kv[0])):
            status = _status(r)
            wall = r.get("fit_seconds")
            ess = r.get("min_ess_bulk")
            compile_s = r.get("compile_seconds")
            share = f"{_f(compile_s)} ({compile_s / wall:.0%})" if compile_s and wall else "–"
            rows.append([
                MODEL_TITLES[model], DATA_TITLES[dataset], TOOL_TITLES[tool], run,
                status or _f(wall), share, _f(r.get("process_seconds")),
                _f(r.get("peak_rss_mb"), 0), _f(ess, 0),
                _f(ess / wall if ess and wall else None), _f(r.get("max_r_hat"), 3),
                _f(r.get("divergences"), 0) if r.get("divergences") is not None else "–",
            ])
        pairs = (("cold", ("ours", "cold"), ("pymc_marketing", "cold")),
                 ("warm", ("ours", "warm"), ("pymc_marketing", "warm")))
        for run, ours_key, peer_key in pairs:
            row = _ratio_row(by_tool.get(ours_key), by_tool.get(peer_key))
            if row:
                ratio_rows.append([MODEL_TITLES[model], DATA_TITLES[dataset], run, *row])
    lines = ["## Fits against the peers", ""]
    lines += _table(["model", "data", "tool", "run", "fit wall (s)", "of which compile (s)",
                     "process (s)", "peak RSS (MB)", "min bulk ESS", "ESS/s", "max R-hat",
                     "divergences"], rows)
    if ratio_rows:
        lines += ["### Ratios to pymc-marketing (same data, same run; target ≥ 10× faster)", ""]
        lines += _table(["model", "data", "runs compared", "pymc-marketing (s)", "clvlib (s)",
                         "speed-up", "ESS/s ratio", "10× target", "clvlib without compile (s)",
                         "pymc-marketing / that"], ratio_rows)
        lines += ["The last two columns show where clvlib's time goes. `compile` is "
                  "`model.timings['compile_seconds']`: packing the model into the buffer its "
                  "log-density kernel reads and loading the kernels compiled at installation "
                  "(clvlib/models/_kernels.c), or compiling the PyMC graph with numba for a "
                  "model the kernels do not cover; each model's kernel serves every prior and "
                  "data set. pymc-marketing's own compile time is not separated (PyMC does not "
                  "report it).", ""]
    return lines


def _ratio_row(ours: dict | None, theirs: dict | None) -> list[str] | None:
    """Peer time, our time, speed-up, ESS/s ratio, verdict, our sampling time and its ratio.

    A peer stopped at its time limit fitted for at least that long less its setup (imports and
    data, timed by the case before its fit starts): the ratios are then lower bounds (marked ≥),
    and the ESS/s ratio is unknown.
    """
    if not ours or not ours.get("fit_seconds") or not theirs:
        return None
    mine = ours["fit_seconds"]
    sampling = mine - (ours.get("compile_seconds") or 0.0)
    if theirs.get("timed_out"):  # its fit ran for the limit less the setup before it
        peer = theirs["timeout_seconds"] - theirs.get("setup_seconds", 0.0)
        bound, ess_ratio = "≥ ", "–"
    elif theirs.get("fit_seconds"):
        peer, bound = theirs["fit_seconds"], ""
        ess_ratio = f"{(ours['min_ess_bulk'] / mine) / (theirs['min_ess_bulk'] / peer):.1f}×"
    else:
        return None
    speed = peer / mine
    return [
        f"{bound}{_f(peer)}", _f(mine), f"**{bound}{speed:.1f}×**", ess_ratio,
        "met" if speed >= 10 else "short", _f(sampling),
        f"{bound}{peer / sampling:.0f}×" if sampling > 0 else "–",
    ]


def _tool_order(key):
    tool, run = key
    order = ["ours", "pymc_marketing", "lifetimes"]
    return (order.index(tool), run != "cold")


def _posterior_section(raw: dict) -> list[str]:
    fits = _fit_cases(raw)
    rows = []
    for (model, dataset), by_tool in fits.items():
        ours = next((by_tool[k] for k in (("ours", "warm"), ("ours", "cold"))
                     if by_tool.get(k, {}).get("params")), None)
        peer = next((by_tool[k] for k in (("pymc_marketing", "cold"), ("pymc_marketing", "warm"))
                     if by_tool.get(k, {}).get("params")), None)
        mle = by_tool.get(("lifetimes", "-"), {}).get("mle", {})
        if not ours:
            continue
        for name, o in ours["params"].items():
            row = [MODEL_TITLES[model], DATA_TITLES[dataset], name,
                   f"{o['mean']:.4g} ± {o['mcse']:.2g}", _g(o["sd"], 3)]
            if peer:
                t = peer["params"][name]
                z = (o["mean"] - t["mean"]) / math.hypot(o["mcse"], t["mcse"])
                row += [f"{t['mean']:.4g} ± {t['mcse']:.2g}", f"{z:+.1f}",
                        f"{(o['mean'] - t['mean']) / o['sd']:+.2f}"]
            else:
                row += ["–", "–", "–"]
            row.append(_g(mle.get(name)))
            rows.append(row)
    if not rows:
        return []
    return [
        "## Posterior means side by side", "",
        "Mean ± Monte Carlo standard error of the mean. The priors differ (clvlib: LogNormal on "
        "every parameter; pymc-marketing: Weibull on r and alpha and a Beta-type dropout prior "
        "for BG/NBD, Weibull on all four for Pareto/NBD, HalfFlat for Gamma-Gamma), so on the "
        "2,357-customer sample a difference of a few MCSE is prior, not Monte Carlo error; the "
        "last difference column puts it in posterior standard deviations.", "",
        *_table(["model", "data", "parameter", "clvlib", "clvlib sd", "pymc-marketing",
                 "difference / MCSE", "difference / sd", "lifetimes MLE"], rows),
    ]


PYTHON_ONLY_TITLES = {"bg_nbd": "BG/NBD through its PyTensor graph (kernel off)",
                      "ggompertz_nbd": "GGompertz/NBD (Python only)",
                      "bdw": "BdW, high-end cohort (Python only)",
                      "mbg_cnbd_2": "MBG/CNBD-2 (Python only)",
                      "pareto_nbd_abe": "Pareto/NBD (Abe) (Python only)"}


def _python_only_section(raw: dict) -> list[str]:
    """Models fitted without a hand-written kernel: first fit and refit, both samplers."""
    found = [c for c in raw["cases"] if c["name"].startswith("python:")]
    if not found:
        return []
    kernel = {run: _case(raw, f"fit:ours:bg_nbd:sample:{run}") for run in ("cold", "warm")}
    peer = {run: _case(raw, f"fit:pymc_marketing:bg_nbd:sample:{run}")
            for run in ("cold", "warm")}
    rows = []
    for case in found:
        _, model, how, run = case["name"].split(":")
        r = case["result"]
        wall, compile_s = r.get("fit_seconds"), r.get("compile_seconds")
        ess = r.get("min_ess_bulk")
        versus = []
        for reference in (kernel, peer):
            ref = reference.get(run, {}).get("fit_seconds") if model == "bg_nbd" else None
            versus.append(f"{wall / ref:.1f}×" if wall and ref and how != "map" else "–")
        rows.append([PYTHON_ONLY_TITLES[model], "MAP" if how == "map" else f"NUTS, {how}", run,
                     _status(r) or _f(wall), _f(compile_s), _f(ess, 0),
                     _f(ess / wall if ess and wall else None), _f(r.get("max_r_hat"), 3),
                     *versus])
    lines = ["## Models written in Python only (no compiled kernel)", ""]
    lines += _table(["model", "fit", "run", "fit wall (s)", "of which compile (s)",
                     "min bulk ESS", "ESS/s", "max R-hat", "÷ our kernel's time",
                     "÷ pymc-marketing's time"], rows)
    lines += ["A model written in Python only is fitted through its PyTensor graph with "
              "PyTensor's automatic gradient. nutpie compiles the graph with numba: a first fit "
              "on the machine compiles it all (cold); a refit in a new process reuses numba's "
              "and PyTensor's on-disk caches and compiles in about half the time (warm). "
              "PyMC's own sampler runs PyTensor's C (cached per machine too) and samples in "
              "Python: as fast for a small graph, several times slower for a heavy one "
              "(GGompertz/NBD's quadrature), so clvlib samples a model without a kernel with "
              "nutpie (`sampler=\"auto\"`). These MAP rows were fitted by PyMC's find_MAP "
              "(numba); clvlib now runs MAP on such a model without compiling (its own "
              "section below). The last two columns put BG/NBD through its graph "
              "beside its compiled kernel and beside pymc-marketing's BG/NBD (the fits above, "
              "same data and run; below 1× is faster than the peer); CDNOW sample, 4 × 1000 "
              "draws.", ""]
    return lines


def _cases(raw: dict, prefix: str) -> list[dict]:
    return [c for c in raw["cases"] if c["name"].startswith(prefix)]


def _simulated_section(raw: dict) -> list[str]:
    rows = []
    for case in _cases(raw, "sim:fit:"):
        r, p = case["result"], case["params"]
        made = r.get("data", {})
        res = "day level (exact)" if p["resolution"] is None else f"{p['resolution']:g} week"
        truth = r.get("truth", {})
        recovered = ", ".join(
            f"{k} {v['mean']:.3g} ({truth[k]:.3g})" for k, v in r.get("params", {}).items())
        wall = r.get("fit_seconds")
        rows.append([
            f"{p['customers']:,}", res, _f(r.get("distinct_rows"), 0),
            _status(r) or _f(wall), _f(r.get("compile_seconds")),
            _f(r.get("process_seconds")), _f(r.get("peak_rss_mb"), 0), _f(r.get("min_ess_bulk"), 0),
            ("met" if wall and wall < TARGET_SECONDS else "short") if wall else "short",
            recovered or "–",
            "cached" if made.get("cached") else
            f"{_f(made.get('simulate_seconds'))} + {_f(made.get('summarize_seconds'))}",
        ])
    if not rows:
        return []
    return [
        "## Simulated customers: BG/NBD NUTS (4 × 1000 + 1000 tune), target < 60 s", "",
        "Transactions drawn by `clvlib.simulate_transactions` at CDNOW-like parameters "
        "(78 weeks of history), read and summarized by clvlib in weeks, then fitted. Exact "
        "day-level times make most customers distinct; `summarize(resolution=1)` rounds "
        "t_x and T to whole weeks, so customers share compressed likelihood rows.", "",
        *_table(["customers", "time resolution", "distinct rows", "fit wall (s)", "compile (s)",
                 "process (s)", "peak RSS (MB)", "min bulk ESS", "< 60 s",
                 "posterior mean (truth)", "simulate + summarize (s)"], rows),
    ]


def _scoring_section(raw: dict) -> list[str]:
    rows, lines = [], []
    for case in _cases(raw, "sim:score:"):
        r, p = case["result"], case["params"]
        steps = r.get("steps", {})
        total = sum(s["seconds"] for s in steps.values())
        for name, s in steps.items():
            rows.append([name, f"{r.get('customers', p['customers']):,}", str(p["draws"]),
                         _f(s["seconds"]), _f(s["rss_after_mb"], 0)])
        done = len(steps) == 3
        status = _status(r)
        rows.append(["**all three**", f"{p['customers']:,}", str(p["draws"]),
                     f"**{_f(total)}**" + ("" if done else f" (incomplete: {status})"),
                     f"peak {_f(r.get('peak_rss_mb'), 0)} (process tree)"])
        met_time = done and total < TARGET_SECONDS
        met_mem = (r.get("peak_rss_mb") or 1e9) < TARGET_SCORING_MB
        lines = [
            "## Scoring every customer with 1,000 posterior draws, target < 60 s and < 4 GB", "",
            "What `model.p_alive()`, `model.expected_purchases(52)` and "
            "`clvlib.customer_lifetime_value(purchases, spend, horizon=52)` do today (mean and 90% "
            "interval per customer), on the weekly simulated base "
            f"({_f(r.get('distinct_rows_xtT'), 0)} distinct (x, t_x, T) rows). The Gamma-Gamma "
            "draws come from a fit to 50,000 of the "
            f"customers. Memory before scoring: {_f(r.get('baseline_rss_mb'), 0)} MB. "
            f"Time target {'met' if met_time else 'not met'}; memory target "
            f"{'met' if met_mem else 'not met'}.", "",
            *_table(["prediction", "customers", "draws", "wall (s)", "RSS after (MB)"], rows),
        ]
    return lines


def _parquet_section(raw: dict) -> list[str]:
    gen = next(iter(_cases(raw, "parquet:generate:")), None)
    summ = next(iter(_cases(raw, "parquet:summary:")), None)
    if not summ:
        return []
    g, r = (gen or {}).get("result", {}), summ["result"]
    total = r.get("total_seconds")
    lines = [
        "## Transaction rows in Parquet to customer summaries (DuckDB), target < 60 s", "",
        f"{_f(g.get('rows'), 0)} rows in {g.get('files', '–')} Parquet files "
        f"({_f((g.get('bytes') or 0) / 2**30, 2)} GiB; customer_id int64, timestamp, amount), "
        f"generated by the benchmark in {_f(g.get('generate_seconds'))} s and deleted after. "
        "`clvlib.read_transactions(glob)` then `clvlib.summarize(log)`, DuckDB settings "
        "(applied to read_transactions' connection by the benchmark) "
        + ", ".join(f"{k}={v}" for k, v in r.get("settings", {}).items()
                    if k != "temp_directory") + " (spilling to a scratch folder).", "",
        *_table(["step", "wall (s)", "peak RSS (MB)", "< 60 s"], [
            ["read_transactions (validation)", _f(r.get("read_seconds")), "", ""],
            ["summarize", _f(r.get("summarize_seconds")), "", ""],
            [f"**total** ({_f(r.get('customers'), 0)} customers)",
             _status(r) or f"**{_f(total)}**", _f(r.get("peak_rss_mb"), 0),
             "met" if total and total < TARGET_SECONDS else "short"],
        ]),
    ]
    queries = r.get("queries", [])
    if queries:
        lines += [
            f"The DuckDB queries, in order ({r.get('log_scans')} of them read the transaction "
            "rows); each query's time runs until the next one starts:", "",
            *_table(["phase", "query (start)", "reads the log", "s"], [
                [q["phase"], f"`{q['sql'][:90]}`", "yes" if q["scans_log"] else "",
                 _f(q["seconds"], 2)] for q in queries if q["seconds"] >= 0.01 or q["scans_log"]
            ]),
        ]
    return lines


def _report_section(raw: dict) -> list[str]:
    rows = []
    for case in _cases(raw, "report:"):
        r = case["result"]
        steps = (r.get("timings") or {})
        detail = ", ".join(f"{k} {v:.0f} s" for k, v in steps.items()
                           if isinstance(v, int | float))
        wall = r.get("process_seconds")
        rows.append([case["run"], _status(r) or _f(wall), _f(r.get("peak_rss_mb"), 0),
                     ("on" if r.get("fit_cache") else "off"),
                     "met" if wall and not _status(r) and wall < TARGET_REPORT_SECONDS
                     else "short", detail or "–"])
    if not rows:
        return []
    return [
        "## `make report` (CDNOW master, 4 × 1000 NUTS), target < 120 s first run included",
        "", "`clvlib report --params clvlib/params/cdnow.yaml` into a scratch folder: cold = empty "
        "compile caches and an empty fit cache (the case's own, set by CLVLIB_FIT_CACHE, so "
        "fits cached by earlier reports are not found), warm = the same command again, which reads "
        "the fits the cold run cached.", "",
        *_table(["run", "wall (s)", "peak RSS (MB)", "fit cache", "< 120 s", "steps"], rows),
    ]


def main(argv: list[str] | None = None) -> int:
    """Render a results file again from its raw JSON: ``python -m benchmarks.results RAW OUT``."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m benchmarks.results")
    parser.add_argument("raw", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--note", help="a note for the header (replaces the run's own)")
    args = parser.parse_args(argv)
    raw = json.loads(args.raw.read_text())
    if args.note is not None:
        raw["meta"]["note"] = args.note
        args.raw.write_text(json.dumps(raw, indent=1))
    previous = args.out.read_text() if args.out.exists() else ""
    args.out.write_text(with_recorded(render(raw), previous))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
