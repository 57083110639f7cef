"""The main window end to end, offscreen: open studies, run a model, heatmaps, boxes, export, cancel."""

from __future__ import annotations

import json
import pytest
from PySide6.QtCore import QElapsedTimer, QRectF, QTimer

from chestview.gui.main_window import MainWindow
from chestview.gui.settings import AppSettings

TIMEOUT = 60_000


@pytest.fixture
def window(qtbot, tiny_zoo):
    w = MainWindow(AppSettings(), model=tiny_zoo)  # not the bundled default: fast and with positives
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    yield w
    w.workers.wait(10_000)


def open_and_analyse(qtbot, w: MainWindow, paths: list[str]) -> None:
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.open_paths(paths)


def test_samples_run_model_heatmap_and_boxes(qtbot, window, samples_dir):
    w = window
    assert w.model_panel.current_id() == "tiny-test-resnet18"
    open_and_analyse(qtbot, w, [str(samples_dir)])
    assert len(w.browser.paths()) >= 4
    assert w.current_image is not None and w.current_result is not None
    # A short list: every positive finding, then the three most probable negatives; "Show all" lists
    # every label, the unreliable one greyed at the bottom.
    n_pos = sum(f.positive for f in w.current_result.findings if f.reliable)
    assert len(w.findings.labels()) == min(13, n_pos + 3)
    w.findings.show_all.setChecked(True)
    labels = w.findings.labels()
    assert len(labels) == 14 and labels[-1] == "Hernia"
    assert w.findings.table.item(w.findings.row_of("Hernia"), 2).text() == "not reliable"

    # Click a positive finding: its heatmap covers the whole image and its boxes are drawn.
    w.findings.threshold.setValue(150)
    for positive in [f.label for f in w.current_result.findings if f.positive]:
        w.findings.select_label(positive)  # one whose map is focal at this level (the model is untrained)
        if w.viewer.box_overlays:
            break
    assert w.viewer.heatmap_visible
    rect = w.viewer.heat_item.mapRectToParent(w.viewer.heat_item.boundingRect())
    assert rect == QRectF(0, 0, w.current_image.width, w.current_image.height)
    boxes_150 = [(o.box.x, o.box.y, o.box.width, o.box.height) for o in w.viewer.box_overlays]
    assert boxes_150 and all(o.label == positive for o in w.viewer.box_overlays)

    # The threshold slider re-cuts the boxes from the cached low-resolution map.
    w.findings.threshold.setValue(240)
    boxes_240 = [(o.box.x, o.box.y, o.box.width, o.box.height) for o in w.viewer.box_overlays]
    assert boxes_240 != boxes_150
    w.findings.threshold.setValue(1)
    # Everything above 1 is the whole map: no focal region, so no frame around the film.
    assert not w.viewer.box_overlays and "diffuse — no box" in w.findings.box_count.text()

    # All positive findings: boxes of several labels in distinct colours.
    w.findings.threshold.setValue(180)
    w.findings.all_positive.setChecked(True)
    drawn = {o.label for o in w.viewer.box_overlays}
    colours = {o.rect.pen().color().name() for o in w.viewer.box_overlays}
    assert len(drawn) >= 2 and len(colours) == min(len(drawn), 8)  # 8 colour-blind-safe colours
    w.findings.all_positive.setChecked(False)
    w.findings.show_heatmap.setChecked(False)
    assert not w.viewer.heatmap_visible


def test_going_back_is_cached_and_keyboard_navigation(qtbot, window, test_data):
    w = window
    open_and_analyse(qtbot, w, [str(test_data / "nih" / "images")])
    first = w.current_path
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.act_next.trigger()
    assert w.current_path != first
    qtbot.waitUntil(lambda: w.job("infer") is None, timeout=TIMEOUT)  # its worker reports finished after the result
    # Back: the result comes from the cache, no inference job is started.
    w.act_prev.trigger()
    qtbot.waitUntil(lambda: w.current_result is not None and w.current_result.path == first, timeout=TIMEOUT)
    assert w.job("infer") is None


