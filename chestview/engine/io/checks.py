"""Header checks: does this DICOM claim to be something other than a chest radiograph?

The rule (documented in docs and tested on the udacity files):

* **Modality** — projection radiography (CR, DX, the non-standard DR, RG) and the generic
  capture modalities (OT, SC, or no Modality at all) pass; their body part decides. Anything
  else (CT, MR, US, NM, PT, MG, XA, RF, ...) is *not a radiograph of the chest* and warns.
* **BodyPartExamined** — absent or chest-like (CHEST, THORAX, LUNG, and common translations)
  passes. A part of the chest wall (RIBCAGE, RIB(S), STERNUM, CLAVICLE, SCAPULA, thoracic spine)
  gets a soft note: the chest is in the picture, but a rib or spine view is collimated and exposed
  differently from a chest radiograph. Any other value warns.
* **ViewPosition** — a lateral or decubitus view gets a soft note: the models see frontal views.
* **PatientPosition** — minor: an unknown value (not a DICOM defined term nor a view-like value
  such as PA/AP that exporters often put there) gets a note that it was ignored.

Soft notes start with "Note:"; other warnings mean the model output is probably meaningless.
"""

from __future__ import annotations

import re

_RADIOGRAPHY = frozenset({"CR", "DX", "DR", "RG"})
_GENERIC = frozenset({"", "OT", "SC"})
_CHEST_WORDS = ("CHEST", "THORAX", "THORACIC", "LUNG", "PULMO", "TORAX", "TORACE", "BRUST", "POUMON", "POITRINE")
_CHEST_WALL_WORDS = ("RIB", "STERN", "CLAVIC", "SCAPUL", "SPINE", "TSPINE")
_LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD", "LEFT LATERAL", "RIGHT LATERAL", "DECUBITUS"})
_PATIENT_POSITIONS = frozenset(
    "HFP HFS HFDR HFDL FFDR FFDL FFP FFS LFP LFS RFP RFS AFDR AFDL PFDR PFDL "
    "PA AP LL RL LAT LATERAL ERECT UPRIGHT STANDING SITTING SUPINE PRONE SEMI-ERECT".split()
)


def _norm(value: object) -> str:
    return re.sub(r"[\s_\-]+", " ", str(value or "")).strip().upper()


def is_chest_body_part(body_part: str) -> bool:
    bp = _norm(body_part)
    return any(w in bp for w in _CHEST_WORDS) and "SPINE" not in bp


def chest_header_warnings(
    modality: str | None,
    body_part: str | None,
    view_position: str | None = None,
    patient_position: str | None = None,
) -> list[str]:
    """Human-readable warnings for headers that say "not a frontal chest radiograph"."""
    out: list[str] = []
    mod = _norm(modality)
    if mod not in _RADIOGRAPHY and mod not in _GENERIC:
        out.append(f"Modality is {mod}, not a chest radiograph (expected CR or DX): findings are not meaningful")
    bp = _norm(body_part)
    if bp and not is_chest_body_part(bp):
        if any(w in bp.replace(" ", "") for w in _CHEST_WALL_WORDS):
            out.append(f"Note: BodyPartExamined is {bp}, a chest-wall study rather than a chest radiograph")
        else:
            out.append(f"BodyPartExamined is {bp}, not the chest: the models are trained on chest radiographs")
    view = _norm(view_position)
    if view in _LATERAL_VIEWS:
        out.append(f"Note: ViewPosition is {view}; the models are trained on frontal (PA/AP) views")
    pos = _norm(patient_position)
    if pos and pos not in _PATIENT_POSITIONS:
        out.append(f"Note: unusual PatientPosition {pos!r} (ignored)")
    return out


def header_problems(modality: str | None, body_part: str | None) -> list[str]:
    """The header warnings that mean "not a chest radiograph" (not the soft notes): what the
    input gate flags on."""
    return [w for w in chest_header_warnings(modality, body_part) if not w.startswith("Note:")]
