"""After training: the zoo entry (card + weights), thresholds from validation, test metrics, report.

Order matters: the entry is written first and then evaluated exactly as ``chestview predict`` would
load and run it (fp16 weights included), so the card's numbers describe what users get.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch
from torch import nn

from chestview.engine.data.recorded_split import SPLIT_FILE
from chestview.engine.evaluate.box_threshold import describe_choice
from chestview.engine.util import atomic_write_bytes, sha256_file
from chestview.engine.device import describe_device
from chestview.engine.train.config import TrainConfig
from chestview.engine.train.data import TrainData
from chestview.engine.train.evaluation import (
    EvalResult,
    auroc_of,
    boxes_with_sizes,
    choose_boxes,
    choose_operating_point,
    intensity_probe,
    localization_of,
    predict_split,
    reader_metrics_of,
    train_prevalence,
    write_eval_report,
)
from chestview.engine.evaluate.localization import box_area_summary
from chestview.engine.evaluate.targets import verdicts
from chestview.engine.train.events import EventSink, Log, StopCheck, emit
from chestview.engine.util import atomic_write_bytes, sha256_file
from chestview.engine.zoo import ModelCard, load_model, save_zoo_entry
from chestview.engine.zoo.card import DEFAULT_BOX_THRESHOLD

MODEL_DIR = "model"
EVAL_DIR = "eval"
NIH_CREDIT = "NIH Clinical Center ChestX-ray14 (Wang et al., CVPR 2017; free to use, credit NIH)"


def hardware(device: torch.device, world_size: int) -> dict[str, Any]:
    return {
        "device": describe_device(device),
        "world_size": world_size,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }


def unreliable_labels(train_positives: dict[str, int], minimum: int) -> tuple[str, ...]:
    """Labels with fewer than ``minimum`` training positives: their probabilities mean little and the
    app shows them as unreliable instead of as findings."""
    return tuple(lbl for lbl, n in train_positives.items() if n < minimum)


def finalize_run(
    config: TrainConfig,
    data: TrainData,
    model: nn.Module,
    result: Any,
    *,
    command_line: str,
    device: torch.device,
    world_size: int,
    total_seconds: float,
    on_event: EventSink | None,
    should_stop: StopCheck | None,
) -> tuple[Path, Any]:

    out = Path(config.out)
    model_dir = out / MODEL_DIR
    ds, split = data.dataset, data.split or {}
    model_id = config.model_id or config.default_model_id()
    # A sequence model (ALSTM-MLC) trains with its own teacher-forced loss, not config.loss.
    loss_name = "label-sequence (teacher forcing)" if callable(getattr(model, "training_loss", None)) else config.loss
    licence = "trained on " + (NIH_CREDIT if ds.name.startswith("nih") else ds.name)
    provenance = {
        "data": config.data,
        "data_options": dict(config.data_options),
        "dataset": ds.name,
        "split_sizes": {k: len(v) for k, v in split.items()},
        "split_fractions": list(config.split),
        "split_seed": config.split_seed,
        "command_line": command_line,
        "config": config.to_dict(),
        "methodology": config.methodology,
        "loss": loss_name,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "train_seconds": round(result.wall_seconds, 1),
        "wall_seconds": round(total_seconds, 1),
        "hardware": hardware(device, world_size),
        "train_positives": dict(data.train_positives),
        "unreliable_min_positives": config.unreliable_min_positives,
    }
    card = ModelCard(
        id=model_id,
        architecture=config.arch,
        labels=tuple(data.labels),
        preprocessing=config.preprocessing(),
        arch_kwargs=dict(config.arch_kwargs),
        unreliable_labels=unreliable_labels(data.train_positives, config.unreliable_min_positives),
        supervision=config.supervision,
        description=f"{config.arch} trained by chestview on {config.data} ({config.methodology}, {loss_name} loss)",
        provenance=provenance,
        licence=licence,
        abnormality={"threshold": 0.5, "rule": "not chosen yet"} if data.abnormality else {},
    )
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    card = save_zoo_entry(model_dir, card, state, fp16=config.fp16_weights)
    if (out / SPLIT_FILE).is_file():  # the split as its images travels with the entry (no leak)
        atomic_write_bytes(model_dir / SPLIT_FILE, (out / SPLIT_FILE).read_bytes())
        provenance["split_file"] = {"file": SPLIT_FILE, "sha256": sha256_file(model_dir / SPLIT_FILE)}
    emit(on_event, Log(f"wrote zoo entry {model_id} to {model_dir}"))

    loaded = load_model(model_dir, device="cpu")
    common = dict(device=str(device), batch_size=config.eval_batch_size,
                  num_workers=min(config.num_workers, 2), on_event=on_event, should_stop=should_stop)
    thresholds: dict[str, float] = {}
    box_threshold = config.heatmap_threshold or DEFAULT_BOX_THRESHOLD
    if split.get("val"):
        tune = config.heatmap_threshold is None and any(ds.samples[i].boxes for i in split["val"])
        val = predict_split(loaded, ds, split["val"], boxes=False, keep_heatmaps=tune, stage="val", **common)
        if val is not None:
            point, provenance["threshold_rules"] = choose_operating_point(
                val, card, train_prevalence(ds, split.get("train", [])))
            thresholds = point["thresholds"]
            card = card.with_updates(calibration=point["calibration"],
                                     abnormality=point.get("abnormality", card.abnormality))
            if tune and val.has_boxes:
                box_updates, box_prov = choose_boxes(val, ds, split.get("train", []), model_dir, card.labels)
                box_threshold = box_updates["box_threshold"]
                provenance.update(box_prov)
                card = card.with_updates(box_prior=box_updates["box_prior"])
                prior = box_updates["box_prior"]
                emit(on_event, Log(describe_choice(box_prov["box_threshold_choice"])
                                   + (f"; box-prior exponent {prior['exponent']:g}" if prior else "")))
    common["heatmap_threshold"] = box_threshold
    card = card.with_updates(box_threshold=box_threshold, provenance=provenance, thresholds=thresholds)
    card.save(model_dir)  # the test split is measured exactly as predict will load it
    loaded = load_model(model_dir, device="cpu")
    evaluation = None
    if split.get("test"):
        test_idx = split["test"]
        want_boxes = any(ds.samples[i].boxes for i in test_idx)
        preds = predict_split(loaded, ds, test_idx, boxes=want_boxes, stage="test", **common)
        if preds is not None:
            evaluation = EvalResult(card.id, config.data, "test", len(test_idx), preds.labels, auroc_of(preds),
                                    thresholds=thresholds, errors=preds.errors,
                                    reader=reader_metrics_of(preds, card))
            if preds.has_boxes:
                prior = boxes_with_sizes(ds, split.get("train", []))
                evaluation.localization, evaluation.prior_origin = localization_of(preds, prior)
                evaluation.boxes = box_area_summary(preds.pred_boxes, preds.image_sizes)
            evaluation.out_dir = write_eval_report(out / EVAL_DIR, evaluation, {"provenance": provenance})
    # The shortcut probe on the validation films: does the case call follow a film's brightness?
    probe = intensity_probe(loaded, ds, split["val"], split="val", **common) if split.get("val") else None
    if probe is not None:
        emit(on_event, Log(probe.text()))
    # Keyed by split, so a card can never pass validation numbers off as test numbers.
    metrics: dict[str, Any] = {evaluation.split: evaluation.metrics_for_card()} if evaluation is not None else {}
    if probe is not None:
        metrics["probe"] = probe.to_json()
    if evaluation is not None:
        metrics["test"]["targets"] = verdicts(metrics["test"], metrics.get("probe"))
    metrics["history"] = [{k: m[k] for k in ("epoch", "train_loss", "val_loss", "val_auroc_mean")} for m in result.history]
    card = card.with_updates(thresholds=thresholds, metrics=metrics)
    card.save(model_dir)  # the weights (and their SHA-256) are unchanged
    return model_dir, evaluation
