"""Fitting and measuring the gate's kind classifier (:mod:`.classifier`) for one model.

The examples (:mod:`.kinds`) are made into a scratch folder: processed variants and near-misses of
training films and the photographs and slices not held out train the classifier; the variants and
near-misses of validation films and the held-out photographs and slices (every example of a
held-out source) measure the whole gate -- classifier, feature distance, pixel and header checks --
as ``predict`` would run it. The feature distance's cut moves to the processed chest films: it is
chosen so that at most ``max_flag_rate`` of them, and of the plain validation films, are above it,
so it flags what is far from every way of making a chest film, not another hospital's processing.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from chestview.engine.gate.classifier import DEFAULT_C, KindClassifier, fit_kind_classifier
from chestview.engine.gate.kinds import Example, chest_examples, held_out, other_examples
from chestview.engine.gate.stats import GateStats, choose_threshold

log = logging.getLogger(__name__)
DEFAULT_HOLDOUT = 0.3


@dataclass
class KindFit:
    classifier: KindClassifier
    distance_threshold: float
    fit_chest: int
    fit_other: int
    # kind -> {"chest": bool, "n": images, "flagged": flagged by the whole gate} on held-out examples
    held_out: dict[str, dict[str, Any]] = field(default_factory=dict)

    def rates(self, chest: bool) -> tuple[int, int]:
        rows = [v for v in self.held_out.values() if v["chest"] == chest]
        return sum(v["flagged"] for v in rows), sum(v["n"] for v in rows)

    def summary(self) -> dict[str, Any]:
        cf, cn = self.rates(True)
        of, on = self.rates(False)
        return {
            "classifier": "logistic regression on the standardised pooled features",
            "cutoff": round(self.classifier.cutoff, 4),
            "fit_examples": {"chest": self.fit_chest, "other": self.fit_other},
            "held_out": {
                "chest_variants_flagged": cf, "chest_variants": cn,
                "non_radiographs_flagged": of, "non_radiographs": on,
                "by_kind": self.held_out,
            },
        }


Extract = Callable[..., tuple[np.ndarray, list[str]]]


def _features(extract: Extract, examples: list[Example]) -> tuple[np.ndarray, list[Example], np.ndarray]:
    """Features, the examples that were readable, and whether the pixel/header checks flag each."""
    by_path = {str(e.path): e for e in examples}
    flags: list[bool] = []
    feats, kept = extract([str(e.path) for e in examples], checks_flag=flags)
    return feats, [by_path[p] for p in kept], np.asarray(flags, dtype=bool)


def fit_kinds(
    extract: Extract,
    stats: GateStats,
    val_scores: np.ndarray,
    train_films: Sequence[str],
    val_films: Sequence[str],
    *,
    max_flag_rate: float,
    holdout: float = DEFAULT_HOLDOUT,
    c: float = DEFAULT_C,
    seed: int = 0,
    on_stage: Callable[[str], None] | None = None,
) -> KindFit:
    """``extract(paths, checks_flag=list)``: the model's features of image files (the fitting
    predictor's). ``train_films``/``val_films``: chest films of the model's own split."""
    with tempfile.TemporaryDirectory(prefix="chestview-gate-") as tmp:
        root = Path(tmp)
        if on_stage:
            on_stage("making examples")
        others = other_examples(root / "other", seed=seed)
        fit_ex = chest_examples(list(train_films), root / "train", seed=seed) + [
            e for e in others if not held_out(e.source, holdout)]
        test_ex = chest_examples(list(val_films), root / "val", seed=seed + 1) + [
            e for e in others if held_out(e.source, holdout)]
        if on_stage:
            on_stage(f"features of {len(fit_ex)} fitting examples")
        fx, fit_kept, _ = _features(extract, fit_ex)
        if on_stage:
            on_stage(f"features of {len(test_ex)} held-out examples")
        tx, test_kept, test_checks = _features(extract, test_ex)
    y = np.array([e.chest for e in fit_kept])
    clf = fit_kind_classifier(fx, y, stats.mean, stats.scale, c=c)
    # The distance's cut: at most max_flag_rate of the processed training films, and never below the
    # validation films' own cut (training films sit closer to themselves than unseen films do).
    threshold = max(choose_threshold(stats.score(fx[y]), max_flag_rate),
                    choose_threshold(np.asarray(val_scores), max_flag_rate))
    flagged = (clf.chest_probability(tx) < clf.cutoff) | (stats.score(tx) > threshold) | test_checks
    table: dict[str, dict[str, Any]] = {}
    for e, f in zip(test_kept, flagged):
        row = table.setdefault(e.kind, {"chest": e.chest, "n": 0, "flagged": 0})
        row["n"] += 1
        row["flagged"] += int(f)
    fit = KindFit(clf, float(threshold), int(y.sum()), int((~y).sum()), table)
    cf, cn = fit.rates(True)
    of, on = fit.rates(False)
    log.info("kind classifier: held out, %d/%d processed chest films and %d/%d non-radiographs flagged",
             cf, cn, of, on)
    return fit
