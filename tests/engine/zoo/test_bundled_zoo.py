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
    for key in ("command_line", "data", "split_sizes", "split_seed", "hardware", "wall_seconds"):
        assert key in data["provenance"], f"provenance lacks {key}"
    assert "test" in data["metrics"], "metrics must be measured on the held-out test split"
    assert data["licence"]


@pytest.mark.parametrize("card_path", CARDS, ids=[p.parent.name for p in CARDS])
def test_bundled_weights_load(card_path):
    from chestview.engine.zoo import load_model

    loaded = load_model(card_path.parent)
    assert loaded.module.num_classes == loaded.card.n_outputs  # the labels, plus abnormality when it has one


def test_default_model_is_bundled():
    marker = bundled_zoo_dir() / "DEFAULT"
    if not CARDS:
        pytest.skip("no bundled model yet")
    assert marker.is_file()
    assert (bundled_zoo_dir() / marker.read_text().strip() / CARD_FILE).is_file()


@pytest.mark.parametrize("card_path", CARDS, ids=[p.parent.name for p in CARDS])
def test_card_numbers_come_from_the_shipped_test_report(card_path):
    """The card's test metrics are re-derived from eval/report.json, which ships beside it."""
    card = json.loads(card_path.read_text())
    report = json.loads((card_path.parent / "eval" / "report.json").read_text())
    test = card["metrics"]["test"]
    assert report["meta"]["split"] == "test" and report["model_id"] == card["id"]
    assert test["n_images"] == report["meta"]["n_images"]
    assert test["mean_auroc"] == pytest.approx(report["auroc"]["mean_auroc"], abs=1e-6)
    per_label = {row["label"]: row for row in report["auroc"]["per_label"]}
    for label, row in test["auroc"].items():
        if row["auroc"] is None:
            continue
        assert row["auroc"] == pytest.approx(per_label[label]["auroc"], abs=1e-6)
        assert row["ci95"][0] == pytest.approx(per_label[label]["ci_low"], abs=1e-6)
        assert row["ci95"][1] == pytest.approx(per_label[label]["ci_high"], abs=1e-6)
        assert row["n_pos"] == per_label[label]["n_pos"]
    if "localization" in test:
        assert test["localization"] == report["localization"]
    # never a split the model trained or was tuned on
    sizes = card["provenance"]["split_sizes"]
    assert test["n_images"] == sizes["test"]


def test_readme_zoo_table_is_generated_from_the_cards():
    """The README's model-zoo table is `chestview models --markdown` verbatim: no number typed by hand."""
    from chestview.engine.zoo import default_model_id, list_zoo
    from chestview.engine.zoo.summary import zoo_table

    if not CARDS:
        pytest.skip("no bundled model yet")
    readme = (bundled_zoo_dir().parent / "README.md").read_text(encoding="utf-8")
    bundled = sorted((e.card for e in list_zoo() if e.bundled), key=lambda c: c.id)
    assert zoo_table(bundled, default_model_id()) in readme


NOT_SHIPPED = sorted((bundled_zoo_dir() / "not_shipped").glob(f"*/{CARD_FILE}"))


@pytest.mark.parametrize("card_path", NOT_SHIPPED, ids=[p.parent.name for p in NOT_SHIPPED])
def test_not_shipped_cards_come_from_their_reports(card_path):
    """Models trained but not shipped keep a valid card whose test numbers match their report."""
    data = json.loads(card_path.read_text())
    assert validate_card(data) == []
    report = json.loads((card_path.parent / "eval" / "report.json").read_text())
    assert report["meta"]["split"] == "test" and report["model_id"] == data["id"]
    assert data["metrics"]["test"]["mean_auroc"] == pytest.approx(report["auroc"]["mean_auroc"], abs=1e-6)
    assert not (card_path.parent / data["weights"]).exists()


def test_readme_not_shipped_table_is_generated_from_their_cards():
    from chestview.engine.zoo import ModelCard
    from chestview.engine.zoo.summary import zoo_table

    if not NOT_SHIPPED:
        pytest.skip("every trained model is shipped")
    readme = (bundled_zoo_dir().parent / "README.md").read_text(encoding="utf-8")
    assert zoo_table([ModelCard.load(p.parent) for p in NOT_SHIPPED]) in readme


