"""The model-quality targets a model is held to on its own test split, and the verdicts on them.

Written into the card's ``metrics["test"]["targets"]`` by ``chestview eval --update-card`` (and so
by every training run's test evaluation), from the very numbers stored beside them: what was
aimed at, what was measured, whether it was met and, if not, by how much it was missed.
"""

from __future__ import annotations

from typing import Any, Mapping

# name -> (comparison, value). The reader targets are on the test split's films; the localization
# targets compare the model's boxes at IoU > 0.3 with the fixed prior boxes and with the same
# model's boxes drawn on another image with the same label (swap).
TARGETS: dict[str, tuple[str, float]] = {
    # round 3 (findings from the film, not its collection): the probe, the third collection on its
    # own (the closest to "any NIH film"), the boxed labels on the first, boxes that say where
    "probe_worst_mean_abs_change": ("<=", 0.04),
    "probe_worst_flip_rate": ("<=", 0.05),
    "c3_abnormality_auroc": (">=", 0.80),
    "c3_normal_flagged": ("<=", 0.40),
    "c3_mean_auroc": (">=", 0.65),
    "mean_auroc_boxed8_c1": (">=", 0.65),
    "boxes_over_half_film": ("<=", 0.05),
    "mean_auroc_boxed8_first": (">=", 0.70),
    "mean_auroc_boxed8": (">=", 0.75),
    "abnormality_auroc": (">=", 0.82),
    "pneumonia_auroc": (">=", 0.65),
    "normal_with_any_positive": ("<=", 0.40),
    "abnormal_flagged": (">=", 0.85),
    "iou03_minus_prior": (">", 0.0),
    "iou03_swap_lift": (">=", 0.08),
}
IOU_03 = 2  # index of IoU > 0.3 in the localization tables' thresholds (0.1, 0.2, 0.3, ...)


def target_text(name: str) -> str:
    op, value = TARGETS[name]
    return f"{op} {value}"


def measured_values(test: Mapping[str, Any], probe: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The measured value of each target found in a card's ``metrics["test"]`` and its shortcut probe
    (absent ones left out)."""
    reader = test.get("reader") or {}
    c3 = (reader.get("per_collection") or {}).get("c3") or {}
    values: dict[str, Any] = {key: reader.get(key) for key in
                              ("mean_auroc_boxed8_first", "mean_auroc_boxed8", "abnormality_auroc",
                               "normal_with_any_positive")}
    values["abnormal_flagged"] = reader.get("abnormal_flagged", reader.get("abnormal_with_any_positive"))
    values["pneumonia_auroc"] = ((test.get("auroc") or {}).get("Pneumonia") or {}).get("auroc")
    values["mean_auroc_boxed8_c1"] = reader.get("mean_auroc_boxed8_c1")
    values["c3_abnormality_auroc"] = c3.get("abnormality_auroc")
    values["c3_normal_flagged"] = c3.get("normal_flagged")
    values["c3_mean_auroc"] = c3.get("mean_auroc")
    values["boxes_over_half_film"] = (test.get("boxes") or {}).get("over_half_film")
    if probe:
        values["probe_worst_mean_abs_change"] = probe.get("worst_mean_abs_change")
        values["probe_worst_flip_rate"] = probe.get("worst_flip_rate")
    loc = test.get("localization") or {}

    def iou03(kind: str) -> float | None:
        acc = (((loc.get(kind) or {}).get("iou") or {}).get("mean_accuracy")) or []
        return acc[IOU_03] if len(acc) > IOU_03 else None

    model, prior, swap = iou03("model"), iou03("prior"), iou03("swap")
    if model is not None and prior is not None:
        values["iou03_minus_prior"] = model - prior
    if model is not None and swap is not None:
        values["iou03_swap_lift"] = model - swap
    return {k: float(v) for k, v in values.items() if v is not None}


def verdicts(test: Mapping[str, Any], probe: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """name -> {"target", "measured", "met", "short_by"} for every target with a measured value."""
    out = {}
    for name, value in measured_values(test, probe).items():
        op, goal = TARGETS[name]
        met = value >= goal if op == ">=" else value <= goal if op == "<=" else value > goal
        short = 0.0 if met else abs(goal - value)
        out[name] = {"target": target_text(name), "measured": round(value, 4), "met": bool(met),
                     "short_by": round(short, 4)}
    return out
