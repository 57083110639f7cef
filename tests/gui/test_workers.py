"""Generator and function workers: signals, results, errors and cancellation between yields."""

from __future__ import annotations

import time

from chestview.gui.workers import WorkerManager, create_worker


def counting(n: int, delay: float = 0.01):
    for i in range(n):
        time.sleep(delay)
        yield i
    return "done"


def test_generator_worker_yields_and_returns(qtbot):
    manager = WorkerManager()
    w = create_worker(counting, 5)
    seen, returned = [], []
    w.yielded.connect(seen.append)
    w.returned.connect(returned.append)
    with qtbot.waitSignal(w.finished, timeout=5000):
        manager.start(w)
    # queued cross-thread signals and the manager's bookkeeping may land a moment after `finished`
    qtbot.waitUntil(lambda: returned == ["done"] and not manager.running, timeout=5000)
    assert seen == [0, 1, 2, 3, 4]


def test_generator_worker_aborts_between_yields(qtbot):
    manager = WorkerManager()
    w = create_worker(counting, 10_000, 0.005)
    returned = []
    w.returned.connect(returned.append)
    w.yielded.connect(lambda i: i == 3 and w.quit())
    with qtbot.waitSignal(w.aborted, timeout=5000):
        manager.start(w)
    qtbot.waitUntil(lambda: w.is_done, timeout=5000)
    assert returned == []


def test_callback_job_gets_on_event_and_should_stop(qtbot):
    def job(*, on_event, should_stop):
        for i in range(10_000):
            if should_stop():
                return f"stopped at {i}"
            on_event(i)
            time.sleep(0.002)
        return "ran out"

    manager = WorkerManager()
    w = create_worker(job, progress=True)
    w.yielded.connect(lambda i: i == 5 and w.quit())
    results = []
    w.returned.connect(results.append)
    with qtbot.waitSignals([w.aborted, w.finished], timeout=5000):
        manager.start(w)
    assert results and results[0].startswith("stopped at")


def test_errors_are_reported_not_raised(qtbot):
    def boom():
        raise ValueError("bad file")

    manager = WorkerManager()
    errors = []
    manager.error.connect(lambda name, exc: errors.append((name, str(exc))))
    w = create_worker(boom, name="loader")
    with qtbot.waitSignal(w.finished, timeout=5000):
        manager.start(w)
    assert errors == [("loader", "bad file")]


def test_a_job_outliving_its_receivers_ends_quietly(qtbot, capfd):
    """A window closed (or a screenshot taken) while a job runs deletes the job's signals object;
    the job still ends, without a traceback on stderr."""
    import shiboken6

    w = create_worker(counting, 3, 0.0)
    shiboken6.delete(w.signals)
    w.run()  # in this thread: every emit meets a deleted object
    assert w._done
    assert "Traceback" not in capfd.readouterr().err
