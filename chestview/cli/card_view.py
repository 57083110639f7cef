"""``chestview models show ID``: a model card as a person reads it (``--json`` prints the raw card).

What the model is and where it comes from, its data and split, its metrics per split (per label, per
collection, what a reader meets), its operating points and input gate, and what it falls short of.
Every figure comes from the card; nothing here is measured.
"""

from __future__ import annotations

import re
from typing import Any

from chestview.cli.common import one_line, table
from chestview.engine.errors import ModelError
from chestview.engine.evaluate.box_threshold import describe_choice
from chestview.engine.models import model_info
from chestview.engine.zoo.card import ModelCard
from chestview.engine.zoo.comparison import compare_cards

# What a reader meets, in the order shown (the card's "reader" block; absent keys are skipped).
_READER = (
    ("abnormality_auroc", "abnormality AUROC, normal vs abnormal"),
    ("abnormal_flagged", "abnormal films flagged by the abnormality score"),
    ("normal_flagged", "normal films flagged by the abnormality score"),
    ("normal_with_any_positive", "normal films with any positive finding"),
    ("abnormal_with_any_positive", "abnormal films with any positive finding"),
    ("mean_positive_findings_per_film", "positive findings per film"),
    ("ece_labels_before", "calibration error (labels) before scaling"),
    ("ece_labels_after", "calibration error (labels) after scaling"),
)
_COLLECTION = re.compile(r"^mean_auroc_boxed8_(\w+)$")
# The targets' names (engine/evaluate/targets.py) in words.
_TARGET_NAMES = {
    "probe_worst_mean_abs_change": "shortcut probe: largest mean score change from brightness alone",
    "probe_worst_flip_rate": "shortcut probe: largest share of calls flipped by brightness alone",
    "c3_abnormality_auroc": "abnormality AUROC, third collection",
    "c3_normal_flagged": "normal films flagged, third collection",
    "c3_mean_auroc": "mean AUROC, third collection",
    "mean_auroc_boxed8_c1": "mean AUROC of the 8 boxed labels, first collection",
    "boxes_over_half_film": "share of boxes over half the film",
    "mean_auroc_boxed8_first": "mean AUROC of the 8 boxed labels, first collection",
    "mean_auroc_boxed8": "mean AUROC of the 8 boxed labels",
    "abnormality_auroc": "abnormality AUROC",
    "pneumonia_auroc": "Pneumonia AUROC",
    "normal_with_any_positive": "normal films with any positive finding",
    "abnormal_flagged": "abnormal films flagged",
    "iou03_minus_prior": "boxes at IoU > 0.3 minus the fixed prior boxes'",
    "iou03_swap_lift": "boxes at IoU > 0.3 over the same model's maps of another film",
}


