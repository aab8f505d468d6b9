"""Period-over-period: compare this report run with an earlier one.

A report run writes, under its ``artifacts/`` folder, each customer's strategy segment and
predictions (``segments.parquet``) and the base value per posterior draw
(``base_value_draws.parquet``). :func:`compare_runs` reads two such folders and says what
changed: the base value (the difference per draw, with its credible interval; the two runs'
posteriors are independent, so draws are paired by position), customers new since the earlier
run, customers lost (active then, lapsed now, or gone from the data) and the transition table
of customers between strategy segments. ``clvlib report --previous DIR`` passes the earlier
report's folder to the decisions notebook, which shows the comparison, and links the earlier
run in the manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clvlib.segments import LAPSED

__all__ = ["PeriodComparison", "RunArtifacts", "compare_runs", "load_run"]

SEGMENTS_FILE = "segments.parquet"
VALUE_DRAWS_FILE = "base_value_draws.parquet"
RUN_FILE = "decisions.json"
NEW, GONE = "new customer", "not in this run"


@dataclass(frozen=True)
class RunArtifacts:
    """What one report run says about its customers.

    Attributes
    ----------
    segments : pandas.DataFrame
        Indexed by customer id; ``segment``, ``p_alive``, ``future_value`` and more.
    value_draws : ndarray
        The base value (expected CLV over the horizon, summed over customers) per draw.
    info : dict
        The run's calibration end, horizon, time unit and value name (``decisions.json``).
    folder : Path or None
        Where it was read from.
    """

    segments: pd.DataFrame
    value_draws: np.ndarray
    info: dict
    folder: Path | None = None

    def write(self, artifacts: str | Path) -> None:
        """Write the three files into a run's artifacts folder."""
        artifacts = Path(artifacts)
        artifacts.mkdir(parents=True, exist_ok=True)
        segments = self.segments.assign(segment=self.segments["segment"].astype(str))
        segments.to_parquet(artifacts / SEGMENTS_FILE)
        pd.DataFrame({"value": self.value_draws}).to_parquet(artifacts / VALUE_DRAWS_FILE)
        (artifacts / RUN_FILE).write_text(json.dumps(self.info, indent=2, default=str) + "\n")


def load_run(folder: str | Path) -> RunArtifacts:
    """Read a run from a report folder (or directly from its ``artifacts`` folder).

    Raises
    ------
    FileNotFoundError
        When the folder lacks the files, naming the first missing one and what writes it.
    """
    folder = Path(folder)
    artifacts = folder / "artifacts" if (folder / "artifacts").is_dir() else folder
    for name in (SEGMENTS_FILE, VALUE_DRAWS_FILE, RUN_FILE):
        if not (artifacts / name).is_file():
            raise FileNotFoundError(
                f"{folder} is not a report with decisions: {artifacts / name} is missing (the "
                "decisions notebook, 04_decisions, writes it; rerun that report with this "
                "version of clvlib)"
            )
    return RunArtifacts(
        segments=pd.read_parquet(artifacts / SEGMENTS_FILE),
        value_draws=pd.read_parquet(artifacts / VALUE_DRAWS_FILE)["value"].to_numpy(),
        info=json.loads((artifacts / RUN_FILE).read_text()),
        folder=folder,
    )


@dataclass(frozen=True)
class PeriodComparison:
    """Two runs side by side.

    Attributes
    ----------
    value : pandas.DataFrame
        Rows ``previous``, ``current`` and ``change``: mean and credible interval of the base
        value (the change per paired draw).
    customers : pandas.Series
        Counts: customers in each run, continuing, new, lost (active before and lapsed now)
        and no longer in the data.
    transitions : pandas.DataFrame
        Customers by previous segment (rows, plus ``new customer``) and current segment
        (columns, plus ``not in this run``).
    moved : pandas.DataFrame
        Each customer present in either run: previous and current segment and value.
    """

    value: pd.DataFrame
    customers: pd.Series
    transitions: pd.DataFrame
    moved: pd.DataFrame

    @property
    def unchanged(self) -> bool:
        """True when the two runs hold the same customers in the same segments."""
        return bool((self.moved["previous segment"] == self.moved["current segment"]).all())


def compare_runs(previous: RunArtifacts, current: RunArtifacts, *,
                 interval: float = 0.9) -> PeriodComparison:
    """Base value change with its interval, new and lost customers, segment transitions.

    The base value change is the difference of the two runs' base values per draw, draws
    paired by position (the runs' posteriors are independent; the shorter set of draws sets
    the number). Lost customers were in neither lapsed segment (``win back``, ``let go``)
    before and are in one now.
    """
    n = min(len(previous.value_draws), len(current.value_draws))
    before, after = previous.value_draws[:n], current.value_draws[:n]
    lo, hi = (1 - interval) / 2, (1 + interval) / 2

    def row(draws):
        return [draws.mean(), np.quantile(draws, lo), np.quantile(draws, hi)]

    value = pd.DataFrame([row(previous.value_draws), row(current.value_draws),
                          row(after - before)], index=["previous", "current", "change"],
                         columns=["mean", "lower", "upper"])
    old = previous.segments["segment"].astype(str)
    new = current.segments["segment"].astype(str)
    both = old.index.union(new.index)
    moved = pd.DataFrame({
        "previous segment": old.reindex(both).fillna(NEW),
        "current segment": new.reindex(both).fillna(GONE),
        "previous value": previous.segments["future_value"].reindex(both),
        "current value": current.segments["future_value"].reindex(both),
    })
    was_active = moved["previous segment"].isin(set(old) - set(LAPSED)) & (
        moved["previous segment"] != NEW)
    customers = pd.Series({
        "previous run": len(old),
        "this run": len(new),
        "continuing": int(old.index.isin(new.index).sum()),
        "new": int((moved["previous segment"] == NEW).sum()),
        "lost (active before, lapsed now)": int(
            (was_active & moved["current segment"].isin(LAPSED)).sum()),
        "no longer in the data": int((moved["current segment"] == GONE).sum()),
    }, name="customers")
    order = list(dict.fromkeys([*_order(old), *_order(new)]))
    transitions = pd.crosstab(moved["previous segment"], moved["current segment"])
    transitions = transitions.reindex(index=[s for s in [*order, NEW] if s in transitions.index],
                                      columns=[s for s in [*order, GONE]
                                               if s in transitions.columns], fill_value=0)
    return PeriodComparison(value, customers, transitions, moved)


def _order(segments: pd.Series) -> list[str]:
    from clvlib.segments import SEGMENTS

    present = set(segments)
    return [s for s in SEGMENTS if s in present] + sorted(present - set(SEGMENTS))
