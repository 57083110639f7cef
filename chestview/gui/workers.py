"""Background work without freezing the window: generator and function workers on a QThreadPool.

The idea follows napari/superqt's ``thread_worker``: a job is a function (or a generator that
yields progress); it runs in a ``QRunnable`` and reports through Qt signals, which Qt queues to the
main thread:

* ``started`` - the job began;
* ``yielded(object)`` - a generator yielded a value (progress event, partial result);
* ``returned(object)`` - the job finished and returned this value;
* ``errored(object)`` - the job raised this exception (never shown as a modal dialog here);
* ``aborted`` - the job stopped because :meth:`Worker.quit` was called (a function job that
  handles ``should_stop`` itself still emits ``returned`` with its partial result first; an
  exception raised after :meth:`quit` counts as the stop, not as an error);
* ``finished`` - always last, whatever happened.

A generator is asked to stop between yields. Engine functions that take ``on_event`` and
``should_stop`` callables run in a :class:`FunctionWorker` with ``progress=True``: they receive
``on_event`` (emits ``yielded``) and ``should_stop`` (true once :meth:`quit` was called).
"""

from __future__ import annotations

import inspect
import logging
import traceback
import warnings
from typing import Any, Callable, Generator

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from shiboken6 import isValid

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)
    aborted = Signal()
    finished = Signal()


_STOPPED = object()  # a generator stopped between yields: nothing to return
# Jobs still running when their window closed: a QRunnable must outlive its run() (see abandon()).
_ABANDONED: list["Worker"] = []


class Aborted(Exception):
    """Raised inside a callback-style job when it notices it was asked to stop."""


