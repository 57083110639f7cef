"""How one zoo model measured against another (the default): what a researcher reads before picking.

Every figure comes from the two cards' test reports; nothing is measured here. Two models are
compared only where their test splits are the same images (the cards' recorded split files), since
AUROCs on different films do not rank models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chestview.engine.zoo.card import ModelCard


def per_finding_test_auroc(card: ModelCard) -> dict[str, float]:
    """The card's test-split AUROC per label (labels without one are left out)."""
    per_label = ((card.metrics or {}).get("test") or {}).get("auroc") or {}
    out: dict[str, float] = {}
    for label, value in per_label.items():
        auroc = value.get("auroc") if isinstance(value, dict) else value
        if isinstance(auroc, (int, float)) and not isinstance(auroc, bool):
            out[label] = float(auroc)
    return out


def _test(card: ModelCard) -> dict[str, Any]:
    return (card.metrics or {}).get("test") or {}


def _split_hash(card: ModelCard) -> str | None:
    record = (card.provenance or {}).get("split_file")
    return record.get("sha256") if isinstance(record, dict) else None


@dataclass(frozen=True)
class Comparison:
    """``model`` against ``reference`` on their shared test split (differences are model - reference)."""

    model: str
    reference: str
    same_split: bool
    mean_auroc: tuple[float, float] | None  # (model, reference)
    abnormality_auroc: tuple[float, float] | None
    boxed8_c1: tuple[float, float] | None  # the 8 boxed labels, first collection
    better_labels: int  # labels with a higher test AUROC than the reference's
    labels_compared: int

    def sentence(self) -> str:
        """One line: "test mean AUROC 0.710 vs 0.654 for chexnet-lite0-r4-eq (+0.056); ...\""""
        if self.model == self.reference:
            return "this is the default model"
        if not self.same_split:
            return f"tested on other films than {self.reference}: its numbers do not rank against the default's"
        parts = []
        for name, pair in (("test mean AUROC", self.mean_auroc), ("abnormality AUROC", self.abnormality_auroc),
                           ("boxed-8 AUROC, first collection", self.boxed8_c1)):
            if pair is not None:
                parts.append(f"{name} {pair[0]:.3f} vs {pair[1]:.3f} ({pair[0] - pair[1]:+.3f})")
        if self.labels_compared:
            parts.append(f"higher on {self.better_labels} of {self.labels_compared} findings")
        return f"against {self.reference} on the same test films: " + "; ".join(parts)


def _pair(a: Any, b: Any) -> tuple[float, float] | None:
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    return (float(a), float(b)) if ok else None


def compare_cards(model: ModelCard, reference: ModelCard) -> Comparison:
    """How ``model`` measured against ``reference`` on the test split they share."""
    a, b = _split_hash(model), _split_hash(reference)
    same = a is not None and a == b
    ta, tb = _test(model), _test(reference)
    ra, rb = ta.get("reader") or {}, tb.get("reader") or {}
    la, lb = per_finding_test_auroc(model), per_finding_test_auroc(reference)
    shared = [label for label in la if label in lb]
    return Comparison(
        model=model.id, reference=reference.id, same_split=same,
        mean_auroc=_pair(ta.get("mean_auroc"), tb.get("mean_auroc")) if same else None,
        abnormality_auroc=_pair(ra.get("abnormality_auroc"), rb.get("abnormality_auroc")) if same else None,
        boxed8_c1=_pair(ra.get("mean_auroc_boxed8_c1"), rb.get("mean_auroc_boxed8_c1")) if same else None,
        better_labels=sum(la[label] > lb[label] for label in shared) if same else 0,
        labels_compared=len(shared) if same else 0,
    )


@dataclass(frozen=True)
class SystemInfo:
    """What a zoo model is, as its architecture's registration says: name, design and paper."""

    title: str
    design: str
    paper: str


def system_info(card: ModelCard) -> SystemInfo:
    """The research system behind ``card`` (its architecture's name, design and paper; the bare
    architecture name for an imported or unregistered one)."""
    # deferred: the architecture registry imports torch; `chestview models` lists cards without it
    from chestview.engine.errors import ModelError
    from chestview.engine.models import model_info

    try:
        info = model_info(card.architecture)
    except ModelError:
        return SystemInfo(card.architecture, "", "")
    return SystemInfo(info.title or card.architecture, info.description, info.paper)
