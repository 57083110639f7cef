"""One truth on screen (issue 21): the app draws and exports exactly the boxes ``predict`` cuts, the
case call is coherent, failures and warnings are shown where the reader looks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import Qt

from chestview.gui.main_window import MainWindow
from chestview.gui.settings import AppSettings

from .conftest import LABELS, TINY_ID

TIMEOUT = 60_000


@pytest.fixture
def prior_zoo(tiny_zoo_dir, tmp_path, monkeypatch) -> str:
    """The tiny model with a box prior (every label's boxes lie in the film's left half), as the
    bundled models fuse theirs: the case where the screen once re-cut boxes without it."""
    from chestview.engine.explain.prior import save_priors
    from chestview.engine.zoo import ModelCard

    root = tmp_path / "prior-zoo"
    entry = root / TINY_ID
    shutil.copytree(tiny_zoo_dir / TINY_ID, entry)
    prior = np.zeros((32, 32), np.float32)
    prior[4:28, 2:16] = 1.0
    sha = save_priors(entry / "box_prior.safetensors", {lbl: prior for lbl in LABELS})
    card = ModelCard.load(entry)
    card.with_updates(box_prior={"file": "box_prior.safetensors", "sha256": sha, "exponent": 1.0}).save(entry)
    monkeypatch.setenv("CHESTVIEW_ZOO_PATH", str(root))
    monkeypatch.setenv("CHESTVIEW_BUNDLED_ZOO", str(tmp_path / "no-bundled-models"))
    return TINY_ID


def _window(qtbot, model: str, settings: AppSettings | None = None) -> MainWindow:
    w = MainWindow(settings or AppSettings(), model=model, persist=False)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    return w


def _show(qtbot, w: MainWindow, path: str) -> None:
    if w.current_result is not None and w.current_result.path == path:
        return
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT, check_params_cb=lambda p: p == path):
        w.browser.select_path(path)


def _on_screen(w: MainWindow, label: str) -> list[tuple]:
    return sorted((round(o.box.x, 2), round(o.box.y, 2), round(o.box.width, 2), round(o.box.height, 2))
                  for o in w.viewer.box_overlays if o.label == label)


def _xywh(boxes) -> list[tuple]:
    return sorted((round(b.x, 2), round(b.y, 2), round(b.width, 2), round(b.height, 2)) for b in boxes)


def test_screen_export_sr_pr_and_predict_draw_the_same_boxes(qtbot, prior_zoo, samples_dir, tmp_path):
    from chestview.engine.inference import Predictor
    from chestview.engine.zoo import load_model

    w = _window(qtbot, prior_zoo)
    source = str(samples_dir / "cr_siim_jpeg_baseline.dcm")
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.open_paths([source])
    _show(qtbot, w, source)
    result = w.current_result
    positives = [f.label for f in result.findings if f.positive]
    assert len(positives) >= 2
    width = result.image_width
    for level in (w.findings.model_threshold, 150):  # the card's level, then a manual one
        w.findings.threshold.setValue(level)
        predicted = Predictor(load_model(prior_zoo), device="cpu", box_threshold=level).predict_image(w.current_image)
        seen = {}
        for before in (positives[-1], positives[0]):  # whatever was selected before
            for label in positives:
                w.findings.select_label(before)
                w.findings.select_label(label)
                seen.setdefault(label, []).append(_on_screen(w, label))
                want = predicted.finding(label)
                assert _on_screen(w, label) == _xywh(want.boxes), (level, label)
                assert "diffuse" in w.findings.box_count.text() if want.diffuse else True
        assert all(a == b for a, b in seen.values())
        # The prior moved the boxes to the left half, on screen as in predict.
        assert all(x + bw / 2 < width / 2 for f in positives for x, _, bw, _ in _on_screen_all(predicted, f))
        assert any(predicted.finding(f).boxes for f in positives)

        # The exports of this view: PNG + JSON, SR and presentation state, at this level.
        w.findings.select_label(positives[0])
        out = tmp_path / f"view-{level}.png"
        worker = w.start_export(str(out))
        qtbot.waitUntil(lambda: worker.is_done, timeout=TIMEOUT)
        doc = json.loads(out.with_suffix(".json").read_text())
        rows = {f["label"]: f for f in doc["results"][0]["findings"]}
        for label in positives:
            got = sorted((b["x"], b["y"], b["width"], b["height"]) for b in rows[label]["boxes"])
            assert got == _xywh(predicted.finding(label).boxes)
            assert rows[label]["diffuse"] == predicted.finding(label).diffuse
        assert doc["results"][0]["box_threshold"] == level
        dicom_dir = tmp_path / f"dicom-{level}"
        worker = w.start_dicom_export(str(dicom_dir))
        qtbot.waitUntil(lambda: worker.is_done, timeout=TIMEOUT)
        pr = pydicom.dcmread(next(dicom_dir.glob("*_pr.dcm")))
        drawn = sorted(tuple(round(float(v), 2) for v in _corners(g.GraphicData))
                       for g in pr.GraphicAnnotationSequence[0].get("GraphicObjectSequence", []))
        expected = sorted((round(b.x, 2), round(b.y, 2), round(b.x2, 2), round(b.y2, 2))
                          for lbl in positives for b in predicted.finding(lbl).boxes)
        assert drawn == expected
    w.workers.wait(10_000)


def _on_screen_all(result, label):
    return _xywh(result.finding(label).boxes)


def _corners(data) -> tuple:
    pts = np.asarray(data, dtype=float).reshape(-1, 2)
    return (*pts.min(axis=0), *pts.max(axis=0))
