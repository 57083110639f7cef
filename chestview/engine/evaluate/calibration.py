"""Probability calibration: per-output Platt scaling fitted on a validation split, and the measures
that show whether it helped (expected calibration error, reliability curve).

A model trained on a few hundred images with BCE is not calibrated: its sigmoid outputs rank films
but "0.2" does not mean one film in five. Platt scaling (a logistic regression on the model's own
logit, Platt 1999; Guo et al. 2017 for the temperature special case) maps them to frequencies on the
validation split. It is monotone, so AUROC is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this many validation positives (or negatives) a Platt fit is noise: keep the raw sigmoid.
MIN_CALIBRATION_POSITIVES = 3
_EPS = 1e-7


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def apply_platt(p: np.ndarray, a: float, b: float) -> np.ndarray:
    """sigmoid(a * logit(p) + b)."""
    return sigmoid(a * logit(p) + b)


def invert_platt(p: np.ndarray, a: float, b: float) -> np.ndarray:
    """The raw probability a calibrated one came from (a > 0)."""
    return sigmoid((logit(p) - b) / a)


def fit_platt(p: np.ndarray, y: np.ndarray, *, c: float = 1.0) -> tuple[float, float] | None:
    """(a, b) of a logistic regression of ``y`` on ``logit(p)`` (L2 strength 1/c on a, as in
    scikit-learn); None when there are too few positives or negatives, or the fit is not increasing."""
    from sklearn.linear_model import LogisticRegression

    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(p) & np.isfinite(y)
    p, y = p[ok], y[ok] > 0.5
    if min(int(y.sum()), int((~y).sum())) < MIN_CALIBRATION_POSITIVES:
        return None
    model = LogisticRegression(C=c).fit(logit(p)[:, None], y)
    a, b = float(model.coef_[0, 0]), float(model.intercept_[0])
    return (a, b) if a > 1e-3 else None  # a non-increasing map would reverse the ranking


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Mean |observed frequency - mean probability| over equal-width bins, weighted by bin size."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    if len(y) == 0:
        return float("nan")
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for k in range(n_bins):
        sel = bins == k
        if sel.any():
            total += sel.sum() * abs(y[sel].mean() - p[sel].mean())
    return float(total / len(y))


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per non-empty equal-width bin: mean predicted probability, observed frequency, count."""

    mean_predicted: tuple[float, ...]
    observed: tuple[float, ...]
    counts: tuple[int, ...]

    def to_json(self) -> dict[str, list]:
        return {"mean_predicted": [round(v, 4) for v in self.mean_predicted],
                "observed": [round(v, 4) for v in self.observed], "counts": list(self.counts)}


def reliability_curve(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> ReliabilityCurve:
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    mp, ob, cn = [], [], []
    for k in range(n_bins):
        sel = bins == k
        if sel.any():
            mp.append(float(p[sel].mean()))
            ob.append(float(y[sel].mean()))
            cn.append(int(sel.sum()))
    return ReliabilityCurve(tuple(mp), tuple(ob), tuple(cn))
