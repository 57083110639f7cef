"""The proof a reduced precision must give before it may run a model: measured, on the model's own
validation split, against float32 on the same runtime (OpenVINO), and written into its card.

Both precisions predict every validation film as ``chestview predict`` would (the card's
preprocessing, calibration, box threshold and box priors; boxes for every label, as evaluation
scores them). Measured: the mean AUROC over the labels scored on the split (and the abnormality
output's AUROC, when the model has one), the localization score the box threshold is chosen by
(mean accuracy at IoU 0.1/0.3/0.5 and IoBB 0.1/0.25/0.5 over the split's ground-truth boxes), the
largest probability difference, and the forward speed of each on the same ready tensors, in
interleaved rounds of one run. It passes when the AUROCs move by at most 0.002 and the
localization score by at most 0.01 (:mod:`chestview.engine.backends.precision`).

A workflow, not a backend: it runs the model as ``predict`` and ``eval`` do, so it sits with them above
:mod:`chestview.engine.inference` and the evaluation (the layers in :mod:`chestview.engine`), and
the backends package below keeps to opening and running a model.
"""

from __future__ import annotations

import datetime
import logging
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from chestview import __version__
from chestview.engine.backends.precision import (
    AUROC_LIMIT, EXACT, LOCALIZATION_LIMIT, REDUCED, cpu_supports, validate_precision,
)
from chestview.engine.backends.select import OpenedBackend, installed, open_exported
from chestview.engine.bench import time_forward
from chestview.engine.errors import ChestviewError
from chestview.engine.evaluate.box_threshold import localization_score
from chestview.engine.evaluate.reader import abnormal_targets
from chestview.engine.gate.fit import split_for_card
from chestview.engine.inference import Predictor
from chestview.engine.io.loader import load_image
from chestview.engine.train.evaluation import auroc_of, predict_split
from chestview.engine.zoo import load_model
from chestview.engine.zoo.card import ModelCard

log = logging.getLogger(__name__)
SPEED_IMAGES = 32  # validation films the forward speed is timed on (cycled when fewer)
SPEED_ROUNDS = 3  # interleaved rounds, each precision keeping its best (a shared machine only slows)


@dataclass(frozen=True)
class PrecisionProof:
    """One reduced precision against float32 on a model's validation split."""

    model_id: str
    precision: str
    data: str
    split: str
    n_images: int
    n_box_images: int
    n_gt_boxes: int
    mean_auroc: dict[str, float | None]  # precision -> mean AUROC over the scored labels
    mean_auroc_delta: float | None
    max_abs_label_auroc_delta: float | None
    abnormality_auroc: dict[str, float | None] = field(default_factory=dict)
    abnormality_auroc_delta: float | None = None
    localization: dict[str, float | None] = field(default_factory=dict)
    localization_delta: float | None = None
    max_abs_prob_delta: float = float("nan")
    mean_abs_prob_delta: float = float("nan")
    images_per_s: dict[str, float] = field(default_factory=dict)  # forward only, same tensors
    speed_ratio: float = float("nan")  # reduced / f32 images per second
    environment: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        def within(v: float | None, limit: float) -> bool:
            return v is None or abs(v) <= limit

        return (self.mean_auroc_delta is not None and abs(self.mean_auroc_delta) <= AUROC_LIMIT
                and within(self.abnormality_auroc_delta, AUROC_LIMIT)
                and within(self.localization_delta, LOCALIZATION_LIMIT))

    def card_entry(self, card: Any) -> dict[str, Any]:
        """What the card records (``reduced_precision[precision]``)."""
        r = lambda v, d=6: None if v is None or not np.isfinite(v) else round(float(v), d)  # noqa: E731
        rd = lambda m, d=6: {k: r(v, d) for k, v in m.items()}  # noqa: E731
        return {
            "passed": self.passed,
            "limits": {"abs_mean_auroc_delta": AUROC_LIMIT, "abs_abnormality_auroc_delta": AUROC_LIMIT,
                       "abs_localization_delta": LOCALIZATION_LIMIT},
            "mean_auroc_delta": r(self.mean_auroc_delta),
            "abnormality_auroc_delta": r(self.abnormality_auroc_delta),
            "localization_delta": r(self.localization_delta),
            "max_abs_label_auroc_delta": r(self.max_abs_label_auroc_delta),
            "max_abs_prob_delta": r(self.max_abs_prob_delta),
            "mean_abs_prob_delta": r(self.mean_abs_prob_delta),
            "speed_ratio": r(self.speed_ratio, 3),
            "mean_auroc": rd(self.mean_auroc),
            "abnormality_auroc": rd(self.abnormality_auroc),
            "localization": rd(self.localization, 4),
            "images_per_s": rd(self.images_per_s, 2),
            "reference": f"openvino {EXACT} (checked against torch to 1e-4)",
            "localization_score": "mean accuracy at IoU 0.1/0.3/0.5 and IoBB 0.1/0.25/0.5 (the box threshold's "
                                  "score), the card's box threshold, boxes for every label",
            "speed": f"forward only on {SPEED_IMAGES} validation films, best of {SPEED_ROUNDS} interleaved rounds",
            "data": self.data,
            "split": self.split,
            "n_images": self.n_images,
            "n_box_images": self.n_box_images,
            "n_gt_boxes": self.n_gt_boxes,
            "weights_sha256": card.sha256,
            "box_threshold": card.box_threshold,
            "date": datetime.date.today().isoformat(),
            **self.environment,
        }

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def _abnormality_auroc(preds: Any) -> float | None:
    if preds.abnormality is None:
        return None
    y, p = abnormal_targets(preds.targets), preds.abnormality
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok] > 0.5, p[ok]
    return float(roc_auc_score(y, p)) if y.any() and (~y).any() else None


