"""What a reader must know about a model before reading with it: the targets its card says it
misses, a test AUROC near chance, no test evaluation at all. Shown in the model picker and
carried into every export (PNG legend, JSON, SR, presentation state)."""

from __future__ import annotations

from typing import Any

POOR_AUROC = 0.6  # a mean test AUROC below this ranks films little better than chance (0.5)


def model_warnings(card: Any) -> list[str]:
    """One line per problem, [] for a model that meets its card's targets."""
    test = (card.metrics or {}).get("test") or {}
    out = []
    mean = test.get("mean_auroc")
    if not test or mean is None:
        out.append("not evaluated on a test split: its accuracy is unknown")
    elif float(mean) < POOR_AUROC:
        out.append(f"poor test mean AUROC {float(mean):.2f} (below {POOR_AUROC}; 0.5 is chance)")
    targets = test.get("targets") or {}
    missed = [name for name, v in targets.items() if isinstance(v, dict) and not v.get("met", True)]
    if missed:
        details = ", ".join(f"{name} {targets[name].get('measured')} (target {targets[name].get('target')})"
                            for name in missed)
        out.append(f"misses {len(missed)} of {len(targets)} quality targets: {details}")
    return out


def model_warning_line(card: Any) -> str:
    """The warnings in one short line for a burned-in legend or a DICOM text ("" when none)."""
    warnings = model_warnings(card)
    if not warnings:
        return ""
    short = [w.split(":")[0] for w in warnings]
    return f"Model warning ({card.id}): " + "; ".join(short)
