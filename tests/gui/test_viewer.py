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


def test_monochrome1_readout_shows_stored_values(viewer, test_data):
    """The readout gives the value as stored (after the modality LUT), not the mirrored display value."""
    import pydicom
    from pydicom.pixels import apply_modality_lut

    path = test_data / "dicom" / "cr_mono1_rg1_jpeg2000.dcm"
    ds = pydicom.dcmread(path)
    stored = apply_modality_lut(ds.pixel_array, ds)
    image = load_image(str(path))
    viewer.set_image(image)
    for row, col in ((100, 200), (900, 1000), (1500, 300)):
        text = viewer.describe_point(col + 0.5, row + 0.5)
        assert text.endswith(f"value {float(stored[row, col]):g}"), text
    # The value range of the image info is the stored one too.
    from chestview.gui.tags import ImageInfoPanel

    info = ImageInfoPanel()
    info.set_image(image)
    assert info.labels["Value range"].text() == f"{float(stored.min()):g} … {float(stored.max()):g}"


def test_readout_follows_the_image_when_paging(viewer, qtbot):
    """With the mouse still over the view, showing another image updates the readout."""
    seen = []
    viewer.cursor_info.connect(seen.append)
    viewer.set_image(gradient_image())
    centre = viewer.view.mapViewToScene(QPointF(150.5, 50.5))
    viewer._mouse_moved(centre)
    assert seen[-1].endswith("value 150")
    other = XrayImage(path="other", pixels=np.full((100, 200), 7.0, np.float32), window=(5.0, 10.0))
    viewer.set_image(other, keep_view=True)
    assert seen[-1].endswith("value 7")


def test_wheel_pages_and_ctrl_wheel_zooms(viewer, qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    viewer.set_image(gradient_image())
    steps = []
    viewer.page_requested.connect(steps.append)
    vp = viewer.graphics.viewport()
    centre = vp.rect().center()

    def wheel(delta: int, mods=Qt.KeyboardModifier.NoModifier) -> None:
        ev = QWheelEvent(QPointF(centre), QPointF(vp.mapToGlobal(centre)), QPoint(0, 0), QPoint(0, delta),
                         Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False)
        from PySide6.QtWidgets import QApplication

        QApplication.sendEvent(vp, ev)

    before = viewer.view.viewRect()
    wheel(-120)
    wheel(+120)
    assert steps == [+1, -1] and viewer.view.viewRect() == before  # paged, not zoomed
    wheel(120, Qt.KeyboardModifier.ControlModifier)
    assert steps == [+1, -1] and viewer.view.viewRect().width() < before.width()  # zoomed in
    # Arrow keys and Space on the image page too.
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Space, Qt.Key.Key_Left):
        qtbot.keyClick(viewer.graphics, key)
    assert steps == [+1, -1, +1, +1, -1]


def test_ruler_and_cardiothoracic_ratio_tools(viewer):
    viewer.set_image(gradient_image(spacing=(0.5, 0.25)))
    m = viewer.measure
    viewer.set_tool("ruler")
    m.drag(QPointF(10, 10), QPointF(50, 40), True, viewer.image)
    assert m.ruler.unit == "mm" and m.ruler.value == pytest.approx(((40 * 0.25) ** 2 + (30 * 0.5) ** 2) ** 0.5)
    viewer.set_tool("ctr")
    m.drag(QPointF(80, 60), QPointF(120, 61), False, viewer.image)  # the heart, still dragging
    m.drag(QPointF(80, 60), QPointF(130, 62), True, viewer.image)
    m.drag(QPointF(20, 50), QPointF(180, 50), True, viewer.image)  # then the chest
    assert m.ratio == pytest.approx(50 / 160) and m.ctr_text() == "CTR 0.31"
    doc = m.to_json()
    assert doc["cardiothoracic_ratio"]["ratio"] == pytest.approx(0.3125) and doc["ruler"]["unit"] == "mm"
    assert len(m.lines()) == 3
    viewer.set_image(gradient_image())  # the same path: a re-display keeps the measurements
    assert m.ratio is not None
    viewer.set_image(XrayImage(path="next", pixels=np.zeros((10, 10), np.float32), window=(0.0, 1.0)))
    assert m.ratio is None and m.ruler is None and m.to_json() == {}
