"""Transaction files that no CDNOW report is: the cases the report must get right or refuse well.

Each function writes its files into a folder and returns the report parameters that read them
(paths relative to that folder, so a report runs from there). The end-to-end report tests use
them; to look at the reports by hand::

    .venv/bin/python tests/scenarios.py /tmp/scenarios      # writes every case and its params
    cd /tmp/scenarios/apparel_like && ../../../work/main/.venv/bin/clvlib report \\
        --params params.yaml --out report

- :func:`apparel_like`: an apparel retailer's log in the shape of CLVTools' ``apparelTrans``
  with ``apparelStaticCov`` (a 0/1 Gender and a 0/1 Channel per customer, in a covariates file
  whose id column is named as the log's, ``Id``), simulated from Pareto/NBD with strong
  covariate effects: a model that forgot each customer's covariates would track far off.
- :func:`count_only`: ids and dates, no amounts.
- :func:`one_customer` and :func:`no_repeat_buyers`: data that cannot identify a model.
- :func:`one_day_cohort`: every customer first bought on one day (no acquisition rate).
- :func:`mixed_offsets`: timestamps with UTC offsets of -05:00 and +01:00.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from clvlib.models import gamma_gamma, pareto_nbd
from clvlib.simulate import linked_scale

#: Pareto/NBD at the apparel data's scale (weeks) and the covariate effects of the simulation:
#: women (Gender 1) buy exp(0.9) = 2.5 times as often; the online channel (Channel 1) buys
#: exp(0.5) = 1.6 times as often and leaves at exp(0.7) = 2 times the rate.
APPAREL = {"r": 0.8, "alpha": 12.0, "s": 0.6, "beta": 30.0}
APPAREL_PURCHASE = np.array([0.9, 0.5])  # Gender, Channel
APPAREL_DROPOUT = np.array([0.0, 0.7])


def apparel_like(folder: Path, n: int = 600, seed: int = 2005) -> dict:
    """An apparel-like log (columns ``Id``, ``Date``, ``Price``; EUR) and its covariates file
    (``Id``, ``Gender``, ``Channel``): customers acquired over the first 12 weeks of 2005,
    weekly, calibration of 40 weeks and a holdout to the end of 2006."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    gender = (rng.random(n) < 0.75).astype(float)
    channel = (rng.random(n) < 0.4).astype(float)
    design = np.column_stack([gender, channel])
    start, end = pd.Timestamp("2005-01-03"), pd.Timestamp("2006-12-31")
    first = start + pd.to_timedelta(rng.integers(0, 84, size=n), unit="D")
    ages = ((end - first) / pd.Timedelta(days=7)).to_numpy(dtype=float)
    who, when = pareto_nbd.purchase_times(
        APPAREL["r"], linked_scale(APPAREL["alpha"], design, APPAREL_PURCHASE),
        APPAREL["s"], linked_scale(APPAREL["beta"], design, APPAREL_DROPOUT), ages, rng)
    customer = np.concatenate([np.arange(n), who])
    days = np.concatenate([np.zeros(n), np.floor(when * 7)])
    dates = first.to_numpy()[customer] + pd.to_timedelta(days, unit="D").to_numpy()
    price = np.round(gamma_gamma.spend_rvs(6.0, 4.0, 40.0, customer, n, rng), 2)
    ids = np.array([f"{i + 1}" for i in range(n)])
    log = pd.DataFrame({"Id": ids[customer], "Date": pd.DatetimeIndex(dates).strftime("%Y%m%d"),
                        "Price": price}).sort_values(["Id", "Date"], kind="stable")
    log.to_csv(folder / "apparelTrans.csv", index=False)
    pd.DataFrame({"Id": ids, "Gender": gender.astype(int), "Channel": channel.astype(int)}
                 ).to_csv(folder / "apparelStaticCov.csv", index=False)
    return {
        "title": "Apparel retailer (simulated): heterogeneity and value",
        "data": "apparelTrans.csv", "customer_id_column": "Id", "date_column": "Date",
        "amount_column": "Price", "date_format": "%Y%m%d", "currency": "EUR",
        "time_unit": "week", "calibration_end": "2005-10-09", "observation_end": "2006-12-31",
        "data_end": "2006-12-31",
        "covariates_file": "apparelStaticCov.csv",
        "purchase_covariates": ["Gender", "Channel"], "dropout_covariates": ["Gender", "Channel"],
        "candidate_models": ["pareto_nbd"],
    }


