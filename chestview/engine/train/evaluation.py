"""Evaluating a zoo model on a labelled dataset, through the same Predictor as ``chestview predict``.

Probabilities, heatmaps and boxes all come from :class:`chestview.engine.inference.Predictor` on
the image files (the weights as saved, the card's preprocessing, the same box code), so the numbers
describe what users get. Thresholds are only ever derived from a validation split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from chestview.engine.data import open_dataset, split_dataset
from chestview.engine.data.files import image_size
from chestview.engine.data.nih import RELEASE_SIZE, read_boxes
from chestview.engine.data.recorded_split import check_split, match_recorded_split, read_split
from chestview.engine.entry_files import read_entry_file
from chestview.engine.errors import ChestviewError, DatasetError, ImageLoadError
from chestview.engine.evaluate.box_threshold import choose_box_threshold, describe_choice
from chestview.engine.evaluate.calibration import apply_platt, fit_platt
from chestview.engine.evaluate.localization import (
    PRIOR_BOXES, box_area_summary, localization_table, mean_prior_boxes, prior_boxes,
)
from chestview.engine.evaluate.metrics import operating_thresholds, per_label_auroc
from chestview.engine.evaluate.operating import ABNORMALITY_SENSITIVITY, finding_thresholds, sensitivity_threshold
from chestview.engine.evaluate.probe import INTENSITY_VARIANTS, apply_variant, probe_result
from chestview.engine.evaluate.reader import abnormal_targets, reader_metrics
from chestview.engine.evaluate.report import write_report
from chestview.engine.evaluate.targets import verdicts
from chestview.engine.explain.prior import EXPONENTS, PRIOR_FILE, fuse_maps, load_priors, prior_maps, save_priors
from chestview.engine.inference import Predictor
from chestview.engine.io.loader import load_image
from chestview.engine.results import Box
from chestview.engine.train.events import EvalProgress, EventSink, Log, StopCheck, emit
from chestview.engine.util import sha256_file
from chestview.engine.zoo import find_model, load_model
from chestview.engine.zoo.card import ABNORMALITY, ModelCard
from chestview.engine.zoo.publish import REPORT_FILES

log = logging.getLogger(__name__)
SPLITS = ("test", "val", "train", "all", "unseen")


@dataclass
class SplitPredictions:
    """A model's outputs on some images of a dataset, columns in ``labels`` order."""

    labels: tuple[str, ...]
    indices: list[int]
    paths: list[str]
    probs: np.ndarray  # (N, L)
    targets: np.ndarray  # (N, L), NaN = unknown
    gt_boxes: list[list[tuple[str, Box]]]
    pred_boxes: list[dict[str, list[Box]]]
    image_sizes: list[tuple[int, int]]
    errors: list[str] = field(default_factory=list)
    # label -> uint8 heatmap, kept (with ``keep_heatmaps``) for the images with ground-truth boxes
    heatmaps: list[dict[str, np.ndarray] | None] = field(default_factory=list)
    abnormality: np.ndarray | None = None  # (N,) the model's abnormality probability, when it has one
    groups: list[str | None] = field(default_factory=list)  # each image's collection, when known

    @property
    def has_boxes(self) -> bool:
        return any(self.gt_boxes)


@dataclass
class EvalResult:
    model_id: str
    data: str
    split: str
    n_images: int
    labels: tuple[str, ...]
    auroc: Any  # evaluate.metrics.AurocReport
    localization: Any = None  # {"model", "prior", "swap"}: LocalizationResult, when the images have boxes
    prior_origin: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)  # operating thresholds, from a validation split
    box_threshold: int | None = None  # chosen on a validation split's boxes (when written to the card)
    box_threshold_note: str = ""  # how it came about: chosen, or the default when no box was found
    threshold_rules: dict[str, str] = field(default_factory=dict)  # how each threshold was chosen
    out_dir: Path | None = None
    errors: list[str] = field(default_factory=list)
    cancelled: bool = False
    reader: dict[str, Any] = field(default_factory=dict)  # evaluate.reader.reader_metrics
    split_note: str = ""  # where the split came from and what it holds (shown beside every number)
    boxes: dict[str, Any] = field(default_factory=dict)  # evaluate.localization.box_area_summary
    probe: Any = None  # evaluate.probe.ProbeResult, when asked for

    def metrics_for_card(self) -> dict[str, Any]:
        """The compact numbers a model card carries (full detail stays in report.json)."""
        out: dict[str, Any] = {
            "split": self.split,
            "n_images": self.n_images,
            "mean_auroc": _num(self.auroc.mean_auroc),
            "auroc": {
                r.label: {"auroc": _num(r.auroc), "ci95": [_num(r.ci_low), _num(r.ci_high)], "n_pos": r.n_pos}
                for r in self.auroc.per_label
            },
        }
        if self.localization is not None:
            out["localization"] = _to_json(self.localization)
        if self.reader:
            out["reader"] = {k: v for k, v in self.reader.items()
                             if not k.startswith("reliability") and k != "abnormality_roc"}
        if self.split_note:
            out["split_note"] = self.split_note
        if self.boxes:
            out["boxes"] = dict(self.boxes)
        return out


