"""What time-varying covariates cost: Pareto/NBD with covariates per calendar period against the
plain Pareto/NBD (its compiled kernel) on the same simulated customers, in the same run.

Run: ``python -m benchmarks.time_varying [--customers N]``; prints a Markdown table for
benchmarks/RESULTS.md. 3,000 customers acquired over two years, a promotion that doubles
purchases in some periods and a yearly season in dropout (``clvlib.models.pareto_nbd_tv.rvs``);
the calendar in weekly periods (104 before the calibration end) and in four-week periods (26).
CLVTools, the maximum-likelihood peer, is R and not on this machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

TRUTH = {"r": 0.8, "alpha": 6.0, "s": 0.7, "beta": 12.0}
G_PURCHASE, G_DROPOUT = 0.8, 0.5
DRAWS = {"draws": 500, "tune": 500, "chains": 2}


def scenario(days: int, customers: int, seed: int = 3):
    """Simulated customers and their calendar of ``days``-long periods."""
    from clvlib.models import pareto_nbd_tv as tv
    from clvlib.time_varying import CovariateCalendar

    per_year = round(364 / days)
    n = 2 * per_year + per_year // 2 + 1
    table = pd.DataFrame({"period_start": pd.date_range("2019-01-03", periods=n,
                                                        freq=f"{days}D"),
                          "promo": (np.arange(n) % max(2, per_year // 10) == 0).astype(float),
                          "season": np.sin(2 * np.pi * np.arange(n) / per_year)})
    calendar = CovariateCalendar.on_clock(table, "2020-12-31", "week")
    rng = np.random.default_rng(seed)
    T = rng.uniform(20, -calendar.edges[0], customers)
    sims = tv.rvs(**TRUTH, log_a=G_PURCHASE * table["promo"].to_numpy(),
                  log_d=G_DROPOUT * table["season"].to_numpy(), edges=calendar.edges, T=T,
                  z=table[["promo"]], rng=rng)
    return sims, calendar


def _ess(model) -> float:
    import arviz as az

    ess = az.ess(model.idata, var_names=list(model.variables))
    return float(min(float(ess[v].min()) for v in model.variables))


def main(argv=None) -> int:
    import clvlib

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    args = parser.parse_args(argv)
    print("| periods | model | fit | wall (s) | min bulk ESS | ESS/s | "
          "g_purchase (true 0.8) | g_dropout (true 0.5) |")
    print("|---|---|---|---|---|---|---|---|")
    for days, label in ((28, "26 four-week"), (7, "104 weekly")):
        sims, calendar = scenario(days, args.customers)
        covariates = {"purchase_covariates": ["promo"], "dropout_covariates": ["season"]}
        fits = [("Pareto/NBD (compiled kernel)", clvlib.ParetoNBDModel, (), {}, "nuts")] + [
            ("Pareto/NBD, time-varying (Python only)", clvlib.ParetoNBDTimeVaryingModel,
             (calendar,), covariates, method) for method in ("map", "nuts")]
        for title, cls, extra, options, method in fits:
            start = time.perf_counter()
            model = cls(sims, *extra, **options)
            model.fit(method, progressbar=False, random_seed=1, **DRAWS)
            wall = time.perf_counter() - start
            est = model.point_estimate()
            g = [f"{float(np.ravel(est[k])[0]):.3f}" if k in est else "–"
                 for k in ("g_purchase", "g_dropout")]
            ess = _ess(model) if method == "nuts" else None
            print(f"| {label} | {title} | {method.upper()} | {wall:.1f} | "
                  f"{'–' if ess is None else f'{ess:,.0f}'} | "
                  f"{'–' if ess is None else f'{ess / wall:.1f}'} | {g[0]} | {g[1]} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
