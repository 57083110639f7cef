"""Operating thresholds a reader can live with, chosen on a validation split for stated targets.

- Findings: one specificity target for every label, measured on the validation films with no
  finding, chosen as the most sensitive target at which at most ``max_normal_any_positive`` of those
  normal films show any positive finding. A label is then positive only above the level that few
  normal films reach, whatever its prevalence, and the share of normals with a red finding is
  controlled as a whole instead of growing with the number of labels (Youden's J per label called
  89% of normal films positive somewhere).
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
SPECIFICITY_GRID = np.round(np.arange(0.800, 0.9995, 0.0025), 4)


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
    thresholds: dict[str, float]
    specificity: float  # per label, on the validation normals
    normal_any_positive: float  # share of validation normals with any positive at these thresholds
    n_normals: int
    rule: str


def finding_thresholds(normal_scores: np.ndarray, labels: Sequence[str], *, counted: Sequence[str] | None = None,
                       max_normal_any_positive: float = MAX_NORMAL_ANY_POSITIVE) -> FindingThresholds:
    """Per-label thresholds at one specificity on the normal films ``normal_scores`` (N, L): the
    lowest specificity in :data:`SPECIFICITY_GRID` at which the share of those films with any
    positive among the ``counted`` labels (default: all; leave out labels never shown as positive)
    is at most ``max_normal_any_positive``."""
    labels = list(labels)
    cols = [labels.index(lbl) for lbl in (counted or labels)]
    chosen = float(SPECIFICITY_GRID[-1])
    for spec in SPECIFICITY_GRID:
        t = [specificity_threshold(normal_scores[:, c], spec) for c in cols]
        if share_with_any_positive(normal_scores[:, cols], t) <= max_normal_any_positive:
            chosen = float(spec)
            break
    thresholds = {lbl: specificity_threshold(normal_scores[:, c], chosen) for c, lbl in enumerate(labels)}
    share = share_with_any_positive(normal_scores[:, cols], [thresholds[labels[c]] for c in cols])
    rule = (f"specificity {chosen:.4f} per label on the {normal_scores.shape[0]} validation films with no finding: "
            f"the lowest at which at most {max_normal_any_positive:.0%} of them show any positive finding "
            f"(measured {share:.1%})")
    return FindingThresholds(thresholds, chosen, share, int(normal_scores.shape[0]), rule)
