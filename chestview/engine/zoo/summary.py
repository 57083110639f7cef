"""The README's model-zoo tables, generated from the cards (so no number is typed by hand)."""

from __future__ import annotations

from typing import Any, Sequence

from chestview.engine.evaluate.anchors import CHEXNET2017_AUROC, CHEXNET2017_WANG_COLUMN_AUROC, WANG2017_LOC_IOBB_01
from chestview.engine.evaluate.targets import TARGETS
from chestview.engine.zoo.card import ModelCard
from chestview.engine.zoo.comparison import system_info


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "–"


def _loc_at(loc: dict, kind: str, threshold: float, row: str = "model") -> float | None:
    part = loc.get(row, {}).get(kind)
    if not part:
        return None
    try:
        return part["mean_accuracy"][part["thresholds"].index(threshold)]
    except (ValueError, IndexError, KeyError):
        return None


def _initialisation(card: ModelCard) -> str:
    return "ImageNet" if card.arch_kwargs.get("pretrained_trunk") else "scratch"


def best_val_auroc(card: ModelCard) -> float | None:
    """Validation mean AUROC at the epoch training kept (lowest validation loss), from the card's history."""
    best = card.provenance.get("best_epoch")
    for row in card.metrics.get("history", []):
        if row.get("epoch") == best:
            return row.get("val_auroc_mean")
    return None


