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
- prior: per label, the same k boxes (k = 3 by default, the Predictor's box budget) drawn on every
  test image. They are TRAINING boxes (normalised by image size) picked greedily to maximise the
  training split's own localization accuracy, averaged over every reported threshold of both
  tables (IoU and IoBB weighted equally). That objective is a weighted sum of set-coverage counts,
  hence monotone submodular, so greedy selection is within 1 - 1/e of the best k-box set on the
  training boxes (Nemhauser et al. 1978). It is deterministic (candidates in sorted order, ties to
  the first, integer gains), stops early when no box adds anything, and never sees test boxes.
  A single mean box per label (``prior_mean``, the weaker classic baseline) is reported beside it:
  averaging left- and right-sided boxes lands in the mediastinum;
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
PRIOR_BOXES = 3  # boxes per label in the prior: the Predictor's default max_boxes, the model's budget
PRIOR_CANDIDATES = 1000  # at most this many training boxes per label are candidates (all are targets)

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


Prior = Mapping[str, Box | Sequence[Box]]  # label -> box(es) in [0, 1] image coordinates


def normalised_boxes(train_gt: GroundTruth, image_sizes: Sequence[tuple[int, int]]) -> dict[str, np.ndarray]:
    """Per label, the (n, 4) array of (x, y, width, height) of its boxes divided by each image's
    (width, height)."""
    acc: dict[str, list[tuple[float, float, float, float]]] = {}
    for gts, (w, h) in zip(train_gt, image_sizes):
        for lab, b in gts:
            acc.setdefault(lab, []).append((b.x / w, b.y / h, b.width / w, b.height / h))
    return {lab: np.asarray(v, dtype=np.float64) for lab, v in sorted(acc.items())}


def mean_prior_boxes(train_gt: GroundTruth, image_sizes: Sequence[tuple[int, int]]) -> dict[str, tuple[Box]]:
    """Per label, ONE box: the mean normalised training box (the classic, weak prior)."""
    return {lab: (Box(*map(float, v.mean(axis=0))),) for lab, v in normalised_boxes(train_gt, image_sizes).items()}


def _overlaps(cand: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, IoBB) matrices (C, T) of candidate (generated) boxes against target (ground-truth) boxes."""
    cx1, cy1, cw, ch = (cand[:, i:i + 1] for i in range(4))
    tx1, ty1, tw, th = (target[None, :, i] for i in range(4))
    iw = np.clip(np.minimum(cx1 + cw, tx1 + tw) - np.maximum(cx1, tx1), 0.0, None)
    ih = np.clip(np.minimum(cy1 + ch, ty1 + th) - np.maximum(cy1, ty1), 0.0, None)
    inter = iw * ih
    c_area = np.clip(cw, 0.0, None) * np.clip(ch, 0.0, None)
    union = c_area + np.clip(tw, 0.0, None) * np.clip(th, 0.0, None) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou_m = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        iobb_m = np.where(c_area > 0, inter / np.where(c_area > 0, c_area, 1.0), 0.0)
    return iou_m, iobb_m


def greedy_prior(boxes: np.ndarray, *, k: int = PRIOR_BOXES, iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
                 iobb_thresholds: Sequence[float] = IOBB_THRESHOLDS,
                 max_candidates: int = PRIOR_CANDIDATES) -> np.ndarray:
    """Up to ``k`` rows of ``boxes`` (n, 4 normalised x, y, w, h; one label's training boxes) that
    together find the most of ``boxes`` at the reported criteria: the gain of a candidate is the
    number of (target box, threshold) pairs it newly finds, IoU hits weighted by the number of IoBB
    thresholds and IoBB hits by the number of IoU thresholds (integers: each table counts equally,
    every threshold within a table equally). Candidates are the distinct boxes in sorted order
    (evenly thinned to ``max_candidates``); ties go to the first. Stops when nothing is gained."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return boxes
    cand = np.unique(boxes, axis=0)  # sorted lexicographically: independent of the input order
    if len(cand) > max_candidates:
        cand = cand[np.linspace(0, len(cand) - 1, max_candidates).round().astype(int)]
    iou_m, iobb_m = _overlaps(cand, boxes)
    hits = [(iou_m > t, len(iobb_thresholds)) for t in iou_thresholds]
    hits += [(iobb_m > t, len(iou_thresholds)) for t in iobb_thresholds]
    covered = [np.zeros(len(boxes), dtype=bool) for _ in hits]
    chosen: list[int] = []
    for _ in range(min(k, len(cand))):
        gain = np.zeros(len(cand), dtype=np.int64)
        for (hit, weight), done in zip(hits, covered):
            gain += weight * (hit & ~done[None, :]).sum(axis=1)
        gain[chosen] = -1
        best = int(np.argmax(gain))  # first maximum
        if gain[best] <= 0:
            break
        chosen.append(best)
        for (hit, _), done in zip(hits, covered):
            done |= hit[best]
    return cand[chosen]


def prior_boxes(train_gt: GroundTruth, image_sizes: Sequence[tuple[int, int]], *, k: int = PRIOR_BOXES,
                iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
                iobb_thresholds: Sequence[float] = IOBB_THRESHOLDS,
                max_candidates: int = PRIOR_CANDIDATES) -> dict[str, tuple[Box, ...]]:
    """Per label, up to ``k`` fixed boxes in [0, 1] image coordinates chosen from the TRAINING
    boxes by :func:`greedy_prior` (see the module docstring), in the order picked."""
    out: dict[str, tuple[Box, ...]] = {}
    for lab, v in normalised_boxes(train_gt, image_sizes).items():
        picked = greedy_prior(v, k=k, iou_thresholds=iou_thresholds, iobb_thresholds=iobb_thresholds,
                              max_candidates=max_candidates)
        out[lab] = tuple(Box(*map(float, row)) for row in picked)
    return out


def prior_predictions(prior: Prior, image_sizes: Sequence[tuple[int, int]]) -> list[dict[str, list[Box]]]:
    """The prior boxes (one or several per label, normalised) drawn on every image, in its pixels."""
    per_label = {lab: (v,) if isinstance(v, Box) else tuple(v) for lab, v in prior.items()}
    return [{lab: [Box(b.x * w, b.y * h, b.width * w, b.height * h) for b in bs] for lab, bs in per_label.items()}
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


def localization_table(model_pred: Predictions, gt: GroundTruth, prior: Prior, *,
                       image_sizes: Sequence[tuple[int, int]], prior_mean: Prior | None = None,
                       labels: Sequence[str] | None = None,
                       iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
                       iobb_thresholds: Sequence[float] = IOBB_THRESHOLDS) -> dict[str, LocalizationResult]:
    """{"model", "prior", "swap"} (+ "prior_mean" when given) results on the same images; ``prior``
    from :func:`prior_boxes` and ``prior_mean`` from :func:`mean_prior_boxes` on the TRAINING split."""
    kw = {"labels": labels, "iou_thresholds": iou_thresholds, "iobb_thresholds": iobb_thresholds}
    out = {
        "model": localization_accuracy(gt, model_pred, **kw),
        "prior": localization_accuracy(gt, prior_predictions(prior, image_sizes), **kw),
        "swap": localization_accuracy(gt, swap_predictions(model_pred, gt, image_sizes), **kw),
    }
    if prior_mean is not None:
        out["prior_mean"] = localization_accuracy(gt, prior_predictions(prior_mean, image_sizes), **kw)
    return out


def localization_with_controls(gt: GroundTruth, pred: Predictions, *, prior_source: GroundTruth | None = None,
                               image_sizes: Sequence[tuple[int, int]] | None = None,
                               prior_image_sizes: Sequence[tuple[int, int]] | None = None,
                               labels: Sequence[str] | None = None, k: int = PRIOR_BOXES,
                               iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
                               iobb_thresholds: Sequence[float] = IOBB_THRESHOLDS) -> dict[str, LocalizationResult]:
    """:func:`localization_table` building the priors itself from ``prior_source`` (the training
    split's boxes; None = the evaluated images' own boxes, an optimistic prior): ``prior`` = up to
    ``k`` greedy boxes per label fitted at these thresholds, ``prior_mean`` = the mean box. Without
    image sizes every image is taken to share one size and the priors are in pixels."""
    source = gt if prior_source is None else prior_source
    if image_sizes is None or (prior_source is not None and prior_image_sizes is None):
        unit = [(1, 1)] * max(len(source), len(gt))
        source_sizes: Sequence[tuple[int, int]] = unit[: len(source)]
        sizes: Sequence[tuple[int, int]] = unit[: len(gt)]
    else:
        source_sizes = image_sizes if prior_source is None else prior_image_sizes  # type: ignore[assignment]
        sizes = image_sizes
    prior = prior_boxes(source, source_sizes, k=k, iou_thresholds=iou_thresholds, iobb_thresholds=iobb_thresholds)
    return localization_table(pred, gt, prior, image_sizes=sizes, prior_mean=mean_prior_boxes(source, source_sizes),
                              labels=labels, iou_thresholds=iou_thresholds, iobb_thresholds=iobb_thresholds)


def box_area_summary(pred_boxes: Sequence[Mapping[str, Sequence[Box]]], sizes: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """How big the predicted boxes are, as a share of their film: how many cover more than half of it
    (a box that frames the film says nowhere), the median and 90th-percentile share."""
    shares = [b.width * b.height / float(w * h) for per_label, (w, h) in zip(pred_boxes, sizes) if w and h
              for boxes in per_label.values() for b in boxes]
    if not shares:
        return {"n_boxes": 0}
    a = np.asarray(shares)
    return {"n_boxes": int(a.size), "over_half_film": round(float(np.mean(a > 0.5)), 4),
            "median_area_share": round(float(np.median(a)), 4), "p90_area_share": round(float(np.quantile(a, 0.9)), 4)}
