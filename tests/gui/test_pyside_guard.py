"""PySide6 6.12.0 drops a reference to True per Signal.emit() on Python 3.11 and the app dies after
a few thousand mouse moves; pyproject excludes it. This catches a Qt binding with that leak."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    ping = Signal(object)


def test_signal_emissions_keep_reference_counts(qapp):
    e = _Emitter()
    e.ping.connect(lambda v: v is None)  # a slot returning a bool, as pyqtgraph's often do
    before_true, before_none = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(5_000):
        e.ping.emit(None)
        qapp.processEvents()
    assert sys.getrefcount(True) > before_true - 500
    assert sys.getrefcount(None) > before_none - 500
