"""Heatmaps from class activation maps.

Heatmaps are normalised per class to 0..255 (as Wang et al. 2017 do before thresholding at 180)
and stay at the model's low resolution; they cover the whole image, so a cell maps to image pixels
by a plain scale (see :mod:`chestview.engine.preprocess`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def normalise_map(cam: np.ndarray) -> np.ndarray:
    """Min-max normalise one (h, w) map to uint8 0..255. A flat map carries no location: all zero."""
    cam = np.asarray(cam, dtype=np.float32)
    low, high = float(np.min(cam)), float(np.max(cam))
    if not np.isfinite(low) or not np.isfinite(high) or high - low < 1e-12:
        return np.zeros(cam.shape, dtype=np.uint8)
    return np.round((cam - low) * (255.0 / (high - low))).astype(np.uint8)


def normalise_maps(cams: np.ndarray) -> np.ndarray:
    """(C, h, w) -> (C, h, w) uint8, each class normalised on its own."""
    cams = np.asarray(cams, dtype=np.float32)
    flat = cams.reshape(cams.shape[0], -1)
    low = flat.min(axis=1)[:, None, None]
    span = (flat.max(axis=1) - flat.min(axis=1))[:, None, None]
    ok = span > 1e-12
    out = np.where(ok, (cams - low) * (255.0 / np.where(ok, span, 1.0)), 0.0)
    return np.round(out).astype(np.uint8)


def upsample_map(heat: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a low-resolution uint8 or float map, for display and export."""
    h, w = out_hw
    arr = np.asarray(heat)
    if arr.dtype == np.uint8:
        return np.asarray(Image.fromarray(arr).resize((w, h), Image.BILINEAR))
    return np.asarray(Image.fromarray(arr.astype(np.float32), mode="F").resize((w, h), Image.BILINEAR))
