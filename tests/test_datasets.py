"""The bundled data-set registry: lookups, checksums, contents.

Sources: DESIGN.md section 4 (row and customer counts) and data/README.md (provenance and
sha256 of each file); STYLE.md (a registry that fails loudly with the list of valid names).
"""

from __future__ import annotations

import hashlib
import re
import shutil

import pytest

import clvlib
from clvlib import datasets
from clvlib.config import SOURCE_ROOT
from clvlib.datasets import DATASETS, file_sha256, get_dataset, load_dataset


def test_unknown_name_lists_valid_names():
    """An unknown name is a KeyError that lists every registered name."""
    with pytest.raises(KeyError) as err:
        load_dataset("cdnow")
    msg = str(err.value)
    assert "'cdnow'" in msg
    for name in ("cdnow_sample", "cdnow_master", "donations", "sbg_retention"):
        assert name in msg
    with pytest.raises(KeyError, match="valid names"):
        get_dataset("nope")


def test_registry_is_public():
    """clvlib.DATASETS and clvlib.load_dataset are the registry."""
    assert clvlib.DATASETS is DATASETS
    assert set(DATASETS) == {"cdnow_sample", "cdnow_master", "donations", "sbg_retention"}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_registered_checksum_matches_file(name):
    """Each file in data/raw hashes (sha256, computed here with hashlib directly) to the
    registry's value, and the registry agrees with data/README.md's abbreviated digest."""
    dataset = DATASETS[name]
    digest = hashlib.sha256(dataset.path.read_bytes()).hexdigest()
    assert digest == dataset.sha256
    assert file_sha256(dataset.path, chunk_size=4096) == digest
    readme = (SOURCE_ROOT / "data" / "README.md").read_text()
    match = re.search(rf"`raw/{re.escape(dataset.filename)}`.*`([0-9a-f]+)…([0-9a-f]+)`", readme)
    assert match, f"{dataset.filename} has no abbreviated sha256 in data/README.md"
    assert dataset.sha256.startswith(match.group(1))
    assert dataset.sha256.endswith(match.group(2))


def test_cdnow_contents_match_design():
    """DESIGN.md section 4: sample 2,357 customers / 6,919 rows; master 23,570 / 69,659."""
    sample = load_dataset("cdnow_sample")
    assert (sample["customer_id"].nunique(), len(sample)) == (2_357, 6_919)
    assert list(sample.columns) == ["customer_id", "sample_id", "date", "quantity", "amount"]
    master = load_dataset("cdnow_master")
    assert (master["customer_id"].nunique(), len(master)) == (23_570, 69_659)
    assert list(master.columns) == ["customer_id", "date", "quantity", "amount"]
    # The sample is a subset of the master's customers, with identical rows.
    assert set(sample["customer_id"]) <= set(master["customer_id"])
    merged = sample.merge(master, on=["customer_id", "date", "quantity", "amount"], how="left",
                          indicator=True)
    assert (merged["_merge"] == "both").all()


def test_donations_and_sbg_contents():
    """Donations: 11,104 donors over 6 periods (FHS 2010); sBG: years 0-12, 100% at year 0."""
    donations = load_dataset("donations")
    assert int(donations["weights"].sum()) == 11_104
    assert set(donations["periods"]) == {6}
    assert (donations["recency"] <= donations["periods"]).all()
    sbg = load_dataset("sbg_retention")
    assert sbg["year"].tolist() == list(range(13))
    assert sbg.loc[0, "regular"] == 100.0 and sbg.loc[0, "highend"] == 100.0
    assert (sbg[["regular", "highend"]].diff().iloc[1:] <= 0).all().all()


@pytest.mark.parametrize("name", ["cdnow_sample", "donations"])
def test_tampered_copy_is_rejected(tmp_path, monkeypatch, name):
    """A copy of data/raw with one changed byte fails the checksum, naming the file; an
    untouched copy loads. (BUNDLED_DATA_DIR is pointed at the copy.)"""
    for dataset in DATASETS.values():
        shutil.copy(dataset.path, tmp_path / dataset.filename)
    monkeypatch.setattr(datasets, "BUNDLED_DATA_DIR", tmp_path)
    assert len(load_dataset("cdnow_master")) == 69_659  # untouched copy: fine

    target = tmp_path / DATASETS[name].filename
    data = bytearray(target.read_bytes())
    index = data.rindex(b"1")
    data[index:index + 1] = b"2"
    target.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum") as err:
        load_dataset(name)
    assert str(target) in str(err.value)


def test_tampered_copy_is_rejected_by_read_transactions(tmp_path, monkeypatch):
    """read_transactions('cdnow_sample') goes through the same checksum."""
    copy = tmp_path / "CDNOW_sample.txt"
    original = DATASETS["cdnow_sample"].path.read_bytes()
    copy.write_bytes(original.replace(b"19970101", b"19970102", 1))
    monkeypatch.setattr(datasets, "BUNDLED_DATA_DIR", tmp_path)
    with pytest.raises(ValueError, match="checksum"):
        clvlib.read_transactions("cdnow_sample")


def test_dataset_str_names_file_and_citation():
    text = str(DATASETS["cdnow_sample"])
    assert "CDNOW_sample.txt" in text and "Fader, Hardie & Lee (2005)" in text
