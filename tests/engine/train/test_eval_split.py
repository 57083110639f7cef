"""``evaluate``'s split resolution: the model's recorded lists win over any spelling of the folder;
leaks, overrides and unrecorded models are refused or labelled (tests/data/nih, real files)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chestview.engine.data import open_dataset
from chestview.engine.data.recorded_split import SPLIT_FILE, record_split, write_split
from chestview.engine.errors import ChestviewError
from chestview.engine.train.evaluation import resolve_split
from chestview.engine.util import sha256_file

DATA = Path(__file__).resolve().parents[2] / "data" / "nih"


@dataclass
class Card:
    id: str = "tiny"
    provenance: dict = field(default_factory=dict)


def entry(tmp_path: Path, lists_from, split) -> tuple[Path, Card]:
    directory = tmp_path / "entry"
    directory.mkdir()
    write_split(directory / SPLIT_FILE, record_split(lists_from, split))
    card = Card(provenance={"data": "nih:somewhere/else", "split_file": {
        "file": SPLIT_FILE, "sha256": sha256_file(directory / SPLIT_FILE)}})
    return directory, card


def test_recorded_split_is_used_whatever_the_spelling(tmp_path):
    folder = shutil.copytree(DATA, tmp_path / "nih")
    ds = open_dataset(f"nih:{folder}")
    n = len(ds)
    split = {"train": list(range(n - 4)), "val": [n - 4], "test": [n - 3, n - 2, n - 1]}
    directory, card = entry(tmp_path, ds, split)
    again = open_dataset(f"nih:{tmp_path}/./nih")
    got = resolve_split(again, card, directory, "test", data_spec=f"nih:{tmp_path}/./nih", fractions=None, seed=None)
    assert got.recorded and got.parts["test"] == [n - 3, n - 2, n - 1]
    everything = resolve_split(again, card, directory, "all", data_spec="x", fractions=None, seed=None)
    assert "not a held-out measure" in everything.note
    with pytest.raises(ChestviewError, match="records its split as images"):
        resolve_split(again, card, directory, "test", data_spec="x", fractions=(0.5, 0.25, 0.25), seed=None)


def test_leaked_test_images_refuse_test_metrics(tmp_path):
    folder = shutil.copytree(DATA, tmp_path / "nih")
    ds = open_dataset(f"nih:{folder}")
    n = len(ds)
    split = {"train": list(range(n - 2)), "val": [], "test": [n - 3, n - 2, n - 1]}  # n-3 on both sides
    directory, card = entry(tmp_path, ds, split)
    with pytest.raises(ChestviewError, match="refusing test metrics") as info:
        resolve_split(ds, card, directory, "test", data_spec="x", fractions=None, seed=None)
    assert info.value.exit_code == 2
    assert resolve_split(ds, card, directory, "train", data_spec="x", fractions=None, seed=None).parts["train"]


def test_a_changed_split_file_is_refused(tmp_path):
    folder = shutil.copytree(DATA, tmp_path / "nih")
    ds = open_dataset(f"nih:{folder}")
    directory, card = entry(tmp_path, ds, {"train": [0, 1], "val": [2], "test": [3]})
    (directory / SPLIT_FILE).write_text((directory / SPLIT_FILE).read_text().replace("train", "train "))
    with pytest.raises(ChestviewError, match="SHA-256"):
        resolve_split(ds, card, directory, "test", data_spec="x", fractions=None, seed=None)


def test_a_model_without_lists_gets_a_labelled_fresh_split(tmp_path):
    ds = open_dataset(f"nih:{DATA}")
    got = resolve_split(ds, Card(), tmp_path, "test", data_spec="x", fractions=None, seed=None)
    assert not got.recorded and "nothing shows these images were held out" in got.note
    with pytest.raises(ChestviewError, match="no split lists"):
        resolve_split(ds, Card(), tmp_path, "unseen", data_spec="x", fractions=None, seed=None)
