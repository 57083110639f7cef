"""Choosing a model's heatmap threshold for boxes on a validation split.

Wang et al. 2017 cut heatmaps at 180 of 255; how hot a map must be before it becomes a box depends
on the model (a sharp LSE map and a smooth CAM differ), so each model's threshold is chosen on its
own validation images, like the operating thresholds of its probabilities, and never on the test
split. The score is the mean localization accuracy over the IoU and IoBB thresholds a card reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from chestview.engine.evaluate.localization import GroundTruth, localization_accuracy
from chestview.engine.explain.boxes import WANG_THRESHOLD, heatmap_to_boxes

CANDIDATES = tuple(range(120, 250, 10))
CARD_IOU = (0.1, 0.3, 0.5)
CARD_IOBB = (0.1, 0.25, 0.5)

Heatmaps = Mapping[str, np.ndarray]  # label -> uint8 map over the whole image


@dataclass(frozen=True)
class BoxThresholdChoice:
    threshold: int
    scores: dict[int, float]  # candidate -> mean accuracy over CARD_IOU and CARD_IOBB
    n_images: int
    n_gt_boxes: int

    @property
    def fell_back(self) -> bool:
        """True when no candidate's boxes found a single ground-truth box (every score 0, or no
        boxes at all): the threshold is then Wang et al.'s default, not a choice."""
        return not any(v > 0 for v in self.scores.values())

    def to_json(self) -> dict:
        return {"threshold": self.threshold, "scores": {str(k): round(v, 4) for k, v in self.scores.items()},
                "n_images": self.n_images, "n_gt_boxes": self.n_gt_boxes,
                "score": f"mean localization accuracy at IoU {CARD_IOU} and IoBB {CARD_IOBB}",
                "fell_back": self.fell_back}


def describe_choice(choice: Mapping) -> str:
    """How a box threshold came about, from its record (``BoxThresholdChoice.to_json()``): chosen on
    the validation boxes, or the default because no candidate's boxes found any of them."""
    scores = choice.get("scores") or {}
    if any(v > 0 for v in scores.values()):
        return f"box threshold {choice['threshold']} chosen on the validation split's boxes"
    n = choice.get("n_gt_boxes", 0)
    why = f"no candidate threshold's boxes found any of the {n} validation boxes" if n else "no validation boxes"
    return f"box threshold {choice['threshold']}: the default (Wang et al. 2017), not chosen ({why})"


def localization_score(gt: GroundTruth, pred: Sequence[Mapping[str, Sequence]], labels: Sequence[str]) -> float:
    """Mean accuracy over the card's IoU and IoBB thresholds (NaN when nothing has boxes)."""
    res = localization_accuracy(gt, list(pred), labels, iou_thresholds=CARD_IOU, iobb_thresholds=CARD_IOBB)
    values = [*res.iou.mean_accuracy, *res.iobb.mean_accuracy]
    return float(np.mean(values)) if values else float("nan")


def choose_box_threshold(
    heatmaps: Sequence[Heatmaps],
    gt: GroundTruth,
    image_sizes: Sequence[tuple[int, int]],
    labels: Sequence[str],
    *,
    candidates: Sequence[int] = CANDIDATES,
    max_boxes: int = 3,
) -> BoxThresholdChoice:
    """The candidate threshold whose boxes localize the ground truth best; ties go to the one closest
    to Wang et al.'s 180. Without any ground-truth box, 180."""
    if not (len(heatmaps) == len(gt) == len(image_sizes)):
        raise ValueError("heatmaps, ground truth and image sizes must describe the same images")
    n_boxes = sum(len(g) for g in gt)
    if n_boxes == 0:
        return BoxThresholdChoice(WANG_THRESHOLD, {}, len(gt), 0)
    scores: dict[int, float] = {}
    for t in candidates:
        pred = [
            {lab: heatmap_to_boxes(maps[lab], size, threshold=int(t), max_boxes=max_boxes) for lab in labels if lab in maps}
            for maps, size in zip(heatmaps, image_sizes)
        ]
        scores[int(t)] = localization_score(gt, pred, labels)
    best = max(scores, key=lambda t: (round(scores[t], 9), -abs(t - WANG_THRESHOLD)))
    return BoxThresholdChoice(best, scores, len(gt), n_boxes)
