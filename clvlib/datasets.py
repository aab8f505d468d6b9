"""The bundled public data sets: one registry, checked by checksum on every load.

Provenance of each file is in ``data/README.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clvlib.config import BUNDLED_DATA_DIR


@dataclass(frozen=True)
class Dataset:
    """A bundled data set: its file, checksum, reader and what it is."""

    name: str
    filename: str
    sha256: str
    description: str
    citation: str
    reader: Callable[[Path], pd.DataFrame]
    is_transaction_log: bool = False

    @property
    def path(self) -> Path:
        return BUNDLED_DATA_DIR / self.filename

    def __str__(self) -> str:
        return f"{self.name}: {self.description} ({self.filename}; {self.citation})"


def _read_cdnow_master(path: Path) -> pd.DataFrame:
    df = pd.read_csv(
        path, sep=r"\s+", skiprows=1, header=None, dtype=str,
        names=["customer_id", "date", "quantity", "amount"],
    )
    return _cdnow_types(df)


def _read_cdnow_sample(path: Path) -> pd.DataFrame:
    df = pd.read_csv(
        path, sep=r"\s+", header=None, dtype=str,
        names=["customer_id", "sample_id", "date", "quantity", "amount"],
    )
    return _cdnow_types(df)


def _cdnow_types(df: pd.DataFrame) -> pd.DataFrame:
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    df["quantity"] = df["quantity"].astype(int)
    df["amount"] = df["amount"].astype(float)
    return df


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            "cdnow_sample",
            "CDNOW_sample.txt",
            "6fae10155c0b0ba363c2c386e30f77990d22328220efd862a5edd1443420d94a",
            "CDNOW 1/10 sample: 2,357 customers who first bought in Q1 1997, purchases to June "
            "1998 (customer_id, sample_id, date, quantity, amount)",
            "Fader, Hardie & Lee (2005), Marketing Science 24(2)",
            _read_cdnow_sample,
            is_transaction_log=True,
        ),
        Dataset(
            "cdnow_master",
            "CDNOW_master.txt",
            "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef",
            "CDNOW full cohort: 23,570 customers who first bought in Q1 1997, purchases to June "
            "1998 (customer_id, date, quantity, amount)",
            "Fader & Hardie, public CDNOW data",
            _read_cdnow_master,
            is_transaction_log=True,
        ),
        Dataset(
            "donations",
            "donations.csv",
            "82c25f26a201ff047e1cd5fe3d7967a45db92a025ecedee72ff8940e50104544",
            "repeat donations 1996-2001 of the 1995 donor cohort, compressed to (frequency, "
            "recency, periods) patterns with weights; 11,104 donors",
            "Fader, Hardie & Shang (2010), Marketing Science 29(6)",
            pd.read_csv,
        ),
        Dataset(
            "sbg_retention",
            "sbg_retention.csv",
            "1daa1c5aadca575d8784f7ef4e02ac3128e5acecb0678f3e88702c61fc67af0d",
            "percent of customers still active at the start of years 0-12, regular and high-end "
            "segments",
            "Fader & Hardie (2007), Journal of Interactive Marketing 21(1)",
            pd.read_csv,
        ),
    ]
}


def get_dataset(name: str) -> Dataset:
    """Return the registry entry called ``name``; unknown names fail listing the valid ones."""
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; valid names: {', '.join(DATASETS)}")
    return DATASETS[name]


def load_dataset(name: str) -> pd.DataFrame:
    """Load a bundled data set as a DataFrame, after checking the file's checksum.

    Parameters
    ----------
    name : str
        One of ``clvlib.DATASETS`` (``cdnow_sample``, ``cdnow_master``, ``donations``,
        ``sbg_retention``).

    Examples
    --------
    >>> df = load_dataset("cdnow_sample")
    >>> df["customer_id"].nunique()
    2357
    """
    dataset = get_dataset(name)
    digest = file_sha256(dataset.path)
    if digest != dataset.sha256:
        raise ValueError(
            f"{dataset.path}: checksum {digest} does not match the registry ({dataset.sha256}); "
            "data/raw is immutable, restore the file from git"
        )
    return dataset.reader(dataset.path)


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()
