"""Run a long engine job (training) in a child process, as if it ran in this thread.

Why: a job in a worker thread shares the interpreter lock with the window. Training imports
large modules on first use (torch._dynamo, sympy, onnx...) and traces the model for its ONNX
export; each of those holds the lock for hundreds of milliseconds at a time, which froze the
window for up to 1.3 s. A child process has its own interpreter: the window never waits for it.

``run_in_subprocess(func, *args, on_event=, should_stop=)`` calls ``func(*args, on_event=...,
should_stop=...)`` in a spawned child and returns its result (or raises its exception here).
Events are relayed through a queue; ``should_stop`` is polled here and passed on as a flag. The
child ends itself when this process is gone (the app quits without waiting for its jobs). Qt-free.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from typing import Any, Callable

_POLL_S = 0.1


class ChildError(RuntimeError):
    """The child's exception, when it cannot be sent back as itself."""


def _watch_parent(parent_pid: int) -> None:
    # Orphaned (the app ended without waiting for this job): stop at once; writes are atomic.
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(1)


def _child(func: Callable[..., Any], args: tuple, kwargs: dict, events: Any, stop: Any, parent_pid: int) -> None:
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    try:
        result = func(*args, on_event=lambda ev: events.put(("event", ev)), should_stop=stop.is_set, **kwargs)
        events.put(("result", result))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        text = traceback.format_exc()
        try:
            import pickle

            pickle.dumps(exc)
            events.put(("error", (exc, text)))
        except Exception:  # noqa: BLE001 - an exception that does not pickle: its message
            events.put(("error", (ChildError(f"{type(exc).__name__}: {exc}"), text)))


def run_in_subprocess(
    func: Callable[..., Any],
    *args: Any,
    on_event: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    **kwargs: Any,
) -> Any:
    """``func(*args, on_event=, should_stop=, **kwargs)`` in a spawned child process (``func`` and
    its arguments, events and result must pickle: a module-level function and plain data)."""
    ctx = mp.get_context("spawn")  # never fork a process with Qt and torch threads
    events = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=_child, args=(func, args, kwargs, events, stop, os.getpid()), daemon=True,
                       name="chestview job")
    proc.start()
    try:
        while True:
            if should_stop is not None and should_stop() and not stop.is_set():
                stop.set()
            try:
                kind, payload = events.get(timeout=_POLL_S)
            except queue.Empty:
                if not proc.is_alive():
                    raise ChildError(f"the job's process ended unexpectedly (exit code {proc.exitcode})") from None
                continue
            if kind == "event":
                if on_event is not None:
                    on_event(payload)
            elif kind == "result":
                return payload
            else:
                exc, text = payload
                exc.__chestview_traceback__ = text  # shown in the Messages panel
                raise exc
    finally:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
        events.close()
