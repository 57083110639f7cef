"""The shortcut probe: does a model's case call move when only a film's gray levels change?

The same films are re-scored after a global change of their processing curve, as another site's
processing would make it (gamma 0.7 / 1.4, +/-20 gray levels of 255); nothing in the film changes.
A model that reads the film, not its brightness, barely moves. Pure functions of arrays; the
evaluation module writes the variants and runs the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

# The worst variant must move the abnormality probability by at most this on average, and flip at
# most this share of case calls (issue targets; the independent evaluation measures the same).
MAX_MEAN_CHANGE = 0.04
MAX_FLIP_RATE = 0.05


def _gamma(g: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda u8: np.round(255.0 * (u8.astype(np.float64) / 255.0) ** g)


def _shift(d: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda u8: u8.astype(np.float64) + d


# name -> transform of an 8-bit film (the result is clipped to 0..255 and stored as 8 bits)
INTENSITY_VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gamma 0.7": _gamma(0.7),
    "gamma 1.4": _gamma(1.4),
    "+20 gray levels": _shift(20),
    "-20 gray levels": _shift(-20),
}


def apply_variant(name: str, u8: np.ndarray) -> np.ndarray:
    """The 8-bit film under ``name`` (one of INTENSITY_VARIANTS)."""
    return np.clip(INTENSITY_VARIANTS[name](np.asarray(u8)), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class VariantShift:
    name: str
    n_images: int
    mean_abs_change: float  # of the score the case call is made on
    flip_rate: float  # share of films whose case call (score >= threshold) flips


@dataclass(frozen=True)
class ProbeResult:
    split: str
    score: str  # what the case call is made on: "abnormality" or "top finding"
    threshold: float
    variants: tuple[VariantShift, ...]

    @property
    def worst_mean_abs_change(self) -> float:
        return max((v.mean_abs_change for v in self.variants), default=float("nan"))

    @property
    def worst_flip_rate(self) -> float:
        return max((v.flip_rate for v in self.variants), default=float("nan"))

    @property
    def passed(self) -> bool:
        return self.worst_mean_abs_change <= MAX_MEAN_CHANGE and self.worst_flip_rate <= MAX_FLIP_RATE

    def to_json(self) -> dict:
        return {
            "probe": "intensity", "split": self.split, "score": self.score, "threshold": round(self.threshold, 6),
            "variants": [{**asdict(v), "mean_abs_change": round(v.mean_abs_change, 4),
                          "flip_rate": round(v.flip_rate, 4)} for v in self.variants],
            "worst_mean_abs_change": round(self.worst_mean_abs_change, 4),
            "worst_flip_rate": round(self.worst_flip_rate, 4),
            "targets": {"worst_mean_abs_change": f"<= {MAX_MEAN_CHANGE}", "worst_flip_rate": f"<= {MAX_FLIP_RATE}"},
            "passed": self.passed,
        }

    def text(self) -> str:
        rows = [f"  {v.name:<16} mean |change| {v.mean_abs_change:.3f}   case calls flipped {v.flip_rate:.1%}"
                for v in self.variants]
        verdict = "passed" if self.passed else "FAILED"
        return "\n".join([f"shortcut probe (intensity) on the {self.split} split, {self.score} score, call at "
                          f"{self.threshold:.3f}:", *rows,
                          f"  worst: mean |change| {self.worst_mean_abs_change:.3f} (target <= {MAX_MEAN_CHANGE}), "
                          f"flips {self.worst_flip_rate:.1%} (target <= {MAX_FLIP_RATE:.0%}): {verdict}"])


def variant_shift(name: str, base: np.ndarray, moved: np.ndarray, threshold: float) -> VariantShift:
    """How far ``moved`` scores sit from ``base`` (same films, NaN = unreadable, left out)."""
    base, moved = np.asarray(base, float), np.asarray(moved, float)
    ok = np.isfinite(base) & np.isfinite(moved)
    if not ok.any():
        return VariantShift(name, 0, float("nan"), float("nan"))
    b, m = base[ok], moved[ok]
    flips = (b >= threshold) != (m >= threshold)
    return VariantShift(name, int(ok.sum()), float(np.mean(np.abs(m - b))), float(np.mean(flips)))


def probe_result(split: str, score: str, threshold: float, base: np.ndarray,
                 moved: Mapping[str, np.ndarray]) -> ProbeResult:
    return ProbeResult(split, score, float(threshold),
                       tuple(variant_shift(name, base, scores, threshold) for name, scores in moved.items()))
