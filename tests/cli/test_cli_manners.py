"""The command line's manners: a card a person reads, limits named in errors, --samples, unknown ids."""

from __future__ import annotations

import json

from chestview.cli.main import main


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_models_show_prints_a_readable_card_and_json_on_request(capsys):
    assert main(["models", "show", "chexnet-lite0-r3-gw24"]) == 0
    text = capsys.readouterr().out
    for expected in ("chexnet on trunk efficientnet_lite0", "arXiv:1711.05225", "split         train 912, val 196, test 204",
                     "test split, 204 images: mean AUROC 0.718", "by collection", "operating points",
                     "input gate", "limits", "missed on the test split: Pneumonia AUROC 0.597", "not for clinical use"):
        assert expected in text, expected
    assert not text.lstrip().startswith("{")
    assert main(["models", "show", "chexnet-lite0-r3-gw24", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["id"] == "chexnet-lite0-r3-gw24" and card["metrics"]["test"]["n_images"] == 204


def test_models_show_of_a_fresh_model_without_metrics(tiny_zoo, capsys):
    assert main(["models", "show", str(tiny_zoo)]) == 0
    text = capsys.readouterr().out
    assert "tiny-test-model" in text and "operating points" in text and "limits" in text


def test_models_show_unknown_id_is_one_line_exit_2(capsys):
    assert main(["models", "show", "no-such-model"]) == 2
    assert "no-such-model: no such model" in _one_line(capsys.readouterr().err)


def test_screenshot_with_an_unknown_model_exits_2_with_one_line(tmp_path, capsys):
    assert main(["--screenshot", str(tmp_path / "shot.png"), "--model", "typo"]) == 2
    assert "typo: no such model (known:" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "shot.png").exists()


def test_train_size_below_the_trunk_minimum_is_refused_before_reading_any_data(tmp_path, capsys):
    # The data folder does not exist: the size is what is refused, so nothing was read.
    assert main(["train", "--data", f"nih:{tmp_path / 'missing'}", "--size", "16", "--out", str(tmp_path / "run")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "size 16" in line and "densenet121" in line and "at least 32 px" in line
    assert main(["train", "--data", f"nih:{tmp_path / 'missing'}", "--size", "8", "--trunk", "resnet18",
                 "--out", str(tmp_path / "run")]) == 2
    assert "at least 32 px" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_option_limits_are_named_in_their_errors(capsys):
    for argv, expected in (
        (["predict", "--samples", "--batch-size", "0"], "--batch-size must be at least 1 (got 0)"),
        (["predict", "--samples", "--box-threshold", "300"], "between 1 and 255 (got 300)"),
        (["worklist", "--samples", "--batch-size", "-1"], "--batch-size must be at least 1 (got -1)"),
        (["bench", "--repeat", "0"], "--repeat must be at least 1 (got 0)"),
        (["eval", "--model", "m", "--data", "nih:x", "--bootstrap", "-5"], "--bootstrap must be at least 0"),
        (["train", "--data", "nih:x", "--epochs", "-1"], "epochs must be at least 0, not -1"),
        (["train", "--data", "nih:x", "--lr", "0"], "lr must be above 0, not 0.0"),
    ):
        assert main(argv) == 2, argv
        assert expected in _one_line(capsys.readouterr().err), argv


def test_worklist_takes_the_bundled_samples(tiny_zoo, capsys):
    assert main(["worklist"]) == 2
    assert "--samples" in _one_line(capsys.readouterr().err)
    assert main(["worklist", "--samples", "--no-cache"]) in (0, 1)
    out = capsys.readouterr().out
    assert "model tiny-test-model" in out and "dx_nih_google_uncompressed.dcm" in out


def test_every_card_in_the_repository_reads_as_text():
    from pathlib import Path

    from chestview.cli.card_view import card_text
    from chestview.engine.zoo import ModelCard

    cards = sorted(Path(__file__).resolve().parents[2].glob("model_zoo/**/card.json"))
    assert cards
    for path in cards:
        card = ModelCard.load(path.parent)
        text = card_text(card)
        assert text.startswith(card.id) and "operating points" in text and "limits" in text, path
