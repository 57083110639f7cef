"""The dataset types every reader returns: one sample per image, labels as float targets with NaN = unknown."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chestview.engine.results import Box

NIH_LABELS: tuple[str, ...] = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)


@dataclass(frozen=True, eq=False)
class Sample:
    """One image. ``targets`` is float32 (C,): 1 positive, 0 negative, NaN unknown (masked, never a
    negative). ``boxes`` are in pixels of the image file as stored; ``image_size`` (width, height) is
    filled when a reader had to read it (for boxes), else None."""

    path: str
    targets: np.ndarray
    patient_id: str | None = None
    boxes: tuple[tuple[str, Box], ...] = ()
    image_size: tuple[int, int] | None = None
    group: str | None = None  # the collection an image came from, when a reader knows (stratified on)

    @property
    def mask(self) -> np.ndarray:
        return (~np.isnan(self.targets)).astype(np.float32)


@dataclass
class LabeledDataset:
    """Samples plus their label names. ``official_splits`` maps a split name ("train_val", "test",
    "train", "val") to sample indices when the dataset ships its own lists."""

    name: str
    labels: tuple[str, ...]
    samples: list[Sample]
    official_splits: dict[str, list[int]] | None = None
    root: Path = Path(".")
    missing_images: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.samples)

    def targets(self) -> np.ndarray:
        """(N, C) float32 with NaN for unknown."""
        if not self.samples:
            return np.zeros((0, len(self.labels)), np.float32)
        return np.stack([s.targets for s in self.samples]).astype(np.float32, copy=False)

    def has_patient_ids(self) -> bool:
        return bool(self.samples) and all(s.patient_id is not None for s in self.samples)

    def has_boxes(self) -> bool:
        return any(s.boxes for s in self.samples)

    def positives(self) -> dict[str, int]:
        t = self.targets()
        return {lab: int(np.nansum(t[:, i] == 1)) for i, lab in enumerate(self.labels)}
