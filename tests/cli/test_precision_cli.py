"""--precision on predict/eval/bench and `models check-precision`, on the tiny model."""

import json

import pytest

from chestview.cli.main import main
from chestview.engine.backends.precision import cpu_supports
from chestview.engine.backends.select import installed
from chestview.engine.zoo import ModelCard

needs_bf16 = pytest.mark.skipif(not (installed("openvino") and cpu_supports("bf16")),
                                reason="needs openvino on a CPU with native bf16")


def test_predict_bf16_without_a_proof_warns_and_runs_f32(tiny_zoo, samples_dir, tmp_path, capsys):
    png = sorted(samples_dir.glob("*.png"))[0]
    assert main(["predict", str(png), "--out", str(tmp_path), "--no-images", "--precision", "bf16"]) == 0
    err = capsys.readouterr().err
    assert "chestview: warning:" in err and "bf16" in err and "using f32" in err
    settings = json.loads((tmp_path / "results.json").read_text())["settings"]
    assert "bf16" not in settings["backend"]


def test_eval_refuses_to_write_card_numbers_at_bf16(tiny_zoo, test_data, capsys):
    code = main(["eval", "--model", "tiny-test-model", "--data", f"nih:{test_data / 'nih'}", "--split", "all",
                 "--precision", "bf16", "--update-card", "--bootstrap", "0"])
    assert code != 0
    assert "f32" in capsys.readouterr().err


@needs_bf16
def test_check_precision_cli_then_bench_shows_the_row_when_the_card_allows_it(tiny_zoo, test_data, samples_dir,
                                                                               capsys):
    data = f"nih:{test_data / 'nih_64px'}"  # 40 films: a validation split of a few
    assert main(["models", "check-precision", "tiny-test-model", "--data", data, "--dry-run", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "bf16 against f32" in out and "forward img/s" in out and ("PASSED" in out or "FAILED" in out)
    assert ModelCard.load(tiny_zoo).reduced_precision == {}  # --dry-run writes nothing

    png = [str(p) for p in sorted(samples_dir.glob("*.png"))[:2]]
    bench = ["bench", "--images", *png, "-n", "2", "--batch-size", "2", "--json", "--workers", "0", "--repeat", "1"]
    assert main(bench + ["--precision", "bf16"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert "chestview: warning:" in captured.err and "using f32" in captured.err
    assert result["default_backend"] == "openvino" and "openvino-bf16" not in result["backends"]
    assert "not proven" in result["unavailable_backends"]["openvino-bf16"]

    card = ModelCard.load(tiny_zoo)  # a passing record, as check-precision writes one
    entry = {"passed": True, "weights_sha256": card.sha256, "box_threshold": card.box_threshold}
    card.with_updates(reduced_precision={"bf16": entry}).save(tiny_zoo)
    assert main(bench + ["--precision", "bf16"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["default_backend"] == "openvino-bf16"
    assert {"torch", "openvino", "openvino-bf16"} <= set(result["backends"])
    assert result["backends"]["openvino-bf16"]["max_abs_prob_delta"] > 0  # not exact, and reported as such