@pytest.mark.parametrize("card_path", CARDS, ids=[p.parent.name for p in CARDS])
def test_card_reader_numbers_come_from_the_shipped_report(card_path):
    """What a reader meets (abnormality AUROC, normals with a positive, calibration error...) in the
    card is the test report's, and the card's target verdicts follow from those numbers."""
    card = json.loads(card_path.read_text())
    report = json.loads((card_path.parent / "eval" / "report.json").read_text())
    reader = card["metrics"]["test"].get("reader")
    if not reader:
        pytest.skip("this model predates the reader metrics")
    for key, value in reader.items():
        assert report["reader"][key] == value, key
    for key, verdict in card["metrics"]["test"].get("targets", {}).items():
        op, target = verdict["target"].split()
        v, t = verdict["measured"], float(target)
        assert verdict["met"] == (v >= t if op == ">=" else v <= t if op == "<=" else v > t), key
    if card.get("calibration", {}).get("params"):
        assert card["calibration"]["fitted_on"].startswith("validation")


def test_readme_reader_table_is_generated_from_the_cards():
    from chestview.engine.zoo import list_zoo
    from chestview.engine.zoo.summary import reader_table

    if not CARDS:
        pytest.skip("no bundled model yet")
    readme = (bundled_zoo_dir().parent / "README.md").read_text(encoding="utf-8")
    bundled = sorted((e.card for e in list_zoo() if e.bundled), key=lambda c: c.id)
    assert reader_table(bundled) in readme


@pytest.mark.parametrize("card_path", CARDS, ids=[p.parent.name for p in CARDS])
def test_card_target_verdicts_are_the_engines(card_path):
    """The card's target verdicts are exactly what ``eval --update-card`` writes from its numbers."""
    from chestview.engine.evaluate.targets import verdicts

    metrics = json.loads(card_path.read_text())["metrics"]
    test = metrics["test"]
    if "targets" not in test:
        pytest.skip("this model predates the targets")
    assert verdicts(test, metrics.get("probe")) == test["targets"]


@pytest.mark.parametrize("card_path", CARDS, ids=[p.parent.name for p in CARDS])
def test_bundled_card_records_its_split_and_its_probe(card_path):
    """Every bundled model ships its split as images (so eval cannot leak) and its shortcut probe."""
    from chestview.engine.data.recorded_split import read_split
    from chestview.engine.util import sha256_file

    card = json.loads(card_path.read_text())
    record = card["provenance"]["split_file"]
    path = card_path.parent / record["file"]
    assert sha256_file(path) == record["sha256"]
    lists = read_split(path)["lists"]
    assert {k: len(v) for k, v in lists.items()} == card["provenance"]["split_sizes"]
    hashes = {k: {sha for _, sha in v} for k, v in lists.items()}
    assert not hashes["test"] & (hashes["train"] | hashes["val"])
    probe = card["metrics"]["probe"]
    assert probe["split"] == "val" and len(probe["variants"]) == 4
    assert probe["worst_flip_rate"] == max(v["flip_rate"] for v in probe["variants"])


def test_readme_shortcut_table_is_generated_from_the_cards():
    from chestview.engine.zoo import list_zoo
    from chestview.engine.zoo.summary import shortcut_table

    if not CARDS:
        pytest.skip("no bundled model yet")
    readme = (bundled_zoo_dir().parent / "README.md").read_text(encoding="utf-8")
    bundled = sorted((e.card for e in list_zoo() if e.bundled), key=lambda c: c.id)
    assert shortcut_table(bundled) in readme


@pytest.mark.parametrize("card_path", CARDS, ids=[p.parent.name for p in CARDS])
def test_calibrated_models_have_one_operating_point_for_every_finding(card_path):
    """On one calibrated scale one cut: a red finding is never below a black one on the same film."""
    card = json.loads(card_path.read_text())
    if not card.get("calibration", {}).get("params"):
        pytest.skip("an uncalibrated model keeps per-label thresholds")
    assert len(set(card["thresholds"].values())) == 1
    assert all("one threshold for every finding" in rule
               for label, rule in card["provenance"]["threshold_rules"].items() if label in card["labels"])
