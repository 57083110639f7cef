"""The rule for reduced precision: used only where the model's card proves it harmless.

A bf16 forward pass is not exact (it moves probabilities by far more than the 1e-4 an exported
backend must match torch to), so it cannot pass the parity check every backend passes. Instead,
``chestview models check-precision`` measures it on the model's own validation split against
float32 (:mod:`chestview.engine.precision_proof`) and records the result in the card under
``reduced_precision``; a reduced precision is used only when that record passed, for these very
weights (their SHA-256). The limits are the project's: the validation AUROC may move by at most
0.002 and the localization score by at most 0.01.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chestview.engine.backends import PRECISIONS
from chestview.engine.errors import ChestviewError

EXACT = "f32"
REDUCED = tuple(p for p in PRECISIONS if p != EXACT)
AUROC_LIMIT = 0.002  # |mean AUROC delta| (and the abnormality output's) on the validation split
LOCALIZATION_LIMIT = 0.01  # |localization score delta| on the validation split's boxes
# OpenVINO's names for INFERENCE_PRECISION_HINT and the CPU capability that makes it real (without
# it, OpenVINO silently runs float32, and a "proof" would measure nothing).
OV_HINT = {"f32": "f32", "bf16": "bf16"}
OV_CAPABILITY = {"bf16": "BF16"}


def validate_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ChestviewError(f"unknown precision {precision!r} ({', '.join(PRECISIONS)})")
    return precision


@lru_cache(maxsize=None)
def cpu_supports(precision: str) -> bool:
    """Whether OpenVINO runs ``precision`` natively on this CPU (f32 always)."""
    if precision == EXACT:
        return True
    try:
        import openvino as ov

        return OV_CAPABILITY[precision] in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # not installed, or a build without the property: treat as unsupported
        return False


def proof_of(card: Any, precision: str) -> dict[str, Any] | None:
    """The card's record for ``precision`` when it is for these weights and this box threshold (the
    localization delta was measured with it), else None."""
    entry = (getattr(card, "reduced_precision", None) or {}).get(precision)
    if not isinstance(entry, dict) or not card.sha256 or entry.get("weights_sha256") != card.sha256:
        return None
    if entry.get("box_threshold", card.box_threshold) != card.box_threshold:
        return None
    return entry


def refusal(card: Any, precision: str) -> str | None:
    """Why ``precision`` may not run ``card``'s model here (one line), or None when it may."""
    if precision == EXACT:
        return None
    entry = proof_of(card, precision)
    if entry is None:
        return (f"{card.id}: {precision} is not proven for this model (its card records no precision check for "
                f"these weights; run `chestview models check-precision {card.id} --data ...`)")
    if not entry.get("passed"):
        return (f"{card.id}: {precision} failed its check on the validation split (AUROC moved by "
                f"{_fmt(entry.get('mean_auroc_delta'))}, localization by {_fmt(entry.get('localization_delta'))})")
    if not cpu_supports(precision):
        return f"this CPU (or OpenVINO build) has no native {precision}"
    return None


def _fmt(v: Any) -> str:
    return f"{v:+.4f}" if isinstance(v, (int, float)) else "?"