def _localization(preds: Any) -> tuple[float | None, int, int]:
    rows = [k for k, g in enumerate(preds.gt_boxes) if g and not np.isnan(preds.probs[k]).any()]
    if not rows:
        return None, 0, 0
    score = localization_score([preds.gt_boxes[k] for k in rows], [preds.pred_boxes[k] for k in rows], preds.labels)
    return (score if np.isfinite(score) else None), len(rows), sum(len(preds.gt_boxes[k]) for k in rows)


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else float(b - a)


def _speeds(predictors: dict[str, Any], paths: Sequence[str], batch_size: int) -> dict[str, float]:
    """Forward images/s of each predictor on the same ready tensors, interleaved rounds, best each."""
    first = next(iter(predictors.values()))
    tensors = []
    for p in paths:
        try:
            tensors.append(first.prepare_input(load_image(p))[0])
        except ChestviewError:
            continue
        if len(tensors) == SPEED_IMAGES:
            break
    if not tensors:
        return {}
    tensors = [tensors[i % len(tensors)] for i in range(max(SPEED_IMAGES, batch_size))]
    batches = [torch.cat(tensors[i:i + batch_size]) for i in range(0, len(tensors), batch_size)]
    best = {name: 0.0 for name in predictors}
    for _ in range(SPEED_ROUNDS):
        for name, predictor in predictors.items():
            best[name] = max(best[name], time_forward(predictor, batches)[0])
    return best


