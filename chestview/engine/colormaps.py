"""A few perceptual colour maps as 256x3 uint8 lookup tables (no matplotlib dependency).

The anchor colours are the published ones sampled at 9 points and interpolated linearly;
close enough for overlays. ``jet`` is analytic, kept because radiology CAM papers use it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_ANCHORS: dict[str, list[tuple[int, int, int]]] = {
    "inferno": [(0, 0, 4), (31, 12, 72), (85, 15, 109), (136, 34, 106), (186, 54, 85),
                (227, 89, 51), (249, 140, 10), (249, 201, 50), (252, 255, 164)],
    "viridis": [(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
                (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)],
    "hot": [(11, 0, 0), (96, 0, 0), (181, 0, 0), (255, 11, 0), (255, 96, 0),
            (255, 181, 0), (255, 255, 16), (255, 255, 136), (255, 255, 255)],
}
COLORMAPS = ("inferno", "viridis", "hot", "jet")
# Defaults of the app and of exports: inferno reads better over gray film than jet (no cyan/yellow
# cast, monotone brightness); the overlay is transparent where the heat is low, so it can be stronger.
DEFAULT_COLORMAP = "inferno"
DEFAULT_OPACITY = 0.6

# Distinct colours for boxes of different findings (Okabe-Ito, colour-blind safe).
BOX_COLOURS = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66),
               (0, 114, 178), (213, 94, 0), (204, 121, 167), (255, 255, 255)]


@lru_cache(maxsize=None)
def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table."""
    x = np.linspace(0.0, 1.0, 256)
    if name == "jet":
        r = np.clip(1.5 - np.abs(4 * x - 3), 0, 1)
        g = np.clip(1.5 - np.abs(4 * x - 2), 0, 1)
        b = np.clip(1.5 - np.abs(4 * x - 1), 0, 1)
        return np.round(np.stack([r, g, b], axis=1) * 255).astype(np.uint8)
    if name not in _ANCHORS:
        raise ValueError(f"unknown colour map {name!r} (choose from {', '.join(COLORMAPS)})")
    anchors = np.asarray(_ANCHORS[name], dtype=np.float64)
    pos = np.linspace(0.0, 1.0, len(anchors))
    lut = np.stack([np.interp(x, pos, anchors[:, c]) for c in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)
