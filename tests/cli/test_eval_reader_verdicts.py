"""`chestview eval --reader-verdicts CSV`: the CSV that `chestview worklist --reviews` writes from the
app's review store becomes the test set (real sample films, the tiny test model)."""

from __future__ import annotations

import json
import shutil

from chestview.cli.main import main


def test_worklist_reviews_then_eval_against_them(tiny_zoo, samples_dir, tmp_path, capsys):
    from chestview.engine.reviews import ReviewStore

    src = tmp_path / "films"
    src.mkdir()
    films = [str(shutil.copy(p, src / p.name)) for p in sorted(samples_dir.glob("*.png"))]
    store = ReviewStore()  # the app's store (CHESTVIEW_HOME is a test folder)
    for film, verdict in zip(films, ("agree", "disagree", "agree", "unsure")):
        store.set_verdict(film, "Effusion", verdict, model="tiny-test-model")
    store.close()
    verdicts = tmp_path / "verdicts.csv"
    assert main(["worklist", str(src), "--reviews", str(verdicts), "-q"]) == 0
    capsys.readouterr()

    out = tmp_path / "out"
    code = main(["eval", "--reader-verdicts", str(verdicts), "--model", "tiny-test-model", "--device", "cpu",
                 "--workers", "0", "--out", str(out), "-q"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "3 label(s) over 1 finding(s); 1 unsure" in text
    assert "Effusion" in text and "agreement" in text
    doc = json.loads((out / "reader_verdicts.json").read_text())
    (row,) = doc["findings"]
    assert row["finding"] == "Effusion" and row["n"] == 3 and abs(row["agreement"] - 2 / 3) < 1e-3

    gone = src / sorted(p.name for p in samples_dir.glob("*.png"))[0]
    gone.unlink()
    code = main(["eval", "--reader-verdicts", str(verdicts), "--model", "tiny-test-model", "--device", "cpu",
                 "--workers", "0", "-q"])
    captured = capsys.readouterr()
    assert code == 1  # one film is gone: named, the rest evaluated
    assert f"chestview: {gone}: no such file (named in verdicts.csv)" in captured.err
    assert "2 label(s) over 1 finding(s)" in captured.out


def test_reader_verdicts_usage_errors_are_one_line(tiny_zoo, tmp_path, capsys):
    missing = tmp_path / "nothere.csv"
    assert main(["eval", "--reader-verdicts", str(missing), "--model", "tiny-test-model"]) == 2
    assert capsys.readouterr().err.strip() == f"chestview: error: {missing}: no such file"
    assert main(["eval", "--model", "tiny-test-model"]) == 2
    assert "give --data FORMAT:PATH or --reader-verdicts CSV" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["eval", "--reader-verdicts", str(bad), "--model", "tiny-test-model"]) == 2
    assert "bad.csv: not a reader-verdict CSV" in capsys.readouterr().err
