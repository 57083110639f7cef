"""The app's site profile choice (Settings) and its drift banner after Run on all."""

import pytest

from chestview.gui.main_window import MainWindow
from chestview.gui.settings import AppSettings, SettingsDialog

TIMEOUT = 60_000


def test_settings_offer_the_site_profiles_and_keep_the_choice(qtbot):
    s = AppSettings(site="")
    dlg = SettingsDialog(s, ["m1"], site_names=["hospital-b", "hospital-a"])
    qtbot.addWidget(dlg)
    assert [dlg.site_combo.itemData(i) for i in range(dlg.site_combo.count())] == ["", "hospital-a", "hospital-b"]
    dlg.site_combo.setCurrentIndex(dlg.site_combo.findData("hospital-b"))
    assert dlg.apply().site == "hospital-b"
    s.site = 3  # a hand-edited settings file
    s.sanitise()
    assert s.site == "3"


def test_run_on_all_shows_the_drift_banner(qtbot, tiny_zoo, test_data, tmp_path, monkeypatch):
    """A reference the folder is far from (the tiny model's own distances shrunk a hundredfold) -> the banner."""
    from chestview.engine.data import open_dataset
    from chestview.engine.gate.fit import fit_input_gate
    from chestview.engine.zoo import ModelCard, find_model

    import shutil

    # A copy of the session's tiny zoo (the GUI tests' tiny_zoo is the model's id): the gate fitted
    # here must not reach the other tests.
    src = find_model(tiny_zoo)
    shutil.copytree(src.parent, tmp_path / "zoo")
    monkeypatch.setenv("CHESTVIEW_ZOO_PATH", str(tmp_path / "zoo"))
    entry = tmp_path / "zoo" / src.name
    ds = open_dataset(f"nih:{test_data / 'nih'}")
    fit_input_gate(entry, ds, {"train": list(range(8)), "val": list(range(8, len(ds)))}, batch_size=8,
                   num_workers=0, kinds=False)
    card = ModelCard.load(entry)
    ref = card.input_gate["reference"]
    card.with_updates(input_gate={**card.input_gate, "reference": {**ref, "distance": [v / 100 for v in ref["distance"]]}}
                      ).save(entry)

    w = MainWindow(AppSettings(), model=tiny_zoo)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.zoo_loaded, timeout=TIMEOUT)
    files = sorted(str(p) for p in (test_data / "site" / "images").glob("*.png"))[:24]
    with qtbot.waitSignal(w.catalog_loaded, timeout=TIMEOUT):
        w.open_paths(files)
    assert not w.model_panel.drift_label.isVisibleTo(w)
    w.run_all()
    qtbot.waitUntil(lambda: w.model_panel.drift_label.isVisibleTo(w), timeout=TIMEOUT)
    assert "unlike the model's training films" in w.model_panel.drift_label.text()
    assert "recalibrate" in w.model_panel.drift_label.text()
    w.workers.wait(10_000)
