"""Per-label box priors: where a label's radiologist boxes usually lie, learned from the training
split, and the fusion of a model's heatmap with that prior before boxes are cut.

A model trained on a few hundred films knows roughly *that* a film shows Cardiomegaly but not
always *where*; the training boxes say where such boxes usually are (the heart, the costophrenic
angles). Boxes are drawn from ``heat * prior ** exponent`` (renormalised to 0..255), with the
exponent chosen on the validation split's boxes; exponent 0 is the model's map alone. The
localization tables keep their *prior* and *swap* controls, so what the image itself adds stays
visible. The map shown to a reader is the model's own; only the boxes use the fusion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.numpy import load, save

from chestview.engine.errors import ModelError
from chestview.engine.results import Box
from chestview.engine.util import atomic_write_bytes

PRIOR_GRID = 32  # cells per side of a prior map (in normalised image coordinates)
PRIOR_FILE = "box_prior.safetensors"
EXPONENTS = (0.0, 0.5, 1.0, 2.0)  # candidates tried on the validation split


def prior_maps(boxes_and_sizes: Sequence[tuple[Sequence[tuple[str, Box]], tuple[int, int]]],
               labels: Sequence[str], grid: int = PRIOR_GRID) -> dict[str, np.ndarray]:
    """label -> (grid, grid) float32 in [0, 1]: the share of that label's training boxes covering
    each cell (max-normalised), from (boxes, (width, height)) per training image."""
    acc = {lbl: np.zeros((grid, grid), np.float64) for lbl in labels}
    for boxes, (w, h) in boxes_and_sizes:
        if not w or not h:
            continue
        for lbl, b in boxes:
            if lbl not in acc:
                continue
            x0 = int(np.clip(np.floor(b.x / w * grid), 0, grid - 1))
            y0 = int(np.clip(np.floor(b.y / h * grid), 0, grid - 1))
            x1 = int(np.clip(np.ceil(b.x2 / w * grid), x0 + 1, grid))
            y1 = int(np.clip(np.ceil(b.y2 / h * grid), y0 + 1, grid))
            acc[lbl][y0:y1, x0:x1] += 1.0
    return {lbl: (m / m.max()).astype(np.float32) for lbl, m in acc.items() if m.max() > 0}


def _resize(prior: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if prior.shape == shape:
        return prior
    img = Image.fromarray(prior.astype(np.float32), mode="F").resize((shape[1], shape[0]), Image.BILINEAR)
    return np.asarray(img, dtype=np.float32)


def fuse_with_prior(heat: np.ndarray, prior: np.ndarray | None, exponent: float) -> np.ndarray:
    """One label's uint8 map (h, w) times ``prior ** exponent`` (resized to the map), renormalised
    to 0..255 so the same box threshold applies; the map itself when there is no prior or the
    exponent is 0."""
    if prior is None or exponent <= 0:
        return heat
    fused = heat.astype(np.float32) * np.power(np.clip(_resize(prior, heat.shape), 0.0, 1.0), exponent)
    top = float(fused.max())
    if top <= 0:
        return np.zeros_like(heat, dtype=np.uint8)
    return np.round(fused * (255.0 / top)).astype(np.uint8)


def prior_factors(priors: Mapping[str, np.ndarray], labels: Sequence[str], shape: tuple[int, int],
                  exponent: float) -> np.ndarray:
    """(L, h, w) float32: ``prior ** exponent`` per label resized to the maps' shape, 1 where a
    label has no prior. Computed once per model and map shape; :func:`fuse_stack` applies it."""
    ones = np.ones(shape, np.float32)
    return np.stack([np.power(np.clip(_resize(priors[lbl], shape), 0.0, 1.0), exponent) if lbl in priors else ones
                     for lbl in labels]).astype(np.float32)


def fuse_stack(heat: np.ndarray, factors: np.ndarray, has_prior: np.ndarray) -> np.ndarray:
    """:func:`fuse_with_prior` for every label at once: (L, h, w) uint8 maps times their factors,
    each renormalised to 0..255; labels without a prior (``has_prior`` False) keep their map."""
    fused = heat.astype(np.float32) * factors
    top = fused.max(axis=(1, 2), keepdims=True)
    scaled = np.round(fused * (255.0 / np.where(top > 0, top, 1.0))).astype(np.uint8)
    scaled[(top[:, 0, 0] <= 0)] = 0
    return np.where(has_prior[:, None, None], scaled, heat)


def fuse_maps(heat: Mapping[str, np.ndarray], priors: Mapping[str, np.ndarray], exponent: float
              ) -> dict[str, np.ndarray]:
    return {lbl: fuse_with_prior(m, priors.get(lbl), exponent) for lbl, m in heat.items()}


def save_priors(path: str | Path, priors: Mapping[str, np.ndarray]) -> str:
    """Write the priors as safetensors, atomically; returns the file's SHA-256."""
    data = save({lbl: np.ascontiguousarray(m, dtype=np.float32) for lbl, m in priors.items()})
    atomic_write_bytes(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def load_priors(path: str | Path, sha256: str | None = None) -> dict[str, np.ndarray]:
    """The priors of a model entry; checked against ``sha256`` when given (safetensors runs no code)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read box priors ({exc.strerror or exc})") from None
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise ModelError(f"{path}: SHA-256 does not match the model card (corrupted or replaced file)")
    try:
        return {k: np.asarray(v, dtype=np.float32) for k, v in load(data).items()}
    except Exception as exc:  # a damaged file can fail in the parser in several ways
        raise ModelError(f"{path}: not a box-prior file ({exc})") from None
