"""Fitting a site profile on a hospital's own labelled films (``chestview calibrate``).

The films are run once through the model without its calibration (raw scores, gate distances). The
profile is the card's own recipe refitted on them: Platt calibration and operating points by
:func:`chestview.engine.train.evaluation.choose_operating_point` (the rule the trainer uses on the
validation split), and the gate's distance cut by :func:`chestview.engine.gate.stats.choose_threshold`
on these films (never below the model's own). What it changes is measured honestly: two-fold
cross-fitting (fit on one half, measure on the other, and back), the card's operating points and the
site's on the same held-out films.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from chestview.engine.errors import ChestviewError
from chestview.engine.evaluate.calibration import apply_platt
from chestview.engine.evaluate.operating import ABNORMALITY_SENSITIVITY, MAX_NORMAL_ANY_POSITIVE
from chestview.engine.evaluate.reader import abnormal_targets
from chestview.engine.inference import Predictor
from chestview.engine.gate.drift import reference_quantiles
from chestview.engine.gate.stats import choose_threshold
from chestview.engine.site.profile import SiteProfile, check_name
from chestview.engine.train.evaluation import SplitPredictions, choose_operating_point, common_labels
from chestview.engine.zoo.card import ABNORMALITY

MAX_GATE_FLAG_RATE = 0.02


@dataclass
class LocalScores:
    """The model's uncalibrated outputs on the local films (rows: readable films)."""

    preds: Any  # train.evaluation.SplitPredictions, probabilities uncalibrated
    distances: np.ndarray  # (N,) gate distances (NaN without a gate)
    errors: list[str]


def score_films(loaded: Any, ds: Any, *, device: str = "auto", backend: str = "auto", batch_size: int = 8,
                num_workers: int | None = None, on_progress: Callable[[int, int], None] | None = None) -> LocalScores:
    bare = copy.copy(loaded)
    bare.card = loaded.card.with_updates(calibration={})  # raw scores: the recipe fits calibration on them
    labels = common_labels(loaded.card.labels, ds.labels)
    cols = [list(ds.labels).index(lbl) for lbl in labels]
    predictor = Predictor(bare, device=device, boxes="none", backend=backend)
    paths = [s.path for s in ds.samples]
    probs, abn, dist, keep, sizes, errors = [], [], [], [], [], []
    progress = None if on_progress is None else (lambda p: on_progress(p.done, p.total))
    for i, r in enumerate(predictor.predict_paths(paths, batch_size=batch_size, num_workers=num_workers,
                                                  on_progress=progress)):
        if not r.ok:
            errors.append(r.error or f"{paths[i]}: failed")
            continue
        by = {f.label: f.probability for f in r.findings}
        probs.append([by[lbl] for lbl in labels])
        abn.append(np.nan if r.abnormality is None else r.abnormality.probability)
        score = r.input_check.score if r.input_check is not None else None
        dist.append(np.nan if score is None else score)
        keep.append(i)
        sizes.append((r.image_width, r.image_height))
    if not keep:
        raise ChestviewError(f"{ds.name}: none of the films could be read")
    targets = np.stack([np.asarray(ds.samples[i].targets, dtype=np.float64)[cols] for i in keep])
    preds = SplitPredictions(tuple(labels), keep, [paths[i] for i in keep], np.asarray(probs, np.float64), targets,
                             [[] for _ in keep], [{} for _ in keep], sizes, errors, [],
                             np.asarray(abn, np.float64) if loaded.card.has_abnormality else None,
                             [ds.samples[i].group for i in keep])
    return LocalScores(preds, np.asarray(dist, np.float64), errors)


def _subset(preds: Any, rows: np.ndarray) -> Any:
    take = lambda seq: [seq[i] for i in rows]  # noqa: E731
    return dataclasses.replace(
        preds, indices=take(preds.indices), paths=take(preds.paths), probs=preds.probs[rows],
        targets=preds.targets[rows], gt_boxes=take(preds.gt_boxes), pred_boxes=take(preds.pred_boxes),
        image_sizes=take(preds.image_sizes), heatmaps=[],
        abnormality=None if preds.abnormality is None else preds.abnormality[rows],
        groups=take(preds.groups) if preds.groups else [])


def _apply(probs: np.ndarray, names: Sequence[str], calibration: dict[str, Any]) -> np.ndarray:
    out = np.asarray(probs, dtype=np.float64).copy()
    params = (calibration or {}).get("params") or {}
    for c, name in enumerate(names):
        if name in params:
            out[:, c] = apply_platt(out[:, c], *params[name])
    return out


def operating_metrics(preds: Any, calibration: dict[str, Any], thresholds: dict[str, float],
                      abnormality_threshold: float | None, shown: Sequence[str]) -> dict[str, Any]:
    """What the reader meets on ``preds`` (uncalibrated) under one calibration and operating point:
    normals with any positive finding, and the abnormality output's sensitivity and specificity."""
    probs = _apply(preds.probs, preds.labels, calibration)
    sick = abnormal_targets(preds.targets)
    normal = sick == 0
    cols = [i for i, lbl in enumerate(preds.labels) if lbl in set(shown)]
    t = np.array([thresholds.get(preds.labels[i], 0.5) for i in cols])
    any_pos = (probs[:, cols] >= t).any(axis=1) if cols else np.zeros(len(probs), bool)
    out: dict[str, Any] = {
        "films": int(len(probs)), "normal_films": int(normal.sum()),
        "normals_with_positive_finding": _rate(any_pos[normal]),
    }
    if preds.abnormality is not None and abnormality_threshold is not None:
        a = _apply(preds.abnormality[:, None], [ABNORMALITY], calibration)[:, 0]
        called = a >= abnormality_threshold
        out["normals_called_abnormal"] = _rate(called[normal])
        out["abnormality_sensitivity"] = _rate(called[sick == 1])
    return out