def test_export_current_view(qtbot, window, samples_dir, tmp_path):
    w = window
    open_and_analyse(qtbot, w, [str(samples_dir / "00000661_000.png")])
    label = w.current_result.findings[0].label
    w.findings.select_label(label)
    out = tmp_path / "export" / "annotated.png"
    worker = w.start_export(str(out))
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    assert out.is_file()
    from PIL import Image

    assert Image.open(out).size == (w.current_image.width, w.current_image.height)
    doc = json.loads(out.with_suffix(".json").read_text())
    assert set(doc) >= {"chestview_version", "model", "results"}
    assert doc["model"]["id"] == "tiny-test-resnet18"
    assert doc["results"][0]["path"] == "00000661_000.png"  # file name only: no identifying folders
    # Exporting onto the source image is refused and reported, the source untouched.
    before = (samples_dir / "00000661_000.png").read_bytes()
    worker = w.start_export(str(samples_dir / "00000661_000.png"))
    with qtbot.waitSignal(worker.errored, timeout=TIMEOUT):
        pass
    assert (samples_dir / "00000661_000.png").read_bytes() == before
    assert w.messages.count() >= 1


def test_batch_export(qtbot, window, test_data, tmp_path):
    w = window
    files = sorted(str(p) for p in (test_data / "nih" / "images").glob("*.png"))[:3]
    open_and_analyse(qtbot, w, files)
    worker = w.start_batch_export(str(tmp_path / "batch"))
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    pngs = sorted((tmp_path / "batch").glob("*.png"))
    assert len(pngs) == len(w.browser.paths())
    doc = json.loads((tmp_path / "batch" / "results.json").read_text())
    assert len(doc["results"]) == len(pngs)


def test_cancel_running_inference(qtbot, window, test_data):
    w = window
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.open_paths([str(test_data / "nih" / "images")])
    messages: list[str] = []
    w.statusBar().messageChanged.connect(messages.append)  # other jobs share the status bar: record all
    w.run_all()
    worker = w.job("batch")
    assert worker is not None
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        w.act_cancel.trigger()
    assert worker.abort_requested
    assert len(w.results.for_model("tiny-test-resnet18")) < len(w.browser.paths())
    qtbot.waitUntil(lambda: any("cancelled" in m for m in messages), timeout=5000)
    assert not any("finished" in m for m in messages)


def test_event_loop_never_stalls_during_folder_inference(qtbot, window, test_data):
    w = window
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.open_paths([str(test_data / "nih" / "images")])
    gaps: list[int] = []
    clock = QElapsedTimer()
    clock.start()

    def tick() -> None:
        gaps.append(clock.restart())

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(tick)
    w.results.clear()
    timer.start()
    w.run_all()
    worker = w.job("batch")
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    timer.stop()
    assert len(w.results.for_model("tiny-test-resnet18")) == len(w.browser.paths())
    assert len(gaps) > 5
    assert max(gaps[1:]) < 200, f"event loop stalled {max(gaps)} ms"


def test_bad_files_are_listed_not_fatal(qtbot, window, tmp_path):
    w = window
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.open_paths([str(bad), str(tmp_path / "missing.png")])
    assert len(w.browser.catalog.errors) == 2
    assert w.messages.count() >= 2


def test_window_geometry_and_settings_restored(qtbot, tiny_zoo):
    w = MainWindow(AppSettings())
    qtbot.addWidget(w)
    w.resize(1000, 701)
    w.show()
    w.messages_dock.show()  # dock layout: hidden by default, shown now
    w.findings.opacity.setValue(70)
    w.close()
    saved = AppSettings.load()
    assert saved.geometry and saved.window_state and abs(saved.heat_opacity - 0.7) < 1e-6
    w2 = MainWindow(saved)
    qtbot.addWidget(w2)
    w2.show()
    # (Sizes are clamped by the 800 px offscreen screen: the dock layout is what is checked.)
    assert w2.messages_dock.isVisible()
    assert w2.findings.opacity.value() == 70


def test_no_model_installed_message(qtbot, monkeypatch, samples_dir, tmp_path):
    monkeypatch.setenv("CHESTVIEW_ZOO_PATH", str(tmp_path / "empty"))
    import chestview.engine.zoo.store as store

    monkeypatch.setattr(store, "bundled_zoo_dir", lambda: tmp_path / "none")
    w = MainWindow(AppSettings())
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.image_shown, timeout=TIMEOUT):
        w.open_paths([str(samples_dir / "00000661_000.png")])
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: "No model installed" in w.findings.message.text(), timeout=TIMEOUT)
    assert not w.model_panel.run_button.isEnabled()
    w.workers.wait(5000)


def test_drop_files_and_folders_opens_them(qtbot, window, test_data):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(test_data / "nih" / "images"))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.catalog_loaded, timeout=TIMEOUT):
        window.dropEvent(event)
    assert len(window.browser.paths()) == 13
    assert window.settings.recent_folders[0].endswith("images")


