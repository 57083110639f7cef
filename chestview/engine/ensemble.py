"""Several models on one image: the ensemble entry and where they disagree.

The ensemble's probability for a label is the mean of the models' (calibrated) probabilities; its
operating threshold the mean of their thresholds; its heatmap the mean of their maps at the finest
grid among them. Only labels every model scores take part."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from chestview.engine.explain.cam import upsample_map
from chestview.engine.results import Abnormality, Finding, ImageResult, InputCheck

ENSEMBLE_ID = "ensemble"


def common_labels(results: Sequence[ImageResult]) -> list[str]:
    """Labels that every result scores, in the order of the first."""
    if not results:
        return []
    sets = [{f.label for f in r.findings} for r in results]
    return [f.label for f in results[0].findings if all(f.label in s for s in sets)]


def _mean_heatmap(maps: list[np.ndarray]) -> np.ndarray:
    shape = max((m.shape for m in maps), key=lambda s: s[0] * s[1])
    stack = [m.astype(np.float32) if m.shape == shape else upsample_map(m, shape).astype(np.float32) for m in maps]
    return np.round(np.mean(stack, axis=0)).astype(np.uint8)


def ensemble_result(results: Sequence[ImageResult]) -> ImageResult:
    """The mean of several models' results on one image (error when any of them failed)."""
    if not results:
        raise ValueError("an ensemble needs at least one result")
    first = results[0]
    failed = [r.error for r in results if r.error]
    if failed:
        return ImageResult(path=first.path, error=failed[0])
    findings = []
    heatmaps: dict[str, np.ndarray] = {}
    for label in common_labels(results):
        parts = [r.finding(label) for r in results]
        p = float(np.mean([f.probability for f in parts]))
        t = float(np.mean([f.threshold for f in parts]))
        reliable = all(f.reliable for f in parts)
        findings.append(Finding(label, p, t, reliable and p >= t, reliable))
        maps = [r.heatmaps[label] for r in results if label in r.heatmaps]
        if len(maps) == len(results):
            heatmaps[label] = _mean_heatmap(maps)
    findings.sort(key=lambda f: (not f.reliable, -f.probability))
    checks = [r.input_check for r in results if r.input_check is not None]
    flagged = [c.reason for c in checks if c.flagged]
    check = InputCheck(None, None, bool(flagged), "; ".join(dict.fromkeys(flagged))) if checks else None
    warnings = list(dict.fromkeys(w for r in results for w in r.warnings))
    abnormality = None
    if all(r.abnormality is not None for r in results):
        p = float(np.mean([r.abnormality.probability for r in results]))
        t = float(np.mean([r.abnormality.threshold for r in results]))
        abnormality = Abnormality(p, t, p >= t)
    return ImageResult(path=first.path, image_width=first.image_width, image_height=first.image_height,
                       warnings=warnings, findings=findings, input_check=check, heatmaps=heatmaps,
                       abnormality=abnormality)


def disagreements(results: Sequence[ImageResult]) -> set[str]:
    """Labels on which the models do not all say the same (positive for some, negative for others)."""
    out = set()
    for label in common_labels(results):
        votes = {r.finding(label).positive for r in results}
        if len(votes) > 1:
            out.add(label)
    return out