class Worker(QRunnable):
    """Base class: holds the signals and the abort flag. Use :func:`create_worker`."""

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.setAutoDelete(False)  # the Python object owns the signals; keep it alive ourselves
        self.signals = WorkerSignals()
        self.name = name
        self._abort = False
        self._running = False
        self._done = False

    # --- control -------------------------------------------------------------------------
    def quit(self) -> None:
        """Ask the job to stop at its next yield / should_stop() check."""
        self._abort = True

    @property
    def abort_requested(self) -> bool:
        return self._abort

    def should_stop(self) -> bool:
        return self._abort

    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def is_done(self) -> bool:
        return self._done

    # --- convenience aliases, as in superqt ------------------------------------------------
    @property
    def started(self):  # noqa: D401 - signal passthroughs
        return self.signals.started

    @property
    def yielded(self):
        return self.signals.yielded

    @property
    def returned(self):
        return self.signals.returned

    @property
    def errored(self):
        return self.signals.errored

    @property
    def aborted(self):
        return self.signals.aborted

    @property
    def finished(self):
        return self.signals.finished

    # --- execution ---------------------------------------------------------------------------
    def _emit(self, name: str, *args: Any) -> None:
        """Emit a signal unless its QObject is gone: a window closed (or a screenshot taken) while
        this job ran deletes it, and then nobody is listening; a traceback would only be noise."""
        try:
            getattr(self.signals, name).emit(*args)
        except RuntimeError:
            log.debug("worker %s: %s not delivered, its receiver was deleted", self.name, name)

    def run(self) -> None:  # called in the pool thread
        self._running = True
        self._emit("started")
        try:
            result = _STOPPED if self._abort else self.work()
            if result is not _STOPPED:
                self._emit("returned", result)
            if self._abort:
                self._emit("aborted")
        except Aborted:
            self._emit("aborted")
        except Exception as exc:  # noqa: BLE001 - every error goes to the notification area
            if self._abort:  # an engine job that raises because it was cancelled
                self._emit("aborted")
            else:
                exc.__chestview_traceback__ = traceback.format_exc()  # type: ignore[attr-defined]
                log.debug("worker %s failed", self.name, exc_info=True)
                self._emit("errored", exc)
        finally:
            self._running = False
            self._done = True
            self._emit("finished")

    def work(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class GeneratorWorker(Worker):
    """Runs a generator: each yielded value is emitted; stops between yields when asked."""

    def __init__(self, gen_func: Callable[..., Generator], *args: Any, name: str = "", **kwargs: Any) -> None:
        super().__init__(name or getattr(gen_func, "__name__", "job"))
        self._gen_func, self._args, self._kwargs = gen_func, args, kwargs

    def work(self) -> Any:
        gen = self._gen_func(*self._args, **self._kwargs)
        while True:
            if self._abort:
                gen.close()
                return _STOPPED
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
            self._emit("yielded", value)


class FunctionWorker(Worker):
    """Runs a plain function. With ``progress=True`` it is called with ``on_event=`` and
    ``should_stop=`` keyword arguments wired to ``yielded`` and :meth:`quit`."""

    def __init__(
        self, func: Callable[..., Any], *args: Any, name: str = "", progress: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(name or getattr(func, "__name__", "job"))
        self._func, self._args, self._kwargs = func, args, kwargs
        self._progress = progress

    def work(self) -> Any:
        kwargs = dict(self._kwargs)
        if self._progress:
            kwargs.setdefault("on_event", lambda event: self._emit("yielded", event))
            kwargs.setdefault("should_stop", self.should_stop)
        return self._func(*self._args, **kwargs)


def create_worker(func: Callable[..., Any], *args: Any, name: str = "", progress: bool = False, **kwargs: Any) -> Worker:
    """A generator worker for generator functions, a function worker otherwise (not started)."""
    if inspect.isgeneratorfunction(func):
        return GeneratorWorker(func, *args, name=name, **kwargs)
    return FunctionWorker(func, *args, name=name, progress=progress, **kwargs)


class WorkerManager(QObject):
    """Owns the thread pools and keeps running workers alive until they finish.

    ``io`` runs file reading (scans, images, thumbnails, tags); ``compute`` runs one model job at a
    time (inference, export, benchmark, training), so two jobs never share a model concurrently.
    """

    jobs_changed = Signal(int)
    error = Signal(str, object)  # (job name, exception): shown in the notification area

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.io_pool = QThreadPool(self)
        self.io_pool.setMaxThreadCount(2)
        self.compute_pool = QThreadPool(self)
        self.compute_pool.setMaxThreadCount(1)
        self._workers: set[Worker] = set()

    def start(self, worker: Worker, *, pool: str = "io", report_errors: bool = True) -> Worker:
        self._workers.add(worker)
        # Guarded: a report queued before the window closed may arrive after this object is gone.
        worker.signals.finished.connect(lambda w=worker: isValid(self) and self._forget(w))
        if report_errors:
            worker.signals.errored.connect(lambda exc, w=worker: isValid(self) and self.error.emit(w.name, exc))
        (self.compute_pool if pool == "compute" else self.io_pool).start(worker)
        self.jobs_changed.emit(len(self._workers))
        return worker

    def _forget(self, worker: Worker) -> None:
        self._workers.discard(worker)
        self.jobs_changed.emit(len(self._workers))

    @property
    def running(self) -> list[Worker]:
        return list(self._workers)

    def quit_all(self) -> None:
        for w in list(self._workers):
            w.quit()

    def abandon(self) -> list[Worker]:
        """Ask every job to stop and cut it off from the app, without waiting (the window is closing).

        A job finishes in its own time with nobody listening: nothing it reports can reach a widget
        that is gone. Each is kept alive (its pool thread still runs it) until the process ends.
        Returns the jobs that were still running.
        """
        running = list(self._workers)
        for w in running:
            w.quit()
            for sig in (w.started, w.yielded, w.returned, w.errored, w.aborted, w.finished):
                with warnings.catch_warnings():  # PySide warns when a signal had no connection
                    warnings.simplefilter("ignore", RuntimeWarning)
                    try:
                        sig.disconnect()
                    except (RuntimeError, TypeError):
                        pass
        _ABANDONED.extend(running)
        self._workers.clear()
        return running

    def wait(self, msecs: int = 5000) -> bool:
        """Ask every job to stop and wait for the pools (used when the window closes)."""
        self.quit_all()
        ok_io = self.io_pool.waitForDone(msecs)
        ok_compute = self.compute_pool.waitForDone(msecs)
        return ok_io and ok_compute
