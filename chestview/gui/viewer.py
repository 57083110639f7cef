"""The image viewer: a pyqtgraph view of one radiograph with window/level, heatmap and boxes.

Conventions: arrays are row-major (``imageAxisOrder='row-major'``: ``pixels[row, col]``), the view
is y-down (``invertY``) so the image is upright, and one view unit is one image pixel, so boxes in
image pixels and a low-resolution heatmap stretched over ``QRectF(0, 0, W, H)`` line up exactly.

Mouse (as in Weasis, RadiAnt, OHIF): the wheel steps through the images of the browser and
Ctrl+wheel zooms (or the other way round: ``wheel_pages = False``); left-drag pans, or measures with
the ruler / cardiothoracic-ratio tool; right-drag changes window (horizontal: width) and level
(vertical: centre); in W/L mode the left button does it too. Arrow keys and Space step images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

from chestview.engine.colormaps import BOX_COLOURS, DEFAULT_COLORMAP, DEFAULT_OPACITY, colormap_lut
from chestview.engine.explain.cam import upsample_map
from chestview.engine.explain.display import SCALE_NOTE, heat_alpha, probability_at_level
from chestview.engine.io.image import XrayImage
from chestview.engine.results import Box
from chestview.gui.measurements import MeasurementTools

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

BACKGROUND = "#101214"
PRESETS = ("DICOM window", "Full range", "Lungs", "Bone")


def heat_lut(colormap: str) -> np.ndarray:
    """(256, 4) RGBA lookup table whose low end is transparent (the same ramp as the export)."""
    rgb = colormap_lut(colormap)
    alpha = heat_alpha(np.linspace(0.0, 1.0, 256)) * 255
    return np.concatenate([rgb, np.round(alpha)[:, None].astype(np.uint8)], axis=1)


def preset_window(image: XrayImage, name: str) -> tuple[float, float]:
    """(centre, width) of a window preset. Radiograph pixel values are not Hounsfield units, so
    "Lungs" and "Bone" are windows over the image's own histogram: the dark (air-filled) and the
    bright (bone) parts of the value range, each spread over the full grey scale."""
    if name == "DICOM window":
        return tuple(map(float, image.window))  # type: ignore[return-value]
    sample = image.pixels[:: max(1, image.height // 512), :: max(1, image.width // 512)]
    if name == "Full range":
        lo, hi = float(sample.min()), float(sample.max())
    elif name == "Lungs":
        lo, hi = np.percentile(sample, [1.0, 65.0])
    elif name == "Bone":
        lo, hi = np.percentile(sample, [35.0, 99.7])
    else:
        raise ValueError(f"unknown window preset {name!r}")
    return (float(lo + hi) / 2.0, max(float(hi - lo), 1e-3))


PLACEHOLDER = "Open a study: File → Open, or drop files and folders here"

class WindowLevelViewBox(pg.ViewBox):
    """A ViewBox whose right-drag (or left-drag in W/L mode) reports window/level changes."""

    window_dragged = Signal(float, float)  # dx, dy in screen pixels
    page_requested = Signal(int)  # +1 next image, -1 previous
    tool_dragged = Signal(QPointF, QPointF, bool)  # start, end (image pixels), finished

    def __init__(self) -> None:
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self.wl_mode = False
        self.wheel_pages = True  # plain wheel pages, Ctrl+wheel zooms (False: the other way round)
        self.tool = ""  # "" pan, "ruler", "ctr"

    def wheelEvent(self, ev, axis=None):  # noqa: N802 - Qt naming
        ctrl = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if ctrl == self.wheel_pages:
            return super().wheelEvent(ev, axis)
        ev.accept()
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self.page_requested.emit(-1 if delta > 0 else +1)  # wheel away from you: previous, as in Weasis

    def mouseClickEvent(self, ev):  # noqa: N802 - Qt naming
        # A text note is placed with a click (a drag of no length), not a drag.
        if self.tool == "text" and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.tool_dragged.emit(p, p, True)
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - Qt naming
        if self.tool and ev.button() == Qt.MouseButton.LeftButton and not self.wl_mode:
            ev.accept()
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self.tool_dragged.emit(start, self.mapSceneToView(ev.scenePos()), bool(ev.isFinish()))
            return
        wl_button = ev.button() == Qt.MouseButton.RightButton or (
            self.wl_mode and ev.button() == Qt.MouseButton.LeftButton
        )
        if not wl_button:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        delta = ev.screenPos() - ev.lastScreenPos()
        self.window_dragged.emit(float(delta.x()), float(delta.y()))


@dataclass
class BoxOverlay:
    """One drawn box: the rectangle item (and its halo), its caption (or None) and whether it is positive."""

    label: str
    box: Box
    rect: QGraphicsRectItem
    text: pg.TextItem | None
    positive: bool = True
    halo: QGraphicsRectItem | None = None


@dataclass(frozen=True)
class DrawnBox:
    """What to draw: a box of ``label`` with ``caption`` (None: no caption) in ``colour``."""

    label: str
    box: Box
    caption: str | None
    colour: tuple[int, int, int]
    positive: bool = True


NEGATIVE_COLOUR = (170, 170, 170)


class ImageViewer(QWidget):
    """One radiograph, its window/level, the heatmap / box overlays and the measurement tools."""

    cursor_info = Signal(str)  # pixel position and value under the mouse ("" when outside)
    window_changed = Signal(float, float)  # centre, width
    page_requested = Signal(int)  # +1 next image, -1 previous (wheel, arrow keys, Space)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: XrayImage | None = None
        self.window: tuple[float, float] = (0.5, 1.0)
        self.inverted = False
        self.box_overlays: list[BoxOverlay] = []
        self._heat_colormap = DEFAULT_COLORMAP
        self._last_scene_pos: QPointF | None = None

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.view = WindowLevelViewBox()
        self.view.setBackgroundColor(BACKGROUND)
        self.graphics.addItem(self.view, row=0, col=0)

        self.image_item = pg.ImageItem()
        self.image_item.setAutoDownsample(True)
        self.view.addItem(self.image_item)
        self.heat_item = pg.ImageItem()
        self.heat_item.setZValue(10)
        self.heat_item.setVisible(False)
        self.view.addItem(self.heat_item)

        self.colorbar = pg.ColorBarItem(
            values=(0, 1), colorMap=self._pg_colormap(DEFAULT_COLORMAP), interactive=False, width=14,
        )
        scale = self.colorbar.getAxis("right")
        scale.setTextPen("#c8c8c8")
        scale.setPen("#808080")
        # The label beside the values: pyqtgraph's own ``label=`` lands on the bar, unreadable.
        scale.setLabel(SCALE_NOTE, color="#c8c8c8")
        scale.setWidth(96)
        # The bar keeps its place when there is no map (opacity 0, not hidden): the image never shifts.
        self.colorbar.setOpacity(0.0)
        self.graphics.addItem(self.colorbar, row=0, col=1)

        self.measure = MeasurementTools(self.view)
        self.view.tool_dragged.connect(lambda a, b, done: self.measure.drag(a, b, done, self.image))
        self.view.page_requested.connect(self.page_requested)

        self.placeholder = QLabel(PLACEHOLDER, self.graphics)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #8a8f94; font-size: 15px; background: transparent;")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.corner = QLabel(self.graphics)
        self.corner.setStyleSheet(
            "color: #e0e0e0; background: rgba(0,0,0,140); padding: 3px 6px; font-family: monospace;"
        )
        self.corner.setVisible(False)
        self.banner = QLabel("NOT FOR CLINICAL USE", self.graphics)
        self.banner.setStyleSheet("color: #ffb000; background: rgba(0,0,0,140); padding: 2px 6px; font-weight: bold;")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.graphics.installEventFilter(self)
        self.graphics.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.view.window_dragged.connect(self._drag_window)
        self.view.sigRangeChanged.connect(lambda *_a: self._update_corner())
        self.view.sigResized.connect(lambda *_a: self._update_corner())
        self.graphics.scene().sigMouseMoved.connect(self._mouse_moved)

    # --- keys --------------------------------------------------------------------------------
    PAGE_KEYS = {Qt.Key.Key_Right: +1, Qt.Key.Key_Down: +1, Qt.Key.Key_Space: +1,
                 Qt.Key.Key_Left: -1, Qt.Key.Key_Up: -1}

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        # Arrow keys and Space page through images while the image has the focus (the graphics view
        # would otherwise scroll with them); the tree and the tables keep their own arrow keys.
        if obj is self.graphics and event.type() == QEvent.Type.KeyPress and not event.modifiers():
            step = self.PAGE_KEYS.get(Qt.Key(event.key()))
            if step is not None:
                self.page_requested.emit(step)
                return True
        return super().eventFilter(obj, event)

    def set_tool(self, tool: str) -> None:
        """"" (pan) or a measurement tool ("ruler", "angle", "arrow", "text", "ctr"); the cursor shows that a tool is active."""
        self.view.tool = tool
        self.graphics.viewport().setCursor(Qt.CursorShape.CrossCursor if tool else Qt.CursorShape.ArrowCursor)

    # --- image -------------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        """No image, and ``text`` in its place (a film that is loading, or why it could not be opened)."""
        self.set_image(None)
        self.placeholder.setText(text)

    def set_image(self, image: XrayImage | None, *, keep_view: bool = False) -> None:
        self.placeholder.setText(PLACEHOLDER)
        self.clear_overlays()
        new_film = image is None or self.image is None or image.path != self.image.path
        self.image = image
        if new_film:  # another film: its own annotations are loaded by whoever stores them
            self.measure.load((), image)
        self.placeholder.setVisible(image is None)
        self.corner.setVisible(image is not None and getattr(self, "corner_enabled", True))
        if image is None:
            self.image_item.clear()
            self.cursor_info.emit("")
            return
        self.window = tuple(map(float, image.window))  # type: ignore[assignment]
        self.image_item.setImage(image.pixels, autoLevels=False, levels=self._levels())
        self.image_item.setRect(QRectF(0, 0, image.width, image.height))
        self._apply_lut()
        self._update_corner()
        if not keep_view:
            self.fit()
        self._refresh_readout()

    def _levels(self) -> tuple[float, float]:
        c, w = self.window
        return (c - w / 2.0, c + w / 2.0)

    def set_window(self, centre: float, width: float) -> None:
        self.window = (float(centre), max(float(width), 1e-6))
        if self.image is not None:
            self.image_item.setLevels(self._levels())
        self._update_corner()
        self.window_changed.emit(*self.window)

    def apply_preset(self, name: str) -> None:
        if self.image is not None:
            self.set_window(*preset_window(self.image, name))

    def set_inverted(self, inverted: bool) -> None:
        self.inverted = bool(inverted)
        self._apply_lut()
        self._update_corner()

    def _apply_lut(self) -> None:
        if self.inverted:
            self.image_item.setLookupTable(np.arange(255, -1, -1, dtype=np.uint8))
        else:
            self.image_item.setLookupTable(None)

    def reset(self) -> None:
        """DICOM window, not inverted, fitted."""
        if self.image is None:
            return
        self.set_inverted(False)
        self.set_window(*self.image.window)
        self.fit()

    def set_wl_mode(self, on: bool) -> None:
        self.view.wl_mode = bool(on)

    def _drag_window(self, dx: float, dy: float) -> None:
        if self.image is None:
            return
        c, w = self.window
        lo, hi = float(self.image.pixels.min()), float(self.image.pixels.max())
        span = max(hi - lo, 1e-3)
        step = span / 500.0  # drag across ~500 px to sweep the full range
        self.set_window(c - dy * step, max(w + dx * step, span / 1000.0))

    # --- view --------------------------------------------------------------------------------
    def fit(self) -> None:
        if self.image is not None:
            self.view.setRange(QRectF(0, 0, self.image.width, self.image.height), padding=0.01)

    def one_to_one(self) -> None:
        """One image pixel per screen pixel, centred where the view is centred now."""
        if self.image is None:
            return
        centre = self.view.viewRect().center()
        size = self.view.boundingRect().size()
        w, h = size.width(), size.height()
        self.view.setRange(QRectF(centre.x() - w / 2, centre.y() - h / 2, w, h), padding=0)

    def zoom(self, factor: float) -> None:
        self.view.scaleBy((1.0 / factor, 1.0 / factor))

    # --- overlays ----------------------------------------------------------------------------
    @staticmethod
    def _pg_colormap(name: str) -> pg.ColorMap:
        """The colour bar's map: the overlay's own RGBA table, so its low end fades out as on the image."""
        return pg.ColorMap(np.linspace(0, 1, 256), heat_lut(name))

    def set_heatmap(self, heat: np.ndarray | None, *, colormap: str = DEFAULT_COLORMAP,
                    opacity: float = DEFAULT_OPACITY, threshold: float | None = None) -> None:
        """Show a low-resolution map in display units (0..1, see :mod:`chestview.engine.explain.display`)
        stretched over the whole image, or hide it with None. ``threshold``: the operating point of
        the one finding shown, to label the colour bar in its probabilities."""
        if heat is None or self.image is None:
            self.heat_item.setVisible(False)
            self.colorbar.setOpacity(0.0)
            return
        heat = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
        h, w = heat.shape
        # Smooth the blocky low-resolution map for display (bilinear, at most 512 px on a side).
        scale = min(512 / max(h, w), max(self.image.width, self.image.height) / max(h, w))
        if scale > 1.5:
            heat = upsample_map(heat, (max(1, round(h * scale)), max(1, round(w * scale))))
        self.heat_item.setImage(heat, autoLevels=False, levels=(0.0, 1.0), lut=heat_lut(colormap))
        self.heat_item.setRect(QRectF(0, 0, self.image.width, self.image.height))
        self.heat_item.setOpacity(float(opacity))
        self.heat_item.setVisible(True)
        if colormap != self._heat_colormap:
            self.colorbar.setColorMap(self._pg_colormap(colormap))
            self._heat_colormap = colormap
        self.colorbar.getAxis("right").setTicks([colorbar_ticks(threshold)])
        self.colorbar.setOpacity(1.0)

    def set_heat_opacity(self, opacity: float) -> None:
        self.heat_item.setOpacity(float(opacity))

    @property
    def heatmap_visible(self) -> bool:
        return self.heat_item.isVisible()

    def set_boxes(self, boxes: list[DrawnBox]) -> None:
        """Draw boxes in image pixels: positive ones 2.5 px in their colour over a dark halo, negative
        ones thin, dashed and grey; captions on a dark plate (readable on dark and bright film)."""
        self.clear_boxes()
        font = QFont()
        font.setPointSize(10)
        font.setBold(True)
        for d in boxes:
            box = d.box
            rect = QGraphicsRectItem(box.x, box.y, box.width, box.height)
            halo = None
            if d.positive:
                pen = QPen(QColor(*d.colour))
                pen.setWidthF(2.5)
                halo = QGraphicsRectItem(box.x, box.y, box.width, box.height)
                halo_pen = QPen(QColor(0, 0, 0, 200))
                halo_pen.setWidthF(5.0)
                halo_pen.setCosmetic(True)
                halo.setPen(halo_pen)
                halo.setZValue(19)
                self.view.addItem(halo)
            else:
                pen = QPen(QColor(*NEGATIVE_COLOUR))
                pen.setWidthF(1.5)
                pen.setStyle(Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            rect.setPen(pen)
            rect.setZValue(20)
            self.view.addItem(rect)
            text = None
            if d.caption:
                # Caption above the box, or inside it when the box touches the top of the image.
                inside = self.image is not None and box.y < 0.04 * self.image.height
                colour = d.colour if d.positive else NEGATIVE_COLOUR
                text = pg.TextItem(d.caption, color=QColor(*colour), anchor=(0, 0 if inside else 1),
                                   fill=pg.mkBrush(0, 0, 0, 200))
                text.setFont(font)
                text.setPos(QPointF(box.x, box.y))
                text.setZValue(21)
                self.view.addItem(text)
            self.box_overlays.append(BoxOverlay(d.label, box, rect, text, d.positive, halo))

    def clear_boxes(self) -> None:
        for ov in self.box_overlays:
            for item in (ov.rect, ov.text, ov.halo):
                if item is not None:
                    self.view.removeItem(item)
        self.box_overlays = []

    def clear_overlays(self) -> None:
        self.clear_boxes()
        self.set_heatmap(None)

    # --- readout -----------------------------------------------------------------------------
    def _mouse_moved(self, scene_pos: QPointF) -> None:
        self._last_scene_pos = QPointF(scene_pos)
        self._refresh_readout()

    def _refresh_readout(self) -> None:
        """The readout follows the image: paging with the mouse still over the view updates it."""
        pos = self._last_scene_pos
        if self.image is None or pos is None or not self.view.sceneBoundingRect().contains(pos):
            self.cursor_info.emit("")
            return
        p = self.view.mapSceneToView(pos)
        self.cursor_info.emit(self.describe_point(p.x(), p.y()))

    def describe_point(self, x: float, y: float) -> str:
        """'x 120 y 340 (41.2, 116.8 mm) value 1234' for view coordinates, '' outside the image.
        The value is the stored one (after the modality LUT; MONOCHROME1 not mirrored)."""
        if self.image is None:
            return ""
        col, row = int(np.floor(x)), int(np.floor(y))
        if not (0 <= row < self.image.height and 0 <= col < self.image.width):
            return ""
        value = self.image.stored_value(float(self.image.pixels[row, col]))
        text = f"x {col}  y {row}"
        if self.image.pixel_spacing:
            sr, sc = self.image.pixel_spacing
            text += f"  ({col * sc:.1f}, {row * sr:.1f} mm)"
        return text + f"  value {value:g}"

    def set_corner_info(self, lines: list[str], *, visible: bool | None = None) -> None:
        """Extra corner lines above the window (patient as allowed, study date, view); ``visible``:
        show or hide the whole corner text."""
        self.corner_info = [t for t in lines if t]
        if visible is not None:
            self.corner_enabled = bool(visible)
        self._update_corner()

    def zoom_factor(self) -> float:
        """Screen pixels per image pixel now."""
        px = self.view.viewPixelSize()[0]
        return 1.0 / px if px > 0 else 1.0

    def _update_corner(self) -> None:
        if self.image is None:
            return
        c, w = self.image.stored_window(self.window)
        lines = [*getattr(self, "corner_info", []),
                 f"W {w:.0f}  L {c:.0f}{'  inv' if self.inverted else ''}  zoom {self.zoom_factor():.2f}"]
        self.corner.setText("\n".join(lines))
        self.corner.setVisible(getattr(self, "corner_enabled", True))
        self.corner.adjustSize()
        self._place_labels()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._place_labels()

    def _place_labels(self) -> None:
        r = self.graphics.rect()
        self.placeholder.setGeometry(r)
        self.corner.adjustSize()  # bottom right: box captions use the top of the image
        self.corner.move(max(8, r.width() - self.corner.width() - 90), max(8, r.height() - self.corner.height() - 8))
        self.banner.adjustSize()
        self.banner.move(8, max(8, r.height() - self.banner.height() - 8))


def colorbar_ticks(threshold: float | None) -> list[tuple[float, str]]:
    """Colour-bar ticks: with one finding shown, its probabilities at a few levels (the operating
    point at 0.5); else the levels themselves."""
    if threshold is None:
        return [(0.0, "0"), (0.25, "0.25"), (0.5, "0.5 op."), (0.75, "0.75"), (1.0, "1")]
    return [(lv, f"p {probability_at_level(lv, threshold):.2f}" + (" op." if lv == 0.5 else ""))
            for lv in (0.1, 0.25, 0.5, 0.75, 0.9)]


def box_colour(index: int) -> tuple[int, int, int]:
    return BOX_COLOURS[index % len(BOX_COLOURS)]
