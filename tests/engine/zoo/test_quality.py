"""A model that misses its card's targets, or ranks films near chance, says so."""

from __future__ import annotations

from chestview.engine.zoo import ModelCard, default_model_id, find_model
from chestview.engine.zoo.quality import model_warning_line, model_warnings


def test_the_bundled_default_says_which_targets_it_misses():
    card = ModelCard.load(find_model(default_model_id()))
    missed = [k for k, v in card.metrics["test"]["targets"].items() if not v["met"]]
    warnings = model_warnings(card)
    assert missed and any(f"misses {len(missed)} of" in w for w in warnings)
    assert all(name in " ".join(warnings) for name in missed)
    assert model_warning_line(card).startswith(f"Model warning ({card.id}): misses")


def test_poor_or_missing_test_auroc_and_a_model_that_meets_its_targets():
    card = ModelCard.load(find_model(default_model_id()))
    poor = card.with_updates(metrics={"test": {"mean_auroc": 0.42}})
    assert any("poor test mean AUROC 0.42" in w for w in model_warnings(poor))
    assert any("not evaluated" in w for w in model_warnings(card.with_updates(metrics={})))
    good = card.with_updates(metrics={"test": {"mean_auroc": 0.8, "targets": {"abnormality_auroc": {"met": True}}}})
    assert model_warnings(good) == [] and model_warning_line(good) == ""
