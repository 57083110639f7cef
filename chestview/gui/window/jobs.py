"""The main window's job bookkeeping: one worker per job kind, cancel, and the one place errors go."""

from __future__ import annotations

import datetime as _dt

from PySide6.QtWidgets import QListWidgetItem
from shiboken6 import isValid

from chestview.gui.workers import Worker


class JobsMixin:
    """Part of :class:`chestview.gui.main_window.MainWindow` (expects its widgets and ``workers``)."""

    def _start(self, kind: str, worker: Worker, *, pool: str = "io", returned=None, yielded=None,
               finished=None, cancel_previous: bool = True) -> Worker:
        """Start a job of ``kind``; a previous job of the same kind is asked to stop."""
        old = self._running.get(kind)
        if cancel_previous and old is not None and not old.is_done:
            old.quit()
        self._running[kind] = worker
        # Results of a superseded job (another job of the same kind started since) are dropped, and so
        # are reports that arrive after the window is gone.
        if returned is not None:
            worker.returned.connect(lambda r, k=kind, w=worker: self._current(k, w) and returned(r))
        if yielded is not None:
            worker.yielded.connect(lambda v, k=kind, w=worker: self._current(k, w) and yielded(v))
        worker.finished.connect(lambda k=kind, w=worker: isValid(self) and self._job_done(k, w))
        if finished is not None:
            worker.finished.connect(finished)
        return self.workers.start(worker, pool=pool)

    def _current(self, kind: str, worker: Worker) -> bool:
        return isValid(self) and self._running.get(kind) is worker

    def _job_done(self, kind: str, worker: Worker) -> None:
        if self._running.get(kind) is worker:
            del self._running[kind]
        if kind in ("infer", "batch", "export"):
            self.model_panel.set_busy(self._compute_busy())

    def job(self, kind: str) -> Worker | None:
        return self._running.get(kind)

    def busy(self) -> bool:
        return bool(self.workers.running)

    def _jobs_changed(self, n: int) -> None:
        self.jobs_bar.setVisible(n > 0)
        self.jobs_label.setText(f"{n} job{'s' if n != 1 else ''}" if n else "")

    def cancel_jobs(self) -> None:
        for kind in ("scan", "thumbs", "thumbs-added", "infer", "batch", "export"):
            w = self._running.get(kind)
            if w is not None:
                w.quit()
        self.statusBar().showMessage("Cancelling…", 3000)

    def notify_error(self, job: str, exc: object) -> None:
        """One place for every error: the Messages panel and the status bar (never a modal storm)."""
        text = str(exc) or type(exc).__name__
        stamp = _dt.datetime.now().strftime("%H:%M:%S")
        item = QListWidgetItem(f"{stamp}  {job}: {text}")
        tb = getattr(exc, "__chestview_traceback__", "")
        item.setToolTip(tb or text)
        self.messages.addItem(item)
        self.messages.scrollToBottom()
        n = self.messages.count()
        self.messages_button.setText(f"⚠ {n} problem{'s' if n != 1 else ''}")
        self.messages_button.setStyleSheet("color: #ff8080;")
        self.statusBar().showMessage(f"{job}: {text}", 8000)
