"""`chestview --screenshot`, the benchmark dialog, settings and about."""

from __future__ import annotations

import json

from PIL import Image

from chestview.gui.app import run_app
from chestview.gui.bench_dialog import BenchmarkDialog
from chestview.gui.main_window import about_text
from chestview.gui.settings import AppSettings
from chestview.gui.workers import WorkerManager


def test_screenshot_of_a_finding(qtbot, tiny_zoo, samples_dir, tmp_path):
    out = tmp_path / "shot.png"
    code = run_app([str(samples_dir / "00000661_000.png")], screenshot=str(out), finding="Effusion")
    assert code == 0
    img = Image.open(out)
    assert img.size[0] >= 1200 and img.size[1] >= 800


def test_screenshot_without_models(qtbot, monkeypatch, samples_dir, tmp_path):
    import chestview.engine.zoo.store as store

    monkeypatch.setenv("CHESTVIEW_ZOO_PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(store, "bundled_zoo_dir", lambda: tmp_path / "none")
    out = tmp_path / "nomodel.png"
    assert run_app([str(samples_dir / "00000661_000.png")], screenshot=str(out)) == 0
    assert out.is_file()


def test_benchmark_dialog_runs_and_saves(qtbot, tiny_zoo, test_data, tmp_path):
    dlg = BenchmarkDialog(WorkerManager(), [tiny_zoo], [str(test_data / "nih" / "images")], "cpu")
    qtbot.addWidget(dlg)
    dlg.n_images.setValue(4)
    dlg.batch.setValue(2)
    events = []
    worker = dlg.start()
    worker.yielded.connect(events.append)
    with qtbot.waitSignal(worker.finished, timeout=600_000):  # every backend, on a shared machine
        pass
    assert dlg.result is not None, dlg.status.text()
    assert events and dlg.progress.value() > 0
    assert dlg.table.rowCount() >= 5
    dlg.save_json(str(tmp_path / "bench.json"))
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["model_id"] == tiny_zoo and "stages" in data
    # Every backend available beside torch, in the JSON and in the table.
    assert "torch" in data["backends"] and data["default_backend"] in data["backends"]
    for entry in data["backends"].values():
        assert entry["model_images_per_s"] > 0 and entry["pipeline_images_per_s"] > 0
        assert entry["max_abs_prob_delta"] <= 1e-4
    shown = [dlg.table.item(r, 0).text() for r in range(dlg.table.rowCount())]
    assert any(t.startswith("backend torch") for t in shown)


def test_settings_roundtrip_and_about():
    s = AppSettings(device="cpu", backend="onnxruntime", heat_colormap="viridis", fixed_box_threshold=999)
    s.sanitise()
    assert s.fixed_box_threshold == 255
    s.add_recent("/tmp")
    s.save()
    loaded = AppSettings.load()
    assert loaded.device == "cpu" and loaded.heat_colormap == "viridis" and loaded.recent_folders
    assert loaded.backend == "onnxruntime"
    bad = AppSettings(backend="tensorrt")
    bad.sanitise()
    assert bad.backend == "auto"
    text = about_text()
    import chestview

    assert chestview.DISCLAIMER in text and chestview.__version__ in text


def test_model_option_accepts_a_model_directory(tiny_zoo_dir, tmp_path, monkeypatch):
    """`chestview --model runs/X/model` (a training run's output) works as with `chestview predict`."""
    import os
    import shutil

    from chestview.engine.zoo import list_zoo
    from chestview.gui.app import _model_directory_to_id

    run_model = shutil.copytree(tiny_zoo_dir / "tiny-test-resnet18", tmp_path / "run" / "model")
    monkeypatch.setenv("CHESTVIEW_ZOO_PATH", "")
    assert _model_directory_to_id(str(run_model)) == "tiny-test-resnet18"
    assert os.environ["CHESTVIEW_ZOO_PATH"] == str((tmp_path / "run").resolve())
    assert "tiny-test-resnet18" in [e.card.id for e in list_zoo()]
    assert _model_directory_to_id("some-zoo-id") == "some-zoo-id"


def test_settings_of_earlier_builds_do_not_pin_the_box_threshold():
    """Earlier builds saved box_threshold = 180 by default; it must not override each model's own."""
    import json

    path = AppSettings.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"heat_colormap": "viridis", "box_threshold": 180}))
    loaded = AppSettings.load()
    assert loaded.heat_colormap == "viridis" and loaded.fixed_box_threshold == 0


def test_settings_of_earlier_builds_do_not_keep_the_old_jet_tint():
    """Earlier builds saved colormap = jet, opacity = 0.45 by default: the new defaults apply."""
    import json

    from chestview.engine.colormaps import DEFAULT_COLORMAP, DEFAULT_OPACITY

    path = AppSettings.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"colormap": "jet", "opacity": 0.45}))
    loaded = AppSettings.load()
    assert (loaded.heat_colormap, loaded.heat_opacity) == (DEFAULT_COLORMAP, DEFAULT_OPACITY)


def test_screenshot_never_overwrites_a_source(qtbot, monkeypatch, samples_dir, tmp_path, capsys):
    import shutil

    import chestview.engine.zoo.store as store

    monkeypatch.setenv("CHESTVIEW_ZOO_PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(store, "bundled_zoo_dir", lambda: tmp_path / "none")
    src = shutil.copy(samples_dir / "00000661_000.png", tmp_path / "x.png")
    before = src.read_bytes()
    assert run_app([str(src)], screenshot=str(src)) == 2
    assert src.read_bytes() == before
    assert "x.png: refusing to overwrite a source image" in capsys.readouterr().err
