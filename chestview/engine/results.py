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
    # True: the map has no focal region (explain.boxes.cut_boxes), so no box: "diffuse, no box".
    diffuse: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "probability": round(float(self.probability), 6),
            "threshold": round(float(self.threshold), 6),
            "positive": bool(self.positive),
            "reliable": bool(self.reliable),
            "boxes": [{k: round(float(v), 2) for k, v in asdict(b).items()} for b in self.boxes],
            "diffuse": bool(self.diffuse),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Finding":
        return cls(
            label=str(data["label"]),
            probability=float(data["probability"]),
            threshold=float(data["threshold"]),
            positive=bool(data["positive"]),
            reliable=bool(data.get("reliable", True)),
            boxes=tuple(Box(**{k: float(v) for k, v in b.items()}) for b in data.get("boxes", [])),
            diffuse=bool(data.get("diffuse", False)),
        )


@dataclass(frozen=True)
class InputCheck:
    """Does the image look like a frontal chest radiograph? ``score`` is the distance of the image's
    trunk features to the model's training films (larger = less like them) and ``threshold`` the
    cut chosen on the validation films; both are None for a model without gate statistics.
    ``flagged`` is also set by pixel and DICOM header checks; ``reason`` says why ("" when not)."""

    score: float | None
    threshold: float | None
    flagged: bool
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "score": None if self.score is None else round(float(self.score), 4),
            "threshold": None if self.threshold is None else round(float(self.threshold), 4),
            "flagged": bool(self.flagged),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "InputCheck":
        score, threshold = data.get("score"), data.get("threshold")
        return cls(
            None if score is None else float(score),
            None if threshold is None else float(threshold),
            bool(data.get("flagged", False)),
            str(data.get("reason", "")),
        )


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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Abnormality":
        return cls(float(data["probability"]), float(data["threshold"]), bool(data["positive"]))


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
    input_check: InputCheck | None = None
    heatmaps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    abnormality: Abnormality | None = None  # None: the model has no abnormality output
    box_threshold: int | None = None  # the heatmap level the findings' boxes were cut at

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def flagged(self) -> bool:
        """The input gate says this is probably not a frontal chest radiograph."""
        return self.input_check is not None and self.input_check.flagged

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
            "box_threshold": self.box_threshold,
            "findings": [f.to_json() for f in self.findings],
            "input_check": self.input_check.to_json() if self.input_check is not None else None,
            "timings_ms": {k: round(float(v), 3) for k, v in self.timings_ms.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ImageResult":
        """The inverse of :meth:`to_json` (heatmaps are not in JSON)."""
        check, abnormal = data.get("input_check"), data.get("abnormality")
        return cls(
            path=str(data["path"]),
            image_width=int(data.get("image_width", 0)),
            image_height=int(data.get("image_height", 0)),
            error=data.get("error"),
            warnings=[str(w) for w in data.get("warnings", [])],
            findings=[Finding.from_json(f) for f in data.get("findings", [])],
            timings_ms={str(k): float(v) for k, v in data.get("timings_ms", {}).items()},
            input_check=InputCheck.from_json(check) if isinstance(check, dict) else None,
            abnormality=Abnormality.from_json(abnormal) if isinstance(abnormal, dict) else None,
            box_threshold=None if data.get("box_threshold") is None else int(data["box_threshold"]),
        )


def abnormality_score(result: ImageResult) -> float:
    """What a worklist sorts by: the abnormality probability when the model has one, else the top
    reliable finding probability (a weaker stand-in; both calibrated). NaN for a failed image."""
    if not result.ok:
        return float("nan")
    if result.abnormality is not None:
        return float(result.abnormality.probability)
    probs = [f.probability for f in result.findings if f.reliable]
    return float(max(probs)) if probs else float("nan")
