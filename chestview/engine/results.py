"""Results of running a model on an image: the data behind ``results.json`` and the app's tables."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Box:
    """A box in pixels of the image as stored; (x, y) is the top-left corner, as in the NIH box list."""

    x: float
    y: float
    width: float
    height: float
    score: float = 1.0

    @property
    def x2(self) -> float:
        return self.x + self.width

    @property
    def y2(self) -> float:
        return self.y + self.height

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)


@dataclass(frozen=True)
class Finding:
    label: str
    probability: float
    threshold: float
    positive: bool
    reliable: bool = True  # False: too few training positives for a meaningful probability
    boxes: tuple[Box, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "probability": round(float(self.probability), 6),
            "threshold": round(float(self.threshold), 6),
            "positive": bool(self.positive),
            "reliable": bool(self.reliable),
            "boxes": [{k: round(float(v), 2) for k, v in asdict(b).items()} for b in self.boxes],
        }


@dataclass(frozen=True)
class Abnormality:
    """"Does this film show any of the labels?": the model's own normal-vs-abnormal output
    (trained with the ``No Finding`` films as negatives), calibrated, with its operating threshold."""

    probability: float
    threshold: float
    positive: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "probability": round(float(self.probability), 6),
            "threshold": round(float(self.threshold), 6),
            "positive": bool(self.positive),
        }


@dataclass
class ImageResult:
    """Everything a model said about one image. ``heatmaps`` (label -> uint8 map, low resolution,
    covering the whole image) is kept in memory for display and export, not written to JSON."""

    path: str
    image_width: int = 0
    image_height: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    heatmaps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    abnormality: Abnormality | None = None  # None: the model has no abnormality output

    @property
    def ok(self) -> bool:
        return self.error is None

    def finding(self, label: str) -> Finding | None:
        return next((f for f in self.findings if f.label == label), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "image_width": self.image_width,
            "image_height": self.image_height,
            "error": self.error,
            "warnings": list(self.warnings),
            "abnormality": self.abnormality.to_json() if self.abnormality is not None else None,
            "findings": [f.to_json() for f in self.findings],
            "timings_ms": {k: round(float(v), 3) for k, v in self.timings_ms.items()},
        }


def abnormality_score(result: ImageResult) -> float:
    """What a worklist sorts by: the abnormality probability when the model has one, else the top
    reliable finding probability (a weaker stand-in; both calibrated). NaN for a failed image."""
    if not result.ok:
        return float("nan")
    if result.abnormality is not None:
        return float(result.abnormality.probability)
    probs = [f.probability for f in result.findings if f.reliable]
    return float(max(probs)) if probs else float("nan")