def zoo_table(cards: Sequence[ModelCard], default_id: str | None = None) -> str:
    """One row a model: validation and test mean AUROC, the box threshold, and localization
    (model / prior / swap) at the key thresholds."""
    lines = [
        "| model | system (`architecture`) | trunk (init) | boxes in training | input | val mean AUROC | test mean AUROC | box thr. | loc. IoBB>0.1 model / prior / swap | loc. IoU>0.3 model / prior / swap |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for card in cards:
        test = card.metrics.get("test", {})
        loc = test.get("localization", {})
        iobb = " / ".join(_fmt(_loc_at(loc, "iobb", 0.1, r)) for r in ("model", "prior", "swap"))
        iou = " / ".join(_fmt(_loc_at(loc, "iou", 0.3, r)) for r in ("model", "prior", "swap"))
        name = f"**{card.id}** (default)" if card.id == default_id else card.id
        trunk = card.arch_kwargs.get("trunk", "default")
        lines.append(
            f"| {name} | {system_info(card).title} (`{card.architecture}`) | {trunk} ({_initialisation(card)}) | "
            f"{'yes' if card.supervision == 'box' else 'no'} | {card.preprocessing.size}px | "
            f"{_fmt(best_val_auroc(card))} | {_fmt(test.get('mean_auroc'))} | {card.box_threshold} | {iobb} | {iou} |"
        )
    return "\n".join(lines)


def per_label_table(card: ModelCard) -> str:
    """Per-label test AUROC (95% CI) and IoBB>0.1 accuracy of one model beside the published anchors."""
    test = card.metrics.get("test", {})
    auroc = test.get("auroc", {})
    loc = test.get("localization", {}).get("model", {}).get("iobb", {})
    loc_by_label = {lbl: acc[0] for lbl, acc in loc.get("accuracy", {}).items()} if loc else {}
    lines = [
        f"| label | {card.id} AUROC (95% CI) | test positives | Wang 2017 AUROC | CheXNet AUROC | "
        f"{card.id} loc. IoBB>0.1 | Wang 2017 loc. IoBB>0.1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in card.labels:
        row = auroc.get(label, {})
        ci = row.get("ci95") or [None, None]
        value = f"{_fmt(row.get('auroc'))} ({_fmt(ci[0])}–{_fmt(ci[1])})" if row.get("auroc") is not None else "–"
        if label in card.unreliable_labels:
            value += " ⚠ unreliable"
        lines.append(
            f"| {label} | {value} | {row.get('n_pos', '–')} | {_fmt(CHEXNET2017_WANG_COLUMN_AUROC.values.get(label))} | "
            f"{_fmt(CHEXNET2017_AUROC.values.get(label))} | {_fmt(loc_by_label.get(label))} | "
            f"{_fmt(WANG2017_LOC_IOBB_01.values.get(label))} |"
        )
    return "\n".join(lines)


# The model-quality targets on the test split, shown in the table header beside the measured values.
READER_TARGETS = {name: f"{op} {value:.2f}" for name, (op, value) in TARGETS.items() if not name.startswith("iou")}


def reader_table(cards: Sequence[ModelCard]) -> str:
    """One row a model: what a reader meets on the test split (calibrated scores, validation
    thresholds), with the targets in the header."""
    t = READER_TARGETS
    lines = [
        "| model | abnormality AUROC (95% CI) " + t["abnormality_auroc"] + " | abnormal films flagged " + t["abnormal_flagged"]
        + " | normal films with a positive finding " + t["normal_with_any_positive"]
        + " | mean AUROC, 8 boxed labels, all " + t["mean_auroc_boxed8"]
        + " / first collection " + t["mean_auroc_boxed8_c1"] + " | Pneumonia AUROC " + t["pneumonia_auroc"]
        + " | calibration error before / after |",
        "|---|---|---|---|---|---|---|",
    ]
    for card in cards:
        test = card.metrics.get("test", {})
        r = test.get("reader", {})
        ci = r.get("abnormality_ci95") or [None, None]
        ab = f"{_fmt(r.get('abnormality_auroc'))} ({_fmt(ci[0])}–{_fmt(ci[1])})" if r.get("abnormality_auroc") else "–"
        flagged = r.get("abnormal_flagged", r.get("abnormal_with_any_positive"))
        pneumonia = test.get("auroc", {}).get("Pneumonia", {}).get("auroc")
        lines.append(
            f"| {card.id} | {ab} | {_fmt(flagged)} | {_fmt(r.get('normal_with_any_positive'))} | "
            f"{_fmt(r.get('mean_auroc_boxed8'))} / {_fmt(r.get('mean_auroc_boxed8_c1', r.get('mean_auroc_boxed8_first')))} | {_fmt(pneumonia)} | "
            f"{_fmt(r.get('ece_labels_before'))} / {_fmt(r.get('ece_labels_after'))} |"
        )
    return "\n".join(lines)


def _c3(card: ModelCard) -> tuple[dict[str, Any], str]:
    """The third collection's numbers (the films closest to "any NIH film") and where they come from:
    the card's own test split when it holds them, else the never-seen images of the grown folder."""
    for split in ("test", "unseen"):
        per = ((card.metrics.get(split) or {}).get("reader") or {}).get("per_collection") or {}
        if per.get("c3"):
            return per["c3"], f"{split}, {per['c3'].get('n')} films"
    return {}, "–"


def shortcut_table(cards: Sequence[ModelCard]) -> str:
    """One row a model: the round-3 questions. Does the case call move with brightness alone (the
    shortcut probe, on validation films)? How does it do on the third collection, and on ranking the
    boxed findings among the first collection's nearly-all-abnormal films? Do its boxes say where?"""
    t = {name: f"{op} {value:g}" for name, (op, value) in TARGETS.items()}
    lines = [
        f"| model | probe: worst mean change {t['probe_worst_mean_abs_change']} | probe: case calls flipped "
        f"{t['probe_worst_flip_rate']} | third collection: abnormality AUROC {t['c3_abnormality_auroc']} | "
        f"normals called abnormal {t['c3_normal_flagged']} | mean AUROC {t['c3_mean_auroc']} | (split) | "
        f"boxed-8 AUROC, first collection {t['mean_auroc_boxed8_c1']} | boxes over half the film "
        f"{t['boxes_over_half_film']} | IoU>0.3 lift over swap {t['iou03_swap_lift']} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for card in cards:
        probe = card.metrics.get("probe") or {}
        test = card.metrics.get("test") or {}
        reader = test.get("reader") or {}
        c3, where = _c3(card)
        c1 = reader.get("mean_auroc_boxed8_c1", reader.get("mean_auroc_boxed8_first"))
        loc = test.get("localization", {})
        model, swap = _loc_at(loc, "iou", 0.3, "model"), _loc_at(loc, "iou", 0.3, "swap")
        lift = model - swap if model is not None and swap is not None else None
        lines.append(
            f"| {card.id} | {_fmt(probe.get('worst_mean_abs_change'))} | {_fmt(probe.get('worst_flip_rate'))} | "
            f"{_fmt(c3.get('abnormality_auroc'))} | {_fmt(c3.get('normal_flagged'))} | {_fmt(c3.get('mean_auroc'))} | "
            f"{where} | {_fmt(c1)} | {_fmt((test.get('boxes') or {}).get('over_half_film'))} | {_fmt(lift)} |"
        )
    return "\n".join(lines)
