"""Fitting the input gate of a model: features of its training films, the threshold on its
validation films, the statistics written beside its weights.

Uses the model's own inference path (decode, preprocess, forward) so the features it is fitted on
are exactly the ones it will see in ``predict`` and the app: it sits above :mod:`chestview.engine.inference`
(which uses only the gate's lower modules, :mod:`.check` and :mod:`.store`), so the package does not
import it; ``from chestview.engine.gate.fit import fit_input_gate``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from chestview.engine.data import open_dataset, split_dataset
from chestview.engine.errors import ChestviewError
from chestview.engine.gate.check import input_check
from chestview.engine.gate.drift import reference_quantiles
from chestview.engine.gate.kind_fit import fit_kinds
from chestview.engine.gate.stats import GateStats, choose_threshold, fit_ppca
from chestview.engine.gate.store import save_gate
from chestview.engine.inference import Predictor
from chestview.engine.pipeline import PreparedImages, prefetched_batches
from chestview.engine.train.data import select_labels
from chestview.engine.zoo import load_model

log = logging.getLogger(__name__)

DEFAULT_COMPONENTS = 16
DEFAULT_MAX_FLAG_RATE = 0.02


def extract_features(
    predictor: Any,
    paths: Sequence[str],
    *,
    batch_size: int = 16,
    num_workers: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
    abnormality: list[float] | None = None,
    checks_flag: list[bool] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """(N, K) pooled trunk features of the readable images among ``paths`` and those paths. With
    ``abnormality`` (a list), each kept image's calibrated abnormality score is appended to it (NaN
    for a model without that output); with ``checks_flag``, whether the pixel and header checks alone
    flag it."""
    prepared = PreparedImages(list(paths), predictor.card.preprocessing, "none")
    n_labels = len(predictor.card.labels)
    feats: list[np.ndarray] = []
    kept: list[str] = []
    done = 0
    for batch in prefetched_batches(prepared, batch_size, num_workers):
        good = [item for item in batch if item["error"] is None]
        for item in batch:
            if item["error"] is not None:
                log.warning("%s", item["error"])
        if good:
            probs, _, f = predictor.forward_with_features(torch.cat([item["x"] for item in good]))
            if f is None:
                raise ChestviewError(f"{predictor.card.id}: the architecture has no trunk features to gate on")
            feats.append(f.numpy())
            kept += [item["path"] for item in good]
            if checks_flag is not None:
                checks_flag += [input_check(item["image"], None, None, gray=item["check_gray"]).flagged for item in good]
            if abnormality is not None:
                p = predictor.calibrate(probs.numpy())
                abnormality += [float(v) for v in p[:, n_labels]] if p.shape[1] > n_labels else [np.nan] * len(good)
        done += len(batch)
        if on_progress is not None:
            on_progress(done, len(paths))
    if not feats:
        return np.zeros((0, 0), np.float32), []
    return np.concatenate(feats), kept


@dataclass(frozen=True)
class GateFit:
    stats: GateStats
    train_images: int
    val_images: int
    val_flagged: int
    seconds: float
    max_flag_rate: float = DEFAULT_MAX_FLAG_RATE
    kind: Any = None  # a kind_fit.KindFit, when the kind classifier was fitted
    reference: dict[str, Any] | None = None  # the validation films' quantiles (drift.reference_quantiles)

    def summary(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.kind is not None:
            extra["kind"] = self.kind.summary()
        if self.reference is not None:
            extra["reference"] = self.reference
        return {
            "threshold": round(self.stats.threshold, 4),
            "components": int(self.stats.components.shape[0]),
            "feature_dim": self.stats.dim,
            "train_images": self.train_images,
            "val_images": self.val_images,
            "val_flagged": self.val_flagged,
            "val_flagged_rate": round(self.val_flagged / max(self.val_images, 1), 4),
            "max_flag_rate": self.max_flag_rate,
            **extra,
        }


def fit_gate_features(
    train: np.ndarray,
    val: np.ndarray,
    *,
    components: int = DEFAULT_COMPONENTS,
    max_flag_rate: float = DEFAULT_MAX_FLAG_RATE,
) -> tuple[GateStats, int]:
    """Statistics from training features and the threshold from validation features; returns them
    and how many validation films they flag."""
    stats = fit_ppca(train, components)
    if len(val) == 0:
        raise ChestviewError("the validation split is empty: the input gate needs validation films for its threshold")
    val_scores = stats.score(val)
    stats = replace(stats, threshold=choose_threshold(val_scores, max_flag_rate))
    return stats, int(np.sum(val_scores > stats.threshold))


def split_for_card(card: Any, data: str) -> tuple[Any, dict[str, list[int]]]:
    """The dataset at ``data`` and the split the trainer made of it for this card: the same reader
    options, label selection, fractions and seed as recorded in the card's provenance."""
    prov = card.provenance or {}
    config = prov.get("config") or {}
    ds = open_dataset(data, **dict(prov.get("data_options") or {}))
    labels = config.get("labels")
    ds = select_labels(ds, tuple(labels) if labels else None)
    fractions = tuple(prov.get("split_fractions") or config.get("split") or (0.7, 0.1, 0.2))
    seed = int(prov.get("split_seed", config.get("split_seed", 0)))
    return ds, split_dataset(ds, fractions=fractions, seed=seed)