def _num(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 6)


def _to_json(obj: Any) -> Any:
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if isinstance(obj, dict):
        return {k: _to_json(v) for k, v in obj.items()}
    return obj


# -- pieces -------------------------------------------------------------------------------------
def common_labels(model_labels: Sequence[str], data_labels: Sequence[str]) -> tuple[str, ...]:
    labels = tuple(lbl for lbl in model_labels if lbl in data_labels)
    if not labels:
        raise ChestviewError(
            f"the model's labels ({', '.join(model_labels)}) and the dataset's ({', '.join(data_labels)}) have none in common"
        )
    return labels


def predict_split(
    loaded: Any,
    ds: Any,
    indices: Sequence[int],
    *,
    boxes: bool,
    tta: str = "none",
    heatmap_threshold: int | None = None,
    device: str = "auto",
    backend: str = "auto",
    precision: str = "f32",
    opened: Any = None,
    batch_size: int = 8,
    num_workers: int | None = None,
    keep_heatmaps: bool = False,
    stage: str = "test",
    on_event: EventSink | None = None,
    should_stop: StopCheck | None = None,
) -> SplitPredictions | None:
    """Run the Predictor over ``ds.samples[indices]``; None when cancelled.

    With ``boxes`` every label gets boxes (``boxes="all"``), not only predicted positives:
    localization is scored for the ground-truth label whatever the classifier said (Wang et al.).
    ``heatmap_threshold`` None: the card's box threshold. ``keep_heatmaps`` keeps the heatmaps of
    the images with ground-truth boxes (to choose a box threshold on them). ``opened``: a backend
    already opened (an OpenedBackend), used instead of ``backend`` and ``precision``.
    """
    labels = common_labels(loaded.card.labels, ds.labels)
    data_cols = [list(ds.labels).index(lbl) for lbl in labels]
    predictor = Predictor(
        loaded, device=device, tta=tta, box_threshold=heatmap_threshold, boxes="all" if boxes else "none",
        backend=backend, precision=precision, opened=opened,
    )
    if predictor.backend_note and (predictor.opened.warn or backend != "auto" or precision != "f32"):
        emit(on_event, Log(predictor.backend_note, "warning" if predictor.opened.warn else "info"))
    indices = list(indices)
    paths = [ds.samples[i].path for i in indices]
    probs = np.full((len(indices), len(labels)), np.nan, dtype=np.float64)
    pred_boxes: list[dict[str, list[Box]]] = [{} for _ in indices]
    heatmaps: list[dict[str, np.ndarray] | None] = [None for _ in indices]
    abnormality = np.full(len(indices), np.nan) if loaded.card.has_abnormality else None
    keep = set(labels)
    gt = [[(lbl, b) for lbl, b in ds.samples[i].boxes if lbl in keep] for i in indices]
    sizes: list[tuple[int, int]] = [(0, 0) for _ in indices]
    errors: list[str] = []

    def progress(p: Any) -> None:
        emit(on_event, EvalProgress(stage, p.done, p.total))

    results = predictor.predict_paths(
        paths, batch_size=batch_size, num_workers=num_workers, on_progress=progress, should_stop=should_stop
    )
    n = 0
    for k, result in enumerate(results):
        n += 1
        if not result.ok:
            errors.append(result.error or f"{paths[k]}: failed")
            continue
        sizes[k] = (result.image_width, result.image_height)
        by_label = {f.label: f for f in result.findings}
        for j, lbl in enumerate(labels):
            finding = by_label[lbl]
            probs[k, j] = finding.probability
            if boxes:
                pred_boxes[k][lbl] = list(finding.boxes)
        if keep_heatmaps and gt[k]:
            heatmaps[k] = {lbl: result.heatmaps[lbl] for lbl in labels}
        if abnormality is not None and result.abnormality is not None:
            abnormality[k] = result.abnormality.probability
    if n < len(indices):
        return None
    targets = np.stack([np.asarray(ds.samples[i].targets, dtype=np.float64)[data_cols] for i in indices]) \
        if indices else np.zeros((0, len(labels)))
    for e in errors:
        emit(on_event, Log(e, "warning"))
    return SplitPredictions(labels, indices, paths, probs, targets, gt, pred_boxes, sizes, errors, heatmaps,
                            abnormality, [ds.samples[i].group for i in indices])


