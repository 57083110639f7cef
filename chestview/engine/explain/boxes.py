"""Boxes from heatmaps: threshold, connected components, one box per component.

Done on the low-resolution map and scaled to image pixels, never on a full-size upsampled map:
the map holds no more detail than its cells, and a 1024^2 labelling would cost more than the model.
All labels of an image are labelled in one vectorised pass over the runs of hot pixels
(:func:`_components`), so boxes for 14 labels cost well under a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from chestview.engine.results import Box

WANG_THRESHOLD = 180  # Wang et al. 2017: heatmaps scaled to 0..255, boxes around regions >= 180



@lru_cache(maxsize=64)
def _bilinear_weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's BILINEAR resampling as an (out, in) matrix: float, and the 8-bit path's fixed point.

    The same filter, support, normalisation and fixed-point rounding as Pillow's Resample.c, so an
    8-bit resize by matrix products gives Pillow's result to the last level (a test checks it).
    """
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    weights = np.zeros((out_size, in_size), dtype=np.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        lo = max(int(center - filterscale + 0.5), 0)
        hi = min(int(center + filterscale + 0.5), in_size)
        k = np.array([max(0.0, 1.0 - abs((x - center + 0.5) / filterscale)) for x in range(lo, hi)])
        weights[xx, lo:hi] = k / k.sum() if k.sum() else 0.0
    scaled = weights * (1 << _PRECISION_BITS)
    fixed = np.where(weights < 0, np.trunc(scaled - 0.5), np.trunc(scaled + 0.5))
    return weights, fixed


_PRECISION_BITS = 22  # Pillow's 8-bit resampling: 32 - 8 - 2 fractional bits


def _resample_8bit(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pillow's 8-bit bilinear enlargement of every map at once: horizontal pass, round to 8 bits, vertical.

    float64 products of these integers (< 2**53) are exact, so BLAS gives Pillow's integer sums.
    Only enlargement (the working maps' case) is done by matrices: when shrinking one side, Pillow
    may run its passes in the other order, so that goes through Pillow itself.
    """
    _, h, w = maps.shape
    if size[0] < w or size[1] < h:
        from PIL import Image

        return np.stack([np.asarray(Image.fromarray(m).resize(size, Image.BILINEAR)) for m in maps])
    n = maps.shape[0]
    _, kx = _bilinear_weights(w, size[0])
    _, ky = _bilinear_weights(h, size[1])
    # Two plain matrix products over all maps at once ((n*h, w) and (h, n*W)): a batched product
    # of 15 tiny matrices costs five times as much. Rounding in place, as Pillow does per pass.
    rows = maps.reshape(n * h, w).astype(np.float64) @ kx.T
    _round_fixed(rows)
    cols = ky @ rows.reshape(n, h, size[0]).transpose(1, 0, 2).reshape(h, n * size[0])
    _round_fixed(cols)
    return cols.reshape(size[1], n, size[0]).transpose(1, 0, 2).astype(np.uint8)


def _round_fixed(sums: np.ndarray) -> None:
    """Pillow's fixed-point rounding of a pass, in place: (sum + half) >> bits, clipped to 0..255."""
    np.add(sums, float(1 << (_PRECISION_BITS - 1)), out=sums)
    np.multiply(sums, 1.0 / (1 << _PRECISION_BITS), out=sums)
    np.floor(sums, out=sums)
    np.clip(sums, 0, 255, out=sums)


def _working_maps(maps: np.ndarray, work_size: int | None) -> np.ndarray:
    """Moderately upsampled maps so boxes are not whole cells of a 7x7 grid (still low resolution).

    Bilinear, as Pillow resizes: uint8 maps exactly as an 8-bit image, float maps (e.g. fused
    with a prior before this step) in floating point without rounding.
    """
    _, h, w = maps.shape
    if work_size is None or max(h, w) >= work_size:
        return maps
    scale = work_size / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if maps.dtype == np.uint8:
        return _resample_8bit(maps, size)
    wx, _ = _bilinear_weights(w, size[0])
    wy, _ = _bilinear_weights(h, size[1])
    return (wy @ (maps.astype(np.float64) @ wx.T)).astype(np.float32)


def _components(work: np.ndarray, threshold: float) -> tuple[np.ndarray, ...] | None:
    """Every 8-connected component of ``work >= threshold`` within each map of ``work`` (L, h, w):
    (plane, r0, r1, c0, c1, peak) arrays, components in raster order of their first pixel, map by map.

    From runs rather than pixels: each row's hot runs come from one vectorised diff, runs of
    consecutive rows that overlap or touch diagonally are joined, and a sparse connected-components
    pass over the (few hundred) runs numbers the components. The same components as a pixel
    labelling (scipy.ndimage.label with a 3x3 structure; a test compares them), at half the cost.
    """
    n_maps, h, w = work.shape
    padded = np.zeros((n_maps, h, w + 2), dtype=np.int8)
    padded[:, :, 1:-1] = work >= threshold
    edges = np.diff(padded, axis=2).reshape(-1)  # +1 where a run starts, -1 one past its end
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    n = starts.size
    if n == 0:
        return None
    row_key, sc = np.divmod(starts, w + 1)  # row_key = map * h + row; raster order already
    ec = ends - row_key * (w + 1)
    sp, sr = np.divmod(row_key, h)
    # Candidate neighbours of a run: the runs of the next row of the same map (a contiguous range).
    lo = np.searchsorted(row_key, row_key + 1, side="left")
    count = np.where(sr < h - 1, np.searchsorted(row_key, row_key + 1, side="right") - lo, 0)
    src = np.repeat(np.arange(n), count)
    dst = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(count.sum())
    touch = (sc[dst] <= ec[src]) & (sc[src] <= ec[dst])  # [a0, a1), [b0, b1) 8-connected
    src, dst = src[touch], dst[touch]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])  # src is sorted: CSR rows directly
    n_comp, comp = connected_components(csr_matrix((np.ones(src.size, np.int8), dst, indptr), shape=(n, n)),
                                        directed=False)
    first = np.full(n_comp, n, dtype=np.int64)
    np.minimum.at(first, comp, np.arange(n))
    rank = np.empty(n_comp, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(n_comp)
    comp = rank[comp]
    values = work.reshape(-1)
    bounds = np.stack([row_key * w + sc, row_key * w + ec], axis=1).reshape(-1)
    run_peak = np.maximum.reduceat(values, bounds[:-1] if bounds[-1] == values.size else bounds)[::2]
    plane = np.empty(n_comp, dtype=np.int64)
    plane[comp] = sp
    r0 = np.full(n_comp, h, dtype=np.int64)
    r1 = np.zeros(n_comp, dtype=np.int64)
    c0 = np.full(n_comp, w, dtype=np.int64)
    c1 = np.zeros(n_comp, dtype=np.int64)
    peak = np.zeros(n_comp, dtype=values.dtype)
    np.minimum.at(r0, comp, sr)
    np.maximum.at(r1, comp, sr + 1)
    np.minimum.at(c0, comp, sc)
    np.maximum.at(c1, comp, ec)
    np.maximum.at(peak, comp, run_peak)
    return plane, r0, r1, c0, c1, peak


@dataclass(frozen=True)
class BoxCut:
    """One map's boxes, or none because its hot area has no focal region (``diffuse``)."""

    boxes: tuple[Box, ...] = ()
    diffuse: bool = False


# "Diffuse, no box": a map whose hot area covers more than MAX_HOT_FRACTION of the film, or whose
# box would cover more than MAX_BOX_FRACTION of it, says no *where*: a frame around the film would
# only look like a localisation. Such a finding gets no box and the ``diffuse`` flag instead.
MAX_BOX_FRACTION = 0.5
MAX_HOT_FRACTION = 0.4
#: Bumped whenever the rule that cuts boxes changes (cached results carry it in their key).
BOX_RULE_VERSION = 2


def cut_boxes(
    maps: np.ndarray,
    image_size: tuple[int, int],
    *,
    threshold: float = WANG_THRESHOLD,
    min_area_frac: float = 0.002,
    max_boxes: int = 3,
    work_size: int | None = 64,
    max_box_fraction: float = MAX_BOX_FRACTION,
    max_hot_fraction: float = MAX_HOT_FRACTION,
) -> list[BoxCut]:
    """:func:`maps_to_boxes` with the "diffuse, no box" rule: per map, its boxes, or none and
    ``diffuse`` when its hot area (pixels >= ``threshold`` of the working map) covers more than
    ``max_hot_fraction`` of the film or any of its boxes more than ``max_box_fraction``."""
    maps = _as_maps(maps)
    work = _working_maps(maps, work_size)
    hot = (work >= threshold).mean(axis=(1, 2))
    cuts = []
    width, height = image_size
    film = float(width) * float(height)
    for boxes, share in zip(_boxes_of(work, maps.shape, image_size, threshold, min_area_frac, max_boxes), hot):
        if share > max_hot_fraction or any(b.area > max_box_fraction * film for b in boxes):
            cuts.append(BoxCut((), True))
        else:
            cuts.append(BoxCut(tuple(boxes), False))
    return cuts


def _as_maps(maps: np.ndarray) -> np.ndarray:
    maps = np.asarray(maps)
    if maps.ndim != 3 or maps.size == 0:
        raise ValueError(f"maps must be a non-empty (labels, h, w) array, got shape {maps.shape}")
    if maps.dtype != np.uint8 and not np.issubdtype(maps.dtype, np.floating):
        maps = maps.astype(np.uint8)
    return maps


def maps_to_boxes(
    maps: np.ndarray,
    image_size: tuple[int, int],
    *,
    threshold: float = WANG_THRESHOLD,
    min_area_frac: float = 0.002,
    max_boxes: int = 3,
    work_size: int | None = 64,
) -> list[list[Box]]:
    """Boxes per map, in pixels of the image (``image_size`` = (width, height)), around hot regions.

    ``maps`` is (L, h, w), each map covering the whole image on the 0..255 scale (uint8, or float
    from a step that fuses maps before this one). Per map, pixels >= ``threshold`` form 8-connected
    components; each gives its bounding box and a score (its peak / 255). Components smaller than
    ``min_area_frac`` of the map are dropped; the ``max_boxes`` best (score, then area) are kept.
    The raw cut (no "diffuse" rule): what evaluation sweeps; readers get :func:`cut_boxes`.
    """
    maps = _as_maps(maps)
    work = _working_maps(maps, work_size)
    return _boxes_of(work, maps.shape, image_size, threshold, min_area_frac, max_boxes)


def _boxes_of(work: np.ndarray, shape: tuple[int, ...], image_size: tuple[int, int], threshold: float,
              min_area_frac: float, max_boxes: int) -> list[list[Box]]:
    n_maps, h, w = work.shape
    width, height = image_size
    sx, sy = width / w, height / h
    out: list[list[Box]] = [[] for _ in range(n_maps)]
    found = _components(work, threshold)
    if found is None:
        return out
    plane, r0, r1, c0, c1, peaks = found
    n = plane.size
    keep = (r1 - r0) * (c1 - c0) >= min_area_frac * h * w
    bw, bh = (c1 - c0) * sx, (r1 - r0) * sy
    score, area = peaks.astype(np.float64) / 255.0, bw * bh
    order = np.lexsort((np.arange(n), -area, -score, plane))  # per map: best score, then largest
    order = order[keep[order]].tolist()
    # Python floats once for all, not one numpy scalar conversion per field per box.
    xs, ys, widths, heights = (c0 * sx).tolist(), (r0 * sy).tolist(), bw.tolist(), bh.tolist()
    scores, planes = score.tolist(), plane.tolist()
    for i in order:
        boxes = out[planes[i]]
        if len(boxes) < max_boxes:
            boxes.append(Box(x=xs[i], y=ys[i], width=widths[i], height=heights[i], score=scores[i]))
    return out


def heatmap_to_boxes(
    heat: np.ndarray,
    image_size: tuple[int, int],
    *,
    threshold: float = WANG_THRESHOLD,
    min_area_frac: float = 0.002,
    max_boxes: int = 3,
    work_size: int | None = 64,
) -> list[Box]:
    """Boxes of one (h, w) map: :func:`maps_to_boxes` for a single label."""
    heat = np.asarray(heat)
    if heat.ndim != 2 or heat.size == 0:
        raise ValueError(f"heatmap must be a non-empty 2-D array, got shape {heat.shape}")
    return maps_to_boxes(heat[None], image_size, threshold=threshold, min_area_frac=min_area_frac,
                         max_boxes=max_boxes, work_size=work_size)[0]
