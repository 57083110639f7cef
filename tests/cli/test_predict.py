import json
import shutil

import numpy as np
import pytest
from PIL import Image

from chestview.cli.main import main


def test_predict_writes_results_and_images(tiny_zoo, samples_dir, tmp_path, capsys):
    out = tmp_path / "out"
    src = tmp_path / "in"
    src.mkdir()
    png = next(samples_dir.glob("*.png"))
    dcm = samples_dir / "cr_mono1_rg1_jpeg2000.dcm"
    shutil.copy(png, src)
    shutil.copy(dcm, src)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)  # truncated PNG
    before = {p.name: p.read_bytes() for p in src.iterdir()}

    code = main(["predict", str(src), "--out", str(out), "--batch-size", "2"])
    assert code == 1  # one input failed, the rest went through
    doc = json.loads((out / "results.json").read_text())
    assert doc["model"]["id"] == "tiny-test-model"
    by_name = {r["path"].split("/")[-1]: r for r in doc["results"]}
    assert set(by_name) == {png.name, dcm.name, "broken.png"}
    broken = by_name["broken.png"]
    assert broken["error"] and "broken.png" in broken["error"] and "\n" not in broken["error"]

    good = by_name[dcm.name]
    assert good["error"] is None
    assert (good["image_width"], good["image_height"]) == (1841, 1955)
    labels = [f["label"] for f in good["findings"]]
    assert sorted(labels) == sorted(doc["model"]["labels"])
    for f in good["findings"]:
        assert 0.0 <= f["probability"] <= 1.0
        assert f["positive"] == (f["reliable"] and f["probability"] >= f["threshold"])
        for b in f["boxes"]:  # boxes land on the image
            assert 0 <= b["x"] and b["x"] + b["width"] <= 1841 + 1e-6
            assert 0 <= b["y"] and b["y"] + b["height"] <= 1955 + 1e-6
    hernia = next(f for f in good["findings"] if f["label"] == "Hernia")
    assert hernia["reliable"] is False and hernia["positive"] is False

    annotated = out / f"{dcm.stem}_annotated.png"
    assert Image.open(annotated).size == (1841, 1955)
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before  # sources untouched
    printed = capsys.readouterr()
    assert "broken.png" in printed.err and "Traceback" not in printed.err


def test_predict_boxes_all_gives_boxes_for_every_label(tiny_zoo, samples_dir, tmp_path):
    png = next(samples_dir.glob("*.png"))
    assert main(["predict", str(png), "--out", str(tmp_path), "--boxes", "all", "--no-images"]) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    (result,) = doc["results"]
    # Every label is cut: its boxes, or "diffuse" (no focal region) and none, never both.
    assert all(bool(f["boxes"]) != f["diffuse"] for f in result["findings"])
    assert any(f["boxes"] for f in result["findings"])
    assert not list(tmp_path.glob("*.png"))


def test_predict_tencrop_runs(tiny_zoo, samples_dir, tmp_path):
    png = next(samples_dir.glob("*.png"))
    assert main(["predict", str(png), "--out", str(tmp_path), "--tta", "tencrop", "--no-images", "--boxes", "all"]) == 0
    (result,) = json.loads((tmp_path / "results.json").read_text())["results"]
    assert result["findings"][0]["boxes"]


def test_usage_errors_exit_2(tiny_zoo, tmp_path, capsys):
    assert main(["predict", str(tmp_path), "--model", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), "--batch-size", "0"]) == 2


def test_empty_zoo_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("chestview.engine.zoo.store.bundled_zoo_dir", lambda: tmp_path / "none")
    assert main(["models"]) == 0
    assert "empty" in capsys.readouterr().out
    assert main(["predict", str(tmp_path)]) == 2


def test_models_lists_the_zoo(tiny_zoo, capsys):
    assert main(["models"]) == 0
    assert "tiny-test-model" in capsys.readouterr().out
    assert main(["models", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert any(m["id"] == "tiny-test-model" for m in listing)


def test_bench_reports_stages(tiny_zoo, samples_dir, capsys):
    png = sorted(samples_dir.glob("*.png"))[:2]
    assert main(["bench", "--images", *map(str, png), "-n", "4", "--batch-size", "2", "--json", "--workers", "0",
                 "--repeat", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["stages"]) == {"decode", "preprocess", "forward", "heatmaps", "boxes"}
    assert data["pipeline_images_per_s"] > 0 and data["model_images_per_s"] > 0
    assert data["n_images"] == 4 and data["repeat"] == 2
    # The stage timings are one round's (the default backend's best), not every round's pooled.
    assert data["stages"]["forward"]["n"] == 4 and data["stages"]["decode"]["n"] == 4
    assert "torch" in data["backends"] and data["backends"][data["default_backend"]]["pipeline_images_per_s"] > 0


def test_version(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "chestview" in capsys.readouterr().out


def test_predict_samples_from_any_folder(tiny_zoo, samples_dir, tmp_path, monkeypatch, capsys):
    from chestview.engine.io.scan import iter_image_files

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # nothing of the checkout is reachable through relative paths
    code = main(["predict", "--samples", "--no-images", "--out", "out"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads((elsewhere / "out" / "results.json").read_text())
    expected = {p.name for p in samples_dir.iterdir() if p.suffix.lower() in (".png", ".dcm")}
    assert len(expected) >= 7
    assert {r["path"].split("/")[-1] for r in doc["results"]} == expected
    assert all(r["error"] is None and r["findings"] for r in doc["results"])
    assert len(list(iter_image_files([samples_dir]))) == len(expected)


def test_predict_samples_honours_the_samples_override(tiny_zoo, samples_dir, tmp_path, monkeypatch):
    mine = tmp_path / "my-samples"
    mine.mkdir()
    shutil.copy(samples_dir / "00000661_000.png", mine)
    monkeypatch.setenv("CHESTVIEW_SAMPLES", str(mine))
    assert main(["predict", "--samples", "--no-images", "--out", str(tmp_path / "out")]) == 0
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["path"].split("/")[-1] for r in doc["results"]] == ["00000661_000.png"]


def test_predict_needs_paths_or_samples(tiny_zoo, tmp_path, capsys):
    assert main(["predict", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--samples" in err
    assert not (tmp_path / "out").exists()


def test_a_flagged_input_shows_no_score_in_the_table_but_keeps_it_in_the_json(tmp_path, capsys):
    """A photograph is flagged by the default model (with an abnormality output); the table shows no
    abnormality score or positives for it (the reader meets "not a frontal chest radiograph?"),
    results.json keeps the numbers."""
    import skimage.data

    from chestview.engine.zoo import default_model_id, load_model

    if default_model_id() is None or not load_model(default_model_id()).card.has_abnormality:
        pytest.skip("no bundled model with an abnormality output")
    photo = tmp_path / "photo.png"
    Image.fromarray(skimage.data.astronaut()).save(photo)
    assert main(["predict", str(photo), "--out", str(tmp_path / "out"), "--no-images", "--device", "cpu"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("photo.png"))
    assert "FLAGGED" in line and "not a frontal chest radiograph?" in line
    assert "positive" not in line.split("not a frontal")[0]
    entry = json.loads((tmp_path / "out" / "results.json").read_text())["results"][0]
    assert entry["input_check"]["flagged"] and entry["findings"] and entry["abnormality"]["probability"] > 0
