"""Jobs for test_subprocess_job.py: a spawned child imports them by this module's name."""

from __future__ import annotations

import os
import time


def counting_job(n: int, *, on_event, should_stop) -> dict:
    """Module level: the spawned child imports it by name."""
    sent = 0
    for i in range(n):
        if should_stop():
            return {"stopped_at": i, "pid": os.getpid()}
        on_event(("step", i))
        sent += 1
        time.sleep(0.05)
    return {"sent": sent, "pid": os.getpid()}


def failing_job(*, on_event, should_stop) -> None:
    on_event("about to fail")
    raise ValueError("no such dataset")
