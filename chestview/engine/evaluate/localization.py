"""Weakly-supervised localization scored as Wang et al. (CVPR 2017, ChestX-ray8, Sec. 5.2) report it.

For every ground-truth box of a label, the box is *found* at threshold T when some generated box of
the same label on the same image has IoU > T, or (second table) IoBB > T, where IoBB is the
intersection over the area of the GENERATED box. Accuracy = found / ground-truth boxes, per label;
the mean is unweighted over labels with at least one ground-truth box.

False positives (our definition; Wang et al. do not spell theirs out): a generated box of a label
is a false positive at T when it matches no ground-truth box of that label on its image at T (same
criterion, IoU or IoBB). AFP = false-positive boxes / evaluated images, per label. Images are
the ones given (normally the images that carry boxes).

Honest controls, so that a number is never read without its baseline:
- prior: the per-label mean training box (normalised by image size) drawn on every test image;
- swap: each image scored with the boxes predicted for another test image with the same label
  (cyclic shift among those images, a derangement); an image alone with its label gets no box.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chestview.engine.results import Box

IOU_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
IOBB_THRESHOLDS: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)

GroundTruth = Sequence[Sequence[tuple[str, Box]]]  # per image: (label, box) in image pixels
Predictions = Sequence[Mapping[str, Sequence[Box]]]  # per image: label -> generated boxes


def intersection(a: Box, b: Box) -> float:
    w = min(a.x2, b.x2) - max(a.x, b.x)
    h = min(a.y2, b.y2) - max(a.y, b.y)
    return max(w, 0.0) * max(h, 0.0)


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def iobb(gt: Box, generated: Box) -> float:
    """Intersection over the generated box's area (Wang et al. 2017)."""
    return intersection(gt, generated) / generated.area if generated.area > 0 else 0.0


@dataclass(frozen=True)
class ThresholdTable:
    """One criterion ("iou" or "iobb") at several thresholds: per-label accuracy and AFP."""

    criterion: str
    thresholds: tuple[float, ...]
    accuracy: dict[str, tuple[float, ...]]
    afp: dict[str, tuple[float, ...]]
    mean_accuracy: tuple[float, ...]
    mean_afp: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        r = lambda xs: [round(float(v), 4) for v in xs]  # noqa: E731
        return {"criterion": self.criterion, "thresholds": list(self.thresholds),
                "accuracy": {k: r(v) for k, v in self.accuracy.items()}, "afp": {k: r(v) for k, v in self.afp.items()},
                "mean_accuracy": r(self.mean_accuracy), "mean_afp": r(self.mean_afp)}


@dataclass(frozen=True)
class LocalizationResult:
    labels: tuple[str, ...]  # labels with at least one ground-truth box
    n_images: int
    n_gt_boxes: dict[str, int]
    iou: ThresholdTable
    iobb: ThresholdTable

    def to_json(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "n_images": self.n_images, "n_gt_boxes": dict(self.n_gt_boxes),
                "iou": self.iou.to_json(), "iobb": self.iobb.to_json()}


def _table(criterion: str, thresholds: Sequence[float], labels: Sequence[str], gt: GroundTruth,
           pred: Predictions) -> ThresholdTable:
    score = iou if criterion == "iou" else iobb
    thr = np.asarray(thresholds, dtype=float)
    found = {lab: np.zeros(len(thr)) for lab in labels}
    n_gt = {lab: 0 for lab in labels}
    fp = {lab: np.zeros(len(thr)) for lab in labels}
    for gts, preds in zip(gt, pred):
        for lab in labels:
            g = [b for lab_g, b in gts if lab_g == lab]
            p = list(preds.get(lab, ()))
            n_gt[lab] += len(g)
            if not p:
                continue
            m = np.array([[score(gb, pb) for pb in p] for gb in g]) if g else np.zeros((0, len(p)))
            best_per_gt = m.max(axis=1) if g else np.zeros(0)  # (G,)
            best_per_pred = m.max(axis=0) if g else np.zeros(len(p))  # (P,)
            found[lab] += (best_per_gt[:, None] > thr[None, :]).sum(axis=0)
            fp[lab] += (best_per_pred[:, None] <= thr[None, :]).sum(axis=0)
    n_img = max(len(gt), 1)
    floats = lambda a: tuple(float(v) for v in a)  # noqa: E731
    acc = {lab: floats(found[lab] / n_gt[lab]) for lab in labels if n_gt[lab]}
    afp = {lab: floats(fp[lab] / n_img) for lab in labels if n_gt[lab]}
    mean_acc = floats(np.mean([acc[lab] for lab in acc], axis=0)) if acc else floats(np.full(len(thr), np.nan))
    mean_afp = floats(np.mean([afp[lab] for lab in afp], axis=0)) if afp else floats(np.full(len(thr), np.nan))
    return ThresholdTable(criterion, tuple(float(t) for t in thr), acc, afp, mean_acc, mean_afp)


