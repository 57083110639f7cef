"""`chestview train` / `chestview eval` end to end on 40 real 64 px NIH images (tests/data/nih_64px)."""

import json

import pytest

from chestview.cli.main import main
from chestview.engine.zoo import load_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory, test_data):
    out = tmp_path_factory.mktemp("train") / "run"
    code = main([
        "train", "--arch", "resnet34_baseline", "--trunk", "resnet18", "--data", f"nih:{test_data / 'nih_64px'}",
        "--size", "64", "--epochs", "2", "--batch-size", "8", "--workers", "0", "--device", "cpu",
        "--out", str(out), "--model-id", "smoke", "--no-progress",
    ])
    return code, out


def test_train_writes_a_loadable_zoo_entry(trained, capsys):
    code, out = trained
    assert code == 0
    loaded = load_model(out / "model")
    card = loaded.card
    assert card.id == "smoke" and card.preprocessing.size == 64 and card.supervision == "weak"
    assert set(card.thresholds) <= set(card.labels)
    prov = card.provenance
    assert prov["epochs_run"] == 2 and prov["split_seed"] == 0 and sum(prov["split_sizes"].values()) == 40
    assert "train" in prov["command_line"] and prov["hardware"]["torch"]
    assert "Hernia" in card.unreliable_labels  # < 10 training positives
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert (out / "eval" / "report.json").is_file() and (out / "best.safetensors").is_file()


def test_eval_on_images_with_boxes(trained, tmp_path, test_data, capsys):
    code, out = trained
    assert code == 0
    capsys.readouterr()
    code = main(["eval", "--model", str(out / "model"), "--data", f"nih:{test_data / 'nih'}", "--split", "all",
                 "--bootstrap", "50", "--out", str(tmp_path / "ev"), "--device", "cpu"])
    text = capsys.readouterr().out
    assert code == 0
    assert "AUROC" in text and "prior" in text and "swap" in text
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert set(report["localization"]) == {"model", "prior", "swap", "prior_mean"}


def test_eval_writes_validation_thresholds_into_the_card(trained, tmp_path, test_data, capsys):
    import shutil

    code, out = trained
    model_dir = shutil.copytree(out / "model", tmp_path / "model")
    before = load_model(model_dir).card
    code = main(["eval", "--model", str(model_dir), "--data", f"nih:{test_data / 'nih_64px'}", "--split", "test",
                 "--bootstrap", "0", "--write-thresholds", "--device", "cpu"])
    assert code == 0
    assert "operating thresholds (validation split) written to the card" in capsys.readouterr().out
    after = load_model(model_dir).card  # still verifies: the weights and their SHA-256 are untouched
    assert after.sha256 == before.sha256 and after.thresholds == before.thresholds  # same val split, same rule


