"""Cheap checks of the pixels themselves, independent of any model: what a chest radiograph
never is. Each returns a one-line reason or None. Limits are deliberately loose (they must never
flag a chest film); the feature distance does the fine work."""

from __future__ import annotations

import numpy as np

from chestview.engine.io.image import XrayImage

# Mean channel spread (fraction of full scale) above which a file is a colour picture. Gray films
# stored as RGB/RGBA or JPEG sit below 0.005; a photograph is typically above 0.05.
COLOUR_LIMIT = 0.02
# Longest side / shortest side. Chest films are 0.7-1.4; a panoramic or a strip is not one.
ASPECT_LIMIT = 2.0
# Spread of the windowed intensities (0-1) under which an image carries no anatomy.
FLAT_LIMIT = 0.03


def colour_reason(image: XrayImage) -> str | None:
    c = image.metadata.get("colourfulness")
    if isinstance(c, (int, float)) and c > COLOUR_LIMIT:
        return f"a colour image (mean channel spread {100 * c:.0f}% of full scale)"
    return None


def aspect_reason(image: XrayImage) -> str | None:
    w, h = image.width, image.height
    ratio = max(w, h) / max(min(w, h), 1)
    if ratio > ASPECT_LIMIT:
        return f"extreme aspect ratio ({w}x{h})"
    return None


def histogram_reason(gray01: np.ndarray) -> str | None:
    """``gray01``: the image as the model sees it (windowed, resized, 0-1)."""
    g = np.asarray(gray01, dtype=np.float32)
    if g.size == 0:
        return None
    spread = float(np.percentile(g, 95) - np.percentile(g, 5))
    if spread < FLAT_LIMIT:
        return f"almost uniform intensity (5-95% range {spread:.3f})"
    # Two-level images (scanned text, line art, masks): almost every pixel at one of two extremes.
    extremes = float(np.mean((g < 0.02) | (g > 0.98)))
    if extremes > 0.9:
        return f"a two-level image ({100 * extremes:.0f}% of pixels black or white)"
    return None


def pixel_reasons(image: XrayImage, gray01: np.ndarray | None) -> list[str]:
    reasons = [colour_reason(image), aspect_reason(image)]
    if gray01 is not None:
        reasons.append(histogram_reason(gray01))
    return [r for r in reasons if r]