def localization_accuracy(gt: GroundTruth, pred: Predictions, labels: Sequence[str] | None = None, *,
                          iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
                          iobb_thresholds: Sequence[float] = IOBB_THRESHOLDS) -> LocalizationResult:
    """Score generated boxes ``pred`` against ground truth ``gt`` (same image order)."""
    if len(gt) != len(pred):
        raise ValueError(f"{len(gt)} ground-truth images but {len(pred)} prediction entries")
    present = sorted({lab for gts in gt for lab, _ in gts})
    labs = tuple(lab for lab in labels if lab in present) if labels is not None else tuple(present)
    n_gt = {lab: sum(1 for gts in gt for lg, _ in gts if lg == lab) for lab in labs}
    return LocalizationResult(labs, len(gt), n_gt, _table("iou", iou_thresholds, labs, gt, pred),
                              _table("iobb", iobb_thresholds, labs, gt, pred))


def prior_boxes(train_gt: GroundTruth, image_sizes: Sequence[tuple[int, int]]) -> dict[str, Box]:
    """Per-label mean training box, normalised to [0, 1] by each image's (width, height)."""
    acc: dict[str, list[tuple[float, float, float, float]]] = {}
    for gts, (w, h) in zip(train_gt, image_sizes):
        for lab, b in gts:
            acc.setdefault(lab, []).append((b.x / w, b.y / h, b.width / w, b.height / h))
    return {lab: Box(*map(float, np.mean(v, axis=0))) for lab, v in sorted(acc.items())}


def prior_predictions(prior: Mapping[str, Box], image_sizes: Sequence[tuple[int, int]]) -> list[dict[str, list[Box]]]:
    """The prior boxes drawn on every image (one box per label), in each image's pixels."""
    return [{lab: [Box(b.x * w, b.y * h, b.width * w, b.height * h)] for lab, b in prior.items()}
            for w, h in image_sizes]


def swap_predictions(pred: Predictions, gt: GroundTruth,
                     image_sizes: Sequence[tuple[int, int]] | None = None) -> list[dict[str, list[Box]]]:
    """Each image gets, per label, the boxes predicted for the next image (cyclically, in order)
    that has a ground-truth box of that label; rescaled when the two image sizes differ."""
    out: list[dict[str, list[Box]]] = [{} for _ in gt]
    labels = sorted({lab for gts in gt for lab, _ in gts})
    for lab in labels:
        holders = [i for i, gts in enumerate(gt) if any(lg == lab for lg, _ in gts)]
        if len(holders) < 2:
            continue  # no derangement of one image: it gets no box (counts as not found)
        for k, i in enumerate(holders):
            j = holders[(k + 1) % len(holders)]
            boxes = list(pred[j].get(lab, ()))
            if image_sizes is not None and image_sizes[i] != image_sizes[j]:
                sx = image_sizes[i][0] / image_sizes[j][0]
                sy = image_sizes[i][1] / image_sizes[j][1]
                boxes = [Box(b.x * sx, b.y * sy, b.width * sx, b.height * sy, b.score) for b in boxes]
            out[i][lab] = boxes
    return out


def localization_table(model_pred: Predictions, gt: GroundTruth, prior: Mapping[str, Box], *,
                       image_sizes: Sequence[tuple[int, int]], labels: Sequence[str] | None = None,
                       iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
                       iobb_thresholds: Sequence[float] = IOBB_THRESHOLDS) -> dict[str, LocalizationResult]:
    """{"model", "prior", "swap"} results on the same images; ``prior`` from :func:`prior_boxes`
    on the TRAINING split."""
    kw = {"labels": labels, "iou_thresholds": iou_thresholds, "iobb_thresholds": iobb_thresholds}
    return {
        "model": localization_accuracy(gt, model_pred, **kw),
        "prior": localization_accuracy(gt, prior_predictions(prior, image_sizes), **kw),
        "swap": localization_accuracy(gt, swap_predictions(model_pred, gt, image_sizes), **kw),
    }


def localization_with_controls(gt: GroundTruth, pred: Predictions, *, prior_source: GroundTruth | None = None,
                               image_sizes: Sequence[tuple[int, int]] | None = None,
                               prior_image_sizes: Sequence[tuple[int, int]] | None = None,
                               labels: Sequence[str] | None = None,
                               iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
                               iobb_thresholds: Sequence[float] = IOBB_THRESHOLDS) -> dict[str, LocalizationResult]:
    """:func:`localization_table` building the prior itself from ``prior_source`` (the training
    split's boxes; None = the evaluated images' own boxes, an optimistic prior). Without image sizes
    every image is taken to share one size and the prior is the mean box in pixels."""
    source = gt if prior_source is None else prior_source
    if image_sizes is None or (prior_source is not None and prior_image_sizes is None):
        unit = [(1, 1)] * max(len(source), len(gt))
        prior = prior_boxes(source, unit[: len(source)])
        sizes: Sequence[tuple[int, int]] = unit[: len(gt)]
    else:
        prior = prior_boxes(source, image_sizes if prior_source is None else prior_image_sizes)  # type: ignore[arg-type]
        sizes = image_sizes
    return localization_table(pred, gt, prior, image_sizes=sizes, labels=labels,
                              iou_thresholds=iou_thresholds, iobb_thresholds=iobb_thresholds)
