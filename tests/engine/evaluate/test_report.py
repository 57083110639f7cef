"""report.json / report.md / ROC PNGs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from chestview.engine.evaluate import localization_table, per_label_auroc, write_report
from chestview.engine.results import Box


def test_report_files_written_and_parse(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = ["Atelectasis", "Hernia", "Pleural_Thickening"]
    y = (rng.random((120, 3)) < [0.3, 0.03, 0.2]).astype(float)
    y[:5, 2] = np.nan
    p = rng.random((120, 3)) + 0.4 * np.nan_to_num(y)
    rep = per_label_auroc(y, p, labels=labels, n_boot=50)
    gt = [[("Atelectasis", Box(0, 0, 10, 10))], [("Atelectasis", Box(40, 40, 10, 10))]]
    pred = [{"Atelectasis": [Box(0, 0, 10, 10)]}, {"Atelectasis": [Box(40, 40, 10, 10)]}]
    loc = localization_table(pred, gt, {"Atelectasis": Box(0.0, 0.0, 0.1, 0.1)}, image_sizes=[(100, 100)] * 2)
    files = write_report(tmp_path / "rep", model_id="test-model", labels=labels, auroc_report=rep,
                         localization=loc, meta={"dataset": "synthetic", "split": "test"})
    doc = json.loads(files.json.read_text())
    assert doc["model_id"] == "test-model" and doc["auroc"]["per_label"][1]["label"] == "Hernia"
    assert set(doc["localization"]) == {"model", "prior", "swap"}
    assert doc["localization"]["model"]["iou"]["accuracy"]["Atelectasis"][0] == 1.0
    md = files.markdown.read_text()
    assert "Hernia *" in md and "CheXNet" in md and "| Atelectasis | prior |" in md and "T(IoBB)=0.1" in md
    assert Image.open(files.roc_grid).size == (720, 240)
    assert Image.open(files.roc_pngs["Pleural_Thickening"]).format == "PNG"
    assert not list(tmp_path.rglob("*.tmp"))


def test_report_accepts_auroc_alias_and_minimal_arguments(tmp_path: Path) -> None:
    y = np.array([0, 1, 0, 1, 1, 0], float)
    rep = per_label_auroc(y, np.array([0.1, 0.9, 0.3, 0.6, 0.4, 0.5]), labels=["Edema"], n_boot=20)
    files = write_report(tmp_path, auroc=rep, meta={"model": "m1"})
    doc = json.loads(files.json.read_text())
    assert doc["model_id"] == "m1" and doc["labels"] == ["Edema"] and doc["localization"] is None