def fit_operating_point(preds: SplitPredictions, card: Any) -> tuple[dict[str, Any], dict[str, str], SplitPredictions]:
    """From a validation split predicted WITHOUT calibration: per-output Platt scaling, one finding
    threshold for every label on the calibrated scale (from the validation normals), and the abnormality threshold at a
    stated sensitivity (:mod:`chestview.engine.evaluate.operating`). Returns the card updates
    ({"calibration", "thresholds", "abnormality"}), the rule per threshold, and ``preds`` with
    calibrated probabilities."""

    ok = ~np.isnan(preds.probs).any(axis=1)
    probs = preds.probs.copy()
    params: dict[str, list[float]] = {}
    for c, lbl in enumerate(preds.labels):
        y = preds.targets[ok, c]
        fit = fit_platt(probs[ok, c], y)
        if fit is not None:
            params[lbl] = [round(fit[0], 6), round(fit[1], 6)]
            probs[:, c] = apply_platt(probs[:, c], *fit)
    ab_y = abnormal_targets(preds.targets)
    abnormality = None if preds.abnormality is None else preds.abnormality.copy()
    if abnormality is not None:
        fit = fit_platt(abnormality[ok], ab_y[ok])
        if fit is not None:
            params[ABNORMALITY] = [round(fit[0], 6), round(fit[1], 6)]
            abnormality = apply_platt(abnormality, *fit)
    normal = ok & (ab_y == 0)
    if normal.sum() < 10:
        raise ChestviewError(f"the validation split has {int(normal.sum())} films with no finding; the threshold "
                             "rule needs at least 10")
    shown = [lbl for lbl in preds.labels if lbl not in set(card.unreliable_labels)]
    ft = finding_thresholds(probs[normal], preds.labels, counted=shown)
    rules = {lbl: ft.rule for lbl in preds.labels}
    updates: dict[str, Any] = {
        "calibration": {"method": "platt", "fitted_on": f"validation split ({int(ok.sum())} images)",
                        "params": params},
        # rounded away from the side that would break the validation target
        "thresholds": {lbl: min(math.ceil(v * 1e6) / 1e6, 1.0) for lbl, v in ft.thresholds.items()},
    }
    if abnormality is not None:
        sick = ok & (ab_y == 1)
        t = sensitivity_threshold(abnormality[sick], ABNORMALITY_SENSITIVITY)
        rule = (f"sensitivity {ABNORMALITY_SENSITIVITY:.0%} on the {int(sick.sum())} validation films with a finding "
                f"(specificity there {float(np.mean(abnormality[normal] < t)):.1%})")
        updates["abnormality"] = {"threshold": math.floor(t * 1e6) / 1e6, "rule": rule}
        rules[ABNORMALITY] = rule
    calibrated = dataclasses.replace(preds, probs=probs, abnormality=abnormality)
    return updates, rules, calibrated


def choose_operating_point(val: SplitPredictions, card: Any, train_prev: dict[str, float]
                           ) -> tuple[dict[str, Any], dict[str, str]]:
    """The card updates from a validation split predicted without calibration: the specificity rule
    of :func:`fit_operating_point` when the split has normal films, else (no normals to measure
    specificity on) the older rule, Youden's J / training prevalence, on uncalibrated scores."""
    try:
        updates, rules, _ = fit_operating_point(val, card)
        return updates, rules
    except ChestviewError as exc:
        log.warning("%s; falling back to Youden's J thresholds without calibration", exc)
    thresholds, rules = operating_thresholds_from(val, train_prev)
    return {"calibration": {}, "thresholds": thresholds}, rules


def reader_metrics_of(preds: SplitPredictions, card: Any, *, n_boot: int = 1000) -> dict[str, Any]:
    return reader_metrics(preds.targets, preds.probs, preds.labels, dict(card.thresholds),
                          unreliable=card.unreliable_labels, abnormality=preds.abnormality,
                          abnormality_threshold=card.abnormality.get("threshold") if card.has_abnormality else None,
                          groups=preds.groups if any(g is not None for g in preds.groups) else None,
                          calibration=card.calibration, n_boot=n_boot)


def operating_thresholds_from(preds: SplitPredictions, train_prevalence: dict[str, float] | None
                              ) -> tuple[dict[str, float], dict[str, str]]:
    """Operating thresholds on ``preds`` (a validation split) and the rule behind each: Youden's J
    where the split has enough positives, else the training prevalence (see
    :func:`chestview.engine.evaluate.metrics.operating_thresholds`)."""
    ok = ~np.isnan(preds.probs).any(axis=1)
    return operating_thresholds(preds.targets[ok], preds.probs[ok], preds.labels, train_prevalence=train_prevalence)


def train_prevalence(ds: Any, indices: Sequence[int]) -> dict[str, float]:
    """Share of positives per label among the known labels of ``ds.samples[indices]``."""
    if not indices:
        return {}
    t = np.stack([np.asarray(ds.samples[i].targets, dtype=np.float64) for i in indices])
    with np.errstate(invalid="ignore"):
        prev = np.nanmean(t, axis=0)
    return {lbl: float(v) for lbl, v in zip(ds.labels, prev) if np.isfinite(v)}


def box_threshold_from(preds: SplitPredictions) -> Any:
    """The box threshold (a BoxThresholdChoice) that localizes best on ``preds`` (a validation split
    predicted with ``keep_heatmaps``)."""
    rows = [k for k, h in enumerate(preds.heatmaps) if h is not None]
    return choose_box_threshold([preds.heatmaps[k] for k in rows], [preds.gt_boxes[k] for k in rows],
                                [preds.image_sizes[k] for k in rows], preds.labels)


