"""A split recorded as its images cannot leak: the same folder by another path, grown, shrunk or with
a file renamed still gives the model's own test images, and a test image among the training images is
caught. Real NIH files from tests/data/nih."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from chestview.engine.data import open_dataset
from chestview.engine.data.recorded_split import match_recorded_split, read_split, record_split, write_split

DATA = Path(__file__).resolve().parents[2] / "data" / "nih"


def copy_folder(dst: Path) -> Path:
    shutil.copytree(DATA, dst)
    return dst


def rows(folder: Path) -> list[list[str]]:
    return list(csv.reader(open(folder / "Data_Entry_2017_v2020.csv", newline="")))


def write_rows(folder: Path, table: list[list[str]]) -> None:
    with open(folder / "Data_Entry_2017_v2020.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(table)


def fixed_split(n: int) -> dict[str, list[int]]:
    return {"train": list(range(0, n - 5)), "val": [n - 5, n - 4], "test": [n - 3, n - 2, n - 1]}


@pytest.fixture()
def recorded(tmp_path: Path) -> tuple[Path, dict, set[str]]:
    folder = copy_folder(tmp_path / "nih")
    ds = open_dataset(f"nih:{folder}")
    doc = record_split(ds, fixed_split(len(ds)))
    write_split(tmp_path / "split.json", doc)
    test_names = {Path(ds.samples[i].path).name for i in fixed_split(len(ds))["test"]}
    return folder, read_split(tmp_path / "split.json"), test_names


def names_of(ds, idx) -> set[str]:
    return {Path(ds.samples[i].path).name for i in idx}


def test_same_folder_by_another_path(recorded, tmp_path):
    folder, doc, test = recorded
    link = tmp_path / "elsewhere"
    link.symlink_to(folder)
    for spec in (f"nih:{link}", f"nih:{folder}/../nih"):
        ds = open_dataset(spec)
        m = match_recorded_split(ds, doc)
        assert names_of(ds, m.indices["test"]) == test
        assert not m.unseen and not any(m.missing.values()) and not m.leaked


def test_grown_folder_reports_unseen_images(recorded, tmp_path):
    folder, doc, test = recorded
    extra = sorted((DATA.parent / "nih_64px" / "images").glob("*.png"))[0]
    shutil.copyfile(extra, folder / "images" / "99999999_000.png")
    table = rows(folder)
    table.append(["99999999_000.png", "No Finding", "0", "99999999", "50", "F", "PA", "64", "64", "0.1", "0.1"])
    write_rows(folder, table)
    ds = open_dataset(f"nih:{folder}")
    m = match_recorded_split(ds, doc)
    assert names_of(ds, m.indices["test"]) == test
    assert names_of(ds, m.unseen) == {"99999999_000.png"}


def test_shrunk_folder_reports_missing_test_images(recorded):
    folder, doc, test = recorded
    gone = sorted(test)[0]
    (folder / "images" / gone).unlink()
    ds = open_dataset(f"nih:{folder}")
    m = match_recorded_split(ds, doc)
    assert names_of(ds, m.indices["test"]) == test - {gone}
    assert m.missing["test"] == [f"images/{gone}"]


def test_renamed_file_stays_in_its_split(recorded):
    folder, doc, test = recorded
    old = sorted(test)[0]
    (folder / "images" / old).rename(folder / "images" / "renamed.png")
    write_rows(folder, [[("renamed.png" if c == old else c) for c in r] for r in rows(folder)])
    ds = open_dataset(f"nih:{folder}")
    m = match_recorded_split(ds, doc)
    assert names_of(ds, m.indices["test"]) == (test - {old}) | {"renamed.png"}
    assert m.renamed == 1 and not m.unseen


def test_a_test_image_among_the_training_images_is_caught(recorded):
    folder, doc, _ = recorded
    leaked = dict(doc)
    lists = {k: [list(e) for e in v] for k, v in doc["lists"].items()}
    lists["train"].append(list(lists["test"][0]))  # the same content on both sides
    leaked["lists"] = lists
    m = match_recorded_split(open_dataset(f"nih:{folder}"), leaked)
    assert m.leaked == [lists["test"][0][0]]
