"""Per-label AUROC with bootstrap intervals, ROC curves and operating thresholds.

Definitions (used in reports and model cards):
- Only known labels count: ``mask`` (default: targets not NaN) selects the images per label.
- A label is *scored* when its known images hold >= 1 positive and >= 1 negative; the mean AUROC is
  the unweighted mean over scored labels (as in Wang et al. 2017 and CheXNet).
- A scored label with fewer than ``MIN_RELIABLE_POSITIVES`` (5) positives is flagged unreliable;
  ``mean_auroc_reliable`` averages the reliable ones only.
- 95% intervals: percentile bootstrap over images, resamples lacking either class are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

MIN_RELIABLE_POSITIVES = 5
MAX_ROC_POINTS = 200


@dataclass(frozen=True)
class LabelAuroc:
    label: str
    auroc: float  # NaN when not scored
    ci_low: float
    ci_high: float
    n_pos: int
    n_neg: int
    reliable: bool
    n_boot_valid: int
    fpr: tuple[float, ...] = ()
    tpr: tuple[float, ...] = ()
    thresholds: tuple[float, ...] = ()

    @property
    def scored(self) -> bool:
        return self.n_pos > 0 and self.n_neg > 0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("auroc", "ci_low", "ci_high"):
            d[k] = None if np.isnan(d[k]) else round(float(d[k]), 6)
        d["roc"] = {"fpr": [round(v, 5) for v in self.fpr], "tpr": [round(v, 5) for v in self.tpr],
                    "thresholds": [round(v, 6) for v in self.thresholds]}
        for k in ("fpr", "tpr", "thresholds"):
            del d[k]
        return d


@dataclass(frozen=True)
class AurocReport:
    labels: tuple[str, ...]
    per_label: tuple[LabelAuroc, ...]
    mean_auroc: float  # over scored labels
    mean_auroc_reliable: float  # over scored labels with >= MIN_RELIABLE_POSITIVES positives
    n_images: int
    n_boot: int
    seed: int
    ci_level: float

    def __getitem__(self, label: str) -> LabelAuroc:
        return self.per_label[self.labels.index(label)]

    @property
    def unreliable_labels(self) -> tuple[str, ...]:
        return tuple(r.label for r in self.per_label if not r.reliable)

    def to_json(self) -> dict[str, Any]:
        nan_none = lambda v: None if np.isnan(v) else round(float(v), 6)  # noqa: E731
        return {
            "labels": list(self.labels), "mean_auroc": nan_none(self.mean_auroc),
            "mean_auroc_reliable": nan_none(self.mean_auroc_reliable), "n_images": self.n_images,
            "n_boot": self.n_boot, "seed": self.seed, "ci_level": self.ci_level,
            "min_reliable_positives": MIN_RELIABLE_POSITIVES,
            "per_label": [r.to_json() for r in self.per_label],
        }


def _as_2d(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return y[:, None] if y.ndim == 1 else y


def _known(y: np.ndarray, p: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    known = ~np.isnan(y) & ~np.isnan(p)
    if mask is not None:
        known &= _as_2d(mask).astype(bool)
    return known


def fast_auroc_weighted(y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC (Mann-Whitney, ties count 1/2) for each row of ``weights`` (B, n) — the bootstrap
    resample counts — in one vectorised pass; NaN where a resample lacks a class."""
    order = np.argsort(p, kind="mergesort")
    ps, ys, w = p[order], y[order].astype(bool), weights[:, order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])  # groups of tied scores
    pos_g = np.add.reduceat(w * ys, starts, axis=1)
    neg_g = np.add.reduceat(w * ~ys, starts, axis=1)
    neg_below = np.cumsum(neg_g, axis=1) - neg_g
    num = (pos_g * (neg_below + 0.5 * neg_g)).sum(axis=1)
    den = pos_g.sum(axis=1) * neg_g.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def bootstrap_auroc(y: np.ndarray, p: np.ndarray, *, n_boot: int = 1000, seed: int = 0,
                    chunk: int = 100) -> np.ndarray:
    """AUROCs of ``n_boot`` resamples with replacement (NaN dropped: resamples missing a class)."""
    rng = np.random.default_rng(seed)
    n = len(y)
    out = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        draws = rng.integers(0, n, size=(b, n))
        counts = np.bincount((draws + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n)
        out.append(fast_auroc_weighted(y, p, counts))
    aucs = np.concatenate(out) if out else np.zeros(0)
    return aucs[~np.isnan(aucs)]


def _downsample(fpr: np.ndarray, tpr: np.ndarray, thr: np.ndarray, max_points: int) -> tuple[np.ndarray, ...]:
    if len(fpr) <= max_points:
        return fpr, tpr, thr
    keep = np.unique(np.round(np.linspace(0, len(fpr) - 1, max_points)).astype(int))
    return fpr[keep], tpr[keep], thr[keep]


def per_label_auroc(y: np.ndarray, p: np.ndarray, mask: np.ndarray | None = None,
                    labels: Sequence[str] | None = None, *, n_boot: int = 1000, seed: int = 0,
                    ci: float = 0.95, max_roc_points: int = MAX_ROC_POINTS) -> AurocReport:
    """AUROC per label of scores ``p`` (N, C) against targets ``y`` (N, C; NaN = unknown)."""
    y2, p2 = _as_2d(y), _as_2d(p)
    if y2.shape != p2.shape:
        raise ValueError(f"targets {y2.shape} and scores {p2.shape} differ in shape")
    names = tuple(labels) if labels is not None else tuple(str(i) for i in range(y2.shape[1]))
    known = _known(y2, p2, mask)
    alpha = (1.0 - ci) / 2.0
    rows = []
    for c, name in enumerate(names):
        yc, pc = y2[known[:, c], c], p2[known[:, c], c]
        yb = yc > 0.5
        n_pos, n_neg = int(yb.sum()), int((~yb).sum())
        if n_pos == 0 or n_neg == 0:
            rows.append(LabelAuroc(name, np.nan, np.nan, np.nan, n_pos, n_neg, False, 0))
            continue
        auc = float(roc_auc_score(yb, pc))
        boots = bootstrap_auroc(yb, pc, n_boot=n_boot, seed=seed + c) if n_boot > 0 else np.zeros(0)
        lo, hi = (np.quantile(boots, [alpha, 1.0 - alpha]) if len(boots) else (np.nan, np.nan))
        fpr, tpr, thr = roc_curve(yb, pc)
        thr = np.where(np.isfinite(thr), thr, np.nan_to_num(thr, posinf=1.0 + float(pc.max())))
        fpr, tpr, thr = _downsample(fpr, tpr, thr, max_roc_points)
        rows.append(LabelAuroc(name, auc, float(lo), float(hi), n_pos, n_neg, n_pos >= MIN_RELIABLE_POSITIVES,
                               int(len(boots)), tuple(map(float, fpr)), tuple(map(float, tpr)),
                               tuple(map(float, thr))))
    scored = [r.auroc for r in rows if r.scored]
    reliable = [r.auroc for r in rows if r.scored and r.reliable]
    return AurocReport(names, tuple(rows), float(np.mean(scored)) if scored else np.nan,
                       float(np.mean(reliable)) if reliable else np.nan, int(y2.shape[0]), n_boot, seed, ci)


def youden_threshold(y: np.ndarray, p: np.ndarray, *, default: float = 0.5) -> float:
    """Score threshold (positive when p >= t) maximising J = sensitivity + specificity - 1; ties go
    to the highest threshold (fewest false positives). ``default`` without both classes."""
    yb = np.asarray(y) > 0.5
    if yb.all() or not yb.any():
        return default
    fpr, tpr, thr = roc_curve(yb, np.asarray(p, dtype=np.float64))
    finite = np.isfinite(thr)
    j = np.where(finite, tpr - fpr, -np.inf)
    return float(thr[int(np.argmax(j))])  # argmax takes the first: thresholds are decreasing


def youden_thresholds(y: np.ndarray, p: np.ndarray, mask: np.ndarray | None = None,
                      labels: Sequence[str] | None = None, *, default: float = 0.5) -> dict[str, float]:
    """Youden thresholds per label on the known images of a split (use the validation split)."""
    y2, p2 = _as_2d(y), _as_2d(p)
    names = tuple(labels) if labels is not None else tuple(str(i) for i in range(y2.shape[1]))
    known = _known(y2, p2, mask)
    return {name: youden_threshold(y2[known[:, c], c], p2[known[:, c], c], default=default)
            for c, name in enumerate(names)}


MIN_YOUDEN_POSITIVES = 5  # fewer validation positives: Youden's J is set by one or two images


def prevalence_threshold(p: np.ndarray, prevalence: float, *, default: float = 0.5) -> float:
    """The score at or above which a share ``prevalence`` of these images lies (positive when p >= t)."""
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0 or not 0.0 < prevalence < 1.0:
        return default
    return float(np.quantile(p, 1.0 - prevalence, method="higher"))


def operating_thresholds(y: np.ndarray, p: np.ndarray, labels: Sequence[str], *,
                         train_prevalence: Mapping[str, float] | None = None,
                         min_positives: int = MIN_YOUDEN_POSITIVES,
                         default: float = 0.5) -> tuple[dict[str, float], dict[str, str]]:
    """Per-label operating thresholds on a validation split, and the rule behind each.

    Youden's J where the split has at least ``min_positives`` positives (and a negative). Below
    that, J is decided by one or two images (a threshold near 0 that calls every image positive),
    so the threshold instead calls positive the share of validation images that the label's
    training prevalence predicts; without a prevalence, ``default``.
    """
    y2, p2 = _as_2d(y), _as_2d(p)
    known = _known(y2, p2, None)
    thresholds: dict[str, float] = {}
    rules: dict[str, str] = {}
    for c, name in enumerate(labels):
        yc, pc = y2[known[:, c], c] > 0.5, p2[known[:, c], c]
        n_pos = int(yc.sum())
        if n_pos >= min_positives and n_pos < yc.size:
            thresholds[name] = youden_threshold(yc, pc, default=default)
            rules[name] = f"youden ({n_pos} validation positives)"
        elif train_prevalence and name in train_prevalence:
            prev = float(train_prevalence[name])
            thresholds[name] = prevalence_threshold(pc, prev, default=default)
            rules[name] = f"prevalence {prev:.3f} (only {n_pos} validation positives)"
        else:
            thresholds[name] = default
            rules[name] = f"default {default} (only {n_pos} validation positives)"
    return thresholds, rules


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    sensitivity: float  # NaN without positives
    specificity: float  # NaN without negatives
    n_pos: int
    n_neg: int


def sensitivity_specificity(y: np.ndarray, p: np.ndarray, threshold: float) -> OperatingPoint:
    """Positive when ``p >= threshold`` (the convention of the thresholds above)."""
    yb = np.asarray(y) > 0.5
    pred = np.asarray(p) >= threshold
    n_pos, n_neg = int(yb.sum()), int((~yb).sum())
    sens = float((pred & yb).sum() / n_pos) if n_pos else float("nan")
    spec = float((~pred & ~yb).sum() / n_neg) if n_neg else float("nan")
    return OperatingPoint(float(threshold), sens, spec, n_pos, n_neg)


def operating_points(y: np.ndarray, p: np.ndarray, thresholds: Mapping[str, float], labels: Sequence[str],
                     mask: np.ndarray | None = None) -> dict[str, OperatingPoint]:
    y2, p2 = _as_2d(y), _as_2d(p)
    known = _known(y2, p2, mask)
    return {name: sensitivity_specificity(y2[known[:, c], c], p2[known[:, c], c], thresholds[name])
            for c, name in enumerate(labels) if name in thresholds}
