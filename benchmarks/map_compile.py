"""What a MAP fit of a model written in Python only costs in a new process: clvlib's
``fit("map")`` (one function of the log density and its gradient, run by PyTensor's Python
linker) against PyMC's ``find_MAP`` (the log density and its gradient compiled apart by numba,
PyMC's default), on the same model and data, in the same run.

Each fit runs in a fresh subprocess: **cold** with empty PyTensor and numba compile caches (a
first fit on a machine, or of a new model structure), **warm** again on the caches the cold run
left. Wall = building the PyMC model + the fit.

Run: ``python -m benchmarks.map_compile``; prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

CASES = ("mbg_cnbd_2", "ggompertz_nbd", "pareto_nbd_abe", "pareto_nbd_tv", "pareto_ggg")
WAYS = ("PyMC find_MAP", "clvlib fit('map')")
#: The per-row log-likelihood that PSIS-LOO and the holdout density read, at 1,000 draws:
#: the model's graph compiled by PyTensor's default linker (numba), or clvlib's.
ROW_WAYS = ("graph by numba", "clvlib pointwise_loglik")
ROW_DRAWS = 500


def case_model(case: str):
    """The clvlib model of ``case`` on its data (not fitted)."""
    import clvlib
    from benchmarks.data import cdnow_summary

    if case == "mbg_cnbd_2":
        from clvlib.models import model_class

        return (model_class(2, dropout_at_zero=True)(cdnow_summary("sample", regularity=True)),
                "CDNOW sample, 2,357")
    if case == "ggompertz_nbd":
        return clvlib.GGompertzNBDModel(cdnow_summary("sample")), "CDNOW sample, 2,357"
    if case == "pareto_nbd_abe":
        return clvlib.ParetoNBDAbeModel(cdnow_summary("sample")), "CDNOW sample, 2,357"
    if case == "pareto_nbd_tv":
        from benchmarks.time_varying import scenario

        sims, calendar = scenario(28, 3000)
        return (clvlib.ParetoNBDTimeVaryingModel(sims, calendar, purchase_covariates=["promo"],
                                                 dropout_covariates=["season"]),
                "simulated, 3,000, 26 four-week periods")
    if case == "pareto_ggg":
        from benchmarks.pareto_ggg import customers

        return clvlib.ParetoGGGModel(customers(300)), "simulated, 300"
    raise ValueError(f"unknown case {case!r}; expected one of {CASES}")


def one(case: str, way: str) -> dict:
    """Fit ``case`` one ``way`` in this process: wall seconds and the point estimate."""
    import pymc as pm

    model, _ = case_model(case)
    names = list(model.variables)
    start = time.perf_counter()
    if way == WAYS[0]:
        with model.build(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            point = pm.find_MAP(progressbar=False)
        estimate = {k: np.ravel(point[k]).tolist() for k in names}
    else:
        model.fit("map", progressbar=False)
        estimate = {k: np.ravel(v).tolist() for k, v in model.point_estimate().items()}
    return {"wall": time.perf_counter() - start, "estimate": estimate}


def rows_one(case: str, way: str) -> dict:
    """The per-row log-likelihood of ``case`` at ROW_DRAWS draws near the MAP, one ``way``:
    wall seconds (compilation included) and the sum of the rows."""
    import pytensor

    from clvlib.compression import CompressedRows

    model, _ = case_model(case)
    rows = CompressedRows.from_frame(model.customers, model.columns)
    model.fit("map", progressbar=False)
    rng = np.random.default_rng(0)
    draws = {k: np.asarray(v) * np.exp(rng.normal(0, 0.02, (ROW_DRAWS,) + np.shape(v)))
             for k, v in model.point_estimate().items()}
    # the graph as PyTensor compiles it by default, or clvlib's uncompiled default
    mode = pytensor.compile.mode.get_default_mode() if way == ROW_WAYS[0] else None
    start = time.perf_counter()
    out = model.pointwise_loglik(draws, rows, mode=mode)
    return {"wall": time.perf_counter() - start, "estimate": {"sum": [float(out.sum())]}}


def in_subprocess(case: str, way: str, cache: str) -> dict:
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={cache}/pytensor",
               NUMBA_CACHE_DIR=f"{cache}/numba")
    out = subprocess.run([sys.executable, "-m", "benchmarks.map_compile", "--one", case, way],
                         env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{case}, {way}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=2, metavar=("CASE", "WAY"), help=argparse.SUPPRESS)
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=CASES)
    args = parser.parse_args(argv)
    if args.one:
        case, way = args.one
        print(json.dumps(rows_one(case, way) if way in ROW_WAYS else one(case, way)))
        return 0
    _table(args.cases, WAYS, "fit")
    # the time-varying model's per-row likelihood is NumPy (no graph)
    _table([c for c in args.cases if c != "pareto_nbd_tv"], ROW_WAYS,
           f"per-row log-likelihood, {ROW_DRAWS:,} draws")
    return 0


def _table(cases, ways, what: str) -> None:
    print(f"\n| model | data (customers) | {what} | cold (s) | warm (s) | largest relative "
          "difference of the results |")
    print("|---|---|---|---|---|---|")
    for case in cases:
        runs = {}
        for way in ways:
            with tempfile.TemporaryDirectory() as cache:
                runs[way] = [in_subprocess(case, way, cache) for _ in ("cold", "warm")]
        base = runs[ways[0]][0]["estimate"]
        data = case_model(case)[1]
        for way in ways:
            cold, warm = runs[way]
            differ = max(abs(a - b) / max(abs(a), 1e-12) for k in base
                         for a, b in zip(base[k], cold["estimate"][k], strict=True))
            ratio = ("" if way == ways[0] else
                     f" ({runs[ways[0]][0]['wall'] / cold['wall']:.1f}x faster)")
            warm_ratio = ("" if way == ways[0] else
                          f" ({runs[ways[0]][1]['wall'] / warm['wall']:.1f}x faster)")
            print(f"| {case} | {data} | {way} | {cold['wall']:.1f}{ratio} | "
                  f"{warm['wall']:.1f}{warm_ratio} | "
                  f"{'–' if way == ways[0] else f'{differ:.1e}'} |", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
