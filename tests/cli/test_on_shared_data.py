"""Opt-in (--runslow) checks on the full data in ../shared/data, which CI has beside the checkout:
the bundled default on every real DICOM and on NIH PNGs, and its card's test AUROC re-measured from
the raw images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chestview.cli.main import main

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SHARED_DATA / "nih").is_dir(), reason="needs ../shared/data"),
]


def _check_results(out_dir, n_expected):
    doc = json.loads((out_dir / "results.json").read_text())
    results = doc["results"]
    assert len(results) == n_expected
    for r in results:
        assert r["error"] is None, r["error"]
        assert len(r["findings"]) == len(doc["model"]["labels"])
        for f in r["findings"]:
            for b in f["boxes"]:  # in pixels of the image as stored, on the image
                assert 0 <= b["x"] and 0 <= b["y"] and b["width"] > 0 and b["height"] > 0
                assert b["x"] + b["width"] <= r["image_width"] + 1e-6
                assert b["y"] + b["height"] <= r["image_height"] + 1e-6
    return results


def test_default_model_on_every_shared_dicom(tmp_path):
    dicoms = sorted((SHARED_DATA / "dicom").glob("*.dcm"))
    assert main(["predict", str(SHARED_DATA / "dicom"), "--out", str(tmp_path), "--boxes", "all",
                 "--device", "cpu"]) == 0
    results = _check_results(tmp_path, len(dicoms))
    assert all((tmp_path / f"{p.stem}_annotated.png").is_file() for p in dicoms)
    assert {r["path"] for r in results} == {str(p) for p in dicoms}


def test_default_model_on_nih_pngs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for p in sorted((SHARED_DATA / "nih" / "images_1024").glob("*.png"))[:12]:
        (folder / p.name).symlink_to(p)
    assert main(["predict", str(folder), "--out", str(tmp_path / "out"), "--no-images", "--device", "cpu"]) == 0
    _check_results(tmp_path / "out", 12)


def test_default_card_test_auroc_is_reproduced_from_the_raw_images():
    from chestview.engine.train.evaluation import evaluate
    from chestview.engine.zoo import default_model_id, load_model

    card = load_model(default_model_id()).card
    result = evaluate(default_model_id(), card.provenance["data"].replace("../shared/data", str(SHARED_DATA)),
                      split="test", n_boot=0, device="cpu", split_fractions=card.provenance["split_fractions"],
                      split_seed=card.provenance["split_seed"],
                      data_options=card.provenance.get("data_options") or None)  # e.g. first_collection
    assert result.n_images == card.metrics["test"]["n_images"]
    assert result.auroc.mean_auroc == pytest.approx(card.metrics["test"]["mean_auroc"], abs=2e-3)
