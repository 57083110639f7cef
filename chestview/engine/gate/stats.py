"""The maths of the input gate: a probabilistic PCA model of the training films' pooled features.

Features are standardised per dimension (training mean and spread), then modelled as a Gaussian
with ``k`` principal directions of their own variance plus one isotropic variance for the rest
(Tipping & Bishop's probabilistic PCA). The score of a feature vector is the square root of its
Mahalanobis distance under that model divided by the dimension, so a typical training film scores
about 1 and an image unlike every training film, far from them in any direction, scores more.
The threshold is chosen on validation films, which the model never trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chestview.engine.gate.classifier import KindClassifier

_EPS = 1e-6


@dataclass(frozen=True)
class GateStats:
    mean: np.ndarray  # (D,) training feature mean
    scale: np.ndarray  # (D,) training feature spread
    components: np.ndarray  # (k, D) orthonormal principal directions of the standardised features
    variances: np.ndarray  # (k,) variance along each direction
    residual_variance: float  # the variance left per dimension outside them
    threshold: float  # scores above it are flagged
    kind: KindClassifier | None = None  # chest film or not, whatever the site (None: an older gate)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def score(self, features: np.ndarray) -> np.ndarray:
        """(N, D) -> (N,) scores; about 1 for the training films."""
        x = (np.atleast_2d(np.asarray(features, dtype=np.float64)) - self.mean) / self.scale
        z = x @ self.components.T
        inside = np.sum(z**2 / self.variances, axis=1)
        outside = np.maximum(np.sum(x**2, axis=1) - np.sum(z**2, axis=1), 0.0) / self.residual_variance
        return np.sqrt((inside + outside) / self.dim)

    def to_tensors(self) -> dict[str, np.ndarray]:
        kind = self.kind.to_tensors() if self.kind is not None else {}
        return {
            **kind,
            "mean": self.mean.astype(np.float32),
            "scale": self.scale.astype(np.float32),
            "components": self.components.astype(np.float32),
            "variances": self.variances.astype(np.float32),
            "residual_variance": np.array([self.residual_variance], np.float32),
            "threshold": np.array([self.threshold], np.float32),
        }

    @classmethod
    def from_tensors(cls, t: dict[str, np.ndarray]) -> "GateStats":
        mean = np.asarray(t["mean"], np.float64)
        scale = np.asarray(t["scale"], np.float64)
        components = np.asarray(t["components"], np.float64)
        if components.ndim != 2 or components.shape[1] != mean.shape[0]:
            raise ValueError(f"components {components.shape} do not match the feature size {mean.shape}")
        return cls(
            mean=mean,
            scale=scale,
            components=components,
            variances=np.asarray(t["variances"], np.float64),
            residual_variance=float(np.asarray(t["residual_variance"]).reshape(-1)[0]),
            threshold=float(np.asarray(t["threshold"]).reshape(-1)[0]),
            kind=KindClassifier.from_tensors(t, mean, scale),
        )


def fit_ppca(train: np.ndarray, components: int = 16) -> GateStats:
    """The model of (N, D) training features; the threshold is left at +inf (see :func:`choose_threshold`)."""
    x = np.asarray(train, dtype=np.float64)
    n, d = x.shape
    if n < 3:
        raise ValueError(f"need at least 3 training feature vectors, got {n}")
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + _EPS + 1e-3 * float(x.std())  # a floor, so that dead channels do not explode
    xs = (x - mean) / scale
    k = int(max(1, min(components, n - 2, d - 1)))
    _, sing, vt = np.linalg.svd(xs, full_matrices=False)
    eig = sing**2 / (n - 1)
    rest = eig[k:].sum() / max(d - k, 1)
    residual = float(max(rest, 1e-3 * eig[0] / d, _EPS))
    return GateStats(mean, scale, vt[:k].copy(), np.maximum(eig[:k], residual), residual, float("inf"))


def choose_threshold(val_scores: np.ndarray, max_flag_rate: float = 0.02, margin: float = 1.1) -> float:
    """A cut that flags at most ``max_flag_rate`` of the validation films: the score that many of them
    exceed, times ``margin`` (a validation split of a few dozen films is a noisy estimate of the tail,
    and a film flagged by mistake costs a radiologist's time)."""
    s = np.sort(np.asarray(val_scores, dtype=np.float64))[::-1]
    if s.size == 0:
        raise ValueError("no validation scores to choose a threshold on")
    allowed = int(np.floor(max_flag_rate * s.size))
    return float(s[min(allowed, s.size - 1)] * margin)