def measure_precision(
    loaded: Any,
    ds: Any,
    indices: Sequence[int],
    precision: str,
    *,
    data: str = "",
    batch_size: int = 8,
    num_workers: int | None = None,
    on_event: Callable[[Any], None] | None = None,
) -> PrecisionProof:
    """``precision`` against float32 (both OpenVINO) on ``ds.samples[indices]`` (a validation split)."""
    import openvino as ov  # deferred: an optional dependency (the check says so when it is missing)

    if validate_precision(precision) not in REDUCED:
        raise ChestviewError(f"{precision} is the exact precision: there is nothing to prove")
    if not installed("openvino"):
        raise ChestviewError("the precision check runs OpenVINO: pip install openvino")
    if not cpu_supports(precision):
        # OpenVINO would run float32 and the check would measure nothing.
        raise ChestviewError(f"this CPU has no native {precision} (OpenVINO reports {_capabilities()})")
    if not indices:
        raise ChestviewError(f"{data or 'the data'}: the validation split is empty")
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    opened = {
        EXACT: OpenedBackend(open_exported("openvino", loaded, EXACT), "openvino"),
        precision: OpenedBackend(open_exported("openvino", loaded, precision), "openvino", precision=precision),
    }
    preds = {}
    for name, ob in opened.items():
        got = predict_split(loaded, ds, indices, boxes=True, device="cpu", opened=ob, batch_size=batch_size,
                            num_workers=num_workers, stage=f"val ({name})", on_event=on_event)
        if got is None:
            raise ChestviewError("precision check cancelled")
        preds[name] = got
    ref, red = preds[EXACT], preds[precision]
    ok = ~(np.isnan(ref.probs).any(axis=1) | np.isnan(red.probs).any(axis=1))
    if not ok.any():
        raise ChestviewError(f"{data}: none of the validation images could be read")
    auroc = {name: auroc_of(p, n_boot=0) for name, p in preds.items()}
    mean = {name: (None if np.isnan(a.mean_auroc) else float(a.mean_auroc)) for name, a in auroc.items()}
    label_deltas = [abs(b.auroc - a.auroc) for a, b in zip(auroc[EXACT].per_label, auroc[precision].per_label)
                    if a.scored and b.scored]
    abn = {name: _abnormality_auroc(p) for name, p in preds.items()} if ref.abnormality is not None else {}
    loc = {name: _localization(p) for name, p in preds.items()}
    dp = np.abs(red.probs[ok] - ref.probs[ok])
    if ref.abnormality is not None and red.abnormality is not None:
        dp = np.concatenate([dp.ravel(), np.abs(red.abnormality[ok] - ref.abnormality[ok])])
    predictors = {name: Predictor(loaded, device="cpu", boxes="none", opened=ob) for name, ob in opened.items()}
    speed = _speeds(predictors, [ref.paths[k] for k in np.flatnonzero(ok)], batch_size)
    return PrecisionProof(
        model_id=loaded.card.id, precision=precision, data=data, split="val", n_images=int(ok.sum()),
        n_box_images=loc[EXACT][1], n_gt_boxes=loc[EXACT][2],
        mean_auroc=mean, mean_auroc_delta=_delta(mean[EXACT], mean[precision]),
        max_abs_label_auroc_delta=float(max(label_deltas)) if label_deltas else None,
        abnormality_auroc=abn, abnormality_auroc_delta=_delta(abn.get(EXACT), abn.get(precision)) if abn else None,
        localization={name: v[0] for name, v in loc.items()},
        localization_delta=_delta(loc[EXACT][0], loc[precision][0]),
        max_abs_prob_delta=float(dp.max()), mean_abs_prob_delta=float(dp.mean()),
        images_per_s=speed, speed_ratio=speed[precision] / speed[EXACT] if speed.get(EXACT) else float("nan"),
        environment={"chestview": __version__, "openvino": ov.get_version(), "torch": torch.__version__,
                     "cpu": platform.processor() or platform.machine(), "cpu_capabilities": _capabilities(),
                     "threads": threads},
        seconds=time.perf_counter() - t0,
    )


def _capabilities() -> list[str]:
    try:
        import openvino as ov  # deferred: an optional dependency

        return list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception:
        return []


def record_proof(directory: str | Path, proof: PrecisionProof, expected_sha256: str) -> Any:
    """``proof`` into the card in ``directory`` (atomically; every other field as on disk now)."""
    card = ModelCard.load(directory)
    if card.sha256 != expected_sha256:  # the weights changed while the check ran
        raise ChestviewError(f"{directory}: the card's weights changed during the precision check; not recorded")
    entries = {**card.reduced_precision, proof.precision: proof.card_entry(card)}
    card = card.with_updates(reduced_precision=entries)
    card.save(directory)
    return card


def check_precision(
    model: str | Path,
    data: Any,
    precision: str = "bf16",
    split: dict[str, list[int]] | None = None,
    *,
    batch_size: int = 8,
    num_workers: int | None = None,
    write: bool = True,
    on_event: Callable[[Any], None] | None = None,
) -> PrecisionProof:
    """Measure ``precision`` on the validation split of the model at ``model`` (zoo id or directory)
    and, with ``write``, record the result in its card, passed or not.

    ``data``: the model's training data as a spec (``nih:PATH``; the split is rebuilt from the card's
    provenance, as the trainer made it) or a ``LabeledDataset`` together with its ``split``.
    """
    loaded = load_model(model)
    if isinstance(data, str):
        ds, split = split_for_card(loaded.card, data)
        spec = data
    else:
        ds, spec = data, getattr(data, "name", "dataset")
        if split is None:
            raise ChestviewError("check_precision: a dataset object needs its split")
    proof = measure_precision(loaded, ds, list(split.get("val", [])), precision, data=spec, batch_size=batch_size,
                              num_workers=num_workers, on_event=on_event)
    if write:
        record_proof(loaded.path, proof, loaded.card.sha256)
    log.info("%s %s: mean AUROC %+.4f, localization %s, speed x%.2f: %s", loaded.card.id, precision,
             proof.mean_auroc_delta or 0.0, proof.localization_delta, proof.speed_ratio,
             "passed" if proof.passed else "failed")
    return proof
