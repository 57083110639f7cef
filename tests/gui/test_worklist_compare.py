"""The worklist dock, the side-by-side comparison and the input gate's banner, with real results
of two tiny models on real films (and a film whose DICOM header says CT)."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QWidget

from chestview.engine.inference import Predictor
from chestview.engine.zoo import load_model
from chestview.gui.compare_view import DISAGREE_BG, CompareView
from chestview.gui.findings import FindingsPanel
from chestview.gui.worklist import COLUMNS, WorklistPanel

TIMEOUT = 60_000


@pytest.fixture
def films(tmp_path, test_data, samples_dir):
    out = []
    for p in sorted((test_data / "nih" / "images").glob("*.png"))[:3]:
        out.append(str(shutil.copy(p, tmp_path / p.name)))
    ds = pydicom.dcmread(samples_dir / "dx_nih_google_uncompressed.dcm")
    ds.Modality = "CT"
    ds.save_as(tmp_path / "ct.dcm")
    return out + [str(tmp_path / "ct.dcm")]


@pytest.fixture
def results(tiny_zoo, films):
    pred = Predictor(load_model(tiny_zoo), device="cpu")
    return {r.path: r for r in pred.predict_paths(films, num_workers=0)}


def test_worklist_sorts_flags_apart_filters_and_steps(qtbot, results, films):
    panel = WorklistPanel()
    qtbot.addWidget(panel)
    panel.set_model("tiny-test-resnet18", results)
    order = panel.paths_in_order()
    assert order[-1].endswith("ct.dcm")  # flagged by its header: after the films
    scores = [r.score for r in panel.rows[:3]]
    assert scores == sorted(scores, reverse=True)
    assert "Modality is CT" in panel.table.item(3, COLUMNS.index("Input check")).text()
    assert panel.table.item(3, COLUMNS.index("Top findings")).text() == "findings hidden (flagged)"
    assert panel.table.item(3, COLUMNS.index("Case call")).text() == "not assessed"
    with qtbot.waitSignal(panel.image_selected) as sig:
        assert panel.step(1) == order[0]
    assert sig.args == [order[0]]
    assert panel.step(1) == order[1]
    assert panel.step(-1) == order[0]
    # Filter by a finding: only films where it is positive.
    label = next(f.label for p in order[:3] for f in results[p].findings if f.positive)
    panel.filter.setCurrentText(label.replace("_", " "))
    shown = panel.paths_in_order()
    assert shown and all(results[p].finding(label).positive for p in shown)
    assert not any(p.endswith("ct.dcm") for p in shown)


def test_worklist_selection_is_the_image_in_the_viewer_or_none(qtbot, results, films):
    panel = WorklistPanel()
    qtbot.addWidget(panel)
    panel.set_model("tiny-test-resnet18", results)
    order = panel.paths_in_order()
    ct = films[-1]
    # The viewer shows the CT (opened from the study browser, say): its row is selected, nothing opened again.
    with qtbot.assertNotEmitted(panel.image_selected):
        panel.follow(ct)
    assert panel.selected_path() == ct
    # A filter that leaves the CT out selects no other row in its place.
    label = next(f.label for p in order[:3] for f in results[p].findings if f.positive)
    panel.filter.setCurrentText(label.replace("_", " "))
    assert ct not in panel.paths_in_order() and panel.selected_path() == ""
    assert "shown" in panel.summary.text()
    # Stepping starts at the top of what is shown.
    assert panel.step(1) == panel.paths_in_order()[0]
    panel.follow("/elsewhere/not-listed.png")
    assert panel.selected_path() == ""
    # The image in the viewer before its result came (a batch run still going): selected once listed.
    later = WorklistPanel()
    qtbot.addWidget(later)
    later.set_model("tiny-test-resnet18", {})
    later.follow(films[1])
    assert later.selected_path() == ""
    for path in films:
        later.add_result(path, "tiny-test-resnet18", results[path], now=True)
    assert later.selected_path() == films[1]


def test_findings_of_a_flagged_image_are_hidden_until_asked(qtbot, results, films):
    panel = FindingsPanel()
    qtbot.addWidget(panel)
    panel.show()
    ct = results[films[-1]]
    assert ct.flagged and ct.findings
    panel.set_result(ct)
    assert panel.findings_hidden() and panel.gate_banner.isVisible()
    assert "show anyway" in panel.gate_banner.text() and panel.table.rowCount() == 0
    panel.show_anyway()
    assert not panel.findings_hidden() and panel.table.rowCount() == len(ct.findings)
    panel.set_result(results[films[0]])
    assert not panel.gate_banner.isVisible()


def test_side_by_side_table_highlights_disagreement_and_has_an_ensemble(qtbot, tiny_zoo, films):
    a = load_model(tiny_zoo)
    b = load_model(tiny_zoo)
    # The same network with other operating points: positives differ on the first seven labels.
    b.card = b.card.with_updates(id="other", thresholds={lbl: (0.0 if i < 7 else 1.0) for i, lbl in enumerate(b.card.labels)})
    from chestview.engine.io.loader import load_image

    image = load_image(films[0])
    ra, rb = Predictor(a, device="cpu").predict_image(image), Predictor(b, device="cpu").predict_image(image)
    view = CompareView()
    qtbot.addWidget(view)
    view.set_results(image, {"tiny-test-resnet18": ra, "other": rb})
    assert list(view.results) == ["tiny-test-resnet18", "other", "ensemble"]
    expected = {f.label for f in ra.findings if f.positive != rb.finding(f.label).positive}
    assert expected and view.disagree == expected
    for label in view.labels():
        row = view.labels().index(label)
        highlighted = view.table.item(row, 0).background().color() == DISAGREE_BG
        assert highlighted == (label in expected), label
        pa, pb = ra.finding(label).probability, rb.finding(label).probability
        assert view.cell_text(label, "ensemble").startswith(f"{(pa + pb) / 2:.3f}")
    # One heatmap per column, side by side; toggled: one at a time, the others gone at once (not
    # left drawn under it until the event loop deletes them).
    view.show()
    assert len(view.map_labels) == 3
    view.side_by_side.setChecked(False)
    assert len(view.map_labels) == 1

    def stale_maps_shown():
        cells = view.maps.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
        return [c for c in cells if c not in view.map_labels and not c.isHidden()]

    assert stale_maps_shown() == []
    view.toggle_next()
    caption, picture = view.map_labels[0].findChildren(QLabel)
    assert caption.text().startswith("other\n")
    assert stale_maps_shown() == []
    # Heatmaps are drawn on the viewer's absolute scale: a finding far below the model's operating
    # point leaves the film uncoloured (the stored map alone peaks "hot" on every image).
    cold = next(lbl for lbl in view.labels() if rb.finding(lbl).threshold == 1.0 and lbl in rb.heatmaps)
    view.table.selectRow(view.labels().index(cold))
    caption, picture = view.map_labels[0].findChildren(QLabel)
    assert caption.text().startswith("other\n") and caption.text().endswith(", negative")
    img = picture.pixmap().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rgb = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, : 3 * img.width()]
    rgb = rgb.reshape(img.height(), img.width(), 3)
    assert np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])


def test_reopening_a_folder_fills_the_worklist_from_the_disk_cache(qtbot, tiny_zoo, films, monkeypatch):
    from chestview.gui import jobs
    from chestview.gui.main_window import MainWindow
    from chestview.gui.settings import AppSettings

    folder = str(films[0].rsplit("/", 1)[0])
    w = MainWindow(AppSettings(), model=tiny_zoo, persist=False)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.open_paths([folder])
    w.run_all()
    qtbot.waitUntil(lambda: len(w.worklist.rows) == len(films), timeout=TIMEOUT)
    w.workers.wait(10_000)
    w.close()

    ran = []
    original = jobs.predict_image_job
    monkeypatch.setattr(jobs, "predict_image_job", lambda *a, **k: ran.append(1) or original(*a, **k))
    again = MainWindow(AppSettings(), model=tiny_zoo, persist=False)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.zoo_loaded, timeout=TIMEOUT)
    again.model_panel.auto_run.setChecked(False)
    with qtbot.waitSignal(again.catalog_loaded, timeout=TIMEOUT):
        again.open_paths([folder])
    qtbot.waitUntil(lambda: len(again.worklist.rows) == len(films), timeout=TIMEOUT)
    assert ran == []  # from the cache, no model run
    assert again.worklist.paths_in_order()[-1].endswith("ct.dcm")
    # The study browser shows each image's score, and for the flagged one the flag, not a score.
    texts = {p: again.browser._items[p].text(1) for p in films}
    assert texts[films[-1]] == "flagged"
    assert all(float(texts[p].lstrip("+ ")) >= 0 for p in films[:-1])
    again.workers.wait(10_000)


def test_worklist_columns_stay_in_view_on_flagged_rows(qtbot, results):
    """A flagged image's long reason is elided in the stretching input-check column; the warnings
    and model columns stay in view instead of being pushed off to the right."""
    panel = WorklistPanel()
    qtbot.addWidget(panel)
    panel.resize(1400, 300)
    panel.show()
    panel.set_model("tiny-test-resnet18", results)
    qtbot.waitExposed(panel)
    header = panel.table.horizontalHeader()
    last = header.count() - 1
    assert header.sectionPosition(last) + header.sectionSize(last) <= panel.table.viewport().width()
    flagged = next(i for i, r in enumerate(panel.visible_rows()) if r.flagged)
    assert "Modality is CT" in panel.table.item(flagged, COLUMNS.index("Input check")).toolTip()


def test_one_image_run_is_kept_on_disk_and_found_again_without_loading_the_model(qtbot, tiny_zoo, films, monkeypatch):
    """The image analysed on opening (auto-run) is stored in the result cache like a batch result;
    opening the folder again fills the worklist from the cache without building a predictor."""
    from chestview.gui import jobs
    from chestview.gui.main_window import MainWindow
    from chestview.gui.settings import AppSettings

    w = MainWindow(AppSettings(), model=tiny_zoo, persist=False)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    with qtbot.waitSignal(w.result_shown, timeout=TIMEOUT):
        w.open_paths([films[0]])
    w.workers.wait(10_000)
    w.close()

    # Building a predictor (the start-up preload would) is held back until the worklist is filled:
    # the cached rows must not wait for any model.
    import threading

    model_may_load = threading.Event()
    original = jobs.PredictorCache.get

    def held_get(self, *a, **k):
        model_may_load.wait(TIMEOUT / 1000)
        return original(self, *a, **k)

    monkeypatch.setattr(jobs.PredictorCache, "get", held_get)
    again = MainWindow(AppSettings(), model=tiny_zoo, persist=False)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.zoo_loaded, timeout=TIMEOUT)
    again.model_panel.auto_run.setChecked(False)
    with qtbot.waitSignal(again.catalog_loaded, timeout=TIMEOUT):
        again.open_paths([films[0]])
    try:
        qtbot.waitUntil(lambda: len(again.worklist.rows) == 1, timeout=TIMEOUT)
        assert again.browser._items[films[0]].text(1)
    finally:
        model_may_load.set()
    again.workers.wait(10_000)


def test_photograph_and_ct_dropped_on_an_open_folder_join_its_worklist_flagged(qtbot, tiny_zoo, films, tmp_path):
    """Files dropped on the window are added to the studies open (not a new session): the films keep
    their results, and the dropped photograph and CT are listed after them, flagged, not scored."""
    import skimage.data
    from PIL import Image
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    from chestview.gui.main_window import MainWindow
    from chestview.gui.settings import AppSettings

    films_only, ct = films[:-1], films[-1]
    photo = tmp_path / "photo.png"
    Image.fromarray(skimage.data.astronaut()).save(photo)
    w = MainWindow(AppSettings(), model=tiny_zoo, persist=False)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    w.model_panel.auto_run.setChecked(False)
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.open_paths(films_only)
    w.run_all()
    qtbot.waitUntil(lambda: len(w.worklist.rows) == len(films_only), timeout=TIMEOUT)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo)), QUrl.fromLocalFile(ct)])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.dropEvent(event)
    assert set(w.browser.paths()) == {*films_only, str(photo), ct}
    assert all(w.browser._items[p].text(1) for p in films_only)  # their scores stay
    w.run_all()
    qtbot.waitUntil(lambda: len(w.worklist.rows) == len(films) + 1, timeout=TIMEOUT)
    order = w.worklist.paths_in_order()
    assert set(order[-2:]) == {str(photo), ct} and all(r.flagged for r in w.worklist.rows[-2:])
    assert w.browser._items[str(photo)].text(1) == "flagged" and w.browser._items[ct].text(1) == "flagged"
    n = w.worklist.table.rowCount()
    assert [w.worklist.table.item(i, COLUMNS.index("Score")).text() for i in (n - 2, n - 1)] == ["–", "–"]  # no score shown
    w.workers.wait(10_000)


def test_a_film_that_fails_at_inference_is_listed_last_with_its_reason(qtbot, tiny_zoo, films, tmp_path):
    from chestview.gui.main_window import MainWindow
    from chestview.gui.settings import AppSettings

    data = open(films[0], "rb").read()
    broken = tmp_path / "truncated.png"
    broken.write_bytes(data[: len(data) // 3])  # a valid header, pixel data cut short
    w = MainWindow(AppSettings(), model=tiny_zoo, persist=False)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    w.model_panel.auto_run.setChecked(False)
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.open_paths([*films[:2], str(broken)])
    w.run_all()
    qtbot.waitUntil(lambda: len(w.worklist.rows) == 3, timeout=TIMEOUT)
    last = w.worklist.rows[-1]
    assert last.path == str(broken) and last.error and "truncated.png" in last.error
    assert w.worklist.paths_in_order()[:2] != [str(broken)] and not w.worklist.rows[0].error
    w.workers.wait(10_000)


def test_compare_table_shows_each_models_test_auroc_per_finding(qtbot, tiny_zoo, films):
    from chestview.engine.io.loader import load_image

    a, b = load_model(tiny_zoo), load_model(tiny_zoo)
    b.card = b.card.with_updates(id="other")
    image = load_image(films[0])
    ra, rb = Predictor(a, device="cpu").predict_image(image), Predictor(b, device="cpu").predict_image(image)
    label = ra.findings[0].label
    aurocs = {"tiny-test-resnet18": {label: 0.731}, "other": {label: 0.5}}
    view = CompareView()
    qtbot.addWidget(view)
    view.set_results(image, {"tiny-test-resnet18": ra, "other": rb}, test_auroc=aurocs)
    # Probabilities first (models, ensemble), then one AUROC column per model: the cells stay where they were.
    assert view.table.columnCount() == 1 + 3 + 2
    assert view.table.horizontalHeaderItem(4).text() == "test AUROC\ntiny-test-resnet18"
    assert view.auroc_text(label, "tiny-test-resnet18") == "0.73" and view.auroc_text(label, "other") == "0.50"
    other = next(f.label for f in ra.findings if f.label != label)
    assert view.auroc_text(other, "other") == "–"  # no number on the card: said, not invented
    assert view.cell_text(label, "ensemble").startswith(f"{(ra.finding(label).probability + rb.finding(label).probability) / 2:.3f}")
