"""Measurements on a radiograph: distances (mm when the pixel spacing is known) and the
cardiothoracic ratio (the widest cardiac diameter over the widest inner thoracic diameter, each a
horizontal span, as read on a PA film). Pure functions; the app draws them, exports record them."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Distance:
    x1: float
    y1: float
    x2: float
    y2: float
    value: float
    unit: str  # "mm" or "px"

    @property
    def text(self) -> str:
        return f"{self.value:.1f} {self.unit}" if self.unit == "mm" else f"{self.value:.0f} px"

    def to_json(self) -> dict:
        return {"from": [round(self.x1, 1), round(self.y1, 1)], "to": [round(self.x2, 1), round(self.y2, 1)],
                "length": round(self.value, 2), "unit": self.unit}


def distance(p1: tuple[float, float], p2: tuple[float, float], spacing: tuple[float, float] | None) -> Distance:
    """Length of p1-p2 (image pixels, x then y); ``spacing`` is DICOM's (row, column) in mm."""
    dx, dy = p2[0] - p1[0], p2[1] - p1[1]
    if spacing:
        row_mm, col_mm = spacing
        return Distance(*p1, *p2, math.hypot(dx * col_mm, dy * row_mm), "mm")
    return Distance(*p1, *p2, math.hypot(dx, dy), "px")


@dataclass(frozen=True)
class Span:
    """A horizontal span at height ``y`` from ``x1`` to ``x2`` (x1 <= x2), in image pixels."""

    x1: float
    x2: float
    y: float

    @classmethod
    def from_drag(cls, p1: tuple[float, float], p2: tuple[float, float]) -> "Span":
        """A drag gives a horizontal span: only its horizontal extent counts, at the press height."""
        return cls(min(p1[0], p2[0]), max(p1[0], p2[0]), p1[1])

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    def to_json(self) -> dict:
        return {"x1": round(self.x1, 1), "x2": round(self.x2, 1), "y": round(self.y, 1), "width_px": round(self.width, 1)}


def cardiothoracic_ratio(cardiac: Span, thoracic: Span) -> float | None:
    """Cardiac width / thoracic width (None while the thoracic span has no width)."""
    return cardiac.width / thoracic.width if thoracic.width > 0 else None


def ctr_json(cardiac: Span | None, thoracic: Span | None, spacing: tuple[float, float] | None) -> dict | None:
    """The cardiothoracic-ratio record of an export (None when neither span is drawn)."""
    if cardiac is None and thoracic is None:
        return None
    ratio = cardiothoracic_ratio(cardiac, thoracic) if cardiac and thoracic else None
    doc = {"cardiac": cardiac.to_json() if cardiac else None, "thoracic": thoracic.to_json() if thoracic else None,
           "ratio": round(ratio, 4) if ratio is not None else None}
    if spacing:
        doc["column_spacing_mm"] = spacing[1]
    return doc
