"""Measurements that last: rulers, angles, arrows, text notes and the cardiothoracic ratio drawn on a film,
with undo/redo, stored per film and restored when it is opened again.

Stored as one JSON file per film in the user data folder (``annotations/<sha256 of the film>.json``),
keyed like the result cache by the film's bytes, written atomically; never beside the source film.
An unreadable file is set aside (``.corrupt``) with a warning and the film starts with none.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chestview.engine.measure import Span, cardiothoracic_ratio, distance
from chestview.engine.paths import user_data_dir
from chestview.engine.util import atomic_write_text

log = logging.getLogger(__name__)

KINDS = ("ruler", "angle", "arrow", "text", "ctr")
Point = tuple[float, float]


@dataclass(frozen=True)
class Annotation:
    """``ruler``: two points. ``angle``: two lines (four points), the angle between them. ``arrow``: its
    tail then its head, and an optional text (written at the tail). ``text``: one point and its text. ``ctr``: the cardiac span then the thoracic span (x1, y, x2, y each), as two
    lines of two points."""

    kind: str
    points: tuple[Point, ...]
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "points": [[round(x, 2), round(y, 2)] for x, y in self.points], "text": self.text}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Annotation":
        kind = str(data["kind"])
        if kind not in KINDS:
            raise ValueError(f"unknown annotation kind {kind!r}")
        points = tuple((float(p[0]), float(p[1])) for p in data["points"])
        need = {"ruler": 2, "angle": 4, "arrow": 2, "text": 1, "ctr": 4}[kind]
        if len(points) != need:
            raise ValueError(f"{kind} needs {need} points, not {len(points)}")
        return cls(kind, points, str(data.get("text", "")))


def angle_between(a1: Point, a2: Point, b1: Point, b2: Point) -> float:
    """The angle (degrees, 0..180) between the lines a1-a2 and b1-b2, both drawn from their first point."""
    ax, ay = a2[0] - a1[0], a2[1] - a1[1]
    bx, by = b2[0] - b1[0], b2[1] - b1[1]
    na, nb = math.hypot(ax, ay), math.hypot(bx, by)
    if na == 0 or nb == 0:
        return 0.0
    cos = max(-1.0, min(1.0, (ax * bx + ay * by) / (na * nb)))
    return math.degrees(math.acos(cos))


def ctr_spans(a: Annotation) -> tuple[Span, Span]:
    (c1, c2, t1, t2) = a.points
    return Span.from_drag(c1, c2), Span.from_drag(t1, t2)


def arrow_head(tail: Point, head: Point) -> list[tuple[Point, Point]]:
    """The two short lines of an arrow's head: from the head back towards the tail, 25 degrees either
    side of the shaft, a fifth of its length (6 to 40 px)."""
    dx, dy = tail[0] - head[0], tail[1] - head[1]
    length = math.hypot(dx, dy)
    if length == 0:
        return []
    size = min(40.0, max(6.0, length / 5))
    out = []
    for turn in (math.radians(25), -math.radians(25)):
        c, s = math.cos(turn), math.sin(turn)
        ux, uy = (dx * c - dy * s) / length, (dx * s + dy * c) / length
        out.append((head, (head[0] + ux * size, head[1] + uy * size)))
    return out


def segments(a: Annotation) -> list[tuple[Point, Point]]:
    """The straight lines an annotation draws (a text note draws none): a ruler its line, an angle its
    two lines, an arrow its shaft (head to tail) and head, a CTR its cardiac and thoracic spans
    (horizontal, at each span's press height)."""
    if a.kind == "arrow":
        tail, head = a.points
        return [(head, tail), *arrow_head(tail, head)]
    if a.kind == "ctr":
        return [((s.x1, s.y), (s.x2, s.y)) for s in ctr_spans(a)]
    if a.kind == "text":
        return []
    return [(a.points[i], a.points[i + 1]) for i in range(0, len(a.points) - 1, 2)]


def caption(a: Annotation, spacing: tuple[float, float] | None) -> str:
    """What is written beside the annotation: its value (mm or px, degrees, the ratio) or its text
    (a note's, an arrow's)."""
    if a.kind == "ruler":
        return distance(a.points[0], a.points[1], spacing).text
    if a.kind == "angle":
        return f"{angle_between(*a.points):.1f}°"
    if a.kind == "ctr":
        ratio = cardiothoracic_ratio(*ctr_spans(a))
        return f"CTR {ratio:.2f}" if ratio is not None else "CTR –"
    return a.text


def measurement_json(a: Annotation, spacing: tuple[float, float] | None) -> dict[str, Any]:
    """An export's record of one annotation: its points and its value."""
    doc = a.to_json()
    if a.kind == "ruler":
        d = distance(a.points[0], a.points[1], spacing)
        doc.update(length=round(d.value, 2), unit=d.unit)
    elif a.kind == "angle":
        doc["degrees"] = round(angle_between(*a.points), 2)
    elif a.kind == "ctr":
        cardiac, thoracic = ctr_spans(a)
        ratio = cardiothoracic_ratio(cardiac, thoracic)
        doc.update(cardiac=cardiac.to_json(), thoracic=thoracic.to_json(),
                   ratio=round(ratio, 4) if ratio is not None else None)
    return doc


@dataclass
class History:
    """The annotations of one film and their undo/redo stacks (each state a tuple of annotations)."""

    current: tuple[Annotation, ...] = ()
    _undo: list[tuple[Annotation, ...]] = field(default_factory=list)
    _redo: list[tuple[Annotation, ...]] = field(default_factory=list)

    def apply(self, new: tuple[Annotation, ...]) -> None:
        if new == self.current:
            return
        self._undo.append(self.current)
        self._redo.clear()
        self.current = tuple(new)

    def add(self, a: Annotation) -> None:
        self.apply((*self.current, a))

    def replace_last(self, a: Annotation) -> None:
        """Replace the newest annotation (a CTR's second span) as one undoable step."""
        self.apply((*self.current[:-1], a) if self.current else (a,))

    def remove(self, index: int) -> None:
        self.apply(self.current[:index] + self.current[index + 1:])

    def clear(self) -> None:
        self.apply(())

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self.current)
        self.current = self._undo.pop()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self.current)
        self.current = self._redo.pop()
        return True


def default_annotation_dir() -> Path:
    return user_data_dir() / "annotations"


class AnnotationStore:
    """One JSON file per film digest (see the module doc)."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_annotation_dir()

    def _file(self, digest: str) -> Path:
        if not digest or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a SHA-256 digest: {digest!r}")
        return self.folder / f"{digest}.json"

    def load(self, digest: str) -> tuple[Annotation, ...]:
        path = self._file(digest)
        if not path.exists():
            return ()
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return tuple(Annotation.from_json(a) for a in doc["annotations"])
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("%s: annotations unreadable (%s); set aside as .corrupt", path, exc)
            try:
                os.replace(path, path.with_suffix(".json.corrupt"))
            except OSError:
                pass
            return ()

    def save(self, digest: str, annotations: tuple[Annotation, ...] | list[Annotation], *, source: str = "") -> None:
        path = self._file(digest)
        if not annotations:
            path.unlink(missing_ok=True)
            return
        doc = {"format": 1, "source_name": Path(source).name if source else "",
               "annotations": [a.to_json() for a in annotations]}
        atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
