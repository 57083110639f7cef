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
