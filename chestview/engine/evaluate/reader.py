"""What a reader meets on a split, beyond per-label AUROC: how many normal films show a positive
finding, how many abnormal films are flagged, the abnormality score's AUROC, calibration error
before and after scaling, and AUROC on subsets (a collection, the boxed labels). Pure functions of
arrays; the evaluation module feeds them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from chestview.engine.evaluate.calibration import (
    expected_calibration_error,
    invert_platt,
    reliability_curve,
)
from chestview.engine.evaluate.metrics import per_label_auroc

BOXED_LABELS = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                "Pneumothorax")  # the 8 labels with NIH radiologist boxes


def abnormal_targets(targets: np.ndarray) -> np.ndarray:
    """(N,) 1 = some label positive, 0 = every label known negative, NaN = cannot tell."""
    t = np.asarray(targets, dtype=np.float64)
    out = np.where(np.isnan(t).any(axis=1), np.nan, 0.0)
    return np.where((t > 0.5).any(axis=1), 1.0, out)


def _r(v: float | None, digits: int = 4) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), digits)


def mean_auroc_over(targets: np.ndarray, probs: np.ndarray, labels: Sequence[str], keep: Sequence[str],
                    rows: np.ndarray | None = None) -> tuple[float | None, int]:
    """Mean AUROC over the ``keep`` labels scorable on ``rows`` (default all), and how many images."""
    sel = np.ones(len(targets), bool) if rows is None else np.asarray(rows, bool)
    vals = []
    for lbl in keep:
        if lbl not in labels:
            continue
        c = list(labels).index(lbl)
        y, p = targets[sel, c], probs[sel, c]
        ok = np.isfinite(y) & np.isfinite(p)
        y, p = y[ok] > 0.5, p[ok]
        if y.any() and (~y).any():
            vals.append(float(roc_auc_score(y, p)))
    return (float(np.mean(vals)) if vals else None), int(sel.sum())


def collection_metrics(t: np.ndarray, p: np.ndarray, labels: Sequence[str], any_positive: np.ndarray,
                       abnormality: np.ndarray | None, abnormality_threshold: float | None) -> dict[str, Any]:
    """The reader's numbers on one collection's films: mean AUROC over its scorable labels, the
    abnormality AUROC, normals called abnormal (abnormality score at its point) and normals with any
    positive finding."""
    from sklearn.metrics import roc_auc_score

    ab_y = abnormal_targets(t)
    normal, abnormal = ab_y == 0, ab_y == 1
    mean, _ = mean_auroc_over(t, p, labels, labels)
    out: dict[str, Any] = {"n": int(len(t)), "n_normal": int(normal.sum()), "mean_auroc": _r(mean),
                           "normal_with_any_positive": _r(any_positive[normal].mean()) if normal.any() else None}
    if abnormality is not None:
        known = np.isfinite(ab_y) & np.isfinite(abnormality)
        y = ab_y[known] > 0.5
        out["abnormality_auroc"] = _r(roc_auc_score(y, abnormality[known])) if y.any() and (~y).any() else None
        if abnormality_threshold is not None:
            flagged = abnormality >= abnormality_threshold
            out["normal_flagged"] = _r(flagged[normal].mean()) if normal.any() else None
            out["abnormal_flagged"] = _r(flagged[abnormal].mean()) if abnormal.any() else None
    return out


def reader_metrics(targets: np.ndarray, probs: np.ndarray, labels: Sequence[str], thresholds: dict[str, float],
                   *, unreliable: Sequence[str] = (), abnormality: np.ndarray | None = None,
                   abnormality_threshold: float | None = None, groups: Sequence[str | None] | None = None,
                   calibration: dict[str, Any] | None = None, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The numbers behind "what a reader meets" for calibrated ``probs`` (N, L) on a split.

    ``calibration`` (the card's) lets the uncalibrated probabilities be recovered exactly, for the
    expected calibration error before and after scaling."""
    labels = list(labels)
    ok = ~np.isnan(probs).any(axis=1)
    t, p = targets[ok], probs[ok]
    ab_y = abnormal_targets(t)
    normal, abnormal = ab_y == 0, ab_y == 1
    shown = [c for c, lbl in enumerate(labels) if lbl not in set(unreliable)]
    thr = np.array([thresholds.get(labels[c], 0.5) for c in shown])
    positive = p[:, shown] >= thr[None, :] if shown else np.zeros((len(p), 0), bool)
    any_pos = positive.any(axis=1)
    out: dict[str, Any] = {
        "n_normal": int(normal.sum()), "n_abnormal": int(abnormal.sum()),
        "normal_with_any_positive": _r(any_pos[normal].mean()) if normal.any() else None,
        "abnormal_with_any_positive": _r(any_pos[abnormal].mean()) if abnormal.any() else None,
        "mean_positive_findings_per_film": _r(positive.sum(axis=1).mean()) if len(p) else None,
    }
    boxed8, n = mean_auroc_over(t, p, labels, BOXED_LABELS)
    out["mean_auroc_boxed8"] = _r(boxed8)
    if groups is not None:
        g = np.asarray([groups[i] for i in np.flatnonzero(ok)], dtype=object)
        a_ok = None if abnormality is None else np.asarray(abnormality, dtype=np.float64)[ok]
        per: dict[str, dict[str, Any]] = {}
        for name in sorted({x for x in g if x is not None}):
            rows = g == name
            value, n = mean_auroc_over(t, p, labels, BOXED_LABELS, rows=rows)
            out[f"mean_auroc_boxed8_{name}"] = _r(value)
            out[f"n_{name}"] = n
            per[name] = collection_metrics(t[rows], p[rows], labels, any_pos[rows],
                                           None if a_ok is None else a_ok[rows], abnormality_threshold)
            per[name]["mean_auroc_boxed8"] = _r(value)
        out["per_collection"] = per
    if abnormality is not None:
        a = np.asarray(abnormality, dtype=np.float64)[ok]
        known = np.isfinite(ab_y)
        rep = per_label_auroc(ab_y[known][:, None], a[known][:, None], labels=("Abnormality",), n_boot=n_boot,
                              seed=seed)
        r = rep.per_label[0]
        out["abnormality_auroc"] = _r(r.auroc)
        out["abnormality_ci95"] = [_r(r.ci_low), _r(r.ci_high)]
        if abnormality_threshold is not None:
            flagged = a >= abnormality_threshold
            out["abnormality_threshold"] = _r(abnormality_threshold, 6)
            out["abnormal_flagged"] = _r(flagged[abnormal].mean()) if abnormal.any() else None
            out["normal_flagged"] = _r(flagged[normal].mean()) if normal.any() else None
        out["abnormality_roc"] = {"fpr": list(r.fpr), "tpr": list(r.tpr)}
    if calibration and calibration.get("params"):
        params = calibration["params"]
        before, after = [], []
        for c, lbl in enumerate(labels):
            if lbl not in params:
                continue
            y = t[:, c]
            k = np.isfinite(y)
            raw = invert_platt(p[k, c], *params[lbl])
            before.append(expected_calibration_error(y[k], raw))
            after.append(expected_calibration_error(y[k], p[k, c]))
        out["ece_labels_before"] = _r(float(np.mean(before))) if before else None
        out["ece_labels_after"] = _r(float(np.mean(after))) if after else None
        if abnormality is not None and "Abnormality" in params:
            known = np.isfinite(ab_y)
            a = np.asarray(abnormality, dtype=np.float64)[ok][known]
            raw = invert_platt(a, *params["Abnormality"])
            out["ece_abnormality_before"] = _r(expected_calibration_error(ab_y[known], raw))
            out["ece_abnormality_after"] = _r(expected_calibration_error(ab_y[known], a))
            out["reliability_abnormality"] = {"before": reliability_curve(ab_y[known], raw).to_json(),
                                              "after": reliability_curve(ab_y[known], a).to_json()}
        yy = t.ravel()
        pp = p.ravel()
        k = np.isfinite(yy)
        out["reliability_labels_after"] = reliability_curve(yy[k], pp[k]).to_json()
    return out