def _f(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def _field(name: str, value: str) -> str:
    return f"  {name:<14}{one_line(value)}"


def card_text(card: ModelCard, *, where: str = "", default: bool = False, reference: ModelCard | None = None) -> str:
    """The whole card as text: sections in the order a reader asks (what, data, how good, how used, limits).
    ``reference``: the default model, which this one is measured against (same test films only)."""
    parts = [_what(card, where, default, reference), _data(card)]
    for split, metrics in card.metrics.items():
        if isinstance(metrics, dict) and "auroc" in metrics:
            parts.append(_metrics(card, split, metrics))
    parts += [_probe(card), _operating_points(card), _limits(card)]
    return "\n\n".join(p for p in parts if p)


def _what(card: ModelCard, where: str, default: bool, reference: ModelCard | None = None) -> str:
    try:
        info = model_info(card.architecture)
        design, paper = info.description, info.paper
    except ModelError:  # an imported or unregistered architecture: its name is all there is
        design, paper = "", ""
    arch = card.architecture
    trunk = card.arch_kwargs.get("trunk")
    if trunk:
        arch += f" on trunk {trunk}" + (" (ImageNet-initialised)" if card.arch_kwargs.get("pretrained_trunk") else "")
    pre = card.preprocessing
    intensity = getattr(pre, "intensity", "")
    lines = [f"{card.id}" + (" (the default model)" if default else "") + (f"  [{where}]" if where else "")]
    if card.description:
        lines.append(f"  {one_line(card.description)}")
    lines += [_field("architecture", arch)]
    if design:
        lines.append(_field("as published", design + (f" ({paper})" if paper else "")))
    lines += [
        _field("input", f"{pre.size} px, {pre.channels} channel(s)" + (f", intensity {intensity}" if intensity else "")),
        _field("labels", f"{len(card.labels)}: {', '.join(card.labels)}"),
        _field("supervision", {"box": "image labels and boxes", "weak": "image labels only (weak)"}.get(
            card.supervision, card.supervision)),
    ]
    if card.has_abnormality:
        lines.append(_field("abnormality", "an output of its own: any finding vs none"))
    if reference is not None and not default:
        lines.append(_field("vs default", compare_cards(card, reference).sentence()))
    if card.licence:
        lines.append(_field("licence", card.licence))
    return "\n".join(lines)


def _data(card: ModelCard) -> str:
    prov = card.provenance
    data = prov.get("data") or prov.get("dataset")
    if not data and not prov.get("source"):
        return ""
    lines = ["data"]
    if data:
        lines.append(_field("dataset", str(data)))
    sizes = prov.get("split_sizes") or {}
    if sizes:
        split = ", ".join(f"{name} {n}" for name, n in sizes.items())
        how = []
        if prov.get("split_fractions"):
            how.append("fractions " + "/".join(f"{f:g}" for f in prov["split_fractions"]))
        if "split_seed" in prov:
            how.append(f"seed {prov['split_seed']}")
        if isinstance(prov.get("split_file"), dict):
            how.append(f"its images listed in {prov['split_file'].get('file', 'split.json')}")
        lines.append(_field("split", split + (f" ({', '.join(how)})" if how else "")))
    if prov.get("epochs_run") is not None:
        best = f", best epoch {prov['best_epoch']}" if prov.get("best_epoch") is not None else ""
        took = f", {prov['train_seconds'] / 60:.0f} min" if isinstance(prov.get("train_seconds"), (int, float)) else ""
        hw = (prov.get("hardware") or {}).get("device", "")
        lines.append(_field("training", f"{prov['epochs_run']} epochs{best}{took}" + (f" on {hw}" if hw else "")))
    if prov.get("command_line"):
        lines.append(_field("command", str(prov["command_line"])))
    if prov.get("source"):
        lines.append(_field("source", str(prov["source"])))
    return "\n".join(lines)


def _metrics(card: ModelCard, split: str, m: dict[str, Any]) -> str:
    loc = ((m.get("localization") or {}).get("model") or {}).get("iobb") or {}
    loc_at_01 = {lbl: acc[0] for lbl, acc in (loc.get("accuracy") or {}).items() if acc}
    rows = []
    for label in card.labels:
        r = (m.get("auroc") or {}).get(label) or {}
        ci = r.get("ci95") or [None, None]
        note = "unreliable (few training positives)" if label in card.unreliable_labels else ""
        rows.append([label, _f(r.get("auroc")), f"[{_f(ci[0])}, {_f(ci[1])}]", r.get("n_pos", "–"),
                     _f(loc_at_01.get(label)) if label in loc_at_01 else "", note])
    head = f"{m.get('split', split)} split, {m.get('n_images', '?')} images: mean AUROC {_f(m.get('mean_auroc'))}"
    out = [head, table(rows, ["label", "AUROC", "95% CI", "positives", "loc. IoBB>0.1", "note"])]
    if m.get("split_note"):
        out.insert(1, f"  ({one_line(m['split_note'])})")
    reader = m.get("reader") or {}
    collections = [(match.group(1), value) for key, value in reader.items() if (match := _COLLECTION.match(key))]
    per = reader.get("per_collection")
    if isinstance(per, dict) and per:
        crow = [[name, c.get("n", "–"), c.get("n_normal", "–"), _f(c.get("mean_auroc")), _f(c.get("mean_auroc_boxed8")),
                 _f(c.get("abnormality_auroc")), _f(c.get("normal_with_any_positive")), _f(c.get("normal_flagged"))]
                for name, c in per.items() if isinstance(c, dict)]
        out += ["", "by collection:",
                table(crow, ["collection", "films", "normals", "mean AUROC", "8 boxed labels", "abnormality AUROC",
                             "normals with a positive", "normals flagged"])]
    elif collections:
        crow = [["all", reader.get("n_normal", 0) + reader.get("n_abnormal", 0) or m.get("n_images", "–"),
                 _f(reader.get("mean_auroc_boxed8"))]]
        crow += [[name, reader.get(f"n_{name}", "–"), _f(value)] for name, value in collections]
        out += ["", "by collection (mean AUROC of the 8 boxed labels):",
                table(crow, ["collection", "films", "mean AUROC"])]
    shown = [(name, reader[key]) for key, name in _READER if reader.get(key) is not None]
    if shown:
        out += ["", "what a reader meets (calibrated scores, validation thresholds):"]
        out += [f"  {name}: {_f(value)}" for name, value in shown]
    return "\n".join(out)


def _operating_points(card: ModelCard) -> str:
    lines = ["operating points (chosen on the validation split)"]
    values = sorted(set(round(v, 6) for v in card.thresholds.values()))
    rules = card.provenance.get("threshold_rules") or {}
    if len(values) == 1:
        rule = next((r for lbl, r in rules.items() if lbl in card.labels), "")
        lines.append(_field("findings", rule or f"one threshold, {values[0]:.4f}, for every finding"))
    elif values:
        lines.append(_field("findings", ", ".join(f"{lbl} {card.threshold(lbl):.4f}" for lbl in card.labels)))
    else:
        lines.append(_field("findings", "0.5 for every finding (no thresholds chosen)"))
    if card.has_abnormality:
        ab = card.abnormality
        lines.append(_field("abnormality", f"{_f(ab.get('threshold'), 4)}" + (f" ({ab['rule']})" if ab.get("rule") else "")))
    if card.calibration:
        lines.append(_field("calibration", f"{card.calibration.get('method', '')} scaling, fitted on "
                                           f"{card.calibration.get('fitted_on', 'the validation split')}"))
    choice = card.provenance.get("box_threshold_choice")
    boxes = describe_choice(choice) if choice else f"box threshold {card.box_threshold} (heatmap level)"
    if card.box_prior:
        boxes += f"; box prior from the training boxes, exponent {card.box_prior.get('exponent', 0):g}"
    lines.append(_field("boxes", boxes))
    gate = card.input_gate
    if gate:
        rate = gate.get("val_flagged_rate")
        lines.append(_field("input gate", f"threshold {_f(gate.get('threshold'), 3)} on {gate.get('feature_dim', '?')} "
                                          f"features ({gate.get('components', '?')} components), fitted on "
                                          f"{gate.get('train_images', '?')} training films; flags "
                                          f"{_f(100 * rate if rate is not None else None, 1)}% of the validation films "
                                          f"(at most {_f(100 * gate.get('max_flag_rate', 0), 0)}% allowed)"))
    else:
        lines.append(_field("input gate", "none (pixel and header checks only)"))
    for precision, record in card.reduced_precision.items():
        lines.append(_field(precision, "passed its check: may run" if record.get("passed") else
                            "failed its check against f32: runs at f32"))
    return "\n".join(lines)


def _probe(card: ModelCard) -> str:
    """The shortcut probe (the same films re-scored under changed brightness), when the card has one."""
    probe = card.metrics.get("probe")
    if not isinstance(probe, dict) or not probe.get("variants"):
        return ""
    targets = probe.get("targets") or {}
    lines = [f"shortcut probe ({probe.get('probe', '')}, {probe.get('split', '')} split, {probe.get('score', '')} score): "
             + ("passed" if probe.get("passed") else "FAILED")]
    rows = [[v.get("name", ""), v.get("n_images", "–"), _f(v.get("mean_abs_change")), _f(v.get("flip_rate"))]
            for v in probe["variants"]]
    lines.append(table(rows, ["variant", "films",
                              f"mean |change| (target {targets.get('worst_mean_abs_change', '–')})",
                              f"calls flipped (target {targets.get('worst_flip_rate', '–')})"]))
    return "\n".join(lines)


def _limits(card: ModelCard) -> str:
    lines = ["limits"]
    for split, m in card.metrics.items():
        targets = (m or {}).get("targets") if isinstance(m, dict) else None
        for name, t in (targets or {}).items():
            if isinstance(t, dict) and not t.get("met", True):
                lines.append(f"  missed on the {split} split: {_TARGET_NAMES.get(name, name)} {_f(t.get('measured'))} "
                             f"(target {t.get('target')}, short by {_f(t.get('short_by'))})")
    if card.unreliable_labels:
        lines.append(f"  unreliable labels (too few training positives, never called positive): "
                     f"{', '.join(card.unreliable_labels)}")
    lines.append("  research software: not for clinical use")
    return "\n".join(lines)
