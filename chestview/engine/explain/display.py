"""How a heatmap is shown: on an absolute, per-label scale, so that a negative finding never looks hot.

The stored maps are min-max normalised per image (0..255, as Wang et al. 2017 do before cutting
boxes at a fixed level), so on their own every map peaks at "hot", whatever the model thinks of the
finding. For display each map is multiplied by the finding's *display level*

    level(p, t) = sigmoid(GAIN * (logit p - logit t))

where ``p`` is the finding's (calibrated) probability and ``t`` its operating threshold: 0.5 at the
operating point, above 0.5 only for positive findings, monotone in ``p``. The peak of a shown map is
therefore its finding's level; the colour bar says so and can label its levels in probabilities.
The screen (Qt) and the export (Pillow) share these functions, so both show the same pixels.
"""

from __future__ import annotations

import math

import numpy as np

from chestview.engine.case_call import ABNORMALITY_MAP

GAIN = 1.5  # steepness in log-odds: p = t/3 (in odds) is at about 0.16, p = 3t at about 0.84
ALPHA_START, ALPHA_FULL = 0.35, 0.9  # heat below ALPHA_START is fully transparent
SCALE_NOTE = "heat × level of the finding (0.5 = its operating point)"


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-6), 1.0 - 1e-6)
    return math.log(p / (1.0 - p))


def display_level(probability: float, threshold: float) -> float:
    """0..1: where the finding stands against its operating threshold (0.5 = at it)."""
    z = GAIN * (_logit(probability) - _logit(threshold))
    return 1.0 / (1.0 + math.exp(-z))


def probability_at_level(level: float, threshold: float) -> float:
    """The probability whose display level is ``level`` (the inverse of :func:`display_level`)."""
    level = min(max(float(level), 1e-6), 1.0 - 1e-6)
    z = _logit(level) / GAIN + _logit(threshold)
    return 1.0 / (1.0 + math.exp(-z))


def scaled_heatmap(heat_u8: np.ndarray, probability: float, threshold: float) -> np.ndarray:
    """float32 map in 0..1: the image-relative map times the finding's display level."""
    return np.asarray(heat_u8, dtype=np.float32) * np.float32(display_level(probability, threshold) / 255.0)


def combined_heatmap(result, labels: list[str]) -> np.ndarray | None:
    """Pixel-wise maximum of the scaled maps of ``labels`` (those with a map), or None. The
    abnormality output's map (``case_call.ABNORMALITY_MAP``) is scaled by the abnormality's level."""
    maps = []
    for label in labels:
        f = result.finding(label)
        if f is None and label == ABNORMALITY_MAP:
            f = result.abnormality
        if f is not None and label in result.heatmaps:
            maps.append(scaled_heatmap(result.heatmaps[label], f.probability, f.threshold))
    return np.maximum.reduce(maps) if maps else None


def heat_alpha(x: np.ndarray) -> np.ndarray:
    """Opacity of heat ``x`` (0..1) before the user's opacity: low heat transparent, not a film tint."""
    return np.clip((np.asarray(x, dtype=np.float32) - ALPHA_START) / (ALPHA_FULL - ALPHA_START), 0.0, 1.0)
