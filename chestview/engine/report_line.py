"""One short findings sentence per film, for pasting into dictation: the positive findings with their
probabilities, the abnormality call, the input check, the model, and "not for clinical use".

The app's copy button and the worklist CSV's ``report`` column both use :func:`report_line`.
"""

from __future__ import annotations

from chestview.engine.results import ImageResult

NOT_CLINICAL = "Not for clinical use."


def report_line(result: ImageResult, model: str) -> str:
    """E.g. "AI (model x): Effusion 0.81, Cardiomegaly 0.62; abnormal (0.88); input check ok. Not for
    clinical use." A flagged film's findings are withheld, as they are in the viewer."""
    head = f"AI ({model})" if model else "AI"
    if result.error:
        return f"{head}: not read ({result.error}). {NOT_CLINICAL}"
    if result.flagged:
        reason = result.input_check.reason if result.input_check is not None else ""
        return (f"{head}: findings withheld: input check flagged the image as not a frontal chest radiograph"
                f"{f' ({reason})' if reason else ''}. {NOT_CLINICAL}")
    positives = [f for f in result.findings if f.positive and f.reliable]
    parts = [", ".join(f"{f.label.replace('_', ' ')} {f.probability:.2f}" for f in positives)
             if positives else "no finding above its operating point"]
    if result.abnormality is not None:
        ab = result.abnormality
        parts.append(f"{'abnormal' if ab.positive else 'normal'} ({ab.probability:.2f})")
    check = result.input_check
    if check is not None:
        parts.append("input check ok" if check.score is None else f"input check ok ({check.score:.2f})")
    return f"{head}: " + "; ".join(parts) + f". {NOT_CLINICAL}"
