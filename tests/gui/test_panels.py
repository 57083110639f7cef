"""Study browser, tag panel, image info and findings table on their own."""

from __future__ import annotations

from chestview.engine.io import load_image, scan_paths
from chestview.engine.results import Finding, ImageResult
from chestview.gui.browser import StudyBrowser, catalog_from_scan
from chestview.gui.findings import LABEL_ROLE, FindingsPanel
from chestview.gui.tags import ImageInfoPanel, TagPanel, tags_job


def test_browser_groups_dicom_and_lists_raster_and_errors(qtbot, test_data, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    scan = scan_paths([test_data / "dicom", test_data / "nih" / "images" / "00000001_000.png", bad])
    catalog = catalog_from_scan(scan)
    b = StudyBrowser()
    qtbot.addWidget(b)
    b.set_catalog(catalog)
    dicom = [im for im in catalog.images if im.is_dicom]
    assert dicom and all(im.patient and im.series for im in dicom)
    assert any(not im.is_dicom for im in catalog.images)
    assert catalog.errors and catalog.errors[0][0] == str(bad)
    top = [b.tree.topLevelItem(i).text(0) for i in range(b.tree.topLevelItemCount())]
    assert any(t.startswith("Patient ") for t in top) and any(t.startswith("Could not open") for t in top)

    selected = []
    b.image_selected.connect(selected.append)
    assert b.select_offset(+1) and b.select_offset(+1)
    assert b.select_offset(-1)
    assert len(selected) == 3 and selected[0] == selected[2]
    b.filter_edit.setText("00000001_000")
    assert b.visible_paths() == [p for p in catalog.paths() if "00000001_000" in p]


def test_tag_panel_search_and_image_info(qtbot, test_data):
    path = str(test_data / "dicom" / "cr_mono1_rg1_jpeg2000.dcm")
    got_path, tags = tags_job(path)
    panel = TagPanel()
    qtbot.addWidget(panel)
    panel.set_tags(tags)
    total = panel.row_count()
    assert total > 20
    panel.search.setText("Photometric")
    assert 1 <= panel.row_count() < total
    assert tags_job(str(test_data / "nih" / "images" / "00000001_000.png"))[1] == []

    info = ImageInfoPanel()
    qtbot.addWidget(info)
    info.set_image(load_image(path))
    assert "MONOCHROME1" in info.labels["Photometric"].text()
    assert "1841 × 1955" in info.labels["Size"].text()


def test_findings_table_sorted_positive_and_unreliable(qtbot):
    panel = FindingsPanel()
    qtbot.addWidget(panel)
    result = ImageResult(path="x.png", image_width=10, image_height=10, findings=[
        Finding("Mass", 0.2, 0.5, False),
        Finding("Effusion", 0.8, 0.5, True),
        Finding("Hernia", 0.95, 0.5, False, reliable=False),
        Finding("Nodule", 0.4, 0.3, True),
    ])
    selected = []
    panel.finding_selected.connect(selected.append)
    panel.set_result(result, select="Nodule")
    # Positives above the operating-point line, then the negatives; the unreliable one only with "Show all".
    assert panel.labels() == ["Effusion", "Nodule", "Mass"]
    assert "operating point" in panel.table.item(2, 0).text() and not panel.table.item(2, 0).flags()
    assert panel.table.item(0, 0).font().bold() and not panel.table.item(3, 0).font().bold()
    assert panel.show_all.isVisible() or not panel.isVisible()
    panel.show_all.setChecked(True)
    assert panel.labels() == ["Effusion", "Nodule", "Mass", "Hernia"]
    assert panel.table.item(panel.row_of("Hernia"), 2).text() == "not reliable"
    assert panel.selected_label() == "Nodule" and selected[-1] == "Nodule"
    panel.table.selectRow(panel.row_of("Mass"))
    assert selected[-1] == "Mass"
    assert "operating point" in panel.table.toolTip()  # the ordering rule is stated
    panel.show_message("No model installed")
    assert panel.stack.currentWidget() is panel.message


def test_findings_short_list_and_abnormality_first(qtbot):
    from chestview.gui.findings import short_list, sorted_findings

    panel = FindingsPanel()
    qtbot.addWidget(panel)
    panel.show()
    findings = [Finding(f"L{i}", 0.01 * i, 0.5, False) for i in range(10)] + [Finding("Mass", 0.6, 0.5, True)]
    assert [f.label for f in short_list(sorted_findings(findings))] == ["Mass", "L9", "L8", "L7"]
    result = ImageResult(path="x.png", image_width=10, image_height=10, findings=findings)
    panel.set_result(result)
    assert len(panel.labels()) == 4 and "+7" in panel.show_all.text()
    assert not panel.abnormality.isVisible()  # a model without an abnormality score: nothing shown

    class Ab:  # the shape of engine.results.Abnormality (the lead's shared interface)
        probability, threshold, positive = 0.71, 0.4, True

    result.abnormality = Ab()
    panel.set_result(result)
    assert panel.abnormality.isVisible() and "abnormality 0.71" in panel.abnormality.text()
    # Every red (positive) row has a probability at or above its own operating point.
    for row in range(panel.table.rowCount()):
        label = panel.table.item(row, 0).data(LABEL_ROLE)
        if label:
            f = result.finding(label)
            assert panel.table.item(row, 0).font().bold() == (f.probability >= f.threshold)


def test_box_threshold_manual_change_shown_and_reset(qtbot):
    panel = FindingsPanel()
    qtbot.addWidget(panel)
    panel.set_model_threshold(200)
    assert panel.threshold_value == 200 and "model" in panel.threshold_label.text()
    assert not panel.threshold_reset.isEnabled()
    panel.threshold.setValue(120)
    assert panel.threshold_is_manual and "manual" in panel.threshold_label.text()
    assert panel.threshold_reset.isEnabled()
    panel.threshold_reset.click()
    assert panel.threshold_value == 200 and not panel.threshold_is_manual


def test_positive_findings_first_and_default_selection(qtbot):
    from chestview.gui.findings import default_label, sorted_findings

    findings = [
        Finding("Atelectasis", 0.10, 0.14, False),
        Finding("Cardiomegaly", 0.09, 0.07, True),
        Finding("Mass", 0.08, 0.06, True),
        Finding("Hernia", 0.5, 0.01, True, reliable=False),
    ]
    # A positive finding below a negative one in probability still comes first (per-label thresholds).
    assert [f.label for f in sorted_findings(findings)] == ["Cardiomegaly", "Mass", "Atelectasis", "Hernia"]
    assert default_label(findings) == "Cardiomegaly"
    assert default_label([Finding("Mass", 0.2, 0.5, False), Finding("Nodule", 0.3, 0.5, False)]) == "Nodule"
    assert default_label([Finding("Hernia", 0.9, 0.1, True, reliable=False)]) == ""


def test_image_warnings_shown_above_the_findings(qtbot):
    panel = FindingsPanel()
    qtbot.addWidget(panel)
    panel.show()
    warning = "Modality is CT, not a chest radiograph (expected CR or DX): findings are not meaningful"
    panel.set_result(ImageResult(path="ct.dcm", image_width=8, image_height=8, warnings=[warning],
                                 findings=[Finding("Mass", 0.2, 0.5, False)]))
    assert panel.warning.isVisible() and "Modality is CT" in panel.warning.text()
    panel.set_result(ImageResult(path="ok.dcm", image_width=8, image_height=8,
                                 findings=[Finding("Mass", 0.2, 0.5, False)]))
    assert not panel.warning.isVisible()


def test_card_metrics_summarised():
    from chestview.gui.model_panel import metric_summary

    test = {"split": "test", "n_images": 119, "mean_auroc": 0.61892, "auroc": {"Mass": {"auroc": 0.5}}}
    assert metric_summary("test", test) == "test mean AUROC <b>0.619</b> (119 images)"
    assert metric_summary("history", [{"epoch": 1}, {"epoch": 2}]) == "history: 2 epoch(s)"
    assert metric_summary("val_auroc", 0.5) == "val_auroc: 0.500"


def test_the_picker_card_says_which_system_its_paper_and_how_it_measured_against_the_default():
    from chestview.engine.zoo import ModelCard
    from chestview.engine.paths import bundled_zoo_dir
    from chestview.gui.model_panel import card_html

    zoo = bundled_zoo_dir()
    default_id = (zoo / "DEFAULT").read_text().strip()
    default = ModelCard.load(zoo / default_id)
    other = ModelCard.load(zoo / "chestxray8-lite0-r4-eq")
    text = card_html(other, bundled=True, reference=default)
    assert "ChestX-ray8 baseline" in text and text.count("ChestX-ray8 baseline:") == 1
    assert "Paper: Wang et al. 2017" in text
    assert f"Against the default: against {default_id} on the same test films: test mean AUROC" in text
