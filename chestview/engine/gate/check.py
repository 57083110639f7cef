"""One image's input check from the evidence at hand."""

from __future__ import annotations

import numpy as np

from chestview.engine.gate.pixels import pixel_reasons
from chestview.engine.gate.stats import GateStats
from chestview.engine.io.checks import header_problems
from chestview.engine.io.image import XrayImage
from chestview.engine.preprocess import model_gray
from chestview.engine.results import InputCheck

# The intensity checks look at a small copy of the image: a statistic, not a picture.
_CHECK_SIZE = 96


def check_gray(image: XrayImage) -> np.ndarray:
    """The small windowed copy the intensity checks look at; the decode workers make it, beside the
    model input, so that the model's thread never resizes a full-size image for it."""
    return model_gray(image, _CHECK_SIZE).numpy()


def input_check(
    image: XrayImage, features: np.ndarray | None, stats: GateStats | None, *, no_features: str = "",
    gray: np.ndarray | None = None,
) -> InputCheck:
    """Flagged when any check fires; ``reason`` lists every check that did. ``no_features`` says why a
    model with gate statistics gave no trunk features (a model without a trunk): the reason then says
    the feature distance was not measured, and only the pixel and header checks ran. ``gray``: the
    image's :func:`check_gray`, when it was made already."""
    reasons: list[str] = []
    score = threshold = chest = None
    if stats is not None and features is not None and features.shape[-1] == stats.dim:
        score = float(stats.score(features)[0])
        threshold = stats.threshold
        if stats.kind is not None:
            chest = float(stats.kind.chest_probability(features)[0])
            if chest < stats.kind.cutoff:
                reasons.append(f"does not look like a chest radiograph (kind classifier {chest:.2f} < {stats.kind.cutoff:.2f})")
        if score > threshold:
            reasons.append(f"unlike the model's training films (feature distance {score:.2f} > {threshold:.2f})")
    reasons += pixel_reasons(image, check_gray(image) if gray is None else gray)
    md = image.metadata
    reasons += header_problems(md.get("modality"), md.get("body_part"))
    flagged = bool(reasons)
    if stats is not None and score is None and no_features:
        reasons.append(f"pixel and header checks only: {no_features}")
    return InputCheck(score, threshold, flagged, "; ".join(reasons), chest)
