"""Drift: does a folder of films, taken together, look unlike the model's validation films?

One image's gate says whether it is a chest film at all; a whole folder can be chest films and still
unlike the training films (another hospital's processing), and then the findings are miscalibrated.
The reference is the validation films' gate distances and abnormality scores, stored as quantiles in
the model card's ``input_gate.reference`` when the gate is fitted.

The rule (with at least ``MIN_FILMS`` scored films):
* the folder's median gate distance is above the validation films' 90th percentile, or
* its distances differ from the validation distribution by a one-sample Kolmogorov-Smirnov test at
  p < ``KS_P`` (the reference CDF interpolated between its stored quantiles), or
* its median abnormality score is above the validation films' 90th percentile (a site where
  everything is called abnormal: the symptom of miscalibration).
A folder of normal films alone has a lower median abnormality, never a higher one, so case mix does
not raise the warning on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

MIN_FILMS = 20
KS_P = 0.001
N_QUANTILES = 101  # 0%, 1%, ..., 100%
WARNING = ("these films are unlike the model's training films; findings may be miscalibrated here "
           "— recalibrate with labelled local films (chestview calibrate)")
RULE = (f"with at least {MIN_FILMS} films: median gate distance above the validation films' 90th percentile, "
        f"or a Kolmogorov-Smirnov test of the distances against the validation films' at p < {KS_P}, "
        "or median abnormality score above the validation films' 90th percentile")


def reference_quantiles(distances: Sequence[float], abnormality: Sequence[float] | None) -> dict[str, Any]:
    """The record stored in the card: quantiles of the validation films' distances and scores."""
    q = np.linspace(0, 1, N_QUANTILES)
    d = np.asarray(distances, dtype=np.float64)
    out: dict[str, Any] = {"n": int(d.size), "distance": [round(float(v), 5) for v in np.quantile(d, q)]}
    a = np.asarray([] if abnormality is None else abnormality, dtype=np.float64)
    a = a[np.isfinite(a)]
    if a.size:
        out["abnormality"] = [round(float(v), 5) for v in np.quantile(a, q)]
    return out


def _quantile(ref: Sequence[float], p: float) -> float:
    return float(np.interp(p, np.linspace(0, 1, len(ref)), ref))


def _reference_cdf(ref: Sequence[float]):
    r = np.asarray(ref, dtype=np.float64)
    levels = np.linspace(0, 1, r.size)
    # Ties (a flat stretch of quantiles) keep the CDF's largest level at that value.
    values, last = np.unique(r[::-1], return_index=True)
    levels_at = levels[::-1][last]
    return lambda x: np.interp(x, values, levels_at, left=0.0, right=1.0)


@dataclass(frozen=True)
class DriftReport:
    n: int  # films with a gate distance
    warn: bool
    reasons: tuple[str, ...]
    median_distance: float | None
    reference_p90_distance: float | None
    ks_p: float | None
    median_abnormality: float | None
    reference_p90_abnormality: float | None

    @property
    def message(self) -> str:
        return f"{WARNING} ({'; '.join(self.reasons)})" if self.warn else ""

    def to_json(self) -> dict[str, Any]:
        def num(v: float | None) -> float | None:
            return None if v is None else round(float(v), 5)

        return {
            "warning": self.warn, "message": self.message, "reasons": list(self.reasons), "n": self.n,
            "median_distance": num(self.median_distance), "reference_p90_distance": num(self.reference_p90_distance),
            "ks_p": None if self.ks_p is None else float(f"{self.ks_p:.3g}"),
            "median_abnormality": num(self.median_abnormality),
            "reference_p90_abnormality": num(self.reference_p90_abnormality), "rule": RULE,
        }


def drift_check(reference: dict[str, Any] | None, distances: Iterable[float | None],
                abnormality: Iterable[float | None] = ()) -> DriftReport | None:
    """The folder's drift report against ``reference`` (the card's ``input_gate.reference``);
    None when the model has no reference (a gate fitted before drift was measured)."""
    if not reference or not reference.get("distance"):
        return None
    from scipy.stats import kstest

    d = np.asarray([v for v in distances if v is not None and np.isfinite(v)], dtype=np.float64)
    a = np.asarray([v for v in abnormality if v is not None and np.isfinite(v)], dtype=np.float64)
    ref_d = reference["distance"]
    p90_d = _quantile(ref_d, 0.9)
    ref_a = reference.get("abnormality")
    p90_a = _quantile(ref_a, 0.9) if ref_a else None
    med_d = float(np.median(d)) if d.size else None
    med_a = float(np.median(a)) if a.size else None
    ks_p = float(kstest(d, _reference_cdf(ref_d)).pvalue) if d.size else None
    reasons: list[str] = []
    if d.size >= MIN_FILMS:
        if med_d is not None and med_d > p90_d:
            reasons.append(f"median gate distance {med_d:.2f} > validation 90th percentile {p90_d:.2f}")
        if ks_p is not None and ks_p < KS_P:
            reasons.append(f"distances unlike the validation films' (KS p = {ks_p:.1g})")
    if a.size >= MIN_FILMS and p90_a is not None and med_a is not None and med_a > p90_a:
        reasons.append(f"median abnormality {med_a:.2f} > validation 90th percentile {p90_a:.2f}")
    return DriftReport(int(d.size), bool(reasons), tuple(reasons), med_d, p90_d, ks_p, med_a, p90_a)


def folder_drift(card: Any, results: Iterable[Any]) -> DriftReport | None:
    """:func:`drift_check` of a run's results (ImageResult) against the card's reference (a site
    profile's own films when one is applied). Images the kind classifier says are not chest films are
    left out: they are flagged one by one, and would say nothing about the site's films."""
    gate = getattr(card, "input_gate", None) or {}
    cutoff = float(((gate.get("kind") or {}).get("cutoff")) or 0.0)
    distances: list[float | None] = []
    scores: list[float | None] = []
    for r in results:
        check = getattr(r, "input_check", None)
        if not r.ok or check is None or check.score is None:
            continue
        if check.chest_probability is not None and check.chest_probability < cutoff:
            continue
        distances.append(check.score)
        scores.append(None if r.abnormality is None else r.abnormality.probability)
    return drift_check(gate.get("reference"), distances, scores)
