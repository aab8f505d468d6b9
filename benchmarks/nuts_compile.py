"""What nutpie's compilation of a model written in Python only costs on a new data set: the
model's graph with its data as constants (PyMC's way, and clvlib's before 2026-12-06) against
clvlib's NUTS graph, which reads its data from shared variables
(``CLVModel.build(data_as_inputs=True)``), on the same model and data, in the same run.

numba's on-disk cache is keyed by the graph, constants included. Each way runs three fits, each
in a fresh subprocess, on one pair of compile caches that starts empty: **cold**, the first fit
of the model on the machine (the CDNOW sample); **new data**, a first fit on another data set of
the same model (every other customer of the sample), as a periodic report on a new month's
file is; **refit**, the same data again in a new process. Compile = nutpie's
``compile_pymc_model`` (graph rewriting, numba, nutpie's wrapper); sample = 1 chain of 200
tuning and 200 kept draws, as clvlib's ``fit`` runs nutpie.

Run: ``python -m benchmarks.nuts_compile``; prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CASES = ("mbg_cnbd_2", "ggompertz_nbd", "pareto_nbd_abe")
WAYS = ("data as constants", "clvlib: data as inputs")
RUNS = (("cold", "all"), ("new data", "half"), ("refit", "half"))


def case_model(case: str, customers: str):
    """The clvlib model of ``case`` on the CDNOW sample (``customers="all"``), as
    :mod:`benchmarks.map_compile` builds it, or on every other customer of it (``"half"``),
    not fitted."""
    from benchmarks.map_compile import case_model as on_the_sample

    model, _ = on_the_sample(case)
    return model if customers == "all" else type(model)(model.customers.iloc[::2])


def one(case: str, way: str, customers: str) -> dict:
    """Compile and sample ``case`` one ``way`` in this process: seconds. (The two graphs'
    log densities and gradients are equal to the last bits: tests/test_samplers.py.)"""
    import nutpie

    model = case_model(case, customers)
    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model.build(data_as_inputs=way == WAYS[1]))
    compiled_at = time.perf_counter()
    nutpie.sample(compiled, draws=200, tune=200, chains=1, seed=1, progress_bar=False,
                  adaptation="low_rank", save_warmup=False)
    return {"compile": compiled_at - start, "sample": time.perf_counter() - compiled_at}


def in_subprocess(case: str, way: str, customers: str, cache: str) -> dict:
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={cache}/pytensor",
               NUMBA_CACHE_DIR=f"{cache}/numba")
    out = subprocess.run([sys.executable, "-m", "benchmarks.nuts_compile", "--one", case, way,
                          customers], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{case}, {way}, {customers}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=3, metavar=("CASE", "WAY", "CUSTOMERS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=CASES)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(*args.one)))
        return 0
    print("\n| model | graph | " + " | ".join(f"{run}: compile (s)" for run, _ in RUNS)
          + " | sample, each run (s) |")
    print("|---|---|" + "---|" * (len(RUNS) + 1))
    for case in args.cases:
        results = {}
        for way in WAYS:
            with tempfile.TemporaryDirectory() as cache:
                results[way] = [in_subprocess(case, way, customers, cache)
                                for _, customers in RUNS]
        base = results[WAYS[0]]
        for way in WAYS:
            runs = results[way]
            cells = []
            for i, run in enumerate(runs):
                ratio = ("" if way == WAYS[0] else
                         f" ({base[i]['compile'] / run['compile']:.1f}x faster)")
                cells.append(f"{run['compile']:.1f}{ratio}")
            samples = " / ".join(f"{run['sample']:.1f}" for run in runs)
            print(f"| {case} | {way} | {' | '.join(cells)} | {samples} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
