"""A reading session end to end, offscreen: verdicts and read marks by keyboard kept across a restart,
the prior at full size with linked views and a change table, measurements that last with undo/redo,
the report line, the verdict CSV, the reading list's columns and filters, and the keys."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QGuiApplication

from chestview.gui.main_window import MainWindow
from chestview.gui.settings import AppSettings
from chestview.gui.worklist import COLUMNS, SHOW_DISAGREED, SHOW_UNREAD

TIMEOUT = 60_000
NAMES = ("00000001_000.png", "00000001_002.png", "00000002_000.png", "00000003_000.png")


@pytest.fixture
def films(tmp_path, test_data):
    folder = tmp_path / "films"
    folder.mkdir()
    return [str(shutil.copy(test_data / "nih" / "images" / n, folder / n)) for n in NAMES]


def new_window(qtbot, model: str) -> MainWindow:
    w = MainWindow(AppSettings(), model=model, persist=False)
    qtbot.addWidget(w)
    w.resize(1600, 1000)
    w.show()
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    return w


def open_all_and_run(qtbot, w: MainWindow, folder: str, n: int) -> None:
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.open_paths([folder])
    w.run_all()
    qtbot.waitUntil(lambda: len(w.worklist.rows) == n, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: len(w.worklist.reviews) == n, timeout=TIMEOUT)


def same_view(a, b) -> bool:
    """The same part of the image in view (centre and height; the widths differ by a pixel's aspect)."""
    ra, rb = a.view.viewRect(), b.view.viewRect()
    return (abs(ra.center().x() - rb.center().x()) < 1 and abs(ra.center().y() - rb.center().y()) < 1
            and abs(ra.height() - rb.height()) < 1)


def close(w: MainWindow) -> None:
    w.workers.wait(10_000)
    w.close()


def test_verdicts_and_read_marks_by_keyboard_survive_a_restart(qtbot, tiny_zoo, films, tmp_path):
    folder = str(tmp_path / "films")
    w = new_window(qtbot, tiny_zoo)
    open_all_and_run(qtbot, w, folder, len(films))
    assert w.worklist.summary.text().startswith(f"{len(films)} image(s), {len(films)} unread")
    first = w.worklist.step(1)
    qtbot.waitUntil(lambda: w.current_path == first and w.reading.panel.table.rowCount() > 0, timeout=TIMEOUT)
    labels = w.reading.panel.labels()
    w.act_disagree.trigger()  # the first finding; the selection moves on to the next
    w.act_agree.trigger()
    review = w.worklist.reviews[first]
    assert dict(review.verdicts) == {labels[0]: "disagree", labels[1]: "agree"} and review.read
    assert w.reading.panel.table.item(0, 3).text() == "disagree"
    w.reading.panel.note.setText("check the lateral")
    w.reading.panel.note.editingFinished.emit()
    # The report line: the film's positives, the model, not for clinical use; copied for dictation.
    w.act_copy_report.trigger()
    copied = QGuiApplication.clipboard().text()
    assert copied.startswith("AI (tiny-test-resnet18):") and copied.endswith("Not for clinical use.")
    # N: read, then the next unread film.
    w.act_read_next.trigger()
    second = w.worklist.selected_path()
    assert second and second != first
    qtbot.waitUntil(lambda: w.current_path == second, timeout=TIMEOUT)
    w.act_mark_read.trigger()
    assert w.worklist.reviews[second].read
    # Filters: unread, disagreed.
    w.worklist.state_filter.setCurrentText(SHOW_UNREAD)
    assert set(w.worklist.paths_in_order()) == set(films) - {first, second}
    w.worklist.state_filter.setCurrentText(SHOW_DISAGREED)
    assert w.worklist.paths_in_order() == [first]
    verdict_col = COLUMNS.index("Verdicts")
    assert w.worklist.table.item(0, verdict_col).text() == "1 agree, 1 disagree"
    w.worklist.state_filter.setCurrentText("All films")
    # The verdict CSV with the model's probabilities.
    out = w.reading.export_reviews(str(tmp_path / "reviews.csv"))
    rows = list(csv.DictReader(open(out)))
    judged = {r["finding"]: r for r in rows if r["file"] == first}
    result = w.results.result(first, tiny_zoo)
    assert float(judged[labels[0]]["probability"]) == pytest.approx(result.finding(labels[0]).probability, abs=1e-4)
    assert judged[labels[0]]["verdict"] == "disagree" and judged[labels[0]]["note"] == "check the lateral"
    assert any(r["file"] == second and r["read"] == "1" for r in rows)
    close(w)

    again = new_window(qtbot, tiny_zoo)  # a restart: every review comes back
    open_all_and_run(qtbot, again, folder, len(films))
    assert again.worklist.reviews[first].disagreed and again.worklist.reviews[second].read
    assert again.worklist.reviews[first].note == "check the lateral"
    assert again.worklist.summary.text().startswith(f"{len(films)} image(s), {len(films) - 2} unread")
    close(again)


def test_worklist_sorts_by_header_and_shows_the_reading_columns(qtbot, tiny_zoo, films, tmp_path):
    w = new_window(qtbot, tiny_zoo)
    w.hide_identifiers = True
    open_all_and_run(qtbot, w, str(tmp_path / "films"), len(films))
    wl = w.worklist
    worklist_order = wl.paths_in_order()
    patient = COLUMNS.index("Patient")
    wl.sort_by(COLUMNS.index("File"))
    assert [p.rsplit("/", 1)[1] for p in wl.paths_in_order()] == sorted(NAMES)
    assert wl.table.item(0, patient).text() == "Patient 1"  # NIH patient numbers hidden as in the browser
    assert wl.table.item(1, patient).text() == "Patient 1" and wl.table.item(2, patient).text() == "Patient 2"
    wl.sort_by(COLUMNS.index("File"))
    assert [p.rsplit("/", 1)[1] for p in wl.paths_in_order()] == sorted(NAMES, reverse=True)
    wl.sort_by(COLUMNS.index("File"))
    assert wl.paths_in_order() == worklist_order  # the third click: back to worklist order
    assert wl.table.item(0, COLUMNS.index("Modality")).text() == "PNG"
    close(w)


def test_nih_prior_at_full_size_with_linked_views_and_a_change_table(qtbot, tiny_zoo, films, tmp_path):
    w = new_window(qtbot, tiny_zoo)
    open_all_and_run(qtbot, w, str(tmp_path / "films"), len(films))
    current, prior = films[1], films[0]  # 00000001_002 and its prior 00000001_000
    w.browser.select_path(current)
    qtbot.waitUntil(lambda: w.current_path == current, timeout=TIMEOUT)
    w.act_prior.setChecked(True)
    qtbot.waitUntil(lambda: w.prior_viewer.image is not None, timeout=TIMEOUT)
    assert w.prior_viewer.image.path == prior and "follow-up 0" in w.prior_viewer.banner.text()
    # Full height, as wide as the current film.
    assert abs(w.prior_viewer.width() - w.viewer.width()) <= 12
    assert w.prior_viewer.height() == w.viewer.height()
    # Linked: zoom, pan and window/level follow the current film.
    def zoomed_in() -> bool:
        # (Zoomed again while the films are still being fitted after showing.)
        if w.viewer.view.viewRect().width() >= 310:
            w.viewer.view.setRange(QRectF(100, 200, 300, 300), padding=0)
            return False
        return same_view(w.prior_viewer, w.viewer)

    qtbot.waitUntil(zoomed_in, timeout=10_000)
    w.viewer.set_window(0.3, 0.2)
    assert w.prior_viewer.window == pytest.approx((0.3, 0.2))
    # Both ways: zooming or windowing the prior leads the current film.
    w.prior_viewer.view.setRange(QRectF(150, 150, 200, 200), padding=0)
    def followed() -> bool:  # the same centre and the same fitted width (the views' heights differ by their aspect)
        ra, rb = w.viewer.view.viewRect(), w.prior_viewer.view.viewRect()
        return (abs(ra.center().x() - rb.center().x()) < 1 and abs(ra.center().y() - rb.center().y()) < 1
                and abs(ra.width() - rb.width()) < 1)

    qtbot.waitUntil(followed, timeout=10_000)
    w.prior_viewer.set_window(0.4, 0.3)
    assert w.viewer.window == pytest.approx((0.4, 0.3))
    w.act_link.setChecked(False)  # unlinked: each its own
    w.viewer.set_window(0.6, 0.5)
    w.viewer.view.setRange(QRectF(0, 0, 500, 500), padding=0)
    assert w.prior_viewer.window == pytest.approx((0.4, 0.3))
    assert not same_view(w.prior_viewer, w.viewer)
    # The change table: every finding of the prior against the current film, at the operating point.
    panel = w.reading.panel
    qtbot.waitUntil(lambda: panel.changes.rowCount() > 0, timeout=TIMEOUT)
    assert panel.changes.isVisibleTo(panel) and "Since the prior" in panel.change_title.text()
    statuses = {panel.changes.item(i, 3).text() for i in range(panel.changes.rowCount())}
    assert statuses <= {"new", "resolved", "higher", "lower", "unchanged"}
    close(w)


def test_measurements_last_with_undo_redo_and_go_into_the_export(qtbot, tiny_zoo, films, tmp_path):
    folder = str(tmp_path / "films")
    w = new_window(qtbot, tiny_zoo)
    open_all_and_run(qtbot, w, folder, len(films))
    first = films[0]
    w.browser.select_path(first)
    qtbot.waitUntil(lambda: w.current_path == first and w.current_result is not None, timeout=TIMEOUT)
    m = w.viewer.measure
    img = w.current_image
    w.act_ruler.setChecked(True)
    m.drag(QPointF(10, 10), QPointF(110, 10), True, img)
    m.drag(QPointF(10, 50), QPointF(10, 150), True, img)
    w.act_angle.setChecked(True)
    assert not w.act_ruler.isChecked()  # one tool at a time
    m.drag(QPointF(200, 200), QPointF(300, 200), True, img)
    m.drag(QPointF(200, 200), QPointF(200, 300), True, img)
    m.ask_text = lambda: "old granuloma"
    w.act_text.setChecked(True)
    m.drag(QPointF(400, 400), QPointF(400, 400), True, img)
    w.act_ctr.setChecked(True)
    m.drag(QPointF(400, 600), QPointF(640, 600), True, img)
    m.drag(QPointF(150, 550), QPointF(900, 550), True, img)
    kinds = [a.kind for a in m.annotations]
    assert kinds == ["ruler", "ruler", "angle", "text", "ctr"]
    assert m.ratio == pytest.approx(240 / 750)
    assert "90.0°" in m.summary() and "CTR 0.32" in m.summary()
    w.act_undo.trigger()
    w.act_undo.trigger()
    assert [a.kind for a in m.annotations] == ["ruler", "ruler", "angle"]
    w.act_redo.trigger()
    assert [a.kind for a in m.annotations] == ["ruler", "ruler", "angle", "text"]
    w.act_redo.trigger()
    # Paging away and back: restored.
    w.browser.select_path(films[2])
    qtbot.waitUntil(lambda: w.current_image is not None and w.current_image.path == films[2], timeout=TIMEOUT)
    assert m.annotations == ()
    w.browser.select_path(first)
    qtbot.waitUntil(lambda: w.current_image.path == first and w.current_result is not None, timeout=TIMEOUT)
    assert [a.kind for a in m.annotations] == kinds
    # The export draws and records them all.
    worker = w.start_export(str(tmp_path / "out" / "view.png"))
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    doc = json.loads((tmp_path / "out" / "view.json").read_text())
    recorded = doc["settings"]["annotations"]
    assert [a["kind"] for a in recorded] == kinds and recorded[2]["degrees"] == pytest.approx(90.0)
    assert recorded[3]["text"] == "old granuloma"
    assert doc["settings"]["cardiothoracic_ratio"]["ratio"] == pytest.approx(240 / 750, abs=1e-3)
    # Never written beside the source film.
    assert sorted(p.name for p in (tmp_path / "films").iterdir()) == sorted(NAMES)
    close(w)

    again = new_window(qtbot, tiny_zoo)  # a restart
    with qtbot.waitSignal(again.image_shown, timeout=TIMEOUT):
        again.open_paths([first])
    assert [a.kind for a in again.viewer.measure.annotations] == kinds
    close(again)


def test_arrows_are_drawn_undone_stored_and_exported(qtbot, tiny_zoo, films, tmp_path):
    w = new_window(qtbot, tiny_zoo)
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.open_paths([films[0]])
    m, img = w.viewer.measure, w.current_image
    w.act_arrow.setChecked(True)
    assert w.viewer.view.tool == "arrow"
    w.act_ruler.setChecked(True)
    assert not w.act_arrow.isChecked()  # one tool at a time
    w.act_arrow.setChecked(True)
    m.ask_text = lambda: "nodule"
    m.drag(QPointF(300, 100), QPointF(200, 200), True, img)
    m.ask_text = lambda: None  # no text: an arrow all the same
    m.drag(QPointF(500, 500), QPointF(450, 450), True, img)
    m.drag(QPointF(50, 50), QPointF(51, 51), True, img)  # a click is not an arrow
    assert [(a.kind, a.text) for a in m.annotations] == [("arrow", "nodule"), ("arrow", "")]
    assert len(m.lines()) == 6 and m.lines()[0][1] == "nodule"  # shaft + head each, the text at the tail
    w.act_undo.trigger()
    assert len(m.annotations) == 1
    w.act_redo.trigger()
    assert len(m.annotations) == 2
    kept = m.annotations
    close(w)

    again = new_window(qtbot, tiny_zoo)  # a restart: the stored arrows are back
    with qtbot.waitSignal(again.result_shown, timeout=TIMEOUT):
        again.open_paths([films[0]])
    assert again.viewer.measure.annotations == kept
    worker = again.start_export(str(tmp_path / "out" / "view.png"))
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    recorded = json.loads((tmp_path / "out" / "view.json").read_text())["settings"]["annotations"]
    assert [(a["kind"], a["text"]) for a in recorded] == [("arrow", "nodule"), ("arrow", "")]
    close(again)


def test_keys_listed_viewer_only_and_corner_text(qtbot, tiny_zoo, films, tmp_path):
    from chestview.gui.reading import VIEWER_KEYS, shortcut_rows

    w = new_window(qtbot, tiny_zoo)
    with qtbot.waitSignal(w.image_shown, timeout=TIMEOUT):
        w.open_paths([films[0]])
    rows = dict((what, keys) for keys, what in shortcut_rows(w))
    for what, keys in (("Viewer Only", "F11"), ("Agree with Finding", "G"), ("Read, Next Unread", "N"),
                       ("Keyboard Shortcuts", "F1"), ("Ruler", "R"), ("Undo Measurement", "Ctrl+Z")):
        assert rows[what] == keys
    keys = [k for k, _ in shortcut_rows(w)[: -len(VIEWER_KEYS)]]
    assert len(keys) == len(set(keys)), "two actions share a key: Qt would fire neither"
    w.viewer.graphics.setFocus()
    qtbot.keyClick(w.viewer.graphics, Qt.Key.Key_M)  # a plain key on the image: marks the film read
    assert w.worklist.is_read(films[0]) or w.reading.review(films[0]).read
    dlg = w.reading.show_shortcuts()
    assert dlg.findChild(type(w.worklist.table)).rowCount() == len(shortcut_rows(w))
    dlg.close()
    assert "zoom" in w.viewer.corner.text() and w.viewer.corner.isVisible()
    w.act_corner.setChecked(False)
    assert not w.viewer.corner.isVisible()
    w.act_viewer_only.setChecked(True)
    assert not w.menuBar().isVisible() and not w.findings_dock.isVisible() and not w.main_toolbar.isVisible()
    w.act_viewer_only.setChecked(False)
    assert w.menuBar().isVisible() and w.findings_dock.isVisible()
    # Open File adds to the studies open now.
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.open_paths([films[1]], add=bool(w.browser.paths()))
    assert set(w.browser.paths()) == {films[0], films[1]}
    close(w)


def test_dock_widths_hold_while_stepping_through_films(qtbot, tiny_zoo, samples_dir):
    """Long values (DICOM file names, photometric notes) wrap or are cut in the side panels; they
    never widen a dock, so the film keeps its place and size from one study to the next."""
    from PySide6.QtWidgets import QDockWidget

    w = new_window(qtbot, tiny_zoo)
    w.open_paths([str(samples_dir)])
    qtbot.waitUntil(lambda: len(w.browser.catalog.images) >= 6, timeout=TIMEOUT)
    paths = [im.path for im in w.browser.catalog.images]
    assert any(p.endswith(".dcm") for p in paths) and any(p.endswith(".png") for p in paths)
    seen = set()
    for path in paths * 2:
        w.browser.select_path(path)
        qtbot.waitUntil(lambda: w.current_path == path and w.current_image is not None, timeout=TIMEOUT)
        qtbot.wait(20)
        docks = tuple(d.width() for d in w.findChildren(QDockWidget) if d.isVisible())
        seen.add((docks, w.viewer.width()))
    assert len(seen) == 1, seen
    close(w)
