"""split_dataset: patient-wise, deterministic, stratified, official lists first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chestview.engine.data import LabeledDataset, Sample, open_dataset, split_dataset
from chestview.engine.errors import DatasetError


def _patients(ds: LabeledDataset, idx: list[int]) -> set[str | None]:
    return {ds.samples[i].patient_id for i in idx}


def _synthetic(n_patients: int = 120, with_patients: bool = True, seed: int = 0) -> LabeledDataset:
    rng = np.random.default_rng(seed)
    samples = []
    for p in range(n_patients):
        for k in range(int(rng.integers(1, 4))):
            t = (rng.random(5) < [0.3, 0.2, 0.1, 0.05, 0.03]).astype(np.float32)
            samples.append(Sample(f"/x/{p}_{k}.png", t, f"p{p}" if with_patients else None))
    return LabeledDataset("synthetic", ("a", "b", "c", "d", "e"), samples)


def test_patient_wise_deterministic_and_seed_dependent() -> None:
    ds = _synthetic()
    a, b, c = split_dataset(ds, seed=0), split_dataset(ds, seed=0), split_dataset(ds, seed=1)
    assert a == b and a != c
    for sp in (a, c):
        assert sorted(sp["train"] + sp["val"] + sp["test"]) == list(range(len(ds)))
        tr, va, te = (_patients(ds, sp[k]) for k in ("train", "val", "test"))
        assert not (tr & va) and not (tr & te) and not (va & te)
        frac = np.array([len(sp[k]) for k in ("train", "val", "test")]) / len(ds)
        assert np.allclose(frac, (0.7, 0.1, 0.2), atol=0.06)
        t = ds.targets()
        for k in ("train", "val", "test"):  # even the 3% label reaches every split
            assert t[sp[k]].sum(axis=0).min() >= 1


def test_without_patients_uses_image_stratification() -> None:
    ds = _synthetic(with_patients=False)
    sp = split_dataset(ds, fractions=(0.6, 0.2, 0.2), seed=3)
    assert sorted(sum(sp.values(), [])) == list(range(len(ds)))
    assert abs(len(sp["test"]) / len(ds) - 0.2) < 0.03


def test_nih_64px_smoke_split_has_positives_everywhere(test_data: Path) -> None:
    ds = open_dataset(f"nih:{test_data / 'nih_64px'}")
    assert len(ds) == 40
    sp = split_dataset(ds, seed=0)
    t = ds.targets()
    for label in ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration"):
        c = ds.labels.index(label)
        assert all(t[sp[k], c].sum() >= 1 for k in sp), label


def test_official_lists_first_val_carved_patient_wise() -> None:
    ds = _synthetic()
    test = [i for i, s in enumerate(ds.samples) if int(s.patient_id[1:]) % 5 == 0]
    ds.official_splits = {"train_val": [i for i in range(len(ds)) if i not in set(test)], "test": test}
    sp = split_dataset(ds, seed=0)
    assert sp["test"] == test
    assert not (_patients(ds, sp["train"]) & _patients(ds, sp["val"]))
    assert 0.08 < len(sp["val"]) / (len(sp["train"]) + len(sp["val"])) < 0.18


def test_bad_fractions() -> None:
    with pytest.raises(DatasetError, match="fractions"):
        split_dataset(_synthetic(10), fractions=(0.5, 0.1, 0.1))
