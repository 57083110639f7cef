"""Small 8-bit previews for file lists (Qt-free: the GUI wraps the array in a QImage)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .image import XrayImage


def thumbnail(image: XrayImage, size: int = 128) -> np.ndarray:
    """The windowed image as uint8 (h, w), fitted inside size x size, aspect kept, never enlarged."""
    if size < 1:
        raise ValueError("thumbnail size must be at least 1")
    u8 = (image.normalised() * 255.0 + 0.5).astype(np.uint8)
    pil = Image.fromarray(u8)
    # reducing_gap: a fast integer box reduction first, then a proper Lanczos resample.
    pil.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return np.asarray(pil, dtype=np.uint8).copy()
