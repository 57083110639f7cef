"""Operating thresholds a reader can live with, chosen on a validation split for stated targets.

- Findings: **one threshold for every finding** on the calibrated scale, the lowest at which at
  most ``max_normal_any_positive`` of the validation films with no finding show any positive
  finding. One scale, one cut: a finding is never red at a lower probability than a black one on
  the same film, and a red finding always means the same probability. (Per-label cuts at one
  specificity made rare labels positive at calibrated probabilities of 0.02 while a 0.33 stayed
  black, on half the test films.)
- Abnormality: the level that keeps ``abnormality_sensitivity`` of the validation films with a
  finding above it.
Both rules need only the validation normals (or abnormals), not many positives per label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_NORMAL_ANY_POSITIVE = 0.30  # validation target; the test-split goal is <= 0.40
ABNORMALITY_SENSITIVITY = 0.90  # validation target; the test-split goal is >= 0.85


def specificity_threshold(normal_scores: np.ndarray, specificity: float) -> float:
    """The lowest threshold (positive = score >= threshold) at which at most ``1 - specificity`` of
    ``normal_scores`` are positive."""
    s = np.sort(np.asarray(normal_scores, dtype=np.float64)[np.isfinite(normal_scores)])[::-1]
    if len(s) == 0:
        return 0.5
    allowed = int(np.floor((1.0 - specificity) * len(s) + 1e-9))
    if allowed >= len(s):
        return float(s[-1])
    return float(min(np.nextafter(s[allowed], np.inf), 1.0))


def sensitivity_threshold(positive_scores: np.ndarray, sensitivity: float) -> float:
    """The highest threshold at which at least ``sensitivity`` of ``positive_scores`` are positive."""
    s = np.sort(np.asarray(positive_scores, dtype=np.float64)[np.isfinite(positive_scores)])
    if len(s) == 0:
        return 0.5
    idx = int(np.floor((1.0 - sensitivity) * len(s) + 1e-9))
    return float(s[min(idx, len(s) - 1)])


def share_with_any_positive(scores: np.ndarray, thresholds: Sequence[float]) -> float:
    """Share of rows (films) of ``scores`` (N, L) with at least one column at or above its threshold."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[0] == 0:
        return float("nan")
    return float(np.mean((scores >= np.asarray(thresholds)[None, :]).any(axis=1)))


@dataclass(frozen=True)
class FindingThresholds:
    thresholds: dict[str, float]  # the same value for every label
    threshold: float
    normal_any_positive: float  # share of validation normals with any positive at this threshold
    n_normals: int
    rule: str


def finding_thresholds(normal_scores: np.ndarray, labels: Sequence[str], *, counted: Sequence[str] | None = None,
                       max_normal_any_positive: float = MAX_NORMAL_ANY_POSITIVE) -> FindingThresholds:
    """One threshold for every label: the lowest at which at most ``max_normal_any_positive`` of the
    normal films ``normal_scores`` (N, L; calibrated) have any of the ``counted`` labels (default:
    all; leave out labels never shown as positive) at or above it."""
    labels = list(labels)
    cols = [labels.index(lbl) for lbl in (counted or labels)]
    top = normal_scores[:, cols].max(axis=1) if cols and len(normal_scores) else np.zeros(0)
    t = specificity_threshold(top, 1.0 - max_normal_any_positive)
    share = share_with_any_positive(normal_scores[:, cols], [t] * len(cols))
    rule = (f"one threshold for every finding on the calibrated scale, {t:.4f}: the lowest at which at most "
            f"{max_normal_any_positive:.0%} of the {normal_scores.shape[0]} validation films with no finding show "
            f"any positive finding (measured {share:.1%})")
    return FindingThresholds({lbl: t for lbl in labels}, t, share, int(normal_scores.shape[0]), rule)
