import numpy as np
import pytest

from chestview.engine.explain.boxes import heatmap_to_boxes


def test_exact_box_on_hand_made_map():
    heat = np.zeros((8, 8), np.uint8)
    heat[2:4, 1:5] = 200  # rows 2-3, columns 1-4
    (box,) = heatmap_to_boxes(heat, (1024, 512), work_size=None)
    # a cell is 128 px wide and 64 px tall in a 1024 x 512 image
    assert (box.x, box.y, box.width, box.height) == (128.0, 128.0, 512.0, 128.0)
    assert box.score == pytest.approx(200 / 255)


def test_threshold_is_inclusive_and_configurable():
    heat = np.zeros((4, 4), np.uint8)
    heat[0, 0] = 180
    heat[3, 3] = 179
    boxes = heatmap_to_boxes(heat, (4, 4), work_size=None, min_area_frac=0)
    assert [(b.x, b.y) for b in boxes] == [(0.0, 0.0)]
    assert len(heatmap_to_boxes(heat, (4, 4), threshold=100, work_size=None, min_area_frac=0)) == 2


def test_empty_and_all_hot_maps():
    assert heatmap_to_boxes(np.zeros((7, 7), np.uint8), (1024, 1024)) == []
    (box,) = heatmap_to_boxes(np.full((7, 7), 255, np.uint8), (1000, 800))
    assert (box.x, box.y, box.width, box.height) == (0.0, 0.0, 1000.0, 800.0)
    assert box.score == 1.0


def test_components_sorted_by_score_and_capped():
    heat = np.zeros((10, 10), np.uint8)
    heat[0:2, 0:2] = 190
    heat[5:7, 5:7] = 250
    heat[8:10, 0:2] = 220
    boxes = heatmap_to_boxes(heat, (100, 100), work_size=None, max_boxes=2)
    assert [round(b.score * 255) for b in boxes] == [250, 220]
    assert (boxes[0].x, boxes[0].y) == (50.0, 50.0)


def test_small_components_dropped():
    heat = np.zeros((100, 100), np.uint8)
    heat[10, 10] = 255  # 1 cell = 0.01 % of the map
    heat[50:70, 50:70] = 255
    boxes = heatmap_to_boxes(heat, (100, 100), work_size=None, min_area_frac=0.002)
    assert len(boxes) == 1 and boxes[0].width == 20


def test_upsampled_working_map_keeps_box_inside_the_hot_cells():
    heat = np.zeros((7, 7), np.uint8)
    heat[2:5, 2:5] = 255
    (box,) = heatmap_to_boxes(heat, (700, 700))
    # the hot cells span 200..500 px; bilinear smoothing may shrink the box a little, never grow it past a cell
    assert 100 <= box.x <= 260 and 440 <= box.x2 <= 600
    assert 100 <= box.y <= 260 and 440 <= box.y2 <= 600


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        heatmap_to_boxes(np.zeros((3,), np.uint8), (10, 10))


def _reference_boxes(heat, image_size, *, threshold, min_area_frac, max_boxes, work_size):
    """The per-label definition, with skimage and Pillow: what maps_to_boxes must reproduce."""
    from PIL import Image
    from skimage.measure import label, regionprops

    from chestview.engine.results import Box

    if work_size is not None and max(heat.shape) < work_size:
        h, w = heat.shape
        scale = work_size / max(h, w)
        heat = np.asarray(Image.fromarray(heat).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                       Image.BILINEAR))
    h, w = heat.shape
    sx, sy = image_size[0] / w, image_size[1] / h
    boxes = []
    for region in regionprops(label(heat >= threshold, connectivity=2), intensity_image=heat):
        r0, c0, r1, c1 = region.bbox
        if (r1 - r0) * (c1 - c0) < min_area_frac * h * w:
            continue
        boxes.append(Box(c0 * sx, r0 * sy, (c1 - c0) * sx, (r1 - r0) * sy, float(region.intensity_max) / 255.0))
    boxes.sort(key=lambda b: (-b.score, -b.area))
    return boxes[:max_boxes]


def test_all_labels_at_once_match_the_per_label_definition():
    from scipy.ndimage import gaussian_filter

    from chestview.engine.explain.boxes import maps_to_boxes
    from chestview.engine.explain.cam import normalise_maps

    rng = np.random.default_rng(0)
    for trial in range(150):
        side = int(rng.choice([5, 7, 10, 14]))
        raw = rng.normal(size=(14, side, side)).astype(np.float32)
        if trial % 2:
            raw = gaussian_filter(raw, (0, 1, 1))  # blob-like, as real maps are
        heat = normalise_maps(raw)
        kw = dict(threshold=int(rng.integers(60, 250)), min_area_frac=[0.002, 0.0, 0.05][trial % 3],
                  max_boxes=int(rng.integers(1, 5)), work_size=[64, None][trial % 2])
        size = (int(rng.integers(100, 3000)), int(rng.integers(100, 3000)))
        assert maps_to_boxes(heat, size, **kw) == [_reference_boxes(m, size, **kw) for m in heat]


def test_the_8bit_resize_is_pillows_to_the_level():
    from PIL import Image

    from chestview.engine.explain.boxes import _resample_8bit

    rng = np.random.default_rng(1)
    for _ in range(200):
        h, w = int(rng.integers(2, 20)), int(rng.integers(2, 20))
        maps = rng.integers(0, 256, size=(3, h, w)).astype(np.uint8)
        size = (int(rng.integers(w, 80)), int(rng.integers(h, 80))) if _ % 4 else (int(rng.integers(1, 80)), 5)
        ref = np.stack([np.asarray(Image.fromarray(m).resize(size, Image.BILINEAR)) for m in maps])
        assert np.array_equal(_resample_8bit(maps, size), ref)


def test_float_maps_from_a_fusion_step_give_boxes_too():
    from chestview.engine.explain.boxes import maps_to_boxes

    maps = np.zeros((2, 7, 7), np.float32)
    maps[0, 2:4, 2:4] = 250.0
    first, second = maps_to_boxes(maps, (700, 700), threshold=180)
    assert len(first) == 1 and second == []
    assert 150 <= first[0].x <= 250 and first[0].score == pytest.approx(maps[0].max() / 255, abs=0.02)


def test_components_from_runs_are_the_pixel_labelling():
    """The run-based components equal scipy's 8-connected pixel labelling, map by map, in raster
    order: bounding boxes and peaks, on noise (many small components, runs touching diagonally,
    maps of one row or one column) and on smooth maps."""
    from scipy import ndimage

    from chestview.engine.explain.boxes import _components

    rng = np.random.default_rng(7)
    for trial in range(300):
        shape = (int(rng.integers(1, 15)), int(rng.integers(1, 20)), int(rng.integers(1, 20)))
        work = (rng.integers(0, 256, shape).astype(np.uint8) if trial % 2
                else (ndimage.gaussian_filter(rng.random(shape), (0, 1, 1)) * 255).astype(np.float32))
        threshold = float(rng.integers(1, 255)) if trial % 2 else 127.0
        expected = []
        for p, plane in enumerate(work):
            labels, _ = ndimage.label(plane >= threshold, structure=np.ones((3, 3), bool))
            for k, sl in enumerate(ndimage.find_objects(labels), 1):
                expected.append((p, sl[0].start, sl[0].stop, sl[1].start, sl[1].stop,
                                 float(plane[sl][labels[sl] == k].max())))
        found = _components(work, threshold)
        got = [] if found is None else [(*map(int, row[:5]), float(row[5])) for row in zip(*found)]
        assert got == expected, trial
