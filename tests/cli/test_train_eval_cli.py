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
    assert set(report["localization"]) == {"model", "prior", "swap"}


def test_eval_writes_validation_thresholds_into_the_card(trained, tmp_path, test_data, capsys):
    import shutil

    code, out = trained
    model_dir = shutil.copytree(out / "model", tmp_path / "model")
    before = load_model(model_dir).card
    code = main(["eval", "--model", str(model_dir), "--data", f"nih:{test_data / 'nih_64px'}", "--split", "test",
                 "--bootstrap", "0", "--write-thresholds", "--device", "cpu"])
    assert code == 0
    assert "Youden thresholds" in capsys.readouterr().out
    after = load_model(model_dir).card  # still verifies: the weights and their SHA-256 are untouched
    assert after.sha256 == before.sha256 and after.thresholds == before.thresholds  # same val split, same rule


def test_errors_are_one_line(tmp_path, capsys):
    code = main(["train", "--arch", "chexnet", "--data", f"nih:{tmp_path / 'nothing'}", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("chestview: error:") and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main(["train", "--loss", "nope"])
    assert exc.value.code == 2
    code = main(["eval", "--model", str(tmp_path / "nomodel"), "--data", "nih:x"])
    assert code == 1


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
