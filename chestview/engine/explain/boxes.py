"""Boxes from heatmaps: threshold, connected components, one box per component.

Done on the low-resolution map and scaled to image pixels, never on a full-size upsampled map:
the map holds no more detail than its cells, and a 1024^2 labelling would cost more than the model.
"""

from __future__ import annotations

import numpy as np
from skimage.measure import label as connected_components
from skimage.measure import regionprops

from chestview.engine.results import Box

WANG_THRESHOLD = 180  # Wang et al. 2017: heatmaps scaled to 0..255, boxes around regions >= 180


def _working_map(heat: np.ndarray, work_size: int | None) -> np.ndarray:
    """A moderately upsampled map so boxes are not whole cells of a 7x7 grid (still low resolution)."""
    if work_size is None or max(heat.shape) >= work_size:
        return heat
    from PIL import Image

    h, w = heat.shape
    scale = work_size / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(heat.astype(np.uint8)).resize(size, Image.BILINEAR))


def heatmap_to_boxes(
    heat: np.ndarray,
    image_size: tuple[int, int],
    *,
    threshold: int = WANG_THRESHOLD,
    min_area_frac: float = 0.002,
    max_boxes: int = 3,
    work_size: int | None = 64,
) -> list[Box]:
    """Boxes, in pixels of the image (``image_size`` = (width, height)), around hot regions.

    ``heat`` is a (h, w) uint8 map covering the whole image. Pixels >= ``threshold`` form
    8-connected components; each gives its bounding box and a score (its peak / 255). Components
    smaller than ``min_area_frac`` of the image are dropped; the ``max_boxes`` best are kept.
    """
    heat = np.asarray(heat)
    if heat.ndim != 2 or heat.size == 0:
        raise ValueError(f"heatmap must be a non-empty 2-D array, got shape {heat.shape}")
    work = _working_map(heat, work_size)
    h, w = work.shape
    width, height = image_size
    sx, sy = width / w, height / h
    components = connected_components(work >= threshold, connectivity=2)
    boxes: list[Box] = []
    for region in regionprops(components, intensity_image=work):
        r0, c0, r1, c1 = region.bbox
        if (r1 - r0) * (c1 - c0) < min_area_frac * h * w:
            continue
        score = float(region.intensity_max) / 255.0
        boxes.append(Box(x=c0 * sx, y=r0 * sy, width=(c1 - c0) * sx, height=(r1 - r0) * sy, score=score))
    boxes.sort(key=lambda b: (-b.score, -b.area))
    return boxes[:max_boxes]
