"""The image viewer: orientation, window/level, presets, invert, readout, overlays."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt

from chestview.engine.io import load_image
from chestview.engine.io.image import XrayImage
from chestview.engine.results import Box
from chestview.gui.viewer import NEGATIVE_COLOUR, PRESETS, DrawnBox, ImageViewer, preset_window


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

    def at(x: float, y: float) -> int:  # lightness of the widget pixel showing image pixel (x, y)
        p = viewer.graphics.mapFromScene(viewer.view.mapViewToScene(QPointF(x, y)))
        return img.pixelColor(p.x(), p.y()).lightness()

    top, mid = at(100, 5), at(100, 50)
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
    heat = np.zeros((7, 7), np.float32)
    heat[2:4, 3:5] = 1.0
    viewer.set_heatmap(heat, colormap="inferno", opacity=0.3)
    rect = viewer.heat_item.mapRectToParent(viewer.heat_item.boundingRect())
    assert rect == QRectF(0, 0, 200, 100)
    assert viewer.heat_item.opacity() == pytest.approx(0.3)
    viewer.set_boxes([DrawnBox("Mass", Box(10, 20, 30, 40, 0.9), "Mass 0.90", (255, 0, 0)),
                      DrawnBox("Nodule", Box(50, 20, 10, 10, 0.5), None, NEGATIVE_COLOUR, positive=False)])
    assert len(viewer.box_overlays) == 2
    pos, neg = viewer.box_overlays
    assert pos.rect.rect() == QRectF(10, 20, 30, 40)
    # Positive: at least 2 px over a wider dark halo; negative: thin, dashed, grey, no caption.
    assert pos.rect.pen().widthF() >= 2 and pos.halo is not None and pos.halo.pen().widthF() > pos.rect.pen().widthF()
    assert neg.rect.pen().style() == Qt.PenStyle.DashLine and neg.rect.pen().widthF() < 2 and neg.text is None
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
