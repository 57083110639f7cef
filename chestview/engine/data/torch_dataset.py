"""The torch Dataset the trainer iterates: image tensor, targets with a known-mask, box masks."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from chestview.engine.data.augment import AugmentConfig, apply_augment, sample_params
from chestview.engine.data.cache import cache_key, cache_path, default_cache_dir, load_cached, store_cached
from chestview.engine.data.files import image_size
from chestview.engine.data.types import LabeledDataset, Sample
from chestview.engine.errors import DatasetError, ImageLoadError
from chestview.engine.preprocess import Preprocessing, model_gray, normalise_tensor

log = logging.getLogger(__name__)


def _load_image(path: str):  # imported late: the io package is optional for metrics-only users
    from chestview.engine.io.loader import load_image

    return load_image(path)


def decode_gray_u8(path: str, size: int) -> np.ndarray:
    """The image as the models see it (window applied, whole image resized with the same antialiased
    bilinear resize as ``preprocess.prepare``), quantised to uint8 (size, size)."""
    gray = model_gray(_load_image(path), size)
    return (gray.numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)


def rasterise_boxes(sample: Sample, labels: Sequence[str], size: int,
                    stored_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(C, S, S) uint8 masks (1 inside a box of that label) and (C,) bool "has a box"."""
    pos = {lab: i for i, lab in enumerate(labels)}
    masks = np.zeros((len(labels), size, size), np.uint8)
    has = np.zeros(len(labels), bool)
    sx, sy = size / stored_size[0], size / stored_size[1]
    for label, box in sample.boxes:
        c = pos.get(label)
        if c is None:
            continue
        x0 = min(max(int(math.floor(box.x * sx)), 0), size - 1)
        y0 = min(max(int(math.floor(box.y * sy)), 0), size - 1)
        x1 = max(min(int(math.ceil(box.x2 * sx)), size), x0 + 1)  # at least one pixel
        y1 = max(min(int(math.ceil(box.y2 * sy)), size), y0 + 1)
        masks[c, y0:y1, x0:x1] = 1
        has[c] = True
    return masks, has


def abnormal_target(targets: np.ndarray) -> float:
    """1 when any label is positive, 0 when every label is known negative (a No Finding film),
    NaN (unknown) otherwise."""
    t = np.asarray(targets, dtype=np.float32)
    if (t > 0.5).any():
        return 1.0
    return float("nan") if np.isnan(t).any() else 0.0


def abnormality_targets(targets: np.ndarray) -> np.ndarray:
    """The label targets with the abnormality target appended (the model's extra, last output)."""
    return np.append(np.asarray(targets, dtype=np.float32), np.float32(abnormal_target(targets)))


class ChestXrayTorchDataset(Dataset):
    """Items: {"image": (C,S,S) float32 normalised as ``pre`` says, "targets": (C,) float32 (unknown
    -> 0, see "mask"), "mask": (C,) float32 1 = label known, "box_mask": (C,S,S) uint8,
    "has_boxes": (C,) bool, "index": index into ``ds.samples``}.

    With ``cache`` the decoded (S, S) uint8 image is kept under the user cache dir; training then
    never decodes a file twice. Augmentation draws from a generator seeded per DataLoader worker
    (from ``seed`` and the worker's torch seed), so runs are reproducible for a seeded trainer."""

    def __init__(self, ds: LabeledDataset, indices: Sequence[int], pre: Preprocessing, *, augment: bool = False,
                 cache: bool = True, seed: int = 0, hflip: bool = False, box_masks: bool = True,
                 cache_dir: str | Path | None = None, augment_config: AugmentConfig | None = None,
                 abnormality: bool = False) -> None:
        self.ds = ds
        self.abnormality = abnormality
        self.indices = [int(i) for i in indices]
        self.pre = pre
        self.augment = augment
        self.cache = cache
        self.seed = int(seed)
        self.box_masks = box_masks
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        cfg = augment_config or AugmentConfig()
        self.augment_config = AugmentConfig(**{**cfg.__dict__, "hflip": hflip or cfg.hflip})
        self._gen: torch.Generator | None = None
        self._gen_key: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def gray_u8(self, index: int) -> np.ndarray:
        """Decoded (S, S) uint8 of ``ds.samples[index]``, from the cache when possible."""
        path, size = self.ds.samples[index].path, self.pre.size
        if not self.cache:
            return decode_gray_u8(path, size)
        file = cache_path(self.cache_dir, cache_key(path, size))
        arr = load_cached(file, size)
        if arr is None:
            arr = decode_gray_u8(path, size)
            store_cached(file, arr)
        return arr

    def _generator(self) -> torch.Generator:
        # A DataLoader worker gets its own torch seed (base seed + worker id, new each epoch).
        key = (os.getpid(), torch.initial_seed())
        if self._gen is None or self._gen_key != key:
            self._gen = torch.Generator().manual_seed(hash((self.seed, key[1])) & 0x7FFF_FFFF_FFFF_FFFF)
            self._gen_key = key
        return self._gen

    def _readable(self, i: int) -> tuple[int, np.ndarray]:
        """(index, decoded image) of item ``i``; an unreadable file (a truncated PNG) is skipped with a
        warning that names it, and the next readable item of the list takes its place. Raised inside
        a DataLoader worker, its error would reach the user as "Caught ImageLoadError in DataLoader
        worker process 0", without the file's name."""
        for k in range(len(self.indices)):
            index = self.indices[(i + k) % len(self.indices)]
            try:
                return index, self.gray_u8(index)
            except ImageLoadError as exc:
                log.warning("%s; skipped (another training image takes its place)", exc)
        raise DatasetError(f"{self.ds.root}: none of the {len(self.indices)} images of this split can be read")

    def __getitem__(self, i: int) -> dict[str, Any]:
        index, gray_u8 = self._readable(i)
        sample = self.ds.samples[index]
        size, n_labels = self.pre.size, len(self.ds.labels)
        gray = torch.from_numpy(gray_u8).float().div_(255.0)[None]
        mask_t: torch.Tensor | None = None
        has = np.zeros(n_labels, bool)
        if self.box_masks and sample.boxes:
            stored = sample.image_size or image_size(sample.path)
            masks, has = rasterise_boxes(sample, self.ds.labels, size, stored)
            mask_t = torch.from_numpy(masks)
        if self.augment:
            gray, mask_t = apply_augment(gray, mask_t, sample_params(self._generator(), size, self.augment_config))
        targets = abnormality_targets(sample.targets) if self.abnormality else sample.targets
        known = ~np.isnan(targets)
        item: dict[str, Any] = {
            "image": normalise_tensor(gray[0], self.pre).contiguous(),
            "targets": torch.from_numpy(np.where(known, targets, 0.0).astype(np.float32)),
            "mask": torch.from_numpy(known.astype(np.float32)),
            "has_boxes": torch.from_numpy(has),
            "index": index,
        }
        if self.box_masks:
            # zeros() is calloc-backed: an image without boxes costs no pixel work
            item["box_mask"] = mask_t if mask_t is not None else torch.zeros((n_labels, size, size), dtype=torch.uint8)
        return item
