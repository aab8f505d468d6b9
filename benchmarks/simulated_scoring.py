"""What scoring Pareto/GGG costs through the prediction engine's simulated route
(:mod:`clvlib.simulated_scoring`) against the Pareto/NBD's closed forms, on the CDNOW sample
(2,357 customers): each model fitted by the Laplace approximation (4,000 draws; Gamma-Gamma
too), then ``score_customers`` with 200 draws over 52 weeks (P(alive), expected and predicted
purchases and CLV) and over the customers' remaining lifetimes at 10% a year (DERT and residual
CLV), each timed after a first call of its kind (numba's compilation not counted), with the
base's totals side by side.

Run: ``python -m benchmarks.simulated_scoring``; prints a Markdown table for
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

DRAWS = 200
CASES = {"52 weeks": (52.0, ["p_alive", "expected_purchases", "clv", "purchases_predictive",
                             "clv_predictive"]),
         "remaining lifetime": (np.inf, ["expected_purchases", "clv"])}


def main() -> None:
    import clvlib as clv
    from benchmarks.data import cdnow_summary

    warnings.simplefilter("ignore")
    summary = cdnow_summary("sample", regularity=True)
    spend = clv.GammaGammaModel(summary)
    spend.fit("laplace", progressbar=False)
    models = [clv.ParetoNBDModel(summary), clv.ParetoGGGModel(summary)]
    for model in models:
        model.fit("laplace", progressbar=False)
    print("| model | horizon | score_customers (s) | ratio | expected purchases | "
          "expected CLV (USD) |")
    print("|---|---|---|---|---|---|")
    for label, (horizon, wanted) in CASES.items():
        seconds = {}
        for model in models:
            options = {"horizon": horizon, "predictions": wanted, "n_draws": DRAWS}
            clv.score_customers(model, spend, **{**options, "n_draws": 2})  # compiles
            start = time.perf_counter()
            scores = clv.score_customers(model, spend, **options)
            seconds[model.title] = time.perf_counter() - start
            base = seconds[models[0].title]
            print(f"| {model.title} | {label} | {seconds[model.title]:.1f} | "
                  f"{seconds[model.title] / base:.0f}x | "
                  f"{scores['expected_purchases'].total()['mean']:,.0f} | "
                  f"{scores['clv'].total()['mean']:,.0f} |")


if __name__ == "__main__":
    main()
