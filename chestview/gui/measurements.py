"""The viewer's measurement tools: any number of distance rulers (mm when the pixel spacing is known,
else px), angles (between two drawn lines), text notes, and the cardiothoracic ratio (two horizontal
spans: the heart's widest diameter, then the chest's widest inner diameter), with undo/redo.

The annotations and their maths are :mod:`chestview.engine.annotations`; this draws them and keeps the
history. ``edited`` is emitted on every change the reader makes (not when an image's annotations are
loaded), so that whoever stores them (gui/reading.py) saves exactly the reader's edits.
"""

from __future__ import annotations

from typing import Callable

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QObject, QPointF, Signal
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsLineItem

from chestview.engine.annotations import Annotation, History, caption, ctr_spans, measurement_json, segments
from chestview.engine.measure import Distance, Span, cardiothoracic_ratio, distance

RULER_COLOUR = QColor(0, 230, 230)
ANGLE_COLOUR = QColor(255, 220, 60)
TEXT_COLOUR = QColor(255, 255, 255)
ARROW_COLOUR = QColor(255, 160, 40)
CARDIAC_COLOUR = QColor(255, 120, 200)
THORACIC_COLOUR = QColor(120, 220, 120)
TOOLS = ("ruler", "angle", "arrow", "text", "ctr")


def _rgb(c: QColor) -> tuple[int, int, int]:
    return (c.red(), c.green(), c.blue())


