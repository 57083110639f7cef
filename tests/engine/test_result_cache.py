import shutil

import numpy as np
import pytest

from chestview.engine.inference import Predictor
from chestview.engine.result_cache import ResultCache, predict_with_cache
from chestview.engine.zoo import load_model


@pytest.fixture
def films(tmp_path, test_data):
    src = sorted((test_data / "nih" / "images").glob("*.png"))[:3]
    folder = tmp_path / "films"
    folder.mkdir()
    return [shutil.copy(p, folder / p.name) for p in src]


class Counting:
    """A predictor that counts the images it really runs."""

    def __init__(self, predictor):
        self.inner, self.ran = predictor, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict_paths(self, paths, **kw):
        paths = list(paths)
        self.ran += paths
        return self.inner.predict_paths(paths, **kw)


def _run(predictor, paths, cache):
    return {r.path: r for r in predict_with_cache(predictor, [str(p) for p in paths], cache, num_workers=0)}


def test_second_run_comes_from_the_cache_with_heatmaps(tiny_zoo, films, tmp_path):
    cache = ResultCache(tmp_path / "cache.sqlite")
    pred = Counting(Predictor(load_model(tiny_zoo), device="cpu"))
    first = _run(pred, films, cache)
    assert len(pred.ran) == 3
    pred.ran.clear()
    again = _run(pred, films, ResultCache(tmp_path / "cache.sqlite"))  # a new process would open it so
    assert pred.ran == []
    for p, r in first.items():
        hit = again[p]
        assert hit.to_json() == r.to_json()
        assert set(hit.heatmaps) == set(r.heatmaps)
        np.testing.assert_array_equal(hit.heatmaps["Nodule"], r.heatmaps["Nodule"])
        assert hit.input_check == r.input_check
    assert cache.stats().entries == 3


def test_changed_file_and_changed_model_miss(tiny_zoo, films, tmp_path):
    cache = ResultCache(tmp_path / "cache.sqlite")
    loaded = load_model(tiny_zoo)
    pred = Counting(Predictor(loaded, device="cpu"))
    _run(pred, films, cache)
    pred.ran.clear()
    # The file changes (as an edit would): run again; the other two still come from the cache.
    from PIL import Image, ImageOps

    ImageOps.invert(Image.open(films[0]).convert("L")).save(films[0])
    _run(pred, films, cache)
    assert pred.ran == [str(films[0])]
    # The same weights with other thresholds give other positives: another model as far as results go.
    card = loaded.card.with_updates(thresholds={k: 0.1 for k in loaded.card.labels})
    loaded.card = card
    other = Counting(Predictor(loaded, device="cpu"))
    _run(other, films, cache)
    assert len(other.ran) == 3
    # And another box threshold, too.
    boxes = Counting(Predictor(load_model(tiny_zoo), device="cpu", box_threshold=90))
    _run(boxes, films, cache)
    assert len(boxes.ran) == 3


def test_a_corrupted_cache_file_is_replaced_and_rewritten(tiny_zoo, films, tmp_path):
    path = tmp_path / "cache.sqlite"
    pred = Counting(Predictor(load_model(tiny_zoo), device="cpu"))
    _run(pred, films, ResultCache(path))
    path.write_bytes(b"this is not a database" * 100)
    pred.ran.clear()
    cache = ResultCache(path)
    results = _run(pred, films, cache)
    assert len(pred.ran) == 3 and all(r.ok for r in results.values())
    assert cache.stats().entries == 3
    pred.ran.clear()
    _run(pred, films, ResultCache(path))
    assert pred.ran == []


def test_a_damaged_entry_is_dropped_and_recomputed(tiny_zoo, films, tmp_path):
    import sqlite3

    path = tmp_path / "cache.sqlite"
    pred = Counting(Predictor(load_model(tiny_zoo), device="cpu"))
    _run(pred, films, ResultCache(path))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE results SET payload = ? WHERE rowid = 1", (b"garbage",))
    pred.ran.clear()
    results = _run(pred, films, ResultCache(path))
    assert len(pred.ran) == 1 and all(r.ok for r in results.values())


def test_cache_stays_within_its_bounds_dropping_least_recently_used(tiny_zoo, films, tmp_path):
    cache = ResultCache(tmp_path / "cache.sqlite", max_entries=2)
    pred = Predictor(load_model(tiny_zoo), device="cpu")
    for p in films:
        _run(pred, [p], cache)
        cache.evict()
    assert cache.stats().entries <= 2
    newest = _run(Counting(pred), [films[-1]], cache)
    assert newest[str(films[-1])].ok


def test_same_bytes_under_two_names_give_two_results(tiny_zoo, films, tmp_path):
    twin = tmp_path / "twin.png"
    shutil.copy(films[0], twin)
    cache = ResultCache(tmp_path / "cache.sqlite")
    pred = Predictor(load_model(tiny_zoo), device="cpu")
    _run(pred, [films[0]], cache)
    both = _run(pred, [films[0], twin], cache)
    assert set(both) == {str(films[0]), str(twin)}
    assert both[str(twin)].path == str(twin)


def test_results_are_found_from_the_card_alone_without_a_model(tiny_zoo, films, tmp_path):
    """The app and `chestview worklist` look a folder up before (or without) building the model: the
    key from the card and the settings is the predictor's own."""
    from chestview.engine.result_cache import cached_results, predictor_key, settings_key
    from chestview.engine.zoo import ModelCard, find_model

    cache = ResultCache(tmp_path / "cache.sqlite")
    pred = Predictor(load_model(tiny_zoo), device="cpu", box_threshold=150)
    first = _run(pred, films, cache)
    card = ModelCard.load(find_model(tiny_zoo))
    key = settings_key(card, device_type="cpu", box_threshold=150)
    assert key == predictor_key(pred)
    hits, _ = cached_results(None, films, ResultCache(tmp_path / "cache.sqlite"), key=key)
    assert {p: r.to_json() for p, r in hits.items()} == {p: r.to_json() for p, r in first.items()}
    # Another box threshold is another key: nothing found.
    other = settings_key(card, device_type="cpu", box_threshold=151)
    assert cached_results(None, films, cache, key=other)[0] == {}
