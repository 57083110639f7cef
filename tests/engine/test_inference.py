"""The decode pipeline ahead of the model: bounded by count and by decoded bytes."""

from __future__ import annotations

import time

from chestview.engine.inference import _item_bytes, _prefetched_batches, _PreparedImages
from chestview.engine.preprocess import Preprocessing


class _Counting(_PreparedImages):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.started: list[int] = []

    def __getitem__(self, i: int) -> dict:
        self.started.append(i)
        return super().__getitem__(i)


def _max_ahead(samples_dir, max_bytes: int, batch_size: int = 2) -> tuple[int, list[str]]:
    paths = sorted(str(p) for p in samples_dir.glob("*.png")) * 3
    items = _Counting(paths, Preprocessing(size=64, channels=3), "none")
    ahead, order = 0, []
    for k, batch in enumerate(_prefetched_batches(items, batch_size, 2, max_bytes=max_bytes)):
        time.sleep(0.3)  # the decode threads catch up with what was queued
        ahead = max(ahead, len(items.started) - k * batch_size)
        order += [item["path"] for item in batch]
    assert order == paths  # in input order, every image once
    return ahead, paths


def test_prefetch_is_bounded_by_count_and_by_decoded_bytes(samples_dir):
    paths = sorted(str(p) for p in samples_dir.glob("*.png"))
    one = _item_bytes(_PreparedImages(paths[:1], Preprocessing(size=64, channels=3), "none")[0])
    assert one > 1_000_000  # a full-resolution radiograph
    by_count, _ = _max_ahead(samples_dir, max_bytes=1 << 40)
    by_bytes, _ = _max_ahead(samples_dir, max_bytes=one)
    assert by_count == 3 * 2  # the batch in hand and two batches ahead
    assert by_bytes == 2 * 2  # the batch in hand and the next one only
