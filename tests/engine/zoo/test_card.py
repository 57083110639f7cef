import json

import pytest
import torch

from chestview.engine.errors import ModelError
from chestview.engine.preprocess import Preprocessing
from chestview.engine.zoo import ModelCard, list_zoo, load_model, save_zoo_entry, validate_card
from chestview.engine.zoo.card import CARD_FILE


def _card(**kw):
    base = dict(
        id="m", architecture="chexnet", labels=("A", "B"), preprocessing=Preprocessing(size=32),
        thresholds={"A": 0.3},
    )
    base.update(kw)
    return ModelCard(**base)


def test_card_round_trip(tmp_path):
    card = _card(unreliable_labels=("B",), metrics={"test": {"mean_auroc": 0.7}}, box_threshold=210)
    card.save(tmp_path)
    again = ModelCard.load(tmp_path)
    assert again == card and again.box_threshold == 210
    assert again.threshold("A") == 0.3 and again.threshold("B") == 0.5


@pytest.mark.parametrize(
    "change, message",
    [
        ({"labels": []}, "labels"),
        ({"labels": ["A", "A"]}, "duplicates"),
        ({"thresholds": {"C": 0.5}}, "unknown label"),
        ({"thresholds": {"A": 1.5}}, "probability"),
        ({"supervision": "magic"}, "supervision"),
        ({"sha256": "xyz"}, "sha256"),
        ({"id": "a/b"}, "id"),
        ({"preprocessing": {"size": 224}}, "preprocessing"),
        ({"box_threshold": 0}, "box_threshold"),
        ({"box_threshold": 180.5}, "box_threshold"),
    ],
)
def test_validate_card_rejects(change, message):
    data = _card().to_json()
    data.update(change)
    problems = validate_card(data)
    assert any(message in p for p in problems), problems


def test_weights_checked_against_sha256(tmp_path, tiny_zoo):
    loaded = load_model(tiny_zoo)
    assert loaded.card.sha256
    weights = tiny_zoo / loaded.card.weights
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="SHA-256 mismatch"):
        load_model(tiny_zoo)


def test_card_without_hash_is_refused(tmp_path, tiny_zoo):
    data = json.loads((tiny_zoo / CARD_FILE).read_text())
    data["sha256"] = ""
    (tiny_zoo / CARD_FILE).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="no SHA-256"):
        load_model(tiny_zoo)


def test_saved_model_reloads_identically(tmp_path):
    from chestview.engine.models import get_model

    torch.manual_seed(0)
    module = get_model("resnet34_baseline", num_classes=2, trunk="resnet18").eval()
    card = save_zoo_entry(tmp_path / "m", _card(architecture="resnet34_baseline", arch_kwargs={"trunk": "resnet18"}),
                          module.state_dict(), fp16=False)
    loaded = load_model(tmp_path / "m")
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x).logits, module(x).logits)
    assert loaded.card.sha256 == card.sha256


def test_list_zoo_finds_entries_on_the_zoo_path(tiny_zoo):
    ids = [e.card.id for e in list_zoo()]
    assert "tiny-test-model" in ids


def test_unknown_model_names_what_is_known(tiny_zoo):
    with pytest.raises(ModelError, match="tiny-test-model"):
        load_model("no-such-model")


def test_card_without_box_threshold_uses_wang_180():
    data = _card().to_json()
    del data["box_threshold"]
    assert ModelCard.from_json(data).box_threshold == 180
