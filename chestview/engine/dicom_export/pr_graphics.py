"""Graphic and text objects of a presentation state in the source's pixel space (column, row; the
origin at the top-left pixel's corner, as chestview's coordinates), clipped to the image."""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np

from chestview.engine.dicom_export.sr import plain_text


def clip_point(x: float, y: float, columns: int, rows: int) -> tuple[float, float]:
    return min(max(0.0, float(x)), float(columns)), min(max(0.0, float(y)), float(rows))


def polyline(points: Sequence[tuple[float, float]], columns: int, rows: int) -> hd.pr.GraphicObject:
    """An open polyline through ``points`` (image pixels), clipped to the image."""
    data = np.array([clip_point(x, y, columns, rows) for x, y in points], dtype=np.float32)
    return hd.pr.GraphicObject(hd.pr.GraphicTypeValues.POLYLINE, data, hd.pr.AnnotationUnitsValues.PIXEL)


def text_object(value: str, x: float, y: float, height: float, columns: int, rows: int,
                anchor: tuple[float, float] | None = None) -> hd.pr.TextObject:
    """``value`` in a box of ``height`` whose top left is (x, y), moved inside the image; ``anchor``:
    the point it belongs to (not drawn), so that a viewer keeps the text by it."""
    # The viewer picks the font; the box only says where. Roughly 0.6 em per character, clipped to the image.
    width = min(float(columns), max(height, 0.6 * height * len(value)))
    x = min(max(0.0, x), columns - width)
    y = min(max(0.0, y), rows - height)
    return hd.pr.TextObject(
        text_value=plain_text(value)[:1024],
        units=hd.pr.AnnotationUnitsValues.PIXEL,
        bounding_box=(x, y, x + width, y + height),
        text_justification=hd.pr.TextJustificationValues.LEFT,
        anchor_point=None if anchor is None else clip_point(*anchor, columns, rows),
        anchor_point_visible=False,
    )
