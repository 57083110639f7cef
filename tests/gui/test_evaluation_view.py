"""The evaluation view: ROC curves, AUROC table and the localization table with its controls,
fed with the engine's own result types (no numbers computed in the GUI)."""

from __future__ import annotations

from types import SimpleNamespace

from chestview.engine.evaluate.localization import localization_with_controls
from chestview.engine.results import Box
from chestview.gui.evaluation_view import EvaluationView, localization_rows, localization_variants


def _localization():
    """Three images with Mass boxes; the model finds the first two (and draws one box of Nodule)."""
    gt = [[("Mass", Box(10, 10, 20, 20))], [("Mass", Box(40, 40, 20, 20))], [("Mass", Box(70, 10, 20, 20))]]
    pred = [{"Mass": [Box(11, 11, 20, 20)]}, {"Mass": [Box(40, 42, 20, 20)]}, {"Nodule": [Box(0, 0, 5, 5)]}]
    return localization_with_controls(gt, pred, image_sizes=[(100, 100)] * 3)


def test_localization_rows_model_then_controls():
    loc = _localization()
    assert [name for name, _ in localization_variants(loc)][:1] == ["model"]
    thresholds, rows = localization_rows(loc, "iou")
    assert thresholds and thresholds[0] == 0.1
    variants = {r[1] for r in rows}
    assert {"model", "prior", "swap"} <= variants
    mean_model = next(r for r in rows if r[0] == "mean" and r[1] == "model")
    assert mean_model[2] == "3" and mean_model[3] == "0.667"  # 2 of 3 ground-truth boxes found at IoU>0.1
    assert [r[0] for r in rows].index("Mass") > [r[0] for r in rows].index("mean")
    assert localization_rows(None) == ([], [])


def test_view_shows_localization_and_switches_criterion(qtbot):
    view = EvaluationView()
    qtbot.addWidget(view)
    result = SimpleNamespace(auroc=None, localization=_localization(), prior_origin="evaluated images (optimistic)")
    view.show_result(result)
    t = view.loc_table
    assert t.rowCount() >= 6  # mean and Mass, each with model / prior / swap
    headers = [t.horizontalHeaderItem(c).text() for c in range(t.columnCount())]
    assert headers[:3] == ["Label", "Boxes from", "GT boxes"] and headers[3] == "IoU>0.1"
    assert {t.item(r, 1).text() for r in range(t.rowCount())} >= {"model", "prior", "swap"}
    assert "optimistic" in view.loc_note.text()
    view.loc_criterion.setCurrentText("IoBB")
    assert t.horizontalHeaderItem(3).text().startswith("IoBB>")
    view.show_result(SimpleNamespace(auroc=None, localization=None, prior_origin=""))
    assert t.rowCount() == 0 and "No ground-truth boxes" in t.horizontalHeaderItem(0).text()


def test_view_shows_each_collection_and_the_probe(qtbot):
    import numpy as np

    from chestview.engine.evaluate.probe import probe_result
    from chestview.engine.evaluate.reader import reader_metrics

    rng = np.random.default_rng(0)
    targets = np.zeros((40, 2))
    targets[20:, 0] = 1
    probs = np.clip(targets * 0.5 + rng.random((40, 2)) * 0.5, 0, 1)
    groups = ["c1"] * 20 + ["c2"] * 20
    groups = [g for pair in zip(groups[:20], groups[20:]) for g in pair]  # both collections hold both kinds
    reader = reader_metrics(targets, probs, ("Effusion", "Mass"), {"Effusion": 0.5, "Mass": 0.5},
                            abnormality=probs[:, 0], abnormality_threshold=0.5, groups=groups, n_boot=0)
    base = probs[:, 0]
    probe = probe_result("val", "abnormality", 0.5, base, {"gamma 0.7": base + 0.1})
    view = EvaluationView()
    qtbot.addWidget(view)
    view.show_result(SimpleNamespace(auroc=None, localization=None, prior_origin="", reader=reader, probe=probe,
                                     split_note="the model's recorded split"))
    t = view.collection_table
    assert t.rowCount() == 2 and [t.item(r, 0).text() for r in range(2)] == ["c1", "c2"]
    assert t.item(0, 1).text() == "20"
    assert "FAILED" in view.probe_text.text() and "recorded split" in view.split_note.text()