def test_errors_are_one_line(tmp_path, capsys):
    code = main(["train", "--arch", "chexnet", "--data", f"nih:{tmp_path / 'nothing'}", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("chestview: error:") and "Traceback" not in err  # a usage error
    with pytest.raises(SystemExit) as exc:
        main(["train", "--loss", "nope"])
    assert exc.value.code == 2
    code = main(["eval", "--model", str(tmp_path / "nomodel"), "--data", "nih:x"])
    assert code == 2


@pytest.mark.parametrize(
    "arch, extra",
    [
        ("alstm_mlc", ["--trunk", "resnet18"]),  # trained through its own teacher-forced sequence loss
        pytest.param("bilinear_msml", ["--trunk", "resnet18", "--loss", "msml"], marks=pytest.mark.slow),
        pytest.param("ctranscnn", [], marks=pytest.mark.slow),
    ],
)
def test_research_models_train_end_to_end(arch, extra, tmp_path, test_data):
    out = tmp_path / arch
    code = main([
        "train", "--arch", arch, *extra, "--data", f"nih:{test_data / 'nih_64px'}", "--size", "64",
        "--epochs", "1", "--batch-size", "8", "--workers", "0", "--device", "cpu", "--out", str(out), "--no-progress",
    ])
    assert code == 0
    loaded = load_model(out / "model")
    assert loaded.card.architecture == arch
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert history and all(h["train_loss"] > 0 for h in history)


def _published_copy(out, target):
    """The run as a published zoo entry: card + weights with eval/ beside them (as zoo/publish.py lays it out)."""
    import shutil

    shutil.copytree(out / "model", target)
    shutil.copytree(out / "eval", target / "eval", ignore=shutil.ignore_patterns("roc"))
    return target


def _card_numbers_come_from_report(model_dir):
    """What tests/engine/zoo/test_bundled_zoo.py checks on every bundled card."""
    card = json.loads((model_dir / "card.json").read_text())
    report = json.loads((model_dir / "eval" / "report.json").read_text())
    test = card["metrics"]["test"]
    assert report["meta"]["split"] == "test" and report["model_id"] == card["id"]
    assert test["n_images"] == report["meta"]["n_images"] == card["provenance"]["split_sizes"]["test"]
    assert test["mean_auroc"] == pytest.approx(report["auroc"]["mean_auroc"], abs=1e-6)
    per_label = {row["label"]: row for row in report["auroc"]["per_label"]}
    for label, row in test["auroc"].items():
        if row["auroc"] is not None:
            assert row["auroc"] == pytest.approx(per_label[label]["auroc"], abs=1e-6)
            assert row["ci95"] == pytest.approx([per_label[label]["ci_low"], per_label[label]["ci_high"]], abs=1e-6)
            assert row["n_pos"] == per_label[label]["n_pos"]
    if "localization" in test:
        assert test["localization"] == report["localization"]
    return card, report


def test_eval_update_card_rewrites_the_test_metrics_only(trained, tmp_path, test_data, capsys):
    code, out = trained
    assert code == 0
    model_dir = _published_copy(out, tmp_path / "smoke")
    spec = f"nih:{test_data / 'nih_64px'}"
    before = json.loads((model_dir / "card.json").read_text())
    weights = (model_dir / "model.safetensors").read_bytes()
    capsys.readouterr()
    refused = [
        ["--split", "val"],
        ["--split", "all"],
        ["--split", "test", "--split-seed", "1"],
        ["--split", "test", "--split-fractions", "0.6,0.2,0.2"],
        ["--split", "test", "--tta", "tencrop"],
        ["--split", "test", "--bootstrap", "50"],
    ]
    for extra in refused:
        assert main(["eval", "--model", str(model_dir), "--data", spec, *extra, "--update-card", "--device", "cpu"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("chestview: error: --update-card refused:") and len(err.strip().splitlines()) == 1
    assert main(["eval", "--model", str(model_dir), "--data", f"nih:{test_data / 'nih'}", "--update-card"]) == 2
    assert "chestview: error: --update-card refused: the card's numbers are on" in capsys.readouterr().err
    assert json.loads((model_dir / "card.json").read_text()) == before  # nothing written by a refusal

    (model_dir / "eval" / "report.md").write_text("stale")
    code = main(["eval", "--model", str(model_dir), "--data", spec, "--split", "test", "--update-card",
                 "--device", "cpu", "--out", str(tmp_path / "x")])
    assert code == 0, capsys.readouterr().err
    card, report = _card_numbers_come_from_report(model_dir)
    assert card["metrics"]["history"] == before["metrics"]["history"]
    assert {k: v for k, v in card.items() if k != "metrics"} == {k: v for k, v in before.items() if k != "metrics"}
    assert (model_dir / "model.safetensors").read_bytes() == weights
    load_model(model_dir)  # the SHA-256 still verifies
    # the same model, data and split as training measured: the same numbers
    assert card["metrics"]["test"]["mean_auroc"] == pytest.approx(before["metrics"]["test"]["mean_auroc"], abs=1e-4)
    assert sorted(p.name for p in (model_dir / "eval").iterdir()) == ["report.json", "report.md", "roc_grid.png"]
    assert "stale" not in (model_dir / "eval" / "report.md").read_text()
    assert not [p for p in model_dir.iterdir() if p.name.startswith(".")]  # no staging left behind
    assert json.loads((tmp_path / "x" / "report.json").read_text())["auroc"] == report["auroc"]


def test_eval_update_card_with_localization(trained, tmp_path, test_data):
    """A card whose recorded data carries boxes: the localization table (model, prior, swap, prior_mean)
    lands in the card exactly as in eval/report.json."""
    code, out = trained
    model_dir = _published_copy(out, tmp_path / "smoke")
    spec = f"nih:{test_data / 'nih'}"
    card = json.loads((model_dir / "card.json").read_text())
    card["provenance"].update(data=spec, split_sizes={"train": 8, "val": 0, "test": 5})  # 13 images, 0.7/0.1/0.2
    (model_dir / "card.json").write_text(json.dumps(card))
    assert main(["eval", "--model", str(model_dir), "--data", spec, "--update-card", "--device", "cpu"]) == 0
    card, report = _card_numbers_come_from_report(model_dir)
    assert set(card["metrics"]["test"]["localization"]) == {"model", "prior", "swap", "prior_mean"}
    assert report["meta"]["localization_prior_from"].startswith("training split")
    # The target verdicts come with the numbers: the localization ones from the tables just written.
    targets = card["metrics"]["test"]["targets"]
    iou = {k: card["metrics"]["test"]["localization"][k]["iou"]["mean_accuracy"][2] for k in ("model", "prior", "swap")}
    assert targets["iou03_swap_lift"]["measured"] == pytest.approx(iou["model"] - iou["swap"], abs=1e-4)
    assert targets["iou03_minus_prior"]["met"] == (iou["model"] > iou["prior"])
    assert card["metrics"]["history"]


def test_write_thresholds_chooses_the_box_threshold_on_validation_boxes(trained, tmp_path, test_data, capsys):
    """On a split whose validation images carry boxes, --write-thresholds also picks the card's box
    threshold there; the measured split and `chestview predict` then use it."""
    from chestview.engine.evaluate.box_threshold import CANDIDATES

    code, out = trained
    model_dir = _published_copy(out, tmp_path / "smoke")
    spec = f"nih:{test_data / 'nih'}"
    code = main(["eval", "--model", str(model_dir), "--data", spec, "--split-fractions", "0.5,0.25,0.25",
                 "--split-seed", "1", "--write-thresholds", "--bootstrap", "0", "--out", str(tmp_path / "ev"),
                 "--device", "cpu"])
    assert code == 0
    assert "chosen on the validation split's boxes: written to the card" in capsys.readouterr().out
    card = load_model(model_dir).card
    choice = card.provenance["box_threshold_choice"]
    assert card.box_threshold == choice["threshold"] in CANDIDATES
    assert choice["n_images"] == 4 and choice["n_gt_boxes"] >= 4 and set(choice["scores"]) == {str(c) for c in CANDIDATES}
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["meta"]["heatmap_threshold"] == card.box_threshold

    image = next((test_data / "nih" / "images").glob("*.png"))
    assert main(["predict", str(image), "--model", str(model_dir), "--out", str(tmp_path / "p"), "--no-images",
                 "--device", "cpu"]) == 0
    results = json.loads((tmp_path / "p" / "results.json").read_text())
    assert results["settings"]["box_threshold"] == card.box_threshold
