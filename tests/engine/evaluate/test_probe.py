"""The shortcut probe: its arithmetic on made-up scores, and end to end, a tiny model trained on a
made-up set where only brightness tells normal (bright) from abnormal (dark) must fail it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chestview.cli.main import main
from chestview.engine.evaluate.probe import INTENSITY_VARIANTS, apply_variant, probe_result, variant_shift


def test_variants_change_only_gray_levels():
    u8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert set(INTENSITY_VARIANTS) == {"gamma 0.7", "gamma 1.4", "+20 gray levels", "-20 gray levels"}
    brighter, darker = apply_variant("+20 gray levels", u8), apply_variant("-20 gray levels", u8)
    assert brighter.dtype == np.uint8 and brighter[0, 0] == 20 and brighter[-1, -1] == 255
    assert darker[0, 0] == 0 and darker[-1, -1] == 235
    g = apply_variant("gamma 0.7", u8)
    assert g[0, 0] == 0 and g[-1, -1] == 255 and (g.astype(int) >= u8).all()  # gamma < 1 brightens
    assert (np.diff(g.ravel().astype(int)) >= 0).all()  # monotonic: the film's content is kept


def test_shift_and_flips_on_made_up_scores():
    base = np.array([0.1, 0.45, 0.55, 0.9, np.nan])
    moved = np.array([0.1, 0.55, 0.45, 0.9, 0.3])
    v = variant_shift("x", base, moved, threshold=0.5)
    assert v.n_images == 4 and v.mean_abs_change == pytest.approx(0.05) and v.flip_rate == pytest.approx(0.5)
    result = probe_result("val", "abnormality", 0.5, base, {"a": base, "b": moved})
    assert result.worst_flip_rate == pytest.approx(0.5) and not result.passed
    assert probe_result("val", "abnormality", 0.5, base, {"a": base}).passed


def make_brightness_shortcut_set(src: Path, dst: Path, n: int = 48) -> Path:
    """Real 64 px NIH films relabelled at random; only a brightness offset encodes the label:
    normal films lifted by 0..+45 gray levels, abnormal ones lowered by 0..45."""
    rng = np.random.default_rng(0)
    (dst / "images").mkdir(parents=True)
    films = sorted((src / "images").glob("*.png"))[:n]
    with open(dst / "Data_Entry_2017_v2020.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Image Index", "Finding Labels", "Follow-up #", "Patient ID"])
        for k, film in enumerate(films):
            normal = k % 2 == 0
            gray = np.asarray(Image.open(film).convert("L"), dtype=np.float64)
            offset = rng.uniform(0, 45) * (1 if normal else -1)
            Image.fromarray(np.clip(gray + offset, 0, 255).astype(np.uint8)).save(dst / "images" / film.name)
            w.writerow([film.name, "No Finding" if normal else "Effusion", 0, 1000 + k])
    return dst


def test_the_probe_catches_a_model_that_keys_on_brightness(tmp_path, test_data, capsys):
    data = make_brightness_shortcut_set(test_data / "nih_64px", tmp_path / "shortcut")
    out = tmp_path / "run"
    code = main(["train", "--arch", "chexnet", "--trunk", "resnet18", "--data", f"nih:{data}",
                 "--labels", "Effusion", "--size", "64", "--epochs", "4", "--batch-size", "8", "--workers", "0",
                 "--device", "cpu", "--abnormality", "--no-augment", "--lr", "1e-3", "--split", "0.5,0.5,0",
                 "--out", str(out), "--model-id", "bright-normal", "--no-progress"])
    assert code == 0
    capsys.readouterr()
    code = main(["eval", "--model", str(out / "model"), "--data", f"nih:{data}", "--split", "val",
                 "--bootstrap", "0", "--probe", "intensity", "--device", "cpu", "--backend", "torch",
                 "--out", str(tmp_path / "ev")])
    text = capsys.readouterr().out
    assert code == 0, text
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    probe = report["meta"]["probe"] if "meta" in report else report["probe"]
    assert not probe["passed"], probe
    assert probe["worst_mean_abs_change"] > 0.04 or probe["worst_flip_rate"] > 0.05
    assert "shortcut probe (intensity)" in text and "FAILED" in text