def test_a_new_run_hides_the_previous_result(qtbot, window, samples_dir, monkeypatch):
    """While another model (or the same one again) runs, the old findings are neither drawn nor exported."""
    w = window
    open_and_analyse(qtbot, w, [str(samples_dir / "00000661_000.png")])
    assert w.current_result is not None
    qtbot.waitUntil(lambda: w.job("infer") is None, timeout=TIMEOUT)  # the first run is fully done
    w.findings.all_positive.setChecked(True)
    monkeypatch.setattr(w.results, "result", lambda *_a: None)  # as for a model not run on this image yet
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.run_current()
        assert w.current_result is None and w.result_for_export() is None
        assert not w.viewer.box_overlays and not w.viewer.heatmap_visible
    assert w.current_result is not None


def test_box_slider_starts_at_each_models_own_threshold(qtbot, tiny_zoo_dir, tmp_path, monkeypatch):
    """The slider follows the chosen model's card (its threshold was picked on validation boxes), unless
    the user fixed one in the settings."""
    import shutil

    from chestview.engine.zoo import ModelCard

    zoo = tmp_path / "zoo"
    shutil.copytree(tiny_zoo_dir, zoo)
    sharp = shutil.copytree(zoo / "tiny-test-resnet18", zoo / "tiny-sharp-maps")
    ModelCard.load(sharp).with_updates(id="tiny-sharp-maps", box_threshold=220).save(sharp)
    monkeypatch.setenv("CHESTVIEW_ZOO_PATH", str(zoo))
    monkeypatch.setenv("CHESTVIEW_BUNDLED_ZOO", str(tmp_path / "no-bundled-models"))

    w = MainWindow(AppSettings(), model="tiny-test-resnet18", persist=False)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    assert w.findings.threshold_value == 180
    w.model_panel.combo.setCurrentIndex(w.model_panel.combo.findData("tiny-sharp-maps"))
    assert w.findings.threshold_value == 220
    assert "Box threshold: 220" in w.model_panel.card_view.toPlainText()
    w.settings.fixed_box_threshold = 150  # a fixed threshold in the settings wins over the card's
    w.apply_settings()
    assert w.findings.threshold_value == 150
    w.workers.wait(10_000)


def test_hidden_identifiers_leave_no_patient_name_or_id_in_the_window(qtbot, tiny_zoo, test_data):
    """What `chestview --screenshot` renders (without --show-identifiers): pseudonyms, hidden tags."""
    from PySide6.QtWidgets import QTreeWidgetItemIterator

    w = MainWindow(AppSettings(), model=tiny_zoo, hide_identifiers=True)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    dcm = test_data / "dicom" / "cr_mono1_rg1_jpeg2000.dcm"  # PatientName CompressedSamples^RG1, ID 9RG1
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.open_paths([str(dcm)])
    qtbot.waitUntil(lambda: w.tags.model.rowCount() > 0, timeout=TIMEOUT)
    texts = []
    it = QTreeWidgetItemIterator(w.browser.tree)
    while it.value():
        texts.append(it.value().text(0))
        it += 1
    model = w.tags.model
    texts += [model.item(r, c).text() for r in range(model.rowCount()) for c in range(model.columnCount())]
    assert "Patient 1 (identifiers hidden)" in texts
    assert not any("RG1" in t and "CompressedSamples" in t or t == "9RG1" for t in texts), texts
    assert "(hidden)" in texts
    w.workers.wait(10_000)


def test_export_default_folder_is_never_beside_or_inside_the_sources(qtbot, window, samples_dir, tmp_path):
    from pathlib import Path

    from chestview.engine.paths import user_documents_dir
    from chestview.gui.export_dialog import default_export_dir

    w = window
    open_and_analyse(qtbot, w, [str(samples_dir)])
    proposed = Path(w._last_export_dir())
    assert proposed == user_documents_dir()
    assert samples_dir.resolve() not in (proposed.resolve(), *proposed.resolve().parents)
    # A last export folder inside the studies (chosen once by hand) is not proposed again.
    assert default_export_dir(str(samples_dir / "out"), [str(samples_dir)]) == str(user_documents_dir())
    assert default_export_dir(str(tmp_path), [str(samples_dir / "00000661_000.png")]) == str(tmp_path)
    # An export remembers its folder for the next one.
    worker = w.start_export(str(tmp_path / "mine" / "a.png"))
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    assert w._last_export_dir() == str(tmp_path / "mine")


