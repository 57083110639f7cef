"""Every bundled model: a valid card, verified weights that fit its architecture, honest metrics."""

import json

import pytest

from chestview.engine.paths import bundled_zoo_dir
from chestview.engine.zoo import validate_card
from chestview.engine.zoo.card import CARD_FILE

CARDS = sorted(bundled_zoo_dir().glob(f"*/{CARD_FILE}"))


@pytest.mark.parametrize("card_path", CARDS, ids=[p.parent.name for p in CARDS])
def test_bundled_card_is_valid(card_path):
    data = json.loads(card_path.read_text())
    assert validate_card(data) == []
    assert data["id"] == card_path.parent.name
    for key in ("training_command", "data", "split"):
        assert key in data["provenance"], f"provenance lacks {key}"
    assert "test" in data["metrics"], "metrics must be measured on the held-out test split"
    assert data["licence"]


@pytest.mark.parametrize("card_path", CARDS, ids=[p.parent.name for p in CARDS])
def test_bundled_weights_load(card_path):
    from chestview.engine.zoo import load_model

    loaded = load_model(card_path.parent)
    assert loaded.module.num_classes == len(loaded.card.labels)


def test_default_model_is_bundled():
    marker = bundled_zoo_dir() / "DEFAULT"
    if not CARDS:
        pytest.skip("no bundled model yet")
    assert marker.is_file()
    assert (bundled_zoo_dir() / marker.read_text().strip() / CARD_FILE).is_file()
