"""The reader's verdicts as a test set: labels derived from a real verdict CSV (written by the review
store's own writer from a tiny model's results on the bundled sample films), a model run on those films,
per-finding metrics, and one-line errors for a missing or malformed CSV and for missing films."""

from __future__ import annotations

import csv
import shutil

import pytest
from sklearn.metrics import roc_auc_score

from chestview.engine.errors import DatasetError
from chestview.engine.evaluate.against_reader import evaluate_against_reader
from chestview.engine.evaluate.reader_verdicts import ModelCall, finding_agreement, read_reader_labels
from chestview.engine.reviews import REVIEW_COLUMNS, ReviewStore, write_reviews_csv


def _write(path, rows):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(REVIEW_COLUMNS)
        w.writerows(rows)
    return path


def test_labels_follow_the_verdict_and_the_models_call(tmp_path):
    row = lambda f, finding, pos, verdict: [f, "", "m", finding, "0.5", "0.3", pos, verdict, "", "1", ""]  # noqa: E731
    src = _write(tmp_path / "v.csv", [
        row("a.png", "Effusion", "1", "agree"), row("a.png", "Mass", "1", "disagree"),
        row("b.png", "Effusion", "0", "agree"), row("b.png", "Mass", "0", "disagree"),
        row("c.png", "Effusion", "1", "unsure"), row("c.png", "", "", ""), row("d.png", "Mass", "", "agree"),
    ])
    labels = read_reader_labels(src)
    assert labels.labels == {"a.png": {"Effusion": 1, "Mass": 0}, "b.png": {"Effusion": 0, "Mass": 1}}
    assert (labels.unsure, labels.skipped, labels.n_labels) == (1, 2, 4)


def test_a_missing_or_malformed_csv_is_one_line_naming_it(tmp_path):
    with pytest.raises(DatasetError, match=r"nothere\.csv: no such file"):
        read_reader_labels(tmp_path / "nothere.csv")
    bad = tmp_path / "worklist.csv"
    bad.write_text("rank,file,score\n1,a.png,0.5\n")
    with pytest.raises(DatasetError, match=r"worklist\.csv: not a reader-verdict CSV \(no column finding"):
        read_reader_labels(bad)
    empty = _write(tmp_path / "unsure.csv", [["a.png", "", "m", "Mass", "0.5", "0.3", "1", "unsure", "", "1", ""]])
    with pytest.raises(DatasetError, match="no agree or disagree verdict"):
        evaluate_against_reader(empty, "any-model")


def test_metrics_at_the_operating_point():
    calls = [ModelCall(0.9, 0.5, True), ModelCall(0.6, 0.5, True), ModelCall(0.2, 0.5, False),
             ModelCall(0.4, 0.5, False)]
    row = finding_agreement("Mass", [1, 0, 0, 1], calls)
    assert (row.n, row.positives, row.threshold) == (4, 2, 0.5)
    assert row.sensitivity == 0.5 and row.specificity == 0.5 and row.agreement == 0.5
    assert row.auroc == pytest.approx(roc_auc_score([1, 0, 0, 1], [0.9, 0.6, 0.2, 0.4]))
    one_class = finding_agreement("Mass", [1, 1], calls[:2])
    assert one_class.auroc is None and one_class.specificity is None and one_class.sensitivity == 1.0


@pytest.fixture
def verdict_csv(tmp_path, samples_dir, tiny_zoo):
    """A verdict CSV written like ``chestview worklist --reviews``: the tiny model's results on the four
    sample films, the reader agreeing or disagreeing on Effusion and agreeing on Cardiomegaly; one
    film deleted afterwards."""
    from chestview.engine.inference import Predictor
    from chestview.engine.zoo import load_model

    films = [str(shutil.copy(p, tmp_path / p.name)) for p in sorted(samples_dir.glob("*.png"))]
    results = {r.path: r for r in Predictor(load_model(tiny_zoo), device="cpu").predict_paths(films, num_workers=0)}
    store = ReviewStore(tmp_path / "reviews.sqlite")
    for film, verdict in zip(films, ("agree", "disagree", "agree", "unsure")):
        store.set_verdict(film, "Effusion", verdict, model="tiny-test-model")
        store.set_verdict(film, "Cardiomegaly", "agree", model="tiny-test-model")
    extra = str(shutil.copy(films[0], tmp_path / "gone.png"))
    store.set_verdict(extra, "Effusion", "agree")
    results[extra] = results[films[0]]
    out = write_reviews_csv(tmp_path / "verdicts.csv", store.get_many([*films, extra]), results)
    store.close()
    (tmp_path / "gone.png").unlink()
    return out, films


def test_a_model_against_a_real_verdict_csv(verdict_csv, tiny_zoo):
    path, films = verdict_csv
    rows = list(csv.DictReader(path.open()))
    events = []
    result = evaluate_against_reader(path, str(tiny_zoo), device="cpu", num_workers=0, on_event=events.append)
    by = {r.finding: r for r in result.rows}
    assert set(by) == {"Cardiomegaly", "Effusion"}
    assert result.n_films == 4 and result.unsure == 1 and result.n_labels == 9
    assert len(result.errors) == 1 and "gone.png: no such file (named in verdicts.csv)" in result.errors[0]
    assert by["Cardiomegaly"].n == 4 and by["Cardiomegaly"].agreement == 1.0  # agreeing everywhere
    assert by["Effusion"].n == 3 and by["Effusion"].agreement == pytest.approx(2 / 3)  # one disagree
    effusion = [r for r in rows if r["finding"] == "Effusion" and r["verdict"] != "unsure" and "gone" not in r["file"]]
    truth = [int(r["reader_label"]) for r in effusion]
    assert by["Effusion"].positives == sum(truth)
    if 0 < sum(truth) < len(truth):  # the same model as at review time: the same probabilities
        assert by["Effusion"].auroc == pytest.approx(roc_auc_score(truth, [float(r["probability"]) for r in effusion]),
                                                     abs=1e-3)
    assert by["Effusion"].threshold == pytest.approx(0.5)
    assert events[-1].done == events[-1].total == 4
    assert "4 film(s)" in result.summary() and result.table_rows()[0][0] == "Cardiomegaly"
