"""`chestview calibrate` on a made-up site, then `predict`/`worklist --site`: the profile is used and
recorded, and the folder's drift warning is measured against the site's own films."""

import json
import sys
from pathlib import Path

import pytest

from chestview.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine" / "site"))
from conftest import made_up_site  # noqa: E402  (the made-up site of the engine's site tests)


@pytest.fixture(scope="module")
def site(test_data, tmp_path_factory):
    from chestview.engine.zoo import default_model_id

    if default_model_id() is None:
        pytest.skip("no bundled model")
    return made_up_site(test_data, tmp_path_factory.mktemp("site"))


def test_calibrate_then_predict_and_worklist_with_the_site(site, tmp_path, capsys):
    code = main(["calibrate", "--data", f"csv:{site}", "--site", "made-up", "--device", "cpu", "--batch-size", "16"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "normals with a positive finding" in out and "--site made-up" in out

    images = site.parent / "images"
    res = tmp_path / "res"
    code = main(["predict", str(images), "--site", "made-up", "--out", str(res), "--no-images", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0
    doc = json.loads((res / "results.json").read_text())
    assert doc["model"]["site"] == "made-up" and all(r["site"] == "made-up" for r in doc["results"])
    # Measured against the site's own films, the site's folder does not drift; the model's own
    # validation films are another matter (next test).
    assert doc["drift"]["warning"] is False and "site profile: made-up" in out

    wl = tmp_path / "wl.json"
    code = main(["worklist", str(images), "--site", "made-up", "--json", str(wl), "--device", "cpu"])
    capsys.readouterr()
    assert code == 0
    doc = json.loads(wl.read_text())
    assert doc["site"] == "made-up" and doc["drift"]["warning"] is False


def test_the_made_up_site_drifts_from_the_models_validation_films(site, tmp_path, capsys):
    from chestview.engine.zoo import ModelCard, find_model, list_zoo

    # A bundled model whose gate records its validation films (fit-gate since the drift reference).
    with_ref = [e.card.id for e in list_zoo() if (e.card.input_gate or {}).get("reference")]
    if not with_ref:
        pytest.skip("no bundled model has a drift reference yet (chestview models fit-gate)")
    assert ModelCard.load(find_model(with_ref[0])).input_gate["reference"]["n"] >= 20
    res = tmp_path / "res"
    assert main(["predict", str(site.parent / "images"), "--model", with_ref[0], "--out", str(res), "--no-images",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    doc = json.loads((res / "results.json").read_text())
    assert doc["drift"]["warning"] is True and doc["drift"]["n"] >= 20
    assert "WARNING: these films are unlike the model's training films" in out
    assert "recalibrate" in doc["drift"]["message"]


def test_unknown_site_is_a_usage_error(site, tmp_path, capsys):
    assert main(["predict", str(site.parent / "images"), "--site", "nowhere", "--out", str(tmp_path / "r")]) == 2
    assert "no site profile 'nowhere'" in capsys.readouterr().err
    assert main(["calibrate", "--data", f"csv:{site}", "--site", "../x"]) == 2