def test_exported_json_records_every_setting_and_the_measurements(qtbot, window, samples_dir, tmp_path):
    from PySide6.QtCore import QPointF

    w = window
    open_and_analyse(qtbot, w, [str(samples_dir / "00000661_000.png")])
    w.findings.threshold.setValue(150)
    w.act_ctr.setChecked(True)
    w.viewer.measure.drag(QPointF(400, 600), QPointF(640, 600), True, w.current_image)
    w.viewer.measure.drag(QPointF(150, 550), QPointF(900, 550), True, w.current_image)
    worker = w.start_export(str(tmp_path / "view.png"))
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        pass
    doc = json.loads((tmp_path / "view.json").read_text())
    s = doc["settings"]
    assert s["model"] == "tiny-test-resnet18" and s["backend"] and s["device"] == "auto"
    assert s["box_threshold"] == 150 and s["box_threshold_source"] == "manual"
    assert s["colormap"] == w.findings.colormap_name and s["opacity"] == w.findings.opacity_value
    assert s["cardiothoracic_ratio"]["ratio"] == pytest.approx(240 / 750, abs=1e-3)


def test_box_threshold_change_does_not_carry_over_to_the_next_image(qtbot, window, test_data):
    w = window
    open_and_analyse(qtbot, w, [str(test_data / "nih" / "images")])
    model_value = w.findings.threshold_value
    w.findings.threshold.setValue(model_value - 40)
    assert w.findings.threshold_is_manual and "manual" in w.findings.threshold_label.text()
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.act_next.trigger()
    assert w.findings.threshold_value == model_value and not w.findings.threshold_is_manual


def test_filter_says_what_it_hides_and_is_cleared_by_a_new_folder(qtbot, window, test_data, samples_dir):
    w = window
    w.model_panel.auto_run.setChecked(False)  # only the browser is looked at: no inference left running
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.open_paths([str(test_data / "nih" / "images")])
    w.browser.filter_edit.setText("00000001")
    hidden = w.browser.hidden_count
    assert hidden > 0 and f"hides {hidden} of 13" in w.browser.filter_status.text()
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.open_paths([str(samples_dir)])
    assert w.browser.filter_edit.text() == "" and w.browser.hidden_count == 0
    assert not w.browser.filter_status.text()


def test_run_on_all_flags_every_image(qtbot, window, test_data):
    w = window
    files = sorted(str(p) for p in (test_data / "nih" / "images").glob("*.png"))[:3]
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.open_paths(files)
    w.run_all()
    with qtbot.waitSignal(w.job("batch").finished, timeout=TIMEOUT):
        pass
    for path in files:
        text = w.browser._items[path].text(1)
        assert text and float(text.lstrip("+ ")) >= 0  # "+ 0.62" (abnormal) or "0.12"


def test_a_newly_trained_model_does_not_replace_the_one_being_read(qtbot, window):
    w = window
    w._model_trained("some-new-model")
    qtbot.waitUntil(lambda: w.job("zoo") is None, timeout=TIMEOUT)
    assert w.model_panel.current_id() == "tiny-test-resnet18"


def test_negative_findings_do_not_look_hot_and_get_boxes_only_on_request(qtbot, window, samples_dir):
    from chestview.engine.explain.display import display_level

    w = window
    open_and_analyse(qtbot, w, [str(samples_dir / "00000661_000.png")])
    from dataclasses import replace

    # The untrained test model calls most findings positive here: make its two most probable ones a
    # clear negative (operating point far above) and a positive, to see both styles on one film.
    ranked = sorted((f for f in w.current_result.findings if f.reliable), key=lambda f: -f.probability)
    neg_label, pos_label = ranked[0].label, ranked[1].label
    findings = [replace(f, threshold=min(0.999, f.probability * 4), positive=False) if f.label == neg_label
                else replace(f, threshold=f.probability / 2, positive=True) if f.label == pos_label else f
                for f in w.current_result.findings]
    w._show_result(replace(w.current_result, findings=findings))
    r = w.current_result
    w.findings.show_all.setChecked(True)
    neg, pos = r.finding(neg_label), r.finding(pos_label)
    geometry = w.viewer.view.sceneBoundingRect()
    w.findings.select_label(neg.label)
    shown = w.viewer.heat_item.image
    # The map is the image-relative map times the finding's level: it peaks below the operating point's 0.5.
    assert shown.max() == pytest.approx(display_level(neg.probability, neg.threshold), abs=0.02) and shown.max() < 0.5
    assert not w.viewer.box_overlays and "Negative finding" in w.findings.box_count.text()
    w.findings.negative_boxes.setChecked(True)
    assert w.viewer.box_overlays and all(not o.positive for o in w.viewer.box_overlays)
    w.findings.select_label(pos.label)
    assert w.viewer.heat_item.image.max() > 0.5
    assert w.viewer.box_overlays and all(o.positive for o in w.viewer.box_overlays)
    # All positive findings: one caption per finding, not one per box.
    w.findings.all_positive.setChecked(True)
    captions = [o for o in w.viewer.box_overlays if o.text is not None]
    assert len(captions) == len({o.label for o in w.viewer.box_overlays})
    # Toggling the heatmap never moves the image (the colour bar keeps its place).
    w.findings.show_heatmap.setChecked(False)
    assert not w.viewer.heatmap_visible and w.viewer.view.sceneBoundingRect() == geometry
    w.findings.show_heatmap.setChecked(True)
    assert w.viewer.view.sceneBoundingRect() == geometry


