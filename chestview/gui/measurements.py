"""The viewer's measurement tools: a distance ruler (mm when the pixel spacing is known, else px)
and the cardiothoracic ratio (two horizontal spans: the heart's widest diameter, then the chest's
widest inner diameter). The maths is :mod:`chestview.engine.measure`; this draws and keeps state."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QObject, QPointF, Signal
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsLineItem

from chestview.engine.measure import Distance, Span, cardiothoracic_ratio, ctr_json, distance

RULER_COLOUR = QColor(0, 230, 230)
CARDIAC_COLOUR = QColor(255, 120, 200)
THORACIC_COLOUR = QColor(120, 220, 120)


class MeasurementTools(QObject):
    changed = Signal()  # a measurement was finished or cleared

    def __init__(self, view: pg.ViewBox) -> None:
        super().__init__()
        self.view = view
        self.ruler: Distance | None = None
        self.cardiac: Span | None = None
        self.thoracic: Span | None = None
        self._spacing: tuple[float, float] | None = None
        self._items: dict[str, tuple[QGraphicsLineItem, QGraphicsLineItem, pg.TextItem]] = {}

    # --- state -------------------------------------------------------------------------------
    @property
    def ratio(self) -> float | None:
        return cardiothoracic_ratio(self.cardiac, self.thoracic) if self.cardiac and self.thoracic else None

    def ctr_text(self) -> str:
        if self.cardiac is None:
            return "CTR: drag across the heart's widest diameter"
        if self.thoracic is None:
            return "CTR: now drag across the chest's widest inner diameter"
        return f"CTR {self.ratio:.2f}"

    def to_json(self) -> dict:
        """What an export records: the ruler and the cardiothoracic ratio (absent when not drawn)."""
        doc = {}
        if self.ruler is not None:
            doc["ruler"] = self.ruler.to_json()
        ctr = ctr_json(self.cardiac, self.thoracic, self._spacing)
        if ctr is not None:
            doc["cardiothoracic_ratio"] = ctr
        return doc

    def lines(self) -> list[tuple[tuple[float, float, float, float], str]]:
        """((x1, y1, x2, y2), caption) of every drawn measurement, for the export."""
        out = []
        if self.ruler is not None:
            r = self.ruler
            out.append(((r.x1, r.y1, r.x2, r.y2), r.text))
        if self.cardiac is not None:
            c = self.cardiac
            out.append(((c.x1, c.y, c.x2, c.y), "cardiac"))
        if self.thoracic is not None:
            t = self.thoracic
            out.append(((t.x1, t.y, t.x2, t.y), f"thoracic  CTR {self.ratio:.2f}" if self.ratio is not None else "thoracic"))
        return out

    def clear(self) -> None:
        for key in list(self._items):
            self._remove(key)
        had = self.ruler or self.cardiac or self.thoracic
        self.ruler = self.cardiac = self.thoracic = None
        if had:
            self.changed.emit()

    # --- drawing -----------------------------------------------------------------------------
    def drag(self, start: QPointF, end: QPointF, finished: bool, image) -> None:
        """A left-drag with a tool active (image pixels); the measurement is kept when it ends."""
        if image is None:
            return
        self._spacing = image.pixel_spacing
        p1, p2 = (start.x(), start.y()), (end.x(), end.y())
        if self.view.tool == "ruler":
            self.ruler = distance(p1, p2, image.pixel_spacing)
            self._draw("ruler", QLineF(start, end), self.ruler.text, RULER_COLOUR)
        elif self.view.tool == "ctr":
            if self._active is None:  # a new drag: the heart first, then the chest; a third starts over
                self._active = "thoracic" if self.cardiac is not None and self.thoracic is None else "cardiac"
                if self._active == "cardiac" and self.thoracic is not None:
                    self.thoracic = None
                    self._remove("thoracic")
            span = Span.from_drag(p1, p2)
            setattr(self, self._active, span)
            text = f"{self._active} {self._width_text(span)}"
            if self._active == "thoracic" and self.ratio is not None:
                text += f" — CTR {self.ratio:.2f}"
            colour = CARDIAC_COLOUR if self._active == "cardiac" else THORACIC_COLOUR
            self._draw(self._active, QLineF(span.x1, span.y, span.x2, span.y), text, colour)
        if finished:
            self._active = None
            self.changed.emit()

    _active: str | None = None  # the CTR span being dragged now

    def _width_text(self, span: Span) -> str:
        if self._spacing:
            return f"{span.width * self._spacing[1]:.0f} mm"
        return f"{span.width:.0f} px"

    def _draw(self, key: str, line: QLineF, text: str, colour: QColor) -> None:
        if key not in self._items:
            halo, item = QGraphicsLineItem(), QGraphicsLineItem()
            for it, c, w in ((halo, QColor(0, 0, 0, 200), 4.0), (item, colour, 2.0)):
                pen = QPen(c)
                pen.setWidthF(w)
                pen.setCosmetic(True)
                it.setPen(pen)
                it.setZValue(30)
                self.view.addItem(it)
            label = pg.TextItem("", color=colour, anchor=(0, 0), fill=pg.mkBrush(0, 0, 0, 200))
            font = QFont()
            font.setBold(True)
            label.setFont(font)
            label.setZValue(31)
            self.view.addItem(label)
            self._items[key] = (halo, item, label)
        halo, item, label = self._items[key]
        halo.setLine(line)
        item.setLine(line)
        label.setText(text)
        label.setPos(line.p2())

    def _remove(self, key: str) -> None:
        for it in self._items.pop(key, ()):
            self.view.removeItem(it)
