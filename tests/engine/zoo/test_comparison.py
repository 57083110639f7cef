"""How a model measured against the default: from the cards' test reports, on the same films only."""

import pytest

from chestview.engine.zoo import list_zoo
from chestview.engine.zoo.comparison import compare_cards, system_info, per_finding_test_auroc
from chestview.engine.zoo.store import default_model_id

BUNDLED = {e.card.id: e.card for e in list_zoo() if e.bundled}


@pytest.fixture
def pair():
    default = BUNDLED[default_model_id()]
    other = next(card for cid, card in BUNDLED.items() if cid != default.id)
    return other, default


def test_models_on_the_same_test_films_are_compared_figure_by_figure(pair):
    other, default = pair
    c = compare_cards(other, default)
    assert c.same_split
    assert c.mean_auroc == (other.metrics["test"]["mean_auroc"], default.metrics["test"]["mean_auroc"])
    a, b = per_finding_test_auroc(other), per_finding_test_auroc(default)
    assert c.labels_compared == len(set(a) & set(b)) and c.better_labels == sum(a[k] > b[k] for k in a if k in b)
    text = c.sentence()
    assert f"{c.mean_auroc[0]:.3f} vs {c.mean_auroc[1]:.3f}" in text and default.id in text


def test_models_tested_on_other_films_are_not_ranked(pair):
    other, default = pair
    moved = other.with_updates(provenance={**other.provenance, "split_file": {"file": "split.json", "sha256": "0" * 64}})
    c = compare_cards(moved, default)
    assert not c.same_split and c.mean_auroc is None and "do not rank" in c.sentence()


def test_every_bundled_model_says_which_research_system_it_is():
    for card in BUNDLED.values():
        info = system_info(card)
        assert info.title and info.title != card.architecture and info.design, card.id


def test_per_finding_auroc_is_the_cards_test_report():
    for card in BUNDLED.values():
        per_label = per_finding_test_auroc(card)
        assert per_label == {k: v["auroc"] for k, v in card.metrics["test"]["auroc"].items()}
