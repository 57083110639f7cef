"""Starting the app: ``run_app(paths)`` for ``chestview [PATH...]``, and ``--screenshot`` rendering."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from chestview.gui import timings

log = logging.getLogger(__name__)

SCREENSHOT_SIZE = (1600, 1000)
SCREENSHOT_TIMEOUT_S = 240.0


def _dark_palette():
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    base, window, text = QColor(30, 32, 35), QColor(40, 43, 47), QColor(220, 222, 225)
    for role, colour in {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor(36, 38, 42),
        QPalette.ColorRole.ToolTipBase: QColor(50, 52, 56),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: window,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Highlight: QColor(52, 110, 170),
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: QColor(100, 160, 230),
        QPalette.ColorRole.PlaceholderText: QColor(130, 134, 138),
    }.items():
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 122, 125))
    return p


_QT_LEVELS = {"QtDebugMsg": logging.DEBUG, "QtInfoMsg": logging.INFO, "QtWarningMsg": logging.WARNING,
              "QtCriticalMsg": logging.ERROR, "QtFatalMsg": logging.CRITICAL}


def _qt_message(mode, context, message: str) -> None:  # noqa: ANN001 (Qt's signature)
    """Qt's own messages (platform plugin notes, font warnings) become records of the "qt" logger:
    with ``-v`` they show, otherwise they stay off stderr, like other libraries' output."""
    name = getattr(mode, "name", str(mode)).rsplit(".", 1)[-1]
    logging.getLogger("qt").log(_QT_LEVELS.get(name, logging.WARNING), "%s", message)


def make_app(argv: list[str] | None = None):
    """The QApplication (created once), with the Fusion style and a dark palette."""
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        qInstallMessageHandler(_qt_message)
        app = QApplication(argv if argv is not None else [sys.argv[0]])
        app.setApplicationName("chestview")
        app.setOrganizationName("chestview")
        app.setStyle("Fusion")
        app.setPalette(_dark_palette())
    return app


def _model_directory_to_id(model: str | None) -> str | None:
    """``--model`` may name a model directory (e.g. a training run's ``model/``), as for
    ``chestview predict``: its parent joins the zoo path for this session and its id is selected."""
    if not model or not (Path(model) / "card.json").is_file():
        return model
    # deferred: imports torch; the window opens without it
    from chestview.engine.zoo import ModelCard

    try:
        card = ModelCard.load(model)
    except Exception:  # noqa: BLE001 - the zoo reports an unreadable card itself
        return model
    extra = os.environ.get("CHESTVIEW_ZOO_PATH", "")
    os.environ["CHESTVIEW_ZOO_PATH"] = os.pathsep.join(p for p in (str(Path(model).resolve().parent), extra) if p)
    return card.id


def run_app(
    paths: list[str],
    *,
    screenshot: str | None = None,
    finding: str | None = None,
    model: str | None = None,
    show_identifiers: bool = False,
) -> int:
    """Open the main window on ``paths`` (default: the bundled samples); returns the exit status.

    ``model``: the zoo model to select first (default: the settings' default, else the zoo's default).

    With ``screenshot``, render the window offscreen once the first image is shown and analysed by the
    default model (``finding`` selected, else the most probable positive one), save it as PNG and return.
    A screenshot shows no patient name or ID (study tree, tag panel) unless ``show_identifiers``.
    """
    if screenshot and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    model = _model_directory_to_id(model)
    app = make_app()
    timings.mark("Qt application")
    # deferred: imports Qt; `chestview --help` and the commands do not pay for it
    from chestview.engine.paths import samples_dir
    from chestview.gui.main_window import MainWindow
    from chestview.gui.settings import AppSettings

    settings = AppSettings.load()
    if screenshot:
        settings = AppSettings(default_model=settings.default_model, device=settings.device,
                               heat_colormap=settings.heat_colormap, fixed_box_threshold=settings.fixed_box_threshold)
    window = MainWindow(
        settings, persist=not screenshot, model=model, hide_identifiers=bool(screenshot) and not show_identifiers
    )
    timings.mark("window built")
    if screenshot:
        window.resize(*SCREENSHOT_SIZE)
    if timings.enabled():
        _mark_milestones(app, window)
    window.show()
    missing = [p for p in paths if not Path(p).exists()]
    for p in missing:
        window.notify_error("open", f"{p}: no such file or directory")
    existing = [p for p in paths if Path(p).exists()]
    window.open_paths(existing or ([] if paths else [str(samples_dir())]))
    if not screenshot:
        code = app.exec()
        # End the process now. The window saved the settings and asked every job to stop when it
        # closed; waiting for a job still computing, or for Python's own clean-up of torch, OpenVINO
        # and Qt (1-2 s on 2 cores), would only keep a closed app alive. Every file the app writes is
        # written atomically (a temporary file renamed into place), so nothing is left half-written.
        timings.mark("exit")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    shooter = Screenshotter(window, screenshot, finding)
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)  # the event loop ends through exit() below, nothing posted
    try:
        app.exec()
    finally:
        app.setQuitOnLastWindowClosed(quit_on_close)
    return shooter.status