def _rate(flags: np.ndarray) -> float | None:
    return None if flags.size == 0 else round(float(np.mean(flags)), 4)


def _gate_cut(distances: np.ndarray, model_cut: float | None) -> float | None:
    d = distances[np.isfinite(distances)]
    if model_cut is None or d.size == 0:
        return None
    return float(max(model_cut, choose_threshold(d, MAX_GATE_FLAG_RATE)))


def _fit(preds: Any, card: Any) -> tuple[dict[str, Any], dict[str, str]]:
    return choose_operating_point(preds, card, {})


def fit_site_profile(loaded: Any, ds: Any, name: str, *, data: str = "", seed: int = 0, **score_kw: Any
                     ) -> SiteProfile:
    """The site profile of ``loaded`` (a LoadedModel with its own card) fitted on ``ds`` (a
    LabeledDataset of this site's films with labels)."""
    check_name(name)
    card = loaded.card
    local = score_films(loaded, ds, **score_kw)
    preds = local.preds
    kind = abnormal_targets(preds.targets)
    normal, sick = kind == 0, kind == 1
    if normal.sum() < 4 or sick.sum() < 4:
        raise ChestviewError(f"{ds.name}: {int(normal.sum())} normal and {int(sick.sum())} abnormal films; "
                             "a site profile needs labelled films of both (tens of each)")
    shown = [lbl for lbl in preds.labels if lbl not in set(card.unreliable_labels)]
    model_ab = float(card.abnormality["threshold"]) if card.has_abnormality else None

    # Two-fold cross-fitting: each half measured under the profile fitted on the other half.
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(m)) for m in (normal, sick, ~(normal | sick))])
    folds = [np.sort(order[0::2]), np.sort(order[1::2])]
    before, after = [], []
    for k in (0, 1):
        fit_rows, test_rows = folds[1 - k], folds[k]
        updates, _ = _fit(_subset(preds, fit_rows), card)
        held = _subset(preds, test_rows)
        before.append(operating_metrics(held, card.calibration, dict(card.thresholds), model_ab, shown))
        ab = (updates.get("abnormality") or {}).get("threshold", model_ab)
        after.append(operating_metrics(held, updates.get("calibration", {}), updates["thresholds"], ab, shown))

    updates, rules = _fit(preds, card)  # the profile itself: every film

    targets = {"normals_with_positive_finding": MAX_NORMAL_ANY_POSITIVE}
    if card.has_abnormality:
        targets["abnormality_sensitivity"] = ABNORMALITY_SENSITIVITY
    metrics = {
        "how": "two-fold cross-fitting on the local films: each half measured under the profile fitted on the other",
        "targets": targets,
        "before": _pool(before),
        "after": _pool(after),
    }
    thresholds = {k: float(v) for k, v in updates["thresholds"].items()}
    abnormality = dict(updates.get("abnormality") or {})
    if ABNORMALITY in rules and abnormality:
        abnormality["rule"] = rules[ABNORMALITY]
    gate_stats_cut = card.input_gate.get("threshold") if card.input_gate else None
    reference: dict[str, Any] = {}
    if np.isfinite(local.distances).sum() >= 3:
        calibrated = None if preds.abnormality is None else _apply(
            preds.abnormality[:, None], [ABNORMALITY], updates.get("calibration", {}))[:, 0]
        reference = reference_quantiles(local.distances[np.isfinite(local.distances)],
                                        None if calibrated is None else calibrated[np.isfinite(local.distances)])
    return SiteProfile(
        name=name, model_id=card.id, model_sha256=card.sha256, data=data or ds.name, n_films=len(preds.paths),
        calibration=dict(updates.get("calibration") or {}), thresholds=thresholds, abnormality=abnormality,
        gate_threshold=_gate_cut(local.distances, None if gate_stats_cut is None else float(gate_stats_cut)),
        rules=dict(rules), metrics=metrics, reference=reference,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


def _pool(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Two folds' measurements as one: rates weighted by their counts."""
    out: dict[str, Any] = {"films": sum(p["films"] for p in parts), "normal_films": sum(p["normal_films"] for p in parts)}
    weights = {"normals_with_positive_finding": "normal_films", "normals_called_abnormal": "normal_films",
               "abnormality_sensitivity": None}
    for key, by in weights.items():
        vals = [(p[key], p["normal_films"] if by else p["films"] - p["normal_films"]) for p in parts
                if p.get(key) is not None]
        if vals:
            n = sum(w for _, w in vals)
            out[key] = round(sum(v * w for v, w in vals) / n, 4) if n else None
    return out


def describe(profile: SiteProfile) -> list[str]:
    """Lines for the CLI and the app: what the profile changes, measured."""
    m = profile.metrics
    b, a, t = m.get("before", {}), m.get("after", {}), m.get("targets", {})

    def pct(v: Any) -> str:
        return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"

    lines = [f"site profile {profile.name!r} for {profile.model_id}: fitted on {profile.n_films} films ({profile.data})",
             f"measured by {m.get('how', '')}; the model's own operating points -> this site's:"]
    for key, label in (("normals_with_positive_finding", "normals with a positive finding"),
                       ("normals_called_abnormal", "normals called abnormal"),
                       ("abnormality_sensitivity", "abnormal films called abnormal")):
        if key in b or key in a:
            target = f" (target {pct(t[key])})" if key in t else ""
            lines.append(f"  {label}: {pct(b.get(key))} -> {pct(a.get(key))}{target}")
    if profile.gate_threshold is not None:
        lines.append(f"  gate distance cut: {profile.gate_threshold:.3f}")
    return lines
