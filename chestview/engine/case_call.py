"""The case call: one line that says what the model calls the film, coherent with its findings.

The rule (the findings list, the worklist, the CLI tables and every export follow it):

* a flagged input (the input gate) is *not assessed*: its findings are withheld;
* with an abnormality output, the call is that output's: *abnormal* or *normal* at its own
  operating point;
  - abnormal with no finding above its operating point says so ("abnormal — no single finding
    above its operating point") and the abnormality output's own map is the one to show;
  - normal with a finding above its operating point is *discordant*: the finding stays positive
    and shown, and the call carries a note naming it (never a silent contradiction);
* without one, the call is the findings': *abnormal* when any reliable finding is positive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chestview.engine.results import ImageResult

#: The key of the abnormality output's map in ``ImageResult.heatmaps`` (the card's output name).
ABNORMALITY_MAP = "Abnormality"
NO_SINGLE_FINDING = "abnormal — no single finding above its operating point"


@dataclass(frozen=True)
class CaseCall:
    call: str  # "abnormal" | "normal" | "not assessed"
    text: str  # the one line a reader sees
    discordant: bool = False  # a positive finding on a film called normal
    note: str = ""  # why it is discordant, naming the findings
    show_map: str = ""  # the map to show when no finding is chosen ("" = a finding's)

    @property
    def short(self) -> str:
        """A table cell: the call, and what qualifies it."""
        if self.show_map or (self.call == "abnormal" and NO_SINGLE_FINDING in self.text):
            return "abnormal (no single finding)"
        if self.discordant:
            return "normal, but " + self.text.split(" — but ", 1)[-1]
        return self.call

    def to_json(self) -> dict[str, Any]:
        return {"call": self.call, "text": self.text, "discordant": self.discordant, "note": self.note}


def case_call(result: "ImageResult") -> CaseCall | None:
    """The call on ``result`` by the rule above; None for a film that could not be analysed."""
    if result.error:
        return None
    if result.flagged:
        return CaseCall("not assessed", "not assessed — does not look like a frontal chest radiograph")
    positives = [f for f in result.findings if f.positive and f.reliable]
    names = ", ".join(f"{f.label.replace('_', ' ')} {f.probability:.2f}" for f in positives)
    ab = result.abnormality
    if ab is None:
        if positives:
            return CaseCall("abnormal", f"abnormal — {names}")
        return CaseCall("normal", "normal — no finding above its operating point")
    digits = 2 if f"{ab.probability:.2f}" != f"{ab.threshold:.2f}" else 3  # never "0.58 below 0.58"
    score = f"abnormality {ab.probability:.{digits}f}, operating point {ab.threshold:.{digits}f}"
    if ab.positive:
        if positives:
            return CaseCall("abnormal", f"abnormal ({score}) — {names}")
        return CaseCall("abnormal", f"{NO_SINGLE_FINDING} ({score})",
                        show_map=ABNORMALITY_MAP if ABNORMALITY_MAP in result.heatmaps else "")
    if positives:
        which = "is" if len(positives) == 1 else "are"
        note = (f"{names} {which} above its own operating point although the film is called normal "
                f"({score}): read the finding")
        return CaseCall("normal", f"normal ({score}) — but {names} positive", discordant=True, note=note)
    return CaseCall("normal", f"normal ({score})")