def fit_input_gate(
    model: str | Path,
    data: Any,
    split: dict[str, list[int]] | None = None,
    *,
    device: str = "cpu",
    batch_size: int = 16,
    num_workers: int = 2,
    components: int = DEFAULT_COMPONENTS,
    max_flag_rate: float = DEFAULT_MAX_FLAG_RATE,
    max_train_images: int = 400,
    seed: int = 0,
    kinds: bool = True,
    kind_films: int = 80,
    kind_val_films: int = 40,
    holdout: float = 0.3,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> GateFit:
    """Fit the input gate of the model at ``model`` (zoo id or directory) and save it there.

    ``data``: a dataset spec (``nih:PATH``; then the split is the trainer's, from the card) or a
    ``LabeledDataset`` together with its ``split`` (what the training run's finalize step has).
    The statistics come from at most ``max_train_images`` training films (a seeded sample: 400
    describe 16 directions well and keep a fit near a minute on two cores), the threshold from
    every validation film. With ``kinds``, the kind classifier (:mod:`.kind_fit`) is fitted on
    processed variants and near-misses of ``kind_films`` training films and on photographs and slices,
    measured on those of ``kind_val_films`` validation films and the held-out (``holdout``) sources,
    and the distance's cut moves to the processed films. The validation films' distances and
    abnormality scores are stored as the drift reference. Returns the fit; the card in the model
    directory gains ``input_gate``.
    """
    t0 = time.perf_counter()
    loaded = load_model(model)
    if isinstance(data, str):
        ds, split = split_for_card(loaded.card, data)
    else:
        ds = data
        if split is None:
            raise ChestviewError("fit_input_gate: a dataset object needs its split")
    train_idx, val_idx = list(split.get("train", [])), list(split.get("val", []))
    if len(train_idx) < 3 or not val_idx:
        raise ChestviewError(
            f"{ds.name}: the input gate needs training and validation films (got {len(train_idx)} and {len(val_idx)})")
    if len(train_idx) > max_train_images:
        rng = np.random.default_rng(seed)
        train_idx = sorted(rng.choice(train_idx, size=max_train_images, replace=False).tolist())
    # Fitted on the reference backend; the graph backends reproduce its features (checked on export).
    predictor = Predictor(loaded, device=device, boxes="none", backend="torch")

    def progress(stage: str) -> Callable[[int, int], None] | None:
        return None if on_progress is None else (lambda done, total: on_progress(stage, done, total))

    common = dict(batch_size=batch_size, num_workers=num_workers)
    train, _ = extract_features(predictor, [ds.samples[i].path for i in train_idx], on_progress=progress("train"), **common)
    val_abnormality: list[float] = []
    val, _ = extract_features(predictor, [ds.samples[i].path for i in val_idx], on_progress=progress("val"),
                              abnormality=val_abnormality, **common)
    if len(train) < 3 or len(val) == 0:
        raise ChestviewError(f"{ds.name}: too few readable training or validation images for the input gate")
    stats, flagged = fit_gate_features(train, val, components=components, max_flag_rate=max_flag_rate)
    val_scores = stats.score(val)
    kind_fit = None
    if kinds:
        rng = np.random.default_rng(seed + 1)
        pick = lambda idx, n: [ds.samples[i].path for i in sorted(rng.choice(idx, size=min(n, len(idx)), replace=False))]  # noqa: E731
        kind_fit = fit_kinds(
            lambda paths, **kw: extract_features(predictor, paths, on_progress=progress("kinds"), **common, **kw),
            stats, val_scores, pick(train_idx, kind_films), pick(val_idx, kind_val_films),
            max_flag_rate=max_flag_rate, holdout=holdout, seed=seed,
            on_stage=lambda stage: log.info("input gate: %s", stage))
        stats = replace(stats, threshold=kind_fit.distance_threshold, kind=kind_fit.classifier)
        flagged = int(np.sum((val_scores > stats.threshold) | (stats.kind.chest_probability(val) < stats.kind.cutoff)))

    reference = reference_quantiles(val_scores, val_abnormality)
    fit = GateFit(stats, len(train), len(val), flagged, time.perf_counter() - t0, max_flag_rate, kind_fit, reference)
    save_gate(loaded.path, loaded.card, stats, {**fit.summary(), "data": getattr(ds, "name", str(data))})
    log.info("input gate of %s: threshold %.3f, %d/%d validation films flagged, %.0f s",
             loaded.card.id, stats.threshold, flagged, len(val), fit.seconds)
    return fit
