"""Dataset readers on small real files in tests/data."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest

from chestview.engine.data import NIH_LABELS, open_dataset
from chestview.engine.data.indiana import load_tag_pickle
from chestview.engine.errors import DatasetError


def _by_name(ds):
    return {Path(s.path).name: s for s in ds.samples}


def test_nih_labels_patients_and_boxes_scaled_to_stored_size(test_data: Path) -> None:
    ds = open_dataset(f"nih:{test_data / 'nih'}")
    assert ds.labels == NIH_LABELS and len(ds) == 13 and ds.missing_images == 0
    s = _by_name(ds)
    assert np.array_equal(s["00000002_000.png"].targets, np.zeros(14, np.float32))  # No Finding
    t = s["00000001_002.png"].targets
    assert t[NIH_LABELS.index("Cardiomegaly")] == 1 and t[NIH_LABELS.index("Effusion")] == 1 and t.sum() == 2
    assert s["00000001_000.png"].patient_id == s["00000001_002.png"].patient_id == "1"
    # "Infiltrate" in the box list is the label Infiltration; 1024-space coordinates halved for 512 px
    label, box = s["00000032_037.png"].boxes[0]
    assert label == "Infiltration" and s["00000032_037.png"].image_size == (512, 512)
    assert box.x == pytest.approx(339.166137566138 / 2) and box.height == pytest.approx(351.085714285714 / 2)
    assert len(s["00008814_010.png"].boxes) == 3
    assert ds.official_splits is None


def test_nih_csv_path_missing_images_and_official_lists(test_data: Path, tmp_path: Path) -> None:
    src = test_data / "nih"
    (tmp_path / "images_001" / "images").mkdir(parents=True)  # NIH release layout
    for name in ("00000001_000.png", "00000001_002.png", "00000002_000.png", "00000003_000.png"):
        (tmp_path / "images_001" / "images" / name).write_bytes((src / "images" / name).read_bytes())
    (tmp_path / "Data_Entry_2017_v2020.csv").write_bytes((src / "Data_Entry_2017_v2020.csv").read_bytes())
    (tmp_path / "train_val_list.txt").write_text("00000001_000.png\n00000001_002.png\n00000003_000.png\n")
    (tmp_path / "test_list.txt").write_text("00000002_000.png\n00000072_000.png\n")
    ds = open_dataset(f"nih:{tmp_path / 'Data_Entry_2017_v2020.csv'}")
    assert len(ds) == 4 and ds.missing_images == 9
    names = [Path(s.path).name for s in ds.samples]
    assert [names[i] for i in ds.official_splits["test"]] == ["00000002_000.png"]
    assert len(ds.official_splits["train_val"]) == 3


def test_nih_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no Data_Entry"):
        open_dataset(f"nih:{tmp_path}")
    bad = tmp_path / "Data_Entry_2017.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="Data_Entry_2017.csv"):
        open_dataset(f"nih:{bad}")
    with pytest.raises(DatasetError, match="KIND:PATH"):
        open_dataset("nope:/x")


@pytest.mark.parametrize("policy, expected", [("U-Ones", 1.0), ("U-Zeros", 0.0), ("ignore", None)])
def test_chexpert_uncertainty_policies(test_data: Path, policy: str, expected: float | None) -> None:
    ds = open_dataset(f"chexpert:{test_data / 'chexpert' / 'train.csv'}", uncertain=policy)
    assert ds.labels == ("No Finding", "Cardiomegaly", "Edema", "Consolidation", "Pleural Effusion")
    assert len(ds) == 6
    first = ds.samples[0].targets  # ,1,0,-1,1
    assert math.isnan(first[0]) and first[1] == 1 and first[2] == 0 and first[4] == 1
    assert (math.isnan(first[3]) if expected is None else first[3] == expected)
    assert ds.samples[0].patient_id == ds.samples[1].patient_id == "patient00001"
    assert Path(ds.samples[0].path).is_file()


def test_chexpert_frontal_only_and_bad_values(test_data: Path, tmp_path: Path) -> None:
    ds = open_dataset(f"chexpert:{test_data / 'chexpert' / 'train.csv'}", frontal_only=True)
    assert len(ds) == 5 and all("lateral" not in s.path for s in ds.samples)
    bad = tmp_path / "train.csv"
    bad.write_text("Path,Frontal/Lateral,Edema\nx.png,Frontal,2\n")
    (tmp_path / "x.png").write_bytes((test_data / "openi" / "CXR1_1_IM-0001-3001.png").read_bytes())
    with pytest.raises(DatasetError, match=r"train.csv: line 2, column 'Edema'"):
        open_dataset(f"chexpert:{bad}")
    with pytest.raises(DatasetError, match="uncertainty policy"):
        open_dataset(f"chexpert:{bad}", uncertain="maybe")


def test_generic_csv_blank_is_unknown(test_data: Path) -> None:
    ds = open_dataset(f"csv:{test_data / 'generic.csv'}")
    assert ds.labels == ("Cardiomegaly", "Effusion") and len(ds) == 8
    assert math.isnan(ds.samples[3].targets[1]) and ds.samples[3].mask.tolist() == [1.0, 0.0]
    assert ds.samples[0].patient_id == "00000043"


def test_indiana_pickles_splits_and_tag_order(test_data: Path) -> None:
    ds = open_dataset(f"indiana:{test_data / 'indiana'}")
    # frequency order (normal 3 = opacity 3 < ... ties by name), deterministic
    assert ds.labels == ("normal", "opacity", "cardiomegaly", "effusion")
    assert ds.missing_images == 1 and len(ds) == 7
    assert {k: len(v) for k, v in ds.official_splits.items()} == {"train": 4, "val": 1, "test": 2}
    cxr = next(s for s in ds.samples if "CXR1_1" in s.path)
    assert cxr.patient_id == "CXR1" and cxr.targets.tolist() == [1, 0, 0, 0]


class _Evil:
    def __reduce__(self):
        return (print, ("owned",))


def test_indiana_pickle_refuses_code(tmp_path: Path) -> None:
    p = tmp_path / "train_data.pkl"
    p.write_bytes(pickle.dumps({"a.png": [_Evil()]}))
    with pytest.raises(DatasetError, match=r"train_data.pkl: refused to load builtins.print"):
        load_tag_pickle(p)
    p.write_bytes(pickle.dumps({"a.png": [1, 2]}))
    with pytest.raises(DatasetError, match="not image name -> list of tag strings"):
        load_tag_pickle(p)
    p.write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match="train_data.pkl"):
        load_tag_pickle(p)


def test_openi_xml_tags_and_images(test_data: Path) -> None:
    ds = open_dataset(f"openi:{test_data / 'openi'}")
    assert ds.labels == ("Normal",)
    assert len(ds) == 1 and ds.missing_images == 1  # the lateral image is not in the repo
    assert ds.samples[0].patient_id == "CXR1" and ds.samples[0].targets.tolist() == [1.0]
