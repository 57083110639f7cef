"""The decode pipeline ahead of the model: bounded by count and by decoded bytes, and let go at once
when its consumer stops (a break, an exception, Ctrl-C) however slow the files are to decode."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from chestview.engine.pipeline import PreparedImages, item_bytes, prefetched_batches
from chestview.engine.preprocess import Preprocessing


class _Counting(PreparedImages):
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
    for k, batch in enumerate(prefetched_batches(items, batch_size, 2, max_bytes=max_bytes)):
        time.sleep(0.3)  # the decode threads catch up with what was queued
        ahead = max(ahead, len(items.started) - k * batch_size)
        order += [item["path"] for item in batch]
    assert order == paths  # in input order, every image once
    return ahead, paths


def test_prefetch_is_bounded_by_count_and_by_decoded_bytes(samples_dir):
    paths = sorted(str(p) for p in samples_dir.glob("*.png"))
    one = item_bytes(PreparedImages(paths[:1], Preprocessing(size=64, channels=3), "none")[0])
    assert one > 1_000_000  # a full-resolution radiograph
    by_count, _ = _max_ahead(samples_dir, max_bytes=1 << 40)
    by_bytes, _ = _max_ahead(samples_dir, max_bytes=one)
    assert by_count == 3 * 2  # the batch in hand and two batches ahead
    assert by_bytes == 2 * 2  # the batch in hand and the next one only


class _Slow(PreparedImages):
    """Every file takes ``seconds`` to prepare; counts the files started."""

    def __init__(self, n: int, seconds: float) -> None:
        super().__init__([f"film{i}.png" for i in range(n)], Preprocessing(size=64, channels=3), "none")
        self.seconds = seconds
        self.started = 0
        self.lock = threading.Lock()

    def __getitem__(self, i: int) -> dict:
        with self.lock:
            self.started += 1
        time.sleep(self.seconds)
        return {"path": self.paths[i], "error": None}


def _within(seconds: float, fn) -> None:
    """Run ``fn`` in a thread; fail if it has not returned after ``seconds`` (a hang fails, never
    blocks the run), else re-raise what it raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s"
    if raised:
        raise raised[0]


def _decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("chestview-decode")]


def _wait_for_no_decode_threads(limit: float) -> None:
    end = time.monotonic() + limit
    while _decode_threads() and time.monotonic() < end:
        time.sleep(0.05)
    assert not _decode_threads()


def test_a_consumer_that_stops_early_lets_the_threads_go_at_once():
    items = _Slow(64, seconds=0.5)
    batches = prefetched_batches(items, 4, 2)
    _within(10, lambda: next(batches))  # 8 more files are queued ahead
    t0 = time.monotonic()
    _within(10, batches.close)
    assert time.monotonic() - t0 < 0.2  # no wait for the queued files
    _wait_for_no_decode_threads(2.0)  # the files in hand are finished, the queued ones dropped
    assert items.started <= 4 + 2 + 2


def test_an_exception_in_the_consumer_ends_the_pipeline_promptly():
    items = _Slow(64, seconds=0.5)

    def consume() -> None:
        for _ in prefetched_batches(items, 4, 2):
            raise KeyboardInterrupt

    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _within(10, consume)
    assert time.monotonic() - t0 < 1.0 + 0.5  # the first batch (2 rounds of 0.5 s), then nothing
    _wait_for_no_decode_threads(2.0)


# A process of its own: a real SIGINT while the consumer waits on a file still decoding (where issue
# 20 hung), then the interpreter's exit, which must not wait on a decode thread either.
_CTRL_C = textwrap.dedent("""
    import atexit, os, signal, threading, time
    from chestview.engine.pipeline import PreparedImages, prefetched_batches
    from chestview.engine.preprocess import Preprocessing

    class Slow(PreparedImages):
        def __getitem__(self, i):
            time.sleep(5.0)
            return {"path": self.paths[i], "error": None}

    signal.signal(signal.SIGINT, signal.default_int_handler)
    items = Slow([f"film{i}.png" for i in range(64)], Preprocessing(size=64, channels=3), "none")
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    t0 = time.monotonic()
    # Runs after the interpreter has joined the threads it waits for (non-daemon ones), before it ends.
    atexit.register(lambda: print(f"exiting after {time.monotonic() - t0:.2f} s", flush=True))
    try:
        for _ in prefetched_batches(items, 4, 2):
            pass
    except KeyboardInterrupt:
        print(f"interrupted after {time.monotonic() - t0:.2f} s", flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to oneself is POSIX")
def test_ctrl_c_while_waiting_on_a_decode_ends_the_process_promptly():
    done = subprocess.run([sys.executable, "-c", _CTRL_C], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    interrupted = float(done.stdout.split("interrupted after ")[1].split()[0])
    exiting = float(done.stdout.split("exiting after ")[1].split()[0])
    assert interrupted < 1.5  # not the 5 s the files in hand still need
    assert exiting < 2.0  # nor does the interpreter's exit wait for them


def test_freed_decode_memory_is_handed_back_every_so_many_images(samples_dir, monkeypatch):
    """A long run hands freed decode buffers back to the OS (glibc keeps them otherwise: a resident
    size that climbed ~70 KB a film over 1,801 films); every TRIM_EVERY images, threads or not."""
    from chestview.engine import memory, pipeline

    assert memory.release_freed_memory() is (sys.platform.startswith("linux"))  # glibc here; a no-op elsewhere
    calls = []
    monkeypatch.setattr(pipeline, "release_freed_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(pipeline, "TRIM_EVERY", 4)
    paths = sorted(str(p) for p in samples_dir.glob("*.png")) * 3  # 12 films
    for workers in (0, 2):
        calls.clear()
        items = PreparedImages(paths, Preprocessing(size=64, channels=3), "none")
        assert sum(len(b) for b in prefetched_batches(items, 2, workers)) == len(paths)
        assert len(calls) == len(paths) // 4
