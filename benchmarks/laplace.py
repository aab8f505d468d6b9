"""What the Laplace approximation (``fit("laplace")``) costs and how near it lands to NUTS, on
the CDNOW sample (2,357 customers), in one run: for each model a NUTS fit (4 x 1000 draws, 1000
tuning) and a Laplace fit (4,000 draws), each in this process after a first fit of the model
has compiled what it compiles (so both are refits), and each log parameter's Laplace mean and
sd against NUTS's. Pareto/GGG has no NUTS column: at 0.38 s a gradient its NUTS fit would take
hours (``python -m benchmarks.pareto_ggg``).

Run: ``python -m benchmarks.laplace``; prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

CASES = ("bg_nbd", "pareto_nbd", "ggompertz_nbd", "pareto_ggg")


def _fit(model, method: str) -> float:
    start = time.perf_counter()
    model.fit(method, progressbar=False)
    return time.perf_counter() - start


def main() -> None:
    import clvlib as clv
    from benchmarks.data import cdnow_summary

    warnings.simplefilter("ignore")
    print("| model | NUTS (s) | Laplace (s) | ratio | largest shift of a log mean (NUTS sd) "
          "| Laplace sd / NUTS sd |")
    print("|---|---|---|---|---|---|")
    for case in CASES:
        summary = cdnow_summary("sample", regularity=case == "pareto_ggg")
        cls = clv.get_model(case)
        methods = ("laplace",) if case == "pareto_ggg" else ("nuts", "laplace")
        for method in methods:  # a first fit compiles (numba, nutpie): not timed
            _fit(cls(summary), method)
        models = {method: cls(summary) for method in methods}
        seconds = {method: _fit(model, method) for method, model in models.items()}
        if case == "pareto_ggg":
            print(f"| {cls.title} | – | {seconds['laplace']:.1f} | – | – | – |")
            continue
        a, b = models["laplace"].posterior_draws(), models["nuts"].posterior_draws()
        shift = {k: (np.log(a[k]).mean() - np.log(b[k]).mean()) / np.log(b[k]).std()
                 for k in cls.params}
        ratio = {k: np.log(a[k]).std() / np.log(b[k]).std() for k in cls.params}
        worst = max(shift, key=lambda k: abs(shift[k]))
        print(f"| {cls.title} | {seconds['nuts']:.1f} | {seconds['laplace']:.1f} | "
              f"{seconds['nuts'] / seconds['laplace']:.0f}x | {shift[worst]:+.2f} ({worst}) | "
              + ", ".join(f"{k} {v:.2f}" for k, v in ratio.items()) + " |")


if __name__ == "__main__":
    main()
