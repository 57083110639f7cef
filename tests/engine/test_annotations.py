"""Annotations: values, undo/redo history, and the per-film store (atomic, never beside the film)."""

from __future__ import annotations

import logging

import pytest

from chestview.engine.annotations import (
    Annotation, AnnotationStore, History, angle_between, caption, measurement_json, segments,
)

DIGEST = "ab" * 32


def test_values_of_each_kind():
    ruler = Annotation("ruler", ((0, 0), (30, 40)))
    assert caption(ruler, None) == "50 px" and caption(ruler, (0.5, 0.5)) == "25.0 mm"
    assert angle_between((0, 0), (1, 0), (0, 0), (0, 1)) == pytest.approx(90.0)
    assert angle_between((0, 0), (1, 1), (5, 5), (4, 4)) == pytest.approx(180.0)
    ctr = Annotation("ctr", ((10, 50), (60, 50), (0, 40), (200, 40)))
    assert caption(ctr, None) == "CTR 0.25" and measurement_json(ctr, None)["ratio"] == 0.25
    with pytest.raises(ValueError):
        Annotation.from_json({"kind": "angle", "points": [[0, 0], [1, 1]]})


def test_history_undo_redo():
    h = History()
    a, b = Annotation("text", ((1, 1),), "a"), Annotation("text", ((2, 2),), "b")
    h.add(a)
    h.add(b)
    assert h.undo() and h.current == (a,)
    assert h.redo() and h.current == (a, b)
    h.undo()
    h.add(Annotation("ruler", ((0, 0), (1, 1))))  # a new edit drops what could be redone
    assert not h.can_redo and len(h.current) == 2
    h.clear()
    assert h.current == () and h.undo() and len(h.current) == 2


def test_store_round_trip_and_a_damaged_file(tmp_path, caplog):
    store = AnnotationStore(tmp_path / "ann")
    anns = (Annotation("ruler", ((0, 0), (3, 4))), Annotation("text", ((5, 5),), "note"))
    store.save(DIGEST, anns, source="/data/patient/film.png")
    assert AnnotationStore(tmp_path / "ann").load(DIGEST) == anns
    store.save(DIGEST, ())
    assert store.load(DIGEST) == () and not (tmp_path / "ann" / f"{DIGEST}.json").exists()
    (tmp_path / "ann" / f"{DIGEST}.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert store.load(DIGEST) == ()
    assert "annotations unreadable" in caplog.text
    with pytest.raises(ValueError):
        store.load("../../etc/passwd")


def test_an_arrow_draws_its_shaft_and_head_and_keeps_its_text():
    arrow = Annotation("arrow", ((0.0, 0.0), (100.0, 0.0)), "nodule")
    shaft, *head = segments(arrow)
    assert shaft == ((100.0, 0.0), (0.0, 0.0)) and len(head) == 2  # head to tail, then the head's lines
    for start, end in head:
        assert start == (100.0, 0.0) and end[0] == pytest.approx(100 - 20 * 0.9063, abs=1e-3)  # 25 deg, 20 px
    assert {round(end[1], 3) for _, end in head} == {round(20 * 0.4226, 3), round(-20 * 0.4226, 3)}
    assert caption(arrow, None) == "nodule"
    assert Annotation.from_json(arrow.to_json()) == arrow
    assert measurement_json(arrow, None)["text"] == "nodule"
    with pytest.raises(ValueError):
        Annotation.from_json({"kind": "arrow", "points": [[0, 0]]})
