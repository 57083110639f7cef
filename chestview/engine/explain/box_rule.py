"""The one box path: how a model's boxes are cut, for ``predict``, the app and every export.

A finding's boxes come from its low-resolution map (the stored, image-relative uint8 map) fused
with the card's box prior (``heat * prior ** exponent``, renormalised), cut at one heatmap level
by :func:`chestview.engine.explain.boxes.cut_boxes` (which also says "diffuse, no box"). The
predictor cuts them once, at the card's level or the one asked for; a reader's manual level
re-cuts them through the same :meth:`BoxRule.cut` from the same maps, so the screen, the PNG/JSON,
the batch export, the SR, the presentation state and the secondary capture draw the same boxes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from chestview.engine.explain.boxes import BoxCut, cut_boxes
from chestview.engine.explain.prior import fuse_stack, load_priors, prior_factors
from chestview.engine.results import ImageResult


@dataclass
class BoxRule:
    """A model's box prior (label -> map; empty: the model's maps alone), its exponent and the most
    boxes per finding. Thread-compatible: the factor cache only ever gains equal entries."""

    priors: Mapping[str, np.ndarray] = field(default_factory=dict)
    exponent: float = 0.0
    max_boxes: int = 3
    _factors: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def fuses(self) -> bool:
        return bool(self.priors) and self.exponent > 0

    def box_maps(self, heat: np.ndarray, labels: Sequence[str]) -> np.ndarray:
        """(L, h, w) uint8: the maps boxes are cut from (each label's map times its prior ** exponent)."""
        if not self.fuses:
            return heat
        key = (tuple(labels), tuple(heat.shape[1:]))
        cached = self._factors.get(key)
        if cached is None:  # once per label set and map shape: priors resized and raised to the exponent
            factors = prior_factors(self.priors, list(labels), key[1], self.exponent)
            cached = self._factors[key] = (factors, np.array([lbl in self.priors for lbl in labels]))
        return fuse_stack(heat, *cached)

    def cut(self, heat: np.ndarray, labels: Sequence[str], image_size: tuple[int, int], threshold: int
            ) -> list[BoxCut]:
        """The boxes of each of ``labels`` (``heat``: their (L, h, w) uint8 maps) at ``threshold``.
        Each label is cut on its own, so one label's boxes never depend on which others are cut."""
        if len(labels) == 0:
            return []
        return cut_boxes(self.box_maps(np.asarray(heat), labels), image_size, threshold=threshold,
                         max_boxes=self.max_boxes)

    def cut_one(self, heat: np.ndarray, label: str, image_size: tuple[int, int], threshold: int) -> BoxCut:
        return self.cut(np.asarray(heat)[None], [label], image_size, threshold)[0]


def rebox(result: ImageResult, rule: BoxRule, threshold: int, labels: Sequence[str] | None = None) -> ImageResult:
    """``result`` with the boxes of ``labels`` (default: its positive findings) cut at ``threshold``
    through ``rule``, and no boxes for the others: what a view at that level draws and exports."""
    wanted = [f.label for f in result.findings if f.positive] if labels is None else list(labels)
    wanted = [lbl for lbl in wanted if lbl in result.heatmaps and result.finding(lbl) is not None]
    size = (result.image_width, result.image_height)
    cuts = dict(zip(wanted, rule.cut(np.stack([result.heatmaps[lbl] for lbl in wanted]), wanted, size, threshold)
                    if wanted else []))
    findings = [replace(f, boxes=cuts[f.label].boxes, diffuse=cuts[f.label].diffuse) if f.label in cuts
                else replace(f, boxes=(), diffuse=False) for f in result.findings]
    return replace(result, findings=findings, box_threshold=int(threshold))


def load_box_rule(card, directory, max_boxes: int = 3) -> BoxRule:
    """The box rule of a zoo entry (its card and folder) without loading the model: the priors file
    (checked against the card's SHA-256) and the exponent, as the predictor's."""
    spec = card.box_prior or {}
    if not spec:
        return BoxRule({}, 0.0, max_boxes)
    priors = load_priors(Path(directory) / spec["file"], spec.get("sha256"))
    return BoxRule(priors, float(spec.get("exponent", 0.0)) if priors else 0.0, max_boxes)
