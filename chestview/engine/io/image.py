"""The one image type every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class XrayImage:
    """A radiograph ready for display and for the models.

    ``pixels`` is a float32 (height, width) array in display orientation: the modality LUT is
    applied and MONOCHROME1 is already inverted, so that larger values are always brighter.
    ``window`` is the (centre, width) that displays it as the file intends (the DICOM VOI window,
    or the full range for PNG/JPEG). ``normalised()`` applies that window and gives [0, 1]: that is
    what the models see.
    """

    path: str
    pixels: np.ndarray
    window: tuple[float, float]
    pixel_spacing: tuple[float, float] | None = None  # (row, column) in mm
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the image as stored, the space that boxes are reported in."""
        return self.width, self.height

    def stored_value(self, displayed: float) -> float:
        """The value in the file's own terms (after the modality LUT) of a displayed value: MONOCHROME1
        pixels were mirrored for display (larger = brighter), a reader expects the stored value."""
        pivot = (self.metadata or {}).get("inversion_pivot")
        return float(pivot) - float(displayed) if pivot is not None else float(displayed)

    def stored_window(self, window: tuple[float, float]) -> tuple[float, float]:
        """A displayed (centre, width) in the file's own terms (the centre mirrored for MONOCHROME1)."""
        return self.stored_value(window[0]), float(window[1])

    def normalised(self, window: tuple[float, float] | None = None) -> np.ndarray:
        """Pixels through a linear window, clipped to [0, 1] as float32."""
        centre, width = window if window is not None else self.window
        width = max(float(width), 1e-6)
        low = centre - width / 2.0
        out = (self.pixels - np.float32(low)) / np.float32(width)
        return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)