def test_wheel_on_the_image_pages_through_the_browser(qtbot, window, test_data):
    w = window
    open_and_analyse(qtbot, w, [str(test_data / "nih" / "images")])
    first = w.current_path
    with qtbot.waitSignal(w.image_shown, timeout=TIMEOUT):
        w.viewer.view.page_requested.emit(+1)  # what a wheel notch down on the image sends
    assert w.current_path == w.browser.paths()[1] != first


def test_training_tab_is_built_when_first_opened(qtbot, window):
    """Start-up does not wait for the training engine: the tab is built on first use."""
    w = window
    assert w.training_tab is None
    w.tabs.setCurrentIndex(1)
    assert w.training_tab is not None and w.tabs.widget(1) is w.training_tab and w.tabs.currentIndex() == 1
    assert w.training_tab.arch.count() > 0


def test_prior_of_the_same_patient_shown_side_by_side(qtbot, window, test_data, tmp_path):
    import pydicom
    from pydicom.uid import generate_uid

    from chestview.gui.state import find_prior

    w = window
    w.model_panel.auto_run.setChecked(False)
    src = pydicom.dcmread(test_data / "dicom" / "dx_nih_google_uncompressed.dcm")
    paths = {}
    for name, pid, date in (("old", "P1", "20190301"), ("new", "P1", "20210715"), ("other", "P2", "20180101")):
        src.PatientID, src.StudyDate = pid, date
        src.StudyInstanceUID, src.SeriesInstanceUID, src.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
        paths[name] = str(tmp_path / f"{name}.dcm")
        src.save_as(paths[name])
    with qtbot.waitSignal(w.image_shown, timeout=TIMEOUT):
        w.open_paths([str(tmp_path)], select=paths["new"])
    assert find_prior(w.browser.catalog.images, paths["new"]).path == paths["old"]
    assert find_prior(w.browser.catalog.images, paths["old"]) is None
    assert find_prior(w.browser.catalog.images, paths["other"]) is None  # another patient's is no prior
    w.act_prior.setChecked(True)
    qtbot.waitUntil(lambda: w.prior_viewer.image is not None, timeout=TIMEOUT)
    assert w.prior_viewer.isVisible() and w.prior_viewer.image.path == paths["old"]
    assert "2019-03-01" in w.prior_viewer.banner.text()
    w.browser.select_path(paths["old"])
    qtbot.waitUntil(lambda: w.prior_viewer.image is None, timeout=TIMEOUT)
    assert "No earlier study" in w.prior_viewer.placeholder.text()


def test_closing_cancels_jobs_without_waiting_for_them(qtbot, window):
    """Quitting must not wait on a model run or a training: jobs are told to stop and cut off."""
    import threading

    from chestview.gui.workers import create_worker

    w = window
    release = threading.Event()
    heard = []

    def stubborn_job() -> str:  # a long model call that does not check for cancellation
        release.wait(60)
        return "done"

    job = w._start("batch", create_worker(stubborn_job, name="long job"), pool="compute",
                   returned=heard.append)
    qtbot.waitUntil(lambda: job.is_running, timeout=TIMEOUT)
    w.close()
    assert job.abort_requested and job.is_running  # close returned while the job still runs
    assert not w.busy()  # nothing left for the window to wait on
    release.set()
    assert w.workers.compute_pool.waitForDone(TIMEOUT)
    qtbot.wait(50)  # any queued report would be delivered now
    assert heard == []  # the closed window heard nothing from it


def test_settings_dialog_names_the_real_default_model(qtbot, window):
    from chestview.engine.zoo import default_model_id
    from chestview.gui.settings import SettingsDialog

    w = window
    ids = [e.card.id for e in w.model_panel.entries]
    dlg = SettingsDialog(w.settings, ids, w, zoo_default=w._zoo_default(w.model_panel.entries))
    qtbot.addWidget(dlg)
    assert dlg.model_combo.itemText(0) == f"zoo default ({default_model_id()})"
