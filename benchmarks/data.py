"""The data the benchmark cases share: CDNOW summaries, a simulated base, a large Parquet log.

Derived data lives under ``benchmarks/output/`` (git-ignored); the large Parquet log is written to
a temporary folder by the run and removed after it.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

OUTPUT = Path(__file__).resolve().parent / "output"
DATA = OUTPUT / "data"

CALIBRATION_END = "1997-09-30"  # FHL 2005: 39 weeks of calibration
DATASETS = {"sample": "cdnow_sample", "master": "cdnow_master"}

# The simulated base: BG/NBD and Gamma-Gamma at CDNOW-like values (FHL 2005; FH 2013).
TRUE_BG_NBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TRUE_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
SIM_SEED = 2024


def cdnow_summary(dataset: str, regularity: bool = False):
    """The FHL summary of a CDNOW file (weeks, calibration to 1997-09-30, no holdout; with
    ``litt`` for the regularity models)."""
    import clvlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the CDNOW files hold exact duplicates
        log = clvlib.read_transactions(DATASETS[dataset])
    return clvlib.summarize(log, time_unit="week", calibration_end=CALIBRATION_END,
                            regularity=regularity)


def rfm_frame(summary, model: str) -> pd.DataFrame:
    """The summary in the column names of pymc-marketing and lifetimes."""
    c = summary.customers
    frame = pd.DataFrame({
        "customer_id": np.arange(len(c)), "frequency": c["x"].to_numpy(),
        "recency": c["t_x"].to_numpy(), "T": c["T"].to_numpy(),
        "monetary_value": c["monetary"].fillna(0.0).to_numpy(),
    })
    if model == "gamma_gamma":  # the customers a spend model learns from
        frame = frame[(frame["frequency"] > 0) & (frame["monetary_value"] > 0)]
        return frame[["customer_id", "frequency", "monetary_value"]].reset_index(drop=True)
    return frame[["customer_id", "frequency", "recency", "T"]]


def simulated_summary(n_customers: int, resolution: float | None) -> tuple[object, dict]:
    """A simulated base of ``n_customers`` (cached under benchmarks/output/data).

    Transactions are drawn with :func:`clvlib.simulate_transactions` (BG/NBD and Gamma-Gamma at
    :data:`TRUE_BG_NBD` / :data:`TRUE_GAMMA_GAMMA`, first purchases over 90 days, 78 weeks of
    history), then read and summarized in weeks, at day level or rounded to ``resolution``.
    Returns the summary and how long simulating and summarizing took (None when cached).
    """
    import clvlib

    tag = "days" if resolution is None else f"res{resolution:g}"
    path = DATA / f"simulated_{n_customers}_{SIM_SEED}_{tag}.parquet"
    if path.is_file():
        return clvlib.CustomerSummary.from_parquet(path), {"cached": True}
    t0 = time.perf_counter()
    log = clvlib.simulate_transactions(n_customers, **TRUE_BG_NBD, **TRUE_GAMMA_GAMMA,
                                       rng=SIM_SEED)
    t1 = time.perf_counter()
    transactions = clvlib.read_transactions(log, date="timestamp", name="simulated")
    summary = clvlib.summarize(transactions, time_unit="week", resolution=resolution)
    t2 = time.perf_counter()
    DATA.mkdir(parents=True, exist_ok=True)
    summary.to_parquet(path)
    return summary, {"cached": False, "transactions": len(log), "simulate_seconds": t1 - t0,
                     "summarize_seconds": t2 - t1}


def write_parquet_log(folder: Path, n_rows: int, *, n_customers: int | None = None,
                      files: int = 10, seed: int = 7) -> dict:
    """Write ``n_rows`` transactions as ``files`` Parquet files in ``folder``, in chunks.

    Columns: ``customer_id`` (int64), ``date`` (a timestamp to the second, over 2 years from
    2022-01-01), ``amount`` (double, cents). Customers (``n_rows / 20`` by default) differ in how
    often they buy (ids drawn with a skewed law) and when they start; rows are in random order,
    and exact duplicate rows are practically absent. Vectorized NumPy and pyarrow; memory stays
    at one chunk.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    n_customers = n_customers or max(1, n_rows // 20)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-01-01T00:00:00", "s").astype(np.int64)
    t0 = time.perf_counter()
    per_file = -(-n_rows // files)
    written = 0
    for i in range(files):
        rows = min(per_file, n_rows - written)
        if rows <= 0:
            break
        writer = pq.ParquetWriter(folder / f"part-{i:03d}.parquet", _SCHEMA(pa))
        for lo in range(0, rows, 2_000_000):
            k = min(2_000_000, rows - lo)
            ids = (n_customers * rng.random(k) ** 2).astype(np.int64)  # skewed: low ids buy more
            first = (ids * 2654435761) % 365  # each customer's first possible day
            day = first + (rng.random(k) * (730 - first)).astype(np.int64)
            second = start + day * 86_400 + rng.integers(0, 86_400, k)
            amount = np.round(np.exp(rng.normal(3.0, 0.8, k)), 2)
            table = pa.table({
                "customer_id": ids,
                "date": pa.array(second, pa.int64()).cast(pa.timestamp("s")),
                "amount": amount,
            })
            writer.write_table(table, row_group_size=1_000_000)
        writer.close()
        written += rows
    size = sum(f.stat().st_size for f in folder.glob("*.parquet"))
    return {"rows": written, "customers_drawn_from": n_customers, "files": files,
            "bytes": size, "generate_seconds": time.perf_counter() - t0}


def _SCHEMA(pa):  # noqa: N802
    return pa.schema([("customer_id", pa.int64()), ("date", pa.timestamp("s")),
                      ("amount", pa.float64())])


# Bases with heterogeneity explained (issue 11): Pareto/NBD with three covariates, and BG/NBD
# customers in ten groups. Times in whole weeks, as summarize(resolution=1) gives them.
HETEROGENEOUS = {"covariates": "pareto_nbd", "groups": "bg_nbd"}
TRUE_PARETO_NBD = {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}
TRUE_COVARIATES = {"purchase": [0.3, 0.5, -0.2], "dropout": [-0.2, 0.3, 0.0]}
GROUP_SPREAD = 0.3


def heterogeneous_base(kind: str, n_customers: int) -> pd.DataFrame:
    """A simulated base with covariates (``size``, ``channel_b``, ``promo``: numbers, the last
    two 0/1) or with a ``group`` column of ten groups; ``x``, ``t_x``, ``T`` in whole weeks."""
    from clvlib.simulate import bg_nbd_rvs, linked_scale, pareto_nbd_rvs

    rng = np.random.default_rng(SIM_SEED)
    T = rng.integers(26, 79, n_customers).astype(float)
    if kind == "covariates":
        x = np.column_stack([np.round(rng.normal(size=n_customers), 1),
                             rng.random(n_customers) < 0.3, rng.random(n_customers) < 0.5])
        t = TRUE_PARETO_NBD
        sim = pareto_nbd_rvs(t["r"], linked_scale(t["alpha"], x, TRUE_COVARIATES["purchase"]),
                             t["s"], linked_scale(t["beta"], x, TRUE_COVARIATES["dropout"]),
                             T=T, rng=rng)
        frame = pd.DataFrame(sim)
        frame[["size", "channel_b", "promo"]] = x.astype(float)
    else:
        group = rng.integers(0, 10, n_customers)
        u, v = rng.normal(0, GROUP_SPREAD, 10), rng.normal(0, GROUP_SPREAD, 10)
        t = TRUE_BG_NBD
        sim = bg_nbd_rvs(t["r"], t["alpha"] * np.exp(-u)[group], t["a"] * np.exp(v)[group],
                         t["b"], T=T, rng=rng)
        frame = pd.DataFrame(sim)
        frame["group"] = np.array([f"g{k}" for k in range(10)])[group]
    frame["t_x"] = np.round(frame["t_x"])
    frame.index = pd.Index([f"C{i:07d}" for i in range(n_customers)], name="customer_id")
    return frame


def heterogeneous_peer_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The base in pymc-marketing's column names, and its covariate columns (groups as nine
    0/1 columns against the first group: pymc-marketing has covariates but no pooling)."""
    out = pd.DataFrame({"customer_id": np.arange(len(frame)), "frequency": frame["x"].to_numpy(),
                        "recency": frame["t_x"].to_numpy(), "T": frame["T"].to_numpy()})
    if "group" in frame:
        levels = sorted(frame["group"].unique())[1:]
        for level in levels:
            out[f"group_{level}"] = (frame["group"] == level).to_numpy(dtype=float)
        return out, [f"group_{level}" for level in levels]
    columns = ["size", "channel_b", "promo"]
    out[columns] = frame[columns].to_numpy()
    return out, columns