class MeasurementTools(QObject):
    changed = Signal()  # a measurement was finished, cleared, undone or loaded
    edited = Signal()  # the reader changed the annotations (not a load): time to save them

    def __init__(self, view: pg.ViewBox) -> None:
        super().__init__()
        self.view = view
        self.history = History()
        self._spacing: tuple[float, float] | None = None
        self._size: tuple[int, int] = (0, 0)  # image width, height: captions stay inside it
        self._items: list = []  # drawn items of the annotations
        self._preview: list = []  # the drag in progress
        self._pending: tuple[str, tuple] | None = None  # the first line of an angle / the heart of a CTR
        # Asked for a text note's words (a dialog in the app; tests set their own).
        self.ask_text: Callable[[], str | None] = lambda: None

    # --- state -------------------------------------------------------------------------------
    @property
    def annotations(self) -> tuple[Annotation, ...]:
        return self.history.current

    def _last(self, kind: str) -> Annotation | None:
        return next((a for a in reversed(self.annotations) if a.kind == kind), None)

    @property
    def ruler(self) -> Distance | None:
        """The newest ruler."""
        a = self._last("ruler")
        return distance(a.points[0], a.points[1], self._spacing) if a else None

    @property
    def cardiac(self) -> Span | None:
        if self._pending and self._pending[0] == "ctr":
            return self._pending[1]
        a = self._last("ctr")
        return ctr_spans(a)[0] if a else None

    @property
    def thoracic(self) -> Span | None:
        if self._pending and self._pending[0] == "ctr":
            return None
        a = self._last("ctr")
        return ctr_spans(a)[1] if a else None

    @property
    def ratio(self) -> float | None:
        return cardiothoracic_ratio(self.cardiac, self.thoracic) if self.cardiac and self.thoracic else None

    def ctr_text(self) -> str:
        if self.cardiac is None:
            return "CTR: drag across the heart's widest diameter"
        if self.thoracic is None:
            return "CTR: now drag across the chest's widest inner diameter"
        return f"CTR {self.ratio:.2f}"

    def summary(self) -> str:
        """The status bar's text: every measurement's value."""
        return "   ".join(f"{a.kind} {caption(a, self._spacing)}" if a.kind != "text" else f"note “{a.text}”"
                           for a in self.annotations)

    def to_json(self) -> dict:
        """What an export records: the newest ruler and the cardiothoracic ratio (as before), and every
        annotation with its value."""
        doc: dict = {}
        if self.ruler is not None:
            doc["ruler"] = self.ruler.to_json()
        ctr = self._last("ctr")
        if ctr is not None:
            m = measurement_json(ctr, self._spacing)
            doc["cardiothoracic_ratio"] = {"cardiac": m["cardiac"], "thoracic": m["thoracic"], "ratio": m["ratio"]}
            if self._spacing:
                doc["cardiothoracic_ratio"]["column_spacing_mm"] = self._spacing[1]
        if self.annotations:
            doc["annotations"] = [measurement_json(a, self._spacing) for a in self.annotations]
        return doc

    def lines(self) -> list[tuple[tuple[float, float, float, float], str, tuple[int, int, int]]]:
        """((x1, y1, x2, y2), caption, colour) of every drawn line, for the export (the screen's colours)."""
        out = []
        for a in self.annotations:
            for (p1, p2), text, colour in self._segments(a):
                out.append(((p1[0], p1[1], p2[0], p2[1]), text, _rgb(colour)))
        return out

    def _segments(self, a: Annotation) -> list[tuple[tuple, str, QColor]]:
        p = a.points
        if a.kind == "ruler":
            return [((p[0], p[1]), caption(a, self._spacing), RULER_COLOUR)]
        if a.kind == "angle":
            return [((p[0], p[1]), "", ANGLE_COLOUR), ((p[2], p[3]), caption(a, self._spacing), ANGLE_COLOUR)]
        if a.kind == "text":
            return [((p[0], p[0]), a.text, TEXT_COLOUR)]
        if a.kind == "arrow":  # the shaft drawn head to tail: its text at the tail
            return [(line, a.text if i == 0 else "", ARROW_COLOUR) for i, line in enumerate(segments(a))]
        cardiac, thoracic = ctr_spans(a)
        return [(((cardiac.x1, cardiac.y), (cardiac.x2, cardiac.y)), f"cardiac {self._width_text(cardiac)}",
                 CARDIAC_COLOUR),
                (((thoracic.x1, thoracic.y), (thoracic.x2, thoracic.y)),
                 f"thoracic {self._width_text(thoracic)} — {caption(a, self._spacing)}", THORACIC_COLOUR)]

    # --- edits -------------------------------------------------------------------------------
    def load(self, annotations: tuple[Annotation, ...], image=None) -> None:
        """Show a film's stored annotations (a fresh history: loading is not undoable)."""
        if image is not None:
            self._spacing, self._size = image.pixel_spacing, (image.width, image.height)
        self.history = History(tuple(annotations))
        self._pending = None
        self._redraw()
        self.changed.emit()

    def reset(self) -> None:
        """Forget everything without an edit (another image is shown)."""
        self.load(())

    def _edit(self, fn: Callable[[], None]) -> None:
        before = self.annotations
        fn()
        self._redraw()
        if self.annotations != before:
            self.edited.emit()
        self.changed.emit()

    def clear(self) -> None:
        self._pending = None
        self._edit(self.history.clear)

    def undo(self) -> bool:
        if self._pending is not None:  # a half-drawn angle or CTR goes first
            self._pending = None
            self._redraw()
            self.changed.emit()
            return True
        done = self.history.can_undo
        self._edit(self.history.undo)
        return done

    def redo(self) -> bool:
        done = self.history.can_redo
        self._edit(self.history.redo)
        return done

    def add(self, a: Annotation) -> None:
        self._edit(lambda: self.history.add(a))

    # --- drawing -----------------------------------------------------------------------------
    def drag(self, start: QPointF, end: QPointF, finished: bool, image) -> None:
        """A left-drag with a tool active (image pixels); the measurement is kept when it ends."""
        if image is None or self.view.tool not in TOOLS:
            return
        self._spacing, self._size = image.pixel_spacing, (image.width, image.height)
        p1, p2 = (start.x(), start.y()), (end.x(), end.y())
        tool = self.view.tool
        if not finished:
            if tool != "text":
                self._draw_preview(tool, p1, p2)
            return
        self._clear_preview()
        if tool == "ruler":
            self.add(Annotation("ruler", (p1, p2)))
        elif tool == "arrow":
            if abs(p1[0] - p2[0]) + abs(p1[1] - p2[1]) > 4:  # drawn from its text (tail) to what it shows
                self.add(Annotation("arrow", (p1, p2), self.ask_text() or ""))
        elif tool == "text":
            if abs(p1[0] - p2[0]) + abs(p1[1] - p2[1]) > 4:  # a note is placed with a click, not a drag
                return
            words = self.ask_text()
            if words:
                self.add(Annotation("text", (p2,), words))
        elif tool == "angle":
            if self._pending and self._pending[0] == "angle":
                first = self._pending[1]
                self._pending = None
                self.add(Annotation("angle", (*first, p1, p2)))
            else:
                self._pending = ("angle", (p1, p2))
                self._redraw()
                self.changed.emit()
        elif tool == "ctr":
            span = Span.from_drag(p1, p2)
            if self._pending and self._pending[0] == "ctr":
                heart = self._pending[1]
                self._pending = None
                new = Annotation("ctr", ((heart.x1, heart.y), (heart.x2, heart.y), (span.x1, span.y), (span.x2, span.y)))
                # One ratio per film: a new one replaces the old, as one undoable step.
                self._edit(lambda: self.history.apply(
                    tuple(a for a in self.annotations if a.kind != "ctr") + (new,)))
            else:
                self._pending = ("ctr", span)
                self._redraw()
                self.changed.emit()

    def _width_text(self, span: Span) -> str:
        if self._spacing:
            return f"{span.width * self._spacing[1]:.0f} mm"
        return f"{span.width:.0f} px"

    def _draw_preview(self, tool: str, p1, p2) -> None:
        self._clear_preview()
        if tool == "ctr":
            s = Span.from_drag(p1, p2)
            p1, p2 = (s.x1, s.y), (s.x2, s.y)
            colour = THORACIC_COLOUR if self._pending else CARDIAC_COLOUR
            text = self._width_text(s)
        elif tool == "ruler":
            colour, text = RULER_COLOUR, distance(p1, p2, self._spacing).text
        elif tool == "angle":
            colour, text = ANGLE_COLOUR, ""
        elif tool == "arrow":
            colour, text = ARROW_COLOUR, ""
        else:
            colour, text = TEXT_COLOUR, ""
        self._preview = self._line(QLineF(QPointF(*p1), QPointF(*p2)), text, colour)

    def _clear_preview(self) -> None:
        for it in self._preview:
            self.view.removeItem(it)
        self._preview = []

    def _redraw(self) -> None:
        for it in self._items:
            self.view.removeItem(it)
        self._items = []
        for a in self.annotations:
            for (p1, p2), text, colour in self._segments(a):
                self._items += self._line(QLineF(QPointF(*p1), QPointF(*p2)), text, colour,
                                          point=a.kind == "text")
        if self._pending is not None:
            kind, what = self._pending
            if kind == "ctr":
                line = QLineF(what.x1, what.y, what.x2, what.y)
                self._items += self._line(line, f"cardiac {self._width_text(what)}", CARDIAC_COLOUR)
            else:
                self._items += self._line(QLineF(QPointF(*what[0]), QPointF(*what[1])), "", ANGLE_COLOUR)

    def _line(self, line: QLineF, text: str, colour: QColor, *, point: bool = False) -> list:
        items: list = []
        if not point:
            for c, w in ((QColor(0, 0, 0, 200), 4.0), (colour, 2.0)):
                it = QGraphicsLineItem(line)
                pen = QPen(c)
                pen.setWidthF(w)
                pen.setCosmetic(True)
                it.setPen(pen)
                it.setZValue(30)
                self.view.addItem(it)
                items.append(it)
        if text:
            # Captions stay on the film: at the right edge they grow leftwards, at the bottom upwards.
            end = line.p2()
            w, h = self._size
            ax = 1.0 if w and end.x() > 0.75 * w else 0.0
            ay = 1.0 if h and end.y() > 0.9 * h else 0.0
            label = pg.TextItem(text, color=colour, anchor=(ax, ay), fill=pg.mkBrush(0, 0, 0, 200))
            font = QFont()
            font.setBold(True)
            label.setFont(font)
            label.setZValue(31)
            label.setPos(end)
            self.view.addItem(label)
            items.append(label)
        return items
