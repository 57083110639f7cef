"""The app's Precision setting: kept when valid, reset when not, and handed to every Predictor (which
keeps f32 for a model whose card proves no reduced precision)."""

from __future__ import annotations

import json

from chestview.gui import jobs
from chestview.gui.settings import AppSettings


def test_precision_setting_is_sanitised_and_saved(tmp_path, monkeypatch):
    monkeypatch.setenv("CHESTVIEW_HOME", str(tmp_path))
    s = AppSettings(precision="int4")
    s.sanitise()
    assert s.precision == "f32"
    s.precision = "bf16"
    s.save()
    assert json.loads(AppSettings.path().read_text())["precision"] == "bf16"
    assert AppSettings.load().precision == "bf16"


def test_predictor_cache_passes_the_precision(tiny_zoo):
    cache = jobs.PredictorCache(precision="bf16")
    pred = cache.get(tiny_zoo, "cpu")  # the model id
    # The tiny model's card has no precision check: refused, f32, with the reason.
    assert pred.precision == "f32" and pred.opened.warn and "bf16" in pred.backend_note
    cache.precision = "f32"
    assert cache.get(tiny_zoo, "cpu") is not pred  # another setting, another Predictor
