"""Training and evaluation tab: start and stop a tiny run on 40 real 64 px NIH images."""

from __future__ import annotations

import pytest

from chestview.gui.training_tab import TrainingTab
from chestview.gui.workers import WorkerManager

TIMEOUT = 120_000


@pytest.fixture
def tab(qtbot, tmp_path, test_data):
    t = TrainingTab(WorkerManager())
    qtbot.addWidget(t)
    t.data_format.setCurrentText("nih")
    t.data_path.setText(str(test_data / "nih_64px"))
    t.arch.setCurrentText("resnet34_baseline")
    t.trunk.setCurrentText("resnet18")
    t.size.setValue(64)
    t.batch.setValue(8)
    t.device.setCurrentText("cpu")
    t.out.setText(str(tmp_path / "run"))
    yield t
    t.workers.wait(30_000)


def test_start_and_stop_a_tiny_training_run(qtbot, tab):
    tab.epochs.setValue(50)
    batches = []
    worker = tab.start()
    worker.yielded.connect(lambda ev: type(ev).__name__ == "BatchDone" and batches.append(ev))
    qtbot.waitUntil(lambda: len(batches) >= 1, timeout=TIMEOUT)
    assert not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        tab.stop_button.click()
    assert worker.abort_requested
    assert tab.start_button.isEnabled() and tab.resume_button.isEnabled()
    assert tab.last_result is None or tab.last_result.cancelled
    assert tab.status.text().startswith("Stopped")
    assert len(tab._batch_x) >= 1  # the loss curve got its points


@pytest.mark.slow
def test_full_tiny_run_adds_the_model_and_evaluates(qtbot, tab):
    tab.epochs.setValue(2)
    trained = []
    tab.model_trained.connect(trained.append)
    worker = tab.start(extra={"model_id": "gui-smoke"})
    with qtbot.waitSignal(worker.finished, timeout=600_000):
        pass
    assert trained == ["gui-smoke"]
    assert len(tab._epochs) == 2 and tab.train_curve.getData()[0] is not None
    from chestview.engine.zoo import list_zoo

    assert "gui-smoke" in [e.card.id for e in list_zoo()]
    assert tab.auroc_table.rowCount() > 0  # the final test-split evaluation is shown


def test_evaluate_a_model_against_the_readers_verdicts(qtbot, tab, tiny_zoo, tmp_path, samples_dir):
    """The reader's verdict CSV (written by the review store's writer from the model's results on the
    sample films) runs in a worker and shows its table in the "Reader verdicts" tab."""
    import shutil

    from chestview.engine.inference import Predictor
    from chestview.engine.reviews import ReviewStore, write_reviews_csv
    from chestview.engine.zoo import load_model

    films = [str(shutil.copy(p, tmp_path / p.name)) for p in sorted(samples_dir.glob("*.png"))]
    results = {r.path: r for r in Predictor(load_model(tiny_zoo), device="cpu").predict_paths(films, num_workers=0)}
    store = ReviewStore(tmp_path / "reviews.sqlite")
    for film, verdict in zip(films, ("agree", "disagree", "agree", "agree")):
        store.set_verdict(film, "Effusion", verdict)
    csv_path = write_reviews_csv(tmp_path / "verdicts.csv", store.get_many(films), results)
    store.close()

    tab.set_models([tiny_zoo])
    tab.verdicts_path.setText(str(csv_path))
    worker = tab.start_reader_evaluation()
    assert not tab.reader_button.isEnabled()
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    assert tab.reader_button.isEnabled()
    view = tab.reader_view
    assert tab.right.currentWidget() is view
    assert view.table.rowCount() == 1 and view.table.item(0, 0).text() == "Effusion"
    assert view.table.item(0, 1).text() == "4" and view.table.item(0, 6).text() == "0.750"
    assert "4 film(s)" in tab.status.text() and view.errors.text() == ""

    tab.verdicts_path.setText(str(tmp_path / "nothere.csv"))
    worker = tab.start_reader_evaluation()
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    assert tab.status.text() == f"Evaluation failed: {tmp_path / 'nothere.csv'}: no such file"
