"""The image viewer: orientation, window/level, presets, invert, readout, overlays."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF

from chestview.engine.io import load_image
from chestview.engine.io.image import XrayImage
from chestview.engine.results import Box
from chestview.gui.viewer import PRESETS, ImageViewer, preset_window


def gradient_image(spacing=None) -> XrayImage:
    px = np.tile(np.arange(200, dtype=np.float32), (100, 1))  # (rows=100, cols=200), brighter to the right
    px[:10, :] = 1000.0  # a bright band at the top
    return XrayImage(path="synthetic", pixels=px, window=(100.0, 200.0), pixel_spacing=spacing)


@pytest.fixture
def viewer(qtbot):
    v = ImageViewer()
    qtbot.addWidget(v)
    v.resize(600, 400)
    v.show()
    return v


def test_image_is_upright_and_row_major(viewer, qtbot):
    viewer.set_image(gradient_image())
    assert viewer.image_item.image.shape == (100, 200)
    assert viewer.view.state["yInverted"]  # y down: row 0 at the top
    # The bright band (rows 0-9) is drawn at the top of the widget.
    img = viewer.graphics.grab().toImage()
    top = img.pixelColor(img.width() // 2, int(img.height() * 0.5 - 0.45 * img.width() / 2)).lightness()
    mid = img.pixelColor(img.width() // 2, img.height() // 2).lightness()
    assert top > mid


def test_window_level_presets_invert_and_reset(viewer):
    image = gradient_image()
    viewer.set_image(image)
    assert viewer.window == (100.0, 200.0)
    levels = viewer.image_item.getLevels()
    assert tuple(np.round(levels, 3)) == (0.0, 200.0)
    viewer._drag_window(50, -20)  # right: wider; up: brighter centre
    c, w = viewer.window
    assert w > 200 and c > 100
    for name in PRESETS:
        viewer.apply_preset(name)
        assert viewer.window == pytest.approx(preset_window(image, name))
    full = preset_window(image, "Full range")
    assert full == pytest.approx((500.0, 1000.0))
    viewer.set_inverted(True)
    assert viewer.image_item.lut is not None and viewer.image_item.lut[0] == 255
    viewer.reset()
    assert viewer.window == (100.0, 200.0) and not viewer.inverted


def test_readout_in_pixels_and_mm(viewer):
    viewer.set_image(gradient_image(spacing=(0.5, 0.25)))
    text = viewer.describe_point(40.7, 20.2)
    assert "x 40  y 20" in text and "(10.0, 10.0 mm)" in text and "value 40" in text
    assert viewer.describe_point(-1, 5) == ""
    viewer.set_image(gradient_image())
    assert "mm" not in viewer.describe_point(1, 1)


def test_heatmap_covers_the_whole_image_and_boxes_drawn(viewer):
    viewer.set_image(gradient_image())
    heat = np.zeros((7, 7), np.uint8)
    heat[2:4, 3:5] = 255
    viewer.set_heatmap(heat, colormap="inferno", opacity=0.3)
    rect = viewer.heat_item.mapRectToParent(viewer.heat_item.boundingRect())
    assert rect == QRectF(0, 0, 200, 100)
    assert viewer.heat_item.opacity() == pytest.approx(0.3)
    viewer.set_boxes([("Mass", Box(10, 20, 30, 40, 0.9), "Mass 0.90", (255, 0, 0))])
    assert len(viewer.box_overlays) == 1
    assert viewer.box_overlays[0].rect.rect() == QRectF(10, 20, 30, 40)
    viewer.clear_overlays()
    assert not viewer.box_overlays and not viewer.heatmap_visible


def test_monochrome1_displays_with_bright_bone(viewer, test_data):
    image = load_image(test_data / "dicom" / "cr_mono1_rg1_uncompressed_quarter.dcm")
    viewer.set_image(image)
    px = image.pixels
    h, w = px.shape
    # Lungs (air) are dark and the mediastinum/spine bright once MONOCHROME1 is inverted by the engine.
    lung = np.median(px[h // 3 : h // 2, w // 5 : w // 3])
    spine = np.median(px[h // 3 : h // 2, int(w * 0.47) : int(w * 0.53)])
    assert spine > lung
