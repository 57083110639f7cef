"""Long jobs in a child process (training): events, result, errors and stop reach the caller."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from chestview.gui.subprocess_job import run_in_subprocess


HERE = str(Path(__file__).parent)
sys.path.insert(0, HERE)
from subprocess_jobs_for_tests import counting_job, failing_job  # noqa: E402


@pytest.fixture(autouse=True)
def _child_finds_the_jobs(monkeypatch):
    # The spawned child imports the jobs by their module's name, from this folder.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH", "")) if p))


def test_events_and_result_come_back_from_another_process():
    events = []
    result = run_in_subprocess(counting_job, 3, on_event=events.append, should_stop=lambda: False)
    assert events == [("step", 0), ("step", 1), ("step", 2)]
    assert result["sent"] == 3 and result["pid"] != os.getpid()


def test_the_child_exception_is_raised_here_with_its_traceback():
    events = []
    with pytest.raises(ValueError, match="no such dataset") as info:
        run_in_subprocess(failing_job, on_event=events.append, should_stop=lambda: False)
    assert events == ["about to fail"]
    assert "failing_job" in info.value.__chestview_traceback__


def test_stop_is_passed_on_to_the_child():
    events = []
    result = run_in_subprocess(counting_job, 1000, on_event=events.append, should_stop=lambda: len(events) >= 2)
    assert "stopped_at" in result and result["stopped_at"] < 1000
