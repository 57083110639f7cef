"""Train / val / test splits: official lists first, else patient-wise, else iterative stratification.

Stratification uses the iterative algorithm of Sechidis et al. (2011) from ``iterative-stratification``
so that rare labels land in every split; at the patient level it runs on each patient's label union,
so no patient ever sits on two sides."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from iterstrat.ml_stratifiers import IterativeStratification

from chestview.engine.data.types import LabeledDataset
from chestview.engine.errors import DatasetError

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or np.any(f < 0) or not np.isclose(f.sum(), 1.0, atol=1e-6) or f[0] <= 0:
        raise DatasetError(f"split fractions {tuple(fractions)}: need (train, val, test) >= 0 summing to 1")
    return f


def _stratified_folds(labels: np.ndarray, fractions: np.ndarray, seed: int) -> np.ndarray:
    """Fold (0 train, 1 val, 2 test) per row of a boolean (n, C) matrix; rows are shuffled with the
    seed first so that ties (and label-less rows) are broken differently for another seed."""
    n = labels.shape[0]
    rng = np.random.RandomState(seed)
    perm = rng.permutation(n)
    active = np.flatnonzero(fractions > 0)
    r = fractions[active] / fractions[active].sum()
    folds_perm = IterativeStratification(labels=labels[perm].astype(bool), r=r, random_state=rng)
    folds = np.empty(n, dtype=int)
    folds[perm] = active[folds_perm]
    return folds


def _positive_matrix(ds: LabeledDataset, idx: Sequence[int]) -> np.ndarray:
    """The columns stratified on: every label, plus "no finding", "has boxes" and one per group, so
    that validation and test hold normal films, box-bearing films and each collection in proportion."""
    t = ds.targets()[np.asarray(idx, dtype=int)] if len(idx) else np.zeros((0, len(ds.labels)))
    pos = np.nan_to_num(t, nan=0.0) > 0.5
    samples = [ds.samples[i] for i in idx]
    normal = np.array([not np.isnan(s.targets).any() and not (s.targets > 0.5).any() for s in samples], bool)
    boxed = np.array([bool(s.boxes) for s in samples], bool)
    extra = [normal[:, None], boxed[:, None]]
    groups = sorted({s.group for s in samples if s.group is not None})
    if len(groups) > 1:
        extra.append(np.array([[s.group == g for g in groups] for s in samples], bool))
    return np.concatenate([pos, *extra], axis=1) if len(samples) else pos


def _patient_folds(ds: LabeledDataset, idx: Sequence[int], fractions: np.ndarray, seed: int) -> dict[str, list[int]]:
    patients = sorted({ds.samples[i].patient_id for i in idx})  # type: ignore[type-var]
    where = {p: k for k, p in enumerate(patients)}
    pos = _positive_matrix(ds, idx)
    union = np.zeros((len(patients), pos.shape[1]), bool)
    owner = np.array([where[ds.samples[i].patient_id] for i in idx], dtype=int)
    np.logical_or.at(union, owner, pos)
    folds = _stratified_folds(union, fractions, seed)
    out = {name: [] for name in SPLIT_NAMES}
    for i, p in zip(idx, owner):
        out[SPLIT_NAMES[folds[p]]].append(int(i))
    return out


def _sample_folds(ds: LabeledDataset, idx: Sequence[int], fractions: np.ndarray, seed: int) -> dict[str, list[int]]:
    folds = _stratified_folds(_positive_matrix(ds, idx), fractions, seed)
    out = {name: [] for name in SPLIT_NAMES}
    for i, f in zip(idx, folds):
        out[SPLIT_NAMES[f]].append(int(i))
    return out


def split_dataset(ds: LabeledDataset, fractions: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0) -> dict[str, list[int]]:
    """Indices for "train", "val" and "test" (each sorted).

    - NIH official lists (train_val / test): test as published; val carved out of train_val
      patient-wise with val/(train+val) of it.
    - Other official splits (train / val / test) are returned as they are.
    - Patient ids on every sample: patients are assigned whole, stratified on their label union.
    - Otherwise: iterative stratification of the images.
    Deterministic for a seed."""
    f = _check_fractions(fractions)
    all_idx = list(range(len(ds)))
    off = ds.official_splits
    if off and "test" in off and "train_val" in off:
        tv = off["train_val"]
        sub = np.array([f[0], f[1], 0.0]) / (f[0] + f[1])
        parts = _patient_folds(ds, tv, sub, seed) if _all_have_patients(ds, tv) else _sample_folds(ds, tv, sub, seed)
        out = {"train": parts["train"], "val": parts["val"], "test": list(off["test"])}
    elif off and "train" in off:
        out = {name: list(off.get(name, [])) for name in SPLIT_NAMES}
    elif ds.has_patient_ids():
        out = _patient_folds(ds, all_idx, f, seed)
    else:
        out = _sample_folds(ds, all_idx, f, seed)
    out = {k: sorted(v) for k, v in out.items()}
    log.info("split %s: %s", ds.name, {k: len(v) for k, v in out.items()})
    return out


def _all_have_patients(ds: LabeledDataset, idx: Sequence[int]) -> bool:
    return all(ds.samples[i].patient_id is not None for i in idx)
