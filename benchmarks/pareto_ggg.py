"""What Pareto/GGG costs: its likelihood (Python only, quadrature over k and the lifetime)
against the Pareto/NBD's (its PyTensor graph) on the same simulated customers, in the same
run: one log-likelihood and gradient, and a MAP fit (compilation included) of each.

Run: ``python -m benchmarks.pareto_ggg [--customers N]``; prints a Markdown table for
benchmarks/RESULTS.md. BTYDplus, the reference implementation (MCMC), is R and not on this
machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

TRUTH = {"k_shape": 2.5, "k_rate": 1.5, "r": 1.0, "alpha": 5.0, "s": 1.0, "beta": 30.0}


def customers(n: int, seed: int = 7) -> pd.DataFrame:
    from clvlib.models import pareto_ggg

    rng = np.random.default_rng(seed)
    data = pareto_ggg.rvs(**TRUTH, T=rng.uniform(20, 39, n), rng=rng)
    return pd.DataFrame(data, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))


def per_call(model, repeats: int = 5) -> float:
    """Seconds per log-posterior-and-gradient call of the model's PyMC graph (compiled first)."""
    pymc_model = model.build()
    fn = pymc_model.logp_dlogp_function(ravel_inputs=True)
    fn.set_extra_values({})
    point = np.concatenate([np.ravel(v) for v in pymc_model.initial_point().values()])
    fn(point)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(point)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    import clvlib as clv

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1500)
    n = parser.parse_args().customers
    frame = customers(n)
    rows = []
    for cls in (clv.ParetoNBDModel, clv.ParetoGGGModel):
        model = cls(frame) if cls is clv.ParetoGGGModel else cls(frame[["x", "t_x", "T"]])
        model.kernel = None  # both through PyMC's graph: the cost of the Python definition
        call = per_call(model)
        start = time.perf_counter()
        model.fit("map", progressbar=False)
        fit = time.perf_counter() - start
        estimate = ", ".join(f"{k} {v:.3g}" for k, v in model.point_estimate().items())
        rows.append((model.title, call, fit, estimate))
    base_call, base_fit = rows[0][1], rows[0][2]
    print(f"{n:,} simulated customers (truth: {TRUTH})\n")
    print("| model | logp + gradient | ratio | MAP fit (compile included) | ratio | MAP |")
    print("|---|---|---|---|---|---|")
    for title, call, fit, estimate in rows:
        print(f"| {title} | {call * 1e3:.1f} ms | {call / base_call:.0f}x | {fit:.1f} s | "
              f"{fit / base_fit:.0f}x | {estimate} |")


if __name__ == "__main__":
    main()
