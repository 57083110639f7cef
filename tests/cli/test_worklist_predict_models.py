import csv
import json
import shutil

import pydicom

from chestview.cli.main import main
from tests.conftest import make_tiny_zoo_entry


def _inputs(tmp_path, test_data, samples_dir):
    src = tmp_path / "in"
    src.mkdir()
    for p in sorted((test_data / "nih" / "images").glob("*.png"))[:3]:
        shutil.copy(p, src)
    ds = pydicom.dcmread(samples_dir / "dx_nih_google_uncompressed.dcm")
    ds.Modality = "CT"  # a CT by its headers: flagged, sorted after the films
    ds.save_as(src / "ct.dcm")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    return src


def test_worklist_writes_sorted_csv_and_json_and_reuses_the_cache(tiny_zoo, test_data, samples_dir, tmp_path, capsys):
    src = _inputs(tmp_path, test_data, samples_dir)
    out_csv, out_json = tmp_path / "w.csv", tmp_path / "w.json"
    assert main(["worklist", str(src), "--csv", str(out_csv), "--json", str(out_json)]) == 1  # broken.png
    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0]) == ["file", "abnormality score", "case call", "top findings", "input check", "warnings",
                             "model", "report"]
    assert rows[0]["report"].startswith("AI (tiny-test-model):") and rows[0]["report"].endswith("Not for clinical use.")
    assert "withheld" in rows[3]["report"]
    names = [r["file"].split("/")[-1] for r in rows]
    assert names[-2:] == ["ct.dcm", "broken.png"]  # flagged after the scored films, failures last
    scores = [float(r["abnormality score"]) for r in rows[:3]]
    assert scores == sorted(scores, reverse=True)
    assert rows[3]["input check"].startswith("FLAGGED") and "Modality is CT" in rows[3]["input check"]
    assert all(r["model"] == "tiny-test-model" for r in rows)
    doc = json.loads(out_json.read_text())
    assert [r["path"].split("/")[-1] for r in doc["rows"]] == names
    assert doc["rows"][3]["input_check"]["flagged"] is True
    assert rows[3]["case call"] == doc["rows"][3]["case_call"]["call"] == "not assessed"
    printed = capsys.readouterr().out
    assert "FLAGGED" in printed
    ct_line = next(line for line in printed.splitlines() if "ct.dcm" in line)
    assert "findings hidden (flagged)" in ct_line and "+" not in ct_line.split("FLAGGED")[0]  # no score, no positives

    from chestview.engine.result_cache import ResultCache

    assert ResultCache().stats().entries >= 4  # the readable ones were stored; a rerun reads them
    assert "0 from the result cache, 5 run" in printed
    out2 = tmp_path / "w2.csv"
    assert main(["worklist", str(src), "--csv", str(out2)]) == 1
    assert out2.read_text() == out_csv.read_text()
    # Only the unreadable file is tried again; the four others come from the cache and say so.
    assert "4 from the result cache, 1 run" in capsys.readouterr().out


def test_worklist_of_a_folder_seen_before_loads_no_model(tiny_zoo, test_data, samples_dir, tmp_path, capsys, monkeypatch):
    src = _inputs(tmp_path, test_data, samples_dir)
    (src / "broken.png").unlink()
    assert main(["worklist", str(src), "--csv", str(tmp_path / "a.csv")]) == 0
    capsys.readouterr()

    import chestview.engine.zoo as zoo

    def no_model(*_a, **_k):
        raise AssertionError("the model was loaded although every result is in the cache")

    monkeypatch.setattr(zoo, "load_model", no_model)
    assert main(["worklist", str(src), "--csv", str(tmp_path / "b.csv")]) == 0
    out = capsys.readouterr().out
    assert "4 from the result cache, 0 run" in out and "no model run" in out
    assert (tmp_path / "b.csv").read_text() == (tmp_path / "a.csv").read_text()


def test_worklist_reviews_writes_the_readers_verdicts_with_probabilities(tiny_zoo, test_data, samples_dir,
                                                                         tmp_path, capsys):
    from chestview.engine.reviews import ReviewStore

    src = _inputs(tmp_path, test_data, samples_dir)
    (src / "broken.png").unlink()
    film = str(sorted(src.glob("*.png"))[0])
    store = ReviewStore()  # the app's store (CHESTVIEW_HOME is a test folder)
    store.set_verdict(film, "Effusion", "disagree", model="tiny-test-model")
    store.set_note(film, "lateral needed")
    store.close()
    out = tmp_path / "reviews.csv"
    assert main(["worklist", str(src), "--reviews", str(out)]) == 0
    assert "1 reviewed film(s)" in capsys.readouterr().out
    (row,) = list(csv.DictReader(out.open()))
    assert row["file"] == film and row["finding"] == "Effusion" and row["verdict"] == "disagree"
    assert 0.0 <= float(row["probability"]) <= 1.0 and row["reader_label"] == str(1 - int(row["model_positive"]))
    assert row["note"] == "lateral needed"


def test_predict_with_two_models_writes_both_and_an_ensemble(tiny_zoo, test_data, samples_dir, tmp_path):
    second = make_tiny_zoo_entry(tiny_zoo.parent, model_id="tiny-test-model-2", seed=1)
    img = sorted((test_data / "nih" / "images").glob("*.png"))[0]
    out = tmp_path / "out"
    code = main(["predict", str(img), "--model", "tiny-test-model", "--model", str(second), "--ensemble",
                 "--out", str(out), "--no-images"])
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["model"]["id"] == "tiny-test-model"  # the single-model shape is kept for the first model
    assert [m["id"] for m in doc["models"]] == ["tiny-test-model", "tiny-test-model-2"]
    row = doc["results"][0]
    assert set(row["models"]) == {"tiny-test-model", "tiny-test-model-2"}
    assert row["findings"] == row["models"]["tiny-test-model"]["findings"]
    a = {f["label"]: f["probability"] for f in row["models"]["tiny-test-model"]["findings"]}
    b = {f["label"]: f["probability"] for f in row["models"]["tiny-test-model-2"]["findings"]}
    ens = {f["label"]: f["probability"] for f in row["ensemble"]["findings"]}
    assert a != b
    for label in a:
        assert abs(ens[label] - (a[label] + b[label]) / 2) < 1e-5
    assert "input_check" in row and "input_check" in row["models"]["tiny-test-model-2"]


def test_single_model_results_json_keeps_its_shape(tiny_zoo, test_data, tmp_path):
    img = sorted((test_data / "nih" / "images").glob("*.png"))[0]
    out = tmp_path / "out"
    assert main(["predict", str(img), "--out", str(out), "--no-images"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert "models" not in doc and "models" not in doc["results"][0]
    check = doc["results"][0]["input_check"]
    assert set(check) == {"score", "threshold", "flagged", "reason"}