def count_only(folder: Path, seed: int = 7) -> dict:
    """The apparel-like log without its amounts (``Id``, ``Date``)."""
    params = apparel_like(folder, seed=seed)
    log = pd.read_csv(folder / "apparelTrans.csv", dtype=str)
    log[["Id", "Date"]].to_csv(folder / "counts.csv", index=False)
    (folder / "apparelTrans.csv").unlink()
    (folder / "apparelStaticCov.csv").unlink()
    params = {k: v for k, v in params.items()
              if k not in ("covariates_file", "purchase_covariates", "dropout_covariates")}
    return params | {"title": "Purchases only (simulated): heterogeneity", "data": "counts.csv",
                     "amount_column": "", "candidate_models": ["bg_nbd", "pareto_nbd"]}


def _write_log(folder: Path, rows: list[tuple[str, str, float]], name: str = "log.csv") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(folder / name,
                                                                          index=False)


def one_customer(folder: Path) -> dict:
    """One customer with three purchases in 2024."""
    _write_log(folder, [("A", "2024-01-05", 20.0), ("A", "2024-03-01", 35.0),
                        ("A", "2024-06-10", 15.0)])
    return {"title": "One customer", "data": "log.csv", "calibration_end": "",
            "observation_end": "", "data_end": "2024-12-31", "currency": "USD",
            "candidate_models": ["bg_nbd"]}


def no_repeat_buyers(folder: Path, n: int = 200) -> dict:
    """Two hundred customers who each bought once, on days spread over 2024."""
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 300, unit="D")
    _write_log(folder, [(f"C{i:03d}", f"{d:%Y-%m-%d}", 25.0) for i, d in enumerate(days)])
    return {"title": "No repeat buyers", "data": "log.csv", "calibration_end": "",
            "observation_end": "", "data_end": "2024-12-31", "currency": "USD",
            "candidate_models": ["bg_nbd"]}


def one_day_cohort(folder: Path, n: int = 400, seed: int = 3) -> dict:
    """Customers who all first bought on 2024-03-01, then bought again now and then."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rows.append((f"K{i:04d}", "2024-03-01", float(np.round(rng.gamma(4, 10), 2))))
        for day in np.sort(rng.choice(np.arange(1, 300), size=rng.poisson(1.5), replace=False)):
            when = pd.Timestamp("2024-03-01") + pd.Timedelta(days=int(day))
            rows.append((f"K{i:04d}", f"{when:%Y-%m-%d}", float(np.round(rng.gamma(4, 10), 2))))
    _write_log(folder, rows)
    return {"title": "One first-purchase day", "data": "log.csv",
            "calibration_end": "2024-09-30", "observation_end": "2024-12-26",
            "data_end": "2024-12-31", "currency": "EUR", "candidate_models": ["bg_nbd"]}


def mixed_offsets(folder: Path) -> dict:
    """Timestamps of three customers with -05:00 and +01:00 offsets; two rows are on one UTC
    day although their local dates differ (23:30-05:00 is 04:30 UTC the next day)."""
    rows = [("A", "2024-01-05T10:00:00-05:00", 20.0), ("A", "2024-02-01T23:30:00-05:00", 10.0),
            ("A", "2024-02-02T09:00:00+01:00", 5.0), ("B", "2024-01-10T12:00:00+01:00", 30.0),
            ("B", "2024-03-01T12:00:00+01:00", 40.0), ("C", "2024-02-20T08:00:00-05:00", 12.0)]
    _write_log(folder, rows)
    return {"data": "log.csv", "calibration_end": "", "observation_end": "",
            "data_end": "2024-12-31"}


SCENARIOS = {f.__name__: f for f in (apparel_like, count_only, one_customer, no_repeat_buyers,
                                     one_day_cohort, mixed_offsets)}


def write_all(root: Path) -> None:
    """Every scenario in a folder of its own under ``root``, with its ``params.yaml``."""
    for name, make in SCENARIOS.items():
        folder = root / name
        params = make(folder)
        (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        print(folder)


if __name__ == "__main__":
    write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "scenarios"))
