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