def box_fusion_from(preds: SplitPredictions, priors: dict[str, np.ndarray]) -> tuple[float, Any, dict[str, float]]:
    """(prior exponent, BoxThresholdChoice, best score per exponent): the fusion of the model's maps
    with the training-box priors (:mod:`chestview.engine.explain.prior`) and the box threshold that
    localize ``preds`` (a validation split predicted with ``keep_heatmaps``) best. Ties go to the
    smaller exponent: the model's own map unless the prior clearly helps."""

    rows = [k for k, h in enumerate(preds.heatmaps) if h is not None]
    gt = [preds.gt_boxes[k] for k in rows]
    sizes = [preds.image_sizes[k] for k in rows]
    best: tuple[float, Any] | None = None
    scores: dict[str, float] = {}
    for e in EXPONENTS:
        maps = [fuse_maps(preds.heatmaps[k], priors, e) for k in rows]
        choice = choose_box_threshold(maps, gt, sizes, preds.labels)
        score = max(choice.scores.values()) if choice.scores else float("nan")
        scores[f"{e:g}"] = round(score, 4)
        if best is None or score > max(best[1].scores.values()) + 1e-9:
            best = (e, choice)
    assert best is not None
    return best[0], best[1], scores


def write_box_prior(directory: Path, ds: Any, train_indices: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """The per-label priors of the training boxes, into ``directory``; their card entry (no exponent yet)."""
    priors = prior_maps(boxes_with_sizes(ds, train_indices), labels)
    sha = save_priors(directory / PRIOR_FILE, priors)
    return {"file": PRIOR_FILE, "sha256": sha, "labels": sorted(priors)}


def choose_boxes(val: SplitPredictions, ds: Any, train_indices: Sequence[int], directory: Path, labels: Sequence[str]
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Card updates ({"box_threshold", "box_prior"}) and provenance entries for how boxes are cut,
    chosen on the validation split's boxes: the fusion exponent with the training-box priors (0 =
    the model's map alone; the prior file is then not kept) and the box threshold."""
    has_train_boxes = any(ds.samples[i].boxes for i in train_indices)
    if not has_train_boxes:
        choice = box_threshold_from(val)
        return {"box_threshold": choice.threshold, "box_prior": {}}, {"box_threshold_choice": choice.to_json()}
    entry = write_box_prior(directory, ds, train_indices, labels)
    exponent, choice, by_exponent = box_fusion_from(val, load_priors(directory / entry["file"]))
    prov = {"box_threshold_choice": choice.to_json(),
            "box_prior_choice": {"exponent": exponent, "score_by_exponent": by_exponent,
                                 "priors_from": f"training split boxes ({len(train_indices)} images)"}}
    if exponent <= 0:
        (directory / entry["file"]).unlink(missing_ok=True)
        return {"box_threshold": choice.threshold, "box_prior": {}}, prov
    return {"box_threshold": choice.threshold, "box_prior": {**entry, "exponent": exponent}}, prov


def auroc_of(preds: SplitPredictions, *, n_boot: int = 1000, seed: int = 0) -> Any:
    ok = ~np.isnan(preds.probs).any(axis=1)  # unreadable images are reported, not scored
    return per_label_auroc(preds.targets[ok], preds.probs[ok], labels=preds.labels, n_boot=n_boot, seed=seed)


def localization_of(preds: SplitPredictions,
                    prior_source: Sequence[tuple[Sequence[tuple[str, Box]], tuple[int, int]]] | None,
                    *, prior_k: int | None = None) -> tuple[Any, str]:
    """{"model", "prior", "swap", "prior_mean"} localization results on the images that carry boxes,
    and where the priors came from.

    ``prior_source``: (boxes, image size) of the TRAINING images. The prior draws up to ``prior_k``
    boxes per label (default: the Predictor's box budget) picked from them; ``prior_mean`` one mean
    box. Without any (a dataset evaluated whole), the priors come from the evaluated images
    themselves: an optimistic baseline, said so in the report.
    """
    k = PRIOR_BOXES if prior_k is None else prior_k
    with_boxes = [i for i, g in enumerate(preds.gt_boxes) if g]
    gt = [preds.gt_boxes[i] for i in with_boxes]
    pred = [preds.pred_boxes[i] for i in with_boxes]
    sizes = [preds.image_sizes[i] for i in with_boxes]
    source = [(b, size) for b, size in (prior_source or []) if b]
    origin = "training split"
    if not source:
        source, origin = list(zip(gt, sizes)), "evaluated images (optimistic)"
    boxes, source_sizes = [b for b, _ in source], [size for _, size in source]
    prior = prior_boxes(boxes, source_sizes, k=k)
    origin += f"; prior = up to {k} greedy training boxes per label, prior_mean = the mean box"
    return localization_table(pred, gt, prior, image_sizes=sizes, prior_mean=mean_prior_boxes(boxes, source_sizes),
                              labels=preds.labels), origin


def boxes_with_sizes(ds: Any, indices: Sequence[int]) -> list[tuple[Sequence[tuple[str, Box]], tuple[int, int]]]:
    """(boxes, (width, height)) of the images among ``indices`` that carry boxes."""
    out = []
    for i in indices:
        s = ds.samples[i]
        if s.boxes:
            out.append((s.boxes, s.image_size or image_size(s.path)))
    return out


def attach_nih_boxes(ds: Any, boxes_csv: str | Path) -> Any:
    """The dataset with the boxes of an NIH ``BBox_List_2017.csv`` (release 1024 px space) added,
    scaled to each image file as stored."""

    path = Path(boxes_csv)
    if not path.is_file():
        raise DatasetError(f"{path}: no such box list")
    table = read_boxes(path)
    samples = []
    for s in ds.samples:
        rows = table.get(Path(s.path).name)
        if not rows:
            samples.append(s)
            continue
        size = s.image_size or image_size(s.path)
        sx, sy = size[0] / RELEASE_SIZE, size[1] / RELEASE_SIZE
        new = tuple((lbl, Box(x * sx, y * sy, w * sx, h * sy)) for lbl, x, y, w, h in rows if lbl in ds.labels)
        samples.append(dataclasses.replace(s, boxes=new, image_size=size))
    return dataclasses.replace(ds, samples=samples)


def case_call_scores(preds: SplitPredictions, card: Any) -> tuple[np.ndarray, float, str]:
    """The score each film's case call is made on, its threshold and its name: the abnormality output
    when the model has one, else the top finding's calibrated probability at the lowest operating point."""
    if preds.abnormality is not None and card.has_abnormality:
        return np.asarray(preds.abnormality, float), float(card.abnormality.get("threshold", 0.5)), "abnormality"
    thresholds = [float(card.thresholds.get(lbl, 0.5)) for lbl in preds.labels]
    return np.nanmax(preds.probs, axis=1), min(thresholds), "top finding"


def intensity_probe(loaded: Any, ds: Any, indices: Sequence[int], *, split: str, base: SplitPredictions | None = None,
                    **common: Any) -> Any:
    """The shortcut probe (evaluate.probe) on ``ds.samples[indices]``: each film written again as an
    8-bit PNG under each intensity variant, re-scored through the same Predictor. None if cancelled."""
    indices = list(indices)
    folder = Path(tempfile.mkdtemp(prefix="chestview-probe-"))
    try:
        films: dict[str, list[Any]] = {name: [] for name in ("as stored", *INTENSITY_VARIANTS)}
        for k, i in enumerate(indices):
            sample = ds.samples[i]
            try:
                u8 = np.round(load_image(sample.path).normalised() * 255.0).astype(np.uint8)
            except ImageLoadError as exc:
                emit(common.get("on_event"), Log(f"probe: {exc}", "warning"))
                u8 = None
            for v, name in enumerate(films):
                if u8 is None:
                    films[name].append(dataclasses.replace(sample, path=str(folder / "missing.png")))
                    continue
                path = folder / f"{k:05d}_{v}.png"
                Image.fromarray(u8 if name == "as stored" else apply_variant(name, u8)).save(path)
                films[name].append(dataclasses.replace(sample, path=str(path), boxes=()))
        scores: dict[str, np.ndarray] = {}
        threshold, score_name = 0.5, ""
        for name, samples in films.items():
            variant_ds = dataclasses.replace(ds, samples=samples)
            preds = predict_split(loaded, variant_ds, list(range(len(samples))), boxes=False,
                                  stage=f"probe {name}", **common)
            if preds is None:
                return None
            scores[name], threshold, score_name = case_call_scores(preds, loaded.card)
        base_scores = scores.pop("as stored")
        return probe_result(split, score_name, threshold, base_scores, scores)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class EvalSplit:
    """The images of each split for one evaluation, and how they were found."""

    parts: dict[str, list[int]]
    recorded: bool  # matched to the model's recorded split lists by content (cannot leak)
    note: str
    missing_test: int = 0


def recorded_split_document(directory: Path, card: Any) -> dict[str, Any] | None:
    """The model's recorded split (split.json), checked against the SHA-256 its card names; None for a
    card that records none (models trained before chestview recorded splits)."""
    record = (card.provenance or {}).get("split_file")
    if not record:
        return None
    name = record.get("file", "")
    data = read_entry_file(directory, name, "split record")  # inside the entry, regular, size-checked
    path = directory / str(name)
    if hashlib.sha256(data).hexdigest() != record.get("sha256"):
        raise ChestviewError(f"{path}: SHA-256 does not match the card (the split record was changed)")
    try:
        return check_split(path, json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChestviewError(f"{path}: cannot read the recorded split ({exc})") from None


def recorded_match(ds: Any, card: Any, directory: Path) -> Any:
    """The folder matched to the model's recorded split (a SplitMatch), or None when the model records
    no lists or none of the folder's images is in them (another data set: a split is made afresh)."""
    document = recorded_split_document(directory, card)
    if document is None:
        return None
    match = match_recorded_split(ds, document)
    return match if any(match.indices.values()) else None


def resolve_split(ds: Any, card: Any, split: str, match: Any, *, recorded: bool, data_spec: str,
                  fractions: Sequence[float] | None, seed: int | None) -> EvalSplit:
    """Which images are ``split``: the model's recorded lists when the folder holds any of them
    (``match``, whatever the folder's spelling, growth or renames), else a fresh seeded split: said to be
    unverifiable for a model without lists, and wholly unseen for a folder the model never met.

    Refused (exit 2): test or validation metrics when a test image is also among the training or
    validation images; split overrides against a recorded split; ``unseen`` without a record."""
    if split not in SPLITS:
        raise ChestviewError(f"unknown split {split!r} ({', '.join(SPLITS)})")
    everything = list(range(len(ds)))
    if match is None:
        if split == "unseen" and not recorded:
            raise ChestviewError(f"{card.id}: the model records no split lists, so no image can be called unseen")
        prov = card.provenance or {}
        same = prov.get("data") == data_spec
        fr = fractions or (prov.get("split_fractions") if same else None) or (0.7, 0.1, 0.2)
        sd = seed if seed is not None else (int(prov.get("split_seed", 0)) if same else 0)
        parts = split_indices(ds, "all", fr, sd)
        if recorded:
            parts["unseen"] = everything
            note = (f"none of these {len(everything)} images is in {card.id}'s split lists: the model never saw "
                    f"them; split made afresh (fractions {list(fr)}, seed {sd})")
        else:
            note = (f"split made afresh (fractions {list(fr)}, seed {sd}): {card.id} records no split lists, so "
                    "nothing shows these images were held out from its training")
        return EvalSplit(parts, False, note)
    if fractions is not None or seed is not None:
        raise ChestviewError(f"{card.id} records its split as images; --split-fractions/--split-seed would make "
                             "another split (and could put its training images in 'test')")
    if match.leaked and split in ("test", "val"):
        raise ChestviewError(f"{card.id}: refusing {split} metrics: {len(match.leaked)} test image(s) are also "
                             f"among its training or validation images (e.g. {match.leaked[0]})")
    parts = {**match.indices, "unseen": list(match.unseen), "all": everything}
    note = f"the model's recorded split, matched by content: {match.summary()}"
    if split == "train":
        note = "the model's own TRAINING images: not a held-out measure; " + note
    elif split == "all":
        seen = len(match.indices["train"]) + len(match.indices["val"])
        note = (f"ALL {len(everything)} images, {seen} of them training or validation images the model learned "
                "or was tuned on: not a held-out measure; " + note)
    elif split == "unseen":
        note = f"{len(match.unseen)} images of this folder in none of the model's split lists (never seen); " + note
    return EvalSplit(parts, True, note, missing_test=len(match.missing.get("test", [])))


def split_indices(ds: Any, split: str, fractions: Sequence[float], seed: int) -> dict[str, list[int]]:
    if split not in SPLITS:
        raise ChestviewError(f"unknown split {split!r} ({', '.join(SPLITS)})")
    parts = {k: list(v) for k, v in split_dataset(ds, fractions=tuple(fractions), seed=seed).items()}
    parts["all"] = list(range(len(ds)))
    return parts


def write_eval_report(out_dir: str | Path, result: EvalResult, extra: dict[str, Any] | None = None) -> Path:
    """``out_dir``/report.json + report.md (+ ROC images) through the evaluate module's writer."""
    out_dir = Path(out_dir)
    meta = {"model": result.model_id, "data": result.data, "split": result.split, "n_images": result.n_images,
            "errors": result.errors, **(extra or {})}
    if result.thresholds:
        meta["operating_thresholds_from_val"] = result.thresholds
    if result.localization is not None:
        meta["localization_prior_from"] = result.prior_origin
    write_report(out_dir, model_id=result.model_id, labels=result.labels, auroc_report=result.auroc,
                 localization=result.localization, meta=meta, reader=result.reader or None)
    return out_dir


CARD_BOOTSTRAP = 1000  # resamples behind a card's intervals (what finalize_run uses)


def update_card_problem(card: Any, data_spec: str, *, split: str, boxes_csv: Any, data_options: dict[str, Any] | None,
                        fractions: Sequence[float], seed: int, tta: str, heatmap_threshold: int | None,
                        n_boot: int, recorded: bool = False, overrides: bool = False) -> str | None:
    """Why a fresh evaluation may NOT replace ``card``'s test metrics, or None when it may: only the
    held-out test split -- the card's recorded test images (any spelling of the folder), or for a card
    without lists the very data (spec, options, split fractions and seed) it records -- measured as
    training measures it."""
    prov = card.provenance
    if split == "unseen" and not recorded:
        return "only a card with a recorded split knows which images it never saw"
    if split not in ("test", "unseen"):
        return f"only test-split (or unseen-split) numbers go into a card, not {split}"
    if recorded:
        if boxes_csv:
            return "--boxes changes the ground truth the card's numbers are on"
        if overrides:
            return "the card records its split as images; split fractions and seed do not apply"
        card_threshold = card.box_threshold
        if tta != "none" or heatmap_threshold not in (None, card_threshold) or n_boot != CARD_BOOTSTRAP:
            return (f"a card's numbers are measured with --tta none, the card's box threshold ({card_threshold}) "
                    f"and --bootstrap {CARD_BOOTSTRAP}")
        return None
    if prov.get("data") != data_spec:
        return f"the card's numbers are on {prov.get('data')!r}, not {data_spec!r}"
    if boxes_csv:
        return "--boxes changes the ground truth the card's numbers are on"
    norm = lambda d: {str(k): str(v) for k, v in (d or {}).items()}  # noqa: E731
    if norm(data_options) != norm(prov.get("data_options")):
        return f"data options {norm(data_options)} differ from the card's {norm(prov.get('data_options'))}"
    if "split_fractions" not in prov or "split_seed" not in prov:
        return "the card records no split fractions and seed"
    if [round(float(f), 9) for f in fractions] != [round(float(f), 9) for f in prov["split_fractions"]] \
            or int(seed) != int(prov["split_seed"]):
        return (f"split {list(fractions)} seed {seed} is not the card's "
                f"{list(prov['split_fractions'])} seed {prov['split_seed']}")
    card_threshold = card.box_threshold
    if tta != "none" or heatmap_threshold not in (None, card_threshold) or n_boot != CARD_BOOTSTRAP:
        return (f"a card's numbers are measured with --tta none, the card's box threshold ({card_threshold}) and "
                f"--bootstrap {CARD_BOOTSTRAP}")
    return None


def write_card_test_metrics(directory: Path, result: EvalResult, extra: dict[str, Any]) -> Path:
    """``result`` (the test split) into the card in ``directory``: metrics["test"] replaced, everything
    else (history, thresholds, weights and their SHA-256) kept; the report beside it in eval/ (the
    files a published entry ships). Each file is replaced atomically, the card last."""
    import os
    import shutil
    import tempfile


    if result.split not in ("test", "unseen") or result.cancelled:
        raise ChestviewError("only a complete test-split (or unseen-split) evaluation goes into a card")
    if result.split == "unseen":  # an extra held-out measure beside the test split, its report kept apart
        card = ModelCard.load(directory)
        write_eval_report(directory / "eval" / "unseen", result, {**extra, "provenance": card.provenance})
        card.with_updates(metrics={**card.metrics, "unseen": result.metrics_for_card()}).save(directory)
        return directory
    card = ModelCard.load(directory)  # as on disk now (write_thresholds may just have changed it)
    eval_dir = directory / "eval"
    eval_dir.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".eval-", dir=directory))
    try:
        write_eval_report(staging, result, {**extra, "provenance": card.provenance})
        for name in REPORT_FILES:
            if (staging / name).is_file():
                os.replace(staging / name, eval_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    test = result.metrics_for_card()
    metrics = dict(card.metrics)
    if result.probe is not None:
        metrics["probe"] = result.probe.to_json()
    test["targets"] = verdicts(test, metrics.get("probe"))  # what was aimed at, beside what was measured
    card.with_updates(metrics={**metrics, "test": test}).save(directory)
    return directory


# -- the public entry point ---------------------------------------------------------------------
def evaluate(
    model: str | Path,
    data_spec: str,
    *,
    split: str = "test",
    boxes_csv: str | Path | None = None,
    tta: str = "none",
    out_dir: str | Path | None = None,
    heatmap_threshold: int | None = None,
    device: str = "auto",
    backend: str = "auto",
    precision: str = "f32",
    data_options: dict[str, Any] | None = None,
    split_fractions: Sequence[float] | None = None,
    split_seed: int | None = None,
    n_boot: int = 1000,
    write_thresholds: bool = False,
    update_card: bool = False,
    probe: bool = False,
    batch_size: int = 8,
    num_workers: int | None = None,
    on_event: EventSink | None = None,
    should_stop: StopCheck | None = None,
) -> EvalResult:
    """AUROC with bootstrap intervals and ROC points, and (when the images have boxes) the
    localization table with its prior and swap controls, for ``model`` on ``split`` of ``data_spec``.

    The split is the training split when the dataset is the one the card was trained on (its
    provenance records fractions and seed), so "test" really is held out. ``write_thresholds``
    computes operating thresholds (Youden's J; the training prevalence for labels with few
    validation positives) and (where it has boxes) the box threshold on the VALIDATION split
    and writes them into the card (atomically) before ``split`` is measured with them.
    ``heatmap_threshold`` None: the card's box threshold.
    ``update_card`` replaces the card's test metrics and its eval/ report with these numbers; refused
    (before any work) unless this is the card's own test split (:func:`update_card_problem`).
    """

    if precision != "f32" and (update_card or write_thresholds):
        # A card's numbers describe the exact model; reduced precision is judged against them.
        raise ChestviewError(f"--update-card and --write-thresholds measure at f32, not {precision}")
    loaded = load_model(model, device="cpu")
    card = loaded.card
    prov = card.provenance
    same_data = prov.get("data") == data_spec
    if not data_options and same_data:
        data_options = dict(prov.get("data_options") or {})  # e.g. the collections the card's split used
    fractions = split_fractions or (prov.get("split_fractions") if same_data else None) or (0.7, 0.1, 0.2)
    seed = split_seed if split_seed is not None else (int(prov.get("split_seed", 0)) if same_data else 0)
    ds = open_dataset(data_spec, **(data_options or {}))
    if boxes_csv:
        ds = attach_nih_boxes(ds, boxes_csv)
    directory = find_model(model)
    match = recorded_match(ds, card, directory)
    if update_card:
        problem = update_card_problem(card, data_spec, split=split, boxes_csv=boxes_csv, data_options=data_options,
                                      fractions=fractions, seed=seed, tta=tta, heatmap_threshold=heatmap_threshold,
                                      n_boot=n_boot, recorded=match is not None,
                                      overrides=split_fractions is not None or split_seed is not None)
        if problem:
            raise ChestviewError(f"--update-card refused: {problem}")
    resolved = resolve_split(ds, card, split, match, recorded="split_file" in prov, data_spec=data_spec,
                             fractions=split_fractions, seed=split_seed)
    emit(on_event, Log(resolved.note))
    parts = resolved.parts
    indices = parts[split]
    if not indices:
        raise ChestviewError(f"{data_spec}: the {split} split is empty")
    if update_card and resolved.recorded and resolved.missing_test:
        raise ChestviewError(f"--update-card refused: {resolved.missing_test} of the model's test images are not in "
                             f"{data_spec}")
    expected = (prov.get("split_sizes") or {}).get("test")
    if update_card and not resolved.recorded and expected is not None and expected != len(indices):
        raise ChestviewError(f"--update-card refused: the test split now has {len(indices)} images, the card's had "
                             f"{expected} (has the data changed?)")
    common = dict(tta=tta, device=device, backend=backend, precision=precision, batch_size=batch_size, num_workers=num_workers, on_event=on_event,
                  should_stop=should_stop)
    empty = EvalResult(card.id, data_spec, split, len(indices), tuple(), None, cancelled=True)
    thresholds: dict[str, float] = {}
    box_note = ""
    if write_thresholds:
        if not parts.get("val"):
            raise ChestviewError(f"{data_spec}: no validation split to derive thresholds from")
        val_boxes = any(ds.samples[i].boxes for i in parts["val"])
        raw = loaded.with_card(card.with_updates(calibration={}))  # fit on the model's own scores
        val = predict_split(raw, ds, parts["val"], boxes=False, keep_heatmaps=val_boxes, stage="val", **common)
        if val is None:
            return empty
        updates, rules = choose_operating_point(val, card, train_prevalence(ds, parts.get("train", [])))
        thresholds = {k: v for k, v in updates["thresholds"].items() if k in card.labels}
        provenance = {**card.provenance, "threshold_rules": rules}
        updates = {**updates, "thresholds": {**card.thresholds, **thresholds}, "provenance": provenance}
        what = "operating thresholds and calibration"
        directory = find_model(model)
        if val.has_boxes:
            box_updates, box_prov = choose_boxes(val, ds, parts.get("train", []), directory, card.labels)
            updates.update(box_updates)
            provenance.update(box_prov)
            what += f", box threshold {box_updates['box_threshold']}"
            box_note = describe_choice(box_prov["box_threshold_choice"])
            if box_updates["box_prior"]:
                what += f" and box-prior exponent {box_updates['box_prior']['exponent']:g}"
        card = card.with_updates(**updates)
        card.save(directory)
        loaded = load_model(directory, device="cpu")  # with its new priors, exactly as predict loads it
        emit(on_event, Log(f"wrote {what} (validation split, {len(parts['val'])} images) into {directory}"))
    threshold = card.box_threshold if heatmap_threshold is None else int(heatmap_threshold)
    want_boxes = any(ds.samples[i].boxes for i in indices)
    preds = predict_split(loaded, ds, indices, boxes=want_boxes, stage=split, heatmap_threshold=threshold, **common)
    if preds is None:
        return empty
    result = EvalResult(card.id, data_spec, split, len(indices), preds.labels, auroc_of(preds, n_boot=n_boot),
                        thresholds=thresholds, box_threshold=updates.get("box_threshold") if write_thresholds else None,
                        box_threshold_note=box_note,
                        threshold_rules=rules if write_thresholds else {},
                        errors=preds.errors, reader=reader_metrics_of(preds, card, n_boot=n_boot),
                        split_note=resolved.note)
    if probe:
        probe_split = "val" if parts.get("val") and split != "unseen" else split
        result.probe = intensity_probe(loaded, ds, parts[probe_split], split=probe_split, **common)
        if result.probe is None:
            return empty
    if preds.has_boxes:
        prior = boxes_with_sizes(ds, parts.get("train", [])) if split in ("test", "val") else None
        result.localization, result.prior_origin = localization_of(preds, prior)
        result.boxes = box_area_summary(preds.pred_boxes, preds.image_sizes)
    extra = {"tta": tta, "heatmap_threshold": threshold, "split_note": resolved.note}
    if not resolved.recorded:
        extra.update(split_fractions=list(fractions), split_seed=seed)
    if result.probe is not None:
        extra["probe"] = result.probe.to_json()
    if out_dir is not None:
        result.out_dir = write_eval_report(out_dir, result, extra)
    if update_card:
        directory = write_card_test_metrics(find_model(model), result, extra)
        emit(on_event, Log(f"wrote the test metrics ({len(indices)} images) into {directory} and its report into "
                           f"{directory / 'eval'}"))
    return result


def result_json(result: EvalResult) -> str:
    return json.dumps(result.metrics_for_card(), indent=2)
