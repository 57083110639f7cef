"""One image's input check from the evidence at hand."""

from __future__ import annotations

import numpy as np

from chestview.engine.gate.pixels import pixel_reasons
from chestview.engine.gate.stats import GateStats
from chestview.engine.io.checks import header_problems
from chestview.engine.io.image import XrayImage
from chestview.engine.results import InputCheck

# The intensity checks look at a small copy of the image: a statistic, not a picture.
_CHECK_SIZE = 96


def input_check(image: XrayImage, features: np.ndarray | None, stats: GateStats | None) -> InputCheck:
    """Flagged when any check fires; ``reason`` lists every check that did."""
    from chestview.engine.preprocess import model_gray

    reasons: list[str] = []
    score = threshold = None
    if stats is not None and features is not None and features.shape[-1] == stats.dim:
        score = float(stats.score(features)[0])
        threshold = stats.threshold
        if score > threshold:
            reasons.append(f"unlike the model's training films (feature distance {score:.2f} > {threshold:.2f})")
    gray = model_gray(image, _CHECK_SIZE).numpy()
    reasons += pixel_reasons(image, gray)
    md = image.metadata
    reasons += header_problems(md.get("modality"), md.get("body_part"))
    return InputCheck(score, threshold, bool(reasons), "; ".join(reasons))
