"""Running a zoo model on images: findings, heatmaps and boxes.

The data walks one way: file -> XrayImage -> tensor -> logits + maps -> findings + boxes.
This module owns the :class:`Predictor` (a model, its backend and the choices of how to run it) and
the step from a model's outputs to an :class:`ImageResult`. Decoding and batching ahead of the model
belong to :mod:`chestview.engine.pipeline`, the backend to :mod:`chestview.engine.backends.select`,
the input gate to :mod:`chestview.engine.gate`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal

import numpy as np
import torch

from chestview.engine.backends.select import OpenedBackend, open_backend
from chestview.engine.device import resolve_device
from chestview.engine.errors import ChestviewError
from chestview.engine.case_call import ABNORMALITY_MAP
from chestview.engine.explain.box_rule import BoxRule
from chestview.engine.explain.cam import normalise_maps
from chestview.engine.gate.check import input_check
from chestview.engine.gate.store import load_gate
from chestview.engine.io.image import XrayImage
from chestview.engine.pipeline import PreparedImages, prefetched_batches, prepare_model_input
from chestview.engine.preprocess import merge_crop_maps
from chestview.engine.results import Abnormality, Finding, ImageResult
from chestview.engine.zoo.store import LoadedModel

log = logging.getLogger(__name__)
BoxMode = Literal["positive", "all", "none"]


@dataclass(frozen=True)
class PredictProgress:
    done: int
    total: int
    path: str


def _now() -> float:
    return time.perf_counter()


class Predictor:
    """A loaded model plus the choices of how to run it. Thread-compatible: one call at a time."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        device: str | torch.device = "auto",
        tta: Literal["none", "tencrop"] = "none",
        box_threshold: int | None = None,
        boxes: BoxMode = "positive",
        max_boxes: int = 3,
        backend: str = "auto",
        precision: str = "f32",
        opened: OpenedBackend | None = None,
    ) -> None:
        if tta not in ("none", "tencrop"):
            raise ChestviewError(f"unknown test-time augmentation {tta!r} (none, tencrop)")
        if boxes not in ("positive", "all", "none"):
            raise ChestviewError(f"unknown box mode {boxes!r} (positive, all, none)")
        self.loaded = loaded
        self.card = loaded.card
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        # torch, ONNX Runtime or OpenVINO, at float32 or a reduced precision the card proves;
        # ``backend_note`` says why it is not the one asked for. ``opened``: one already opened
        # (the precision check runs its unproven candidate so).
        self.opened: OpenedBackend = opened or open_backend(loaded, self.device, backend, precision)
        self.backend = self.opened.backend
        self.tta = tta
        # None: the level chosen for this model on its validation split (the card's; 180 by default).
        self.box_threshold = int(box_threshold if box_threshold is not None else self.card.box_threshold)
        self.boxes = boxes
        self.max_boxes = max_boxes
        self.labels = list(self.card.labels)
        self.unreliable = set(self.card.unreliable_labels)
        platt = np.array([self.card.platt(name) for name in self.card.output_names], dtype=np.float64)
        self._platt_a, self._platt_b = platt[:, 0], platt[:, 1]
        self._calibrated = bool(self.card.calibration)
        # Boxes from heatmap * prior ** exponent (the card's, chosen on validation); display maps stay the model's.
        self.box_priors = getattr(loaded, "box_priors", None) or {}
        self.prior_exponent = float(self.card.box_prior.get("exponent", 0.0)) if self.box_priors else 0.0
        # The one box path (explain.box_rule): the app re-cuts a manual level through this same rule.
        self.box_rule = BoxRule(self.box_priors, self.prior_exponent, max_boxes)

        # The input gate's statistics (None for a model without them: pixel and header checks only).
        self.gate = load_gate(loaded.path, self.card)
        site_cut = self.card.input_gate.get("site_threshold")
        if self.gate is not None and site_cut is not None:  # a site profile's distance cut (engine.site)
            from dataclasses import replace

            self.gate = replace(self.gate, threshold=float(site_cut))
        self.site = (self.card.calibration or {}).get("site") or None

    def calibrate(self, probs: np.ndarray) -> np.ndarray:
        """The card's per-output Platt scaling (fitted on the validation split) applied to raw
        sigmoid probabilities, (..., n_outputs); the identity for an uncalibrated card."""
        if not self._calibrated:
            return probs
        p = np.clip(np.asarray(probs, dtype=np.float64), 1e-7, 1 - 1e-7)
        z = self._platt_a * (np.log(p) - np.log1p(-p)) + self._platt_b
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    # -- stages -----------------------------------------------------------------------------
    def prepare_input(self, image: XrayImage) -> tuple[torch.Tensor, object]:
        return prepare_model_input(image, self.card.preprocessing, self.tta)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Probabilities (B, C) and maps (B, C, h, w), float32 on the CPU, from one forward pass."""
        logits, maps = self.backend.run(x)
        return torch.sigmoid(logits), maps

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """As :meth:`forward`, plus the pooled trunk features (B, K) of the same pass: a hook on the
        torch module's trunk, or the exported graph's ``features`` output (ONNX Runtime, OpenVINO).
        None for a model without a trunk; the input gate then runs its pixel and header checks only."""
        logits, maps, feats = self.backend.run_with_features(x)
        return torch.sigmoid(logits), maps, feats

    @property
    def backend_name(self) -> str:
        return self.opened.name

    @property
    def precision(self) -> str:
        return self.opened.precision

    @property
    def backend_note(self) -> str | None:
        """One line when the backend in use is not the one asked for (a failure or a known limit)."""
        return self.opened.note

    def findings_from(
        self, image_size: tuple[int, int], probs: np.ndarray, heat: np.ndarray
    ) -> tuple[list[Finding], float]:
        """Findings with boxes cut from ``heat`` (the labels' uint8 maps) by the box rule; returns the
        time spent making boxes (ms)."""
        t0 = _now()
        rows = []
        for c, label in enumerate(self.labels):
            p = float(probs[c])
            threshold = self.card.threshold(label)
            reliable = label not in self.unreliable
            positive = reliable and p >= threshold
            rows.append((label, p, threshold, positive, reliable))
        want = [c for c, row in enumerate(rows) if self.boxes == "all" or (self.boxes == "positive" and row[3])]
        cuts = dict(zip(want, self.box_rule.cut(heat[want], [self.labels[c] for c in want], image_size,
                                                self.box_threshold))) if want else {}
        findings = [Finding(*row, cuts[c].boxes, cuts[c].diffuse) if c in cuts else Finding(*row)
                    for c, row in enumerate(rows)]
        findings.sort(key=lambda f: (not f.reliable, -f.probability))
        return findings, (_now() - t0) * 1e3

    def _merge(self, probs: torch.Tensor, maps: torch.Tensor, extra: object) -> tuple[np.ndarray, np.ndarray]:
        if extra is None:
            return probs[0].numpy(), maps[0].numpy()
        windows, resized = extra
        return probs.mean(dim=0).numpy(), merge_crop_maps(maps, windows, resized).numpy()

    @staticmethod
    def _merge_features(feats: torch.Tensor | None) -> np.ndarray | None:
        # TenCrop: the mean over the crops (the gate was fitted on whole images; close enough to rank).
        return None if feats is None else feats.mean(dim=0).numpy()

    def _result(
        self, image: XrayImage, probs: np.ndarray, maps: np.ndarray, timings: dict, features: np.ndarray | None = None,
        check_gray: np.ndarray | None = None,
    ) -> ImageResult:
        t0 = _now()
        n = len(self.labels)
        probs = self.calibrate(probs)
        # The abnormality output's map (its CAM, the head's last map) too, when the head gives one.
        with_abnormality = self.card.has_abnormality and maps.shape[0] > n
        heat = normalise_maps(maps[: n + 1] if with_abnormality else maps[:n])
        timings["heatmaps"] = (_now() - t0) * 1e3
        findings, timings["boxes"] = self.findings_from(image.size, probs[:n], heat[:n])
        abnormality = None
        if self.card.has_abnormality and probs.shape[0] > n:
            threshold = float(self.card.abnormality.get("threshold", 0.5))
            p = float(probs[n])
            abnormality = Abnormality(p, threshold, p >= threshold)
        t1 = _now()
        check = input_check(
            image, features, self.gate,
            no_features=f"{self.card.id} gives no trunk features" if features is None else "", gray=check_gray,
        )
        timings["input_check"] = (_now() - t1) * 1e3
        return ImageResult(
            abnormality=abnormality,
            path=image.path,
            image_width=image.width,
            image_height=image.height,
            warnings=list(image.warnings),
            findings=findings,
            timings_ms=timings,
            input_check=check,
            heatmaps={**{label: heat[c] for c, label in enumerate(self.labels)},
                      **({ABNORMALITY_MAP: heat[n]} if with_abnormality else {})},
            box_threshold=self.box_threshold,
            site=self.site,
        )

    # -- public -----------------------------------------------------------------------------
    def predict_image(self, image: XrayImage) -> ImageResult:
        t0 = _now()
        x, extra = self.prepare_input(image)
        t1 = _now()
        probs, maps, feats = self.forward_with_features(x)
        t2 = _now()
        p, m = self._merge(probs, maps, extra)
        timings = {"preprocess": (t1 - t0) * 1e3, "forward": (t2 - t1) * 1e3}
        return self._result(image, p, m, timings, self._merge_features(feats))

    def predict_paths(
        self,
        paths: Iterable[str | Path],
        *,
        batch_size: int = 8,
        num_workers: int | None = None,
        on_progress: Callable[[PredictProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[ImageResult]:
        """Results in input order; unreadable files give a result with ``error`` set."""
        paths = [str(p) for p in paths]
        if not paths:
            return
        if num_workers is None:
            num_workers = 2 if len(paths) > 1 else 0
        prepared = PreparedImages(paths, self.card.preprocessing, self.tta)
        done = 0
        for batch in prefetched_batches(prepared, batch_size, num_workers):
            if should_stop is not None and should_stop():
                return
            good = [item for item in batch if item["error"] is None]
            if good:
                t0 = _now()
                probs, maps, feats = self.forward_with_features(torch.cat([item["x"] for item in good]))
                per_image_ms = (_now() - t0) * 1e3 / len(good)
                offset = 0
                for item in good:
                    n = item["x"].shape[0]
                    p, m = self._merge(probs[offset : offset + n], maps[offset : offset + n], item["extra"])
                    f = self._merge_features(None if feats is None else feats[offset : offset + n])
                    offset += n
                    item["result"] = self._result(
                        item["image"], p, m, {**item["timings_ms"], "forward": per_image_ms}, f, item["check_gray"])
            for item in batch:
                result = item.get("result") or ImageResult(path=item["path"], error=item["error"])
                done += 1
                if on_progress is not None:
                    on_progress(PredictProgress(done, len(paths), item["path"]))
                yield result