def _mark_milestones(app, window) -> None:
    """``CHESTVIEW_TIMINGS``: mark the window's first paint, the first findings drawn and the quit."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, obj, event) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                window.removeEventFilter(self)
                timings.mark("window shown")
            return False

    window._timings_filter = FirstPaint(window)  # type: ignore[attr-defined]
    window.installEventFilter(window._timings_filter)
    # The findings are painted with the next frame: mark after the events that the result queued.
    window.result_shown.connect(lambda _p: QTimer.singleShot(0, lambda: timings.mark("first findings")))
    app.aboutToQuit.connect(lambda: timings.mark("event loop ended"))


class Screenshotter:
    """Waits until the window shows an image and its findings (or the "no model" message), selects
    the finding, grabs the window to a PNG and quits the event loop."""

    def __init__(self, window, path: str, finding: str | None, timeout_s: float = SCREENSHOT_TIMEOUT_S) -> None:
        from PySide6.QtCore import QTimer

        self.window, self.path, self.finding = window, path, finding
        self.deadline = time.monotonic() + timeout_s
        self.status = 1
        self._selected = False
        self._settle = 0
        self.timer = QTimer()
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _ready(self) -> bool:
        w = self.window
        if w.current_image is None or not w.zoo_loaded or w.job("scan") or w.job("load"):
            return False
        if not w.model_panel.current_id():
            return True  # no model installed: the message is the content
        return w.current_result is not None and w.current_result.path == w.current_image.path

    def _tick(self) -> None:
        timed_out = time.monotonic() > self.deadline
        if not timed_out and not self._ready():
            return
        w = self.window
        if not self._selected and w.current_result is not None:
            self._selected = True
            if self.finding:
                if not w.findings.select_label(self.finding):
                    w.notify_error("screenshot", f"finding {self.finding!r} is not a label of this model")
            elif not w.findings.shown_map():
                # deferred: imports Qt; `chestview --help` and the commands do not pay for it
                from chestview.gui.findings import default_label

                # The window's own choice otherwise (a film's default, or the abnormality map).
                best = default_label(w.current_result.findings)
                if best:
                    w.findings.select_label(best)
        self._settle += 1
        if self._settle < 4 and not timed_out:  # a few ticks for thumbnails, layout and repaint
            return
        self.timer.stop()
        self.save()

    def save(self) -> None:
        # deferred: imports Qt; `chestview --help` and the commands do not pay for it
        from PySide6.QtWidgets import QApplication

        from PySide6.QtCore import QBuffer, QByteArray, QIODevice

        from chestview.engine.util import atomic_write_bytes

        QApplication.processEvents()
        pix = self.window.grab()
        sources = {os.path.realpath(p) for p in self.window.browser.paths()}
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        ok = pix.save(buffer, "PNG")
        buffer.close()
        if os.path.realpath(self.path) in sources:
            print(f"chestview: error: {self.path}: refusing to overwrite a source image", file=sys.stderr)
            self.status = 2
        elif not ok:
            print(f"chestview: {self.path}: could not render the screenshot", file=sys.stderr)
            self.status = 1
        else:
            try:
                atomic_write_bytes(self.path, bytes(data))  # never a half-written PNG
                self.status = 0
            except OSError as exc:
                print(f"chestview: {self.path}: cannot write the screenshot ({exc.strerror or exc})", file=sys.stderr)
                self.status = 1
        self.window.close()  # saves nothing here: screenshot mode uses throw-away settings
        QApplication.instance().exit(self.status)
