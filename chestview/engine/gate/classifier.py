"""The gate's kind classifier: is this a chest radiograph at all, whatever the hospital?

A logistic regression on the image's pooled trunk features (standardised as the feature distance
standardises them), fitted on chest films under many processings against photographs, CT/MR/US
slices and near-misses (:mod:`.kinds`). The distance asks "is this like the training films?", which
another hospital's films answer no; the classifier asks "is this the same kind of picture?". Stored
as plain numbers (weights, bias, cut) beside the distance's statistics: no pickled estimator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_C = 0.05  # strong L2: a few hundred examples against 1,280 features
# P(chest film) under which an image is flagged. Above 0.5: the fit separates its own examples
# perfectly, so held-out near-misses (rotations, crops) sit nearer the middle than its chest films;
# on the default model's held-out examples 0.7 kept processed chest films under 2% flagged.
DEFAULT_CUTOFF = 0.7


@dataclass(frozen=True)
class KindClassifier:
    mean: np.ndarray  # (D,) the features' standardisation (the distance's)
    scale: np.ndarray  # (D,)
    weights: np.ndarray  # (D,) logistic regression on standardised features; positive = chest film
    bias: float
    cutoff: float  # P(chest film) under it is flagged

    @property
    def dim(self) -> int:
        return int(self.weights.shape[0])

    def chest_probability(self, features: np.ndarray) -> np.ndarray:
        """(N, D) -> (N,) probability that each image is a chest radiograph."""
        x = (np.atleast_2d(np.asarray(features, dtype=np.float64)) - self.mean) / self.scale
        z = np.clip(x @ self.weights + self.bias, -50, 50)
        return 1.0 / (1.0 + np.exp(-z))

    def to_tensors(self, prefix: str = "kind.") -> dict[str, np.ndarray]:
        return {
            f"{prefix}weights": self.weights.astype(np.float32),
            f"{prefix}bias": np.array([self.bias], np.float32),
            f"{prefix}cutoff": np.array([self.cutoff], np.float32),
        }

    @classmethod
    def from_tensors(cls, t: dict[str, np.ndarray], mean: np.ndarray, scale: np.ndarray,
                     prefix: str = "kind.") -> "KindClassifier | None":
        if f"{prefix}weights" not in t:
            return None
        weights = np.asarray(t[f"{prefix}weights"], np.float64).reshape(-1)
        if weights.shape != mean.shape:
            raise ValueError(f"kind weights {weights.shape} do not match the feature size {mean.shape}")
        return cls(mean, scale, weights, float(np.asarray(t[f"{prefix}bias"]).reshape(-1)[0]),
                   float(np.asarray(t[f"{prefix}cutoff"]).reshape(-1)[0]))


def fit_kind_classifier(features: np.ndarray, chest: np.ndarray, mean: np.ndarray, scale: np.ndarray, *,
                        c: float = DEFAULT_C, cutoff: float = DEFAULT_CUTOFF) -> KindClassifier:
    """Logistic regression (scikit-learn, classes weighted alike) of ``chest`` (N,) bool on (N, D)
    features standardised with ``mean`` and ``scale``."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(chest, dtype=bool)
    if y.all() or not y.any():
        raise ValueError("the kind classifier needs chest films and non-radiographs")
    x = (np.asarray(features, dtype=np.float64) - mean) / scale
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y.astype(int))
    return KindClassifier(np.asarray(mean, np.float64), np.asarray(scale, np.float64),
                          lr.coef_[0].astype(np.float64), float(lr.intercept_[0]), float(cutoff))
