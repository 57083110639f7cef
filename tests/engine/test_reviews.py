"""The review store: verdicts survive a restart, follow the file's bytes, and a corrupt store is set aside."""

from __future__ import annotations

import csv
import io
import logging
import shutil

import pytest

from chestview.engine.results import Finding, ImageResult
from chestview.engine.reviews import ReviewStore, reader_label, reviews_csv


@pytest.fixture
def films(tmp_path, test_data):
    src = sorted((test_data / "nih" / "images").glob("*.png"))[:2]
    return [str(shutil.copy(p, tmp_path / p.name)) for p in src]


def test_reviews_survive_a_restart_and_follow_the_bytes(tmp_path, films):
    db = tmp_path / "reviews.sqlite"
    store = ReviewStore(db)
    a, b = films
    assert store.get(a).read is False and not store.get(a).verdicts
    store.set_verdict(a, "Effusion", "disagree", model="m1")
    store.set_verdict(a, "Cardiomegaly", "agree", model="m1")
    store.set_note(a, "compare lateral")
    store.set_read(b)
    store.close()

    again = ReviewStore(db)  # a restart
    ra, rb = again.get(a), again.get(b)
    assert ra.read and ra.disagreed and ra.note == "compare lateral" and ra.model == "m1"
    assert dict(ra.verdicts) == {"Effusion": "disagree", "Cardiomegaly": "agree"}
    assert ra.summary() == "1 agree, 1 disagree"
    assert rb.read and not rb.verdicts
    # Taking a verdict back.
    again.set_verdict(a, "Cardiomegaly", None)
    assert dict(again.get(a).verdicts) == {"Effusion": "disagree"}

    # The same bytes under another name keep the review; changed bytes start unread.
    moved = tmp_path / "moved.png"
    shutil.copy(a, moved)
    assert again.get(str(moved)).disagreed
    with open(a, "ab") as f:
        f.write(b"\0")
    assert again.get(a).read is False
    assert again.get(str(tmp_path / "missing.png")) is None
    assert again.set_read(str(tmp_path / "missing.png")) is None
    with pytest.raises(ValueError):
        again.set_verdict(b, "Effusion", "maybe")
    again.close()


def test_a_corrupt_store_is_set_aside_with_one_warning(tmp_path, films, caplog):
    db = tmp_path / "reviews.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING):
        store = ReviewStore(db)
        store.set_read(films[0])
        assert store.get(films[0]).read
    warnings = [r for r in caplog.records if "review store unreadable" in r.getMessage()]
    assert len(warnings) == 1
    assert (tmp_path / "reviews.sqlite.corrupt").read_bytes().startswith(b"this is not")
    store.close()


def test_reviews_csv_carries_probabilities_and_the_readers_label(tmp_path, films):
    store = ReviewStore(tmp_path / "r.sqlite")
    a, b = films
    store.set_verdict(a, "Effusion", "disagree", model="m1")
    store.set_verdict(a, "Mass", "agree", model="m1")
    store.set_read(b)
    result = ImageResult(a, findings=[Finding("Effusion", 0.8, 0.5, True), Finding("Mass", 0.1, 0.4, False)])
    rows = list(csv.DictReader(io.StringIO(reviews_csv(store.get_many(films), {a: result}))))
    by = {(r["file"], r["finding"]): r for r in rows}
    eff = by[(a, "Effusion")]
    assert eff["probability"] == "0.8000" and eff["model_positive"] == "1" and eff["verdict"] == "disagree"
    assert eff["reader_label"] == "0"
    assert by[(a, "Mass")]["reader_label"] == "0"
    assert by[(b, "")]["read"] == "1"
    assert reader_label(False, "disagree") == "1" and reader_label(True, "unsure") == ""
    store.close()


def test_a_locked_store_keeps_the_readers_verdicts(tmp_path, films, caplog, monkeypatch):
    """Another process holding the lock is not damage: nothing is set aside, the verdict already
    stored stays, and the store works again once the lock is gone."""
    import sqlite3

    db = tmp_path / "reviews.sqlite"
    store = ReviewStore(db)
    store.set_read(films[0])
    store.close()
    real_connect = ReviewStore._connect

    def locked(self):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(ReviewStore, "_connect", locked)
    with caplog.at_level(logging.WARNING):
        busy = ReviewStore(db)
        assert not busy.get(films[0]).read  # goes without the store for now (and says so)
    assert any("review store unavailable" in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "reviews.sqlite.corrupt").exists()
    monkeypatch.setattr(ReviewStore, "_connect", real_connect)
    assert busy.get(films[0]).read  # the next call opens it again: the verdict is still there
    busy.close()
