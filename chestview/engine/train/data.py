"""The datasets a training run uses: the labelled dataset, its split and the torch datasets."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from chestview.engine.data import open_dataset, split_dataset
from chestview.engine.data.augment import AugmentConfig
from chestview.engine.data.torch_dataset import ChestXrayTorchDataset
from chestview.engine.errors import ChestviewError
from chestview.engine.train.config import TrainConfig


@dataclass
class TrainData:
    """What the trainer needs. ``dataset``/``split`` are None for synthetic data (tests): then the
    final evaluation and zoo entry, which re-read the image files, are skipped."""

    labels: tuple[str, ...]
    train: Dataset
    val: Dataset
    test: Dataset | None = None
    dataset: Any = None  # LabeledDataset
    split: dict[str, list[int]] | None = None
    train_positives: dict[str, int] = field(default_factory=dict)
    abnormality: bool = False  # the model has an extra, last output: any label vs No Finding
    train_weights: list[float] | None = None  # sampling weight per training image (group weights)


def select_labels(ds: Any, labels: tuple[str, ...] | None) -> Any:
    """The dataset restricted to ``labels`` (in that order); boxes of other labels are dropped."""
    if not labels or tuple(labels) == tuple(ds.labels):
        return ds
    missing = [lbl for lbl in labels if lbl not in ds.labels]
    if missing:
        raise ChestviewError(f"label(s) not in dataset {ds.name}: {', '.join(missing)} (it has {', '.join(ds.labels)})")
    cols = [ds.labels.index(lbl) for lbl in labels]
    keep = set(labels)
    samples = [
        dataclasses.replace(
            s,
            targets=np.asarray(s.targets, dtype=np.float32)[cols],
            boxes=tuple((lbl, box) for lbl, box in s.boxes if lbl in keep),
        )
        for s in ds.samples
    ]
    return dataclasses.replace(ds, labels=tuple(labels), samples=samples)


def positives_in(ds: Any, indices: list[int]) -> dict[str, int]:
    if not indices:
        return {lbl: 0 for lbl in ds.labels}
    t = np.stack([ds.samples[i].targets for i in indices])
    return {lbl: int(np.sum(t[:, c] == 1)) for c, lbl in enumerate(ds.labels)}


def build_data(config: TrainConfig) -> TrainData:
    """Open ``config.data``, split it (patient-wise, seeded) and wrap the parts for torch."""

    if not config.data:
        raise ChestviewError("no training data given (--data FORMAT:PATH)")
    ds = select_labels(open_dataset(config.data, **config.data_options), config.labels)
    if len(ds) == 0:
        raise ChestviewError(f"{config.data}: the dataset has no images")
    split = split_dataset(ds, fractions=tuple(config.split), seed=config.split_seed)
    split = {k: list(v) for k, v in split.items()}
    if not split.get("train"):
        raise ChestviewError(f"{config.data}: the training split is empty")
    pre = config.preprocessing()
    ab = bool(config.abnormality)
    weights = None
    if config.group_weights or config.balance_normals:
        groups = {ds.samples[i].group for i in split["train"]}
        unknown = sorted(set(config.group_weights) - {g for g in groups if g is not None})
        if unknown:
            raise ChestviewError(f"{config.data}: no training images in group(s) {', '.join(unknown)} "
                                 f"(groups here: {', '.join(sorted(g for g in groups if g)) or 'none'})")
        weights = [float(config.group_weights.get(ds.samples[i].group or "", 1.0)) for i in split["train"]]
        if config.balance_normals:
            normal = [not bool(np.nan_to_num(ds.samples[i].targets) .any()) for i in split["train"]]
            weights = balanced_normal_weights(weights, normal, [ds.samples[i].group for i in split["train"]])
    return TrainData(
        labels=tuple(ds.labels),
        train=ChestXrayTorchDataset(ds, split["train"], pre, augment=config.augment, seed=config.seed,
                                    augment_config=AugmentConfig().scaled(config.augment_strength), abnormality=ab),
        val=ChestXrayTorchDataset(ds, split.get("val", []), pre, augment=False, abnormality=ab),
        test=ChestXrayTorchDataset(ds, split.get("test", []), pre, augment=False, abnormality=ab),
        dataset=ds,
        split=split,
        train_positives=positives_in(ds, split["train"]),
        abnormality=ab,
        train_weights=weights,
    )


def balanced_normal_weights(weights: list[float], normal: list[bool], groups: list[str | None]) -> list[float]:
    """Sampling weights with the normal films re-weighted so that each group's normals carry the same
    total weight, the normals' overall weight unchanged (abnormal films keep theirs)."""
    w = np.asarray(weights, dtype=float)
    is_normal = np.asarray(normal, dtype=bool)
    names = sorted({g or "" for g, n in zip(groups, normal) if n})
    if len(names) < 2:
        return [float(v) for v in w]
    total = w[is_normal].sum()
    share = total / len(names)
    out = w.copy()
    for name in names:
        members = is_normal & np.array([(g or "") == name for g in groups])
        out[members] = w[members] * share / w[members].sum()
    return [float(v) for v in out]


def seed_worker(worker_id: int) -> None:
    """DataLoader workers: numpy and random seeded from the worker's torch seed (itself drawn from
    the loader's seeded generator), so numpy/random augmentations repeat from run to run."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
