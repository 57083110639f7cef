"""The decode -> preprocess -> batch pipeline ahead of a model: one stage that every caller running a
model over files shares (``Predictor.predict_paths`` for ``predict``, ``eval``, ``bench`` and the
worklist; the input gate's fit), as torch's ``utils.data`` is a module of its own.

It owns

- :func:`prepare_model_input`: one decoded image as the model's input tensor (TenCrop included);
- :class:`PreparedImages`: one file decoded and preprocessed, errors carried as data so that one bad
  file never stops a batch;
- :func:`prefetched_batches`: batches in input order, prepared ahead by a few threads, bounded by
  count and by decoded bytes, and ended at once when the consumer stops (Ctrl-C included).

It knows nothing of models, backends or results: a caller runs the model on the batches.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Iterator

import torch
from torch.utils.data import Dataset

from chestview.engine.errors import ChestviewError
from chestview.engine.gate.check import check_gray
from chestview.engine.io.image import XrayImage
from chestview.engine.io.loader import load_image
from chestview.engine.memory import release_freed_memory
from chestview.engine.preprocess import Preprocessing, prepare, ten_crop

#: Decoded images held ahead of the model, at most (besides the batch being run and the images
#: the decode threads are working on): with images near the decode pixel budget, a count alone
#: would hold gigabytes.
PREFETCH_BYTES = 1 << 30


def prepare_model_input(image: XrayImage, pre: Preprocessing, tta: str) -> tuple[torch.Tensor, object]:
    """(N, C, S, S) for one image (N = 1, or 10 for TenCrop) and what is needed to merge its maps."""
    if tta == "tencrop":
        crops, windows, resized = ten_crop(image, pre)
        return crops, (windows, resized)
    return prepare(image, pre)[None], None


class PreparedImages(Dataset):
    """Decode + preprocess one file (in a worker); errors travel as data so that one bad file never
    stops a batch. An item is a dict: ``path``, ``error`` (None or one line) and, when readable,
    ``image``, ``x``, ``extra`` (see :func:`prepare_model_input`), ``check_gray`` (the input gate's
    small gray copy, made here, off the model's thread) and ``timings_ms`` (decode, preprocess)."""

    def __init__(self, paths: list[str], pre: Preprocessing, tta: str) -> None:
        self.paths = paths
        self.pre = pre
        self.tta = tta

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        path = self.paths[i]
        t0 = time.perf_counter()
        try:
            image = load_image(path)
            t1 = time.perf_counter()
            x, extra = prepare_model_input(image, self.pre, self.tta)
            gray = check_gray(image)  # the input gate's intensity checks, off the model's thread
            t2 = time.perf_counter()
        except ChestviewError as exc:
            return {"path": path, "error": str(exc)}
        except Exception as exc:  # a file can break a decoder in ways no one listed; never stop the batch
            return {"path": path, "error": f"{path}: cannot read image ({type(exc).__name__}: {exc})"}
        return {
            "path": path,
            "error": None,
            "image": image,
            "x": x,
            "extra": extra,
            "check_gray": gray,
            "timings_ms": {"decode": (t1 - t0) * 1e3, "preprocess": (t2 - t1) * 1e3},
        }


def item_bytes(item: dict) -> int:
    """The memory a prepared item holds: its decoded pixels and its model input."""
    image = item.get("image")
    x = item.get("x")
    return (image.pixels.nbytes if image is not None else 0) + (x.numel() * x.element_size() if x is not None else 0)


class _DecodeThreads:
    """Daemon threads preparing the items they are given, results kept by index.

    Shutting down never waits on a worker: :meth:`close` drops the pending work, tells the idle
    threads to leave and returns; a thread in the middle of a file finishes it and exits on its own.
    A worker never blocks on its way out either: tasks and results live in unbounded containers (the
    consumer bounds how many it submits), so no worker can sit on a full queue that no one drains.
    Daemon threads, so that not even the interpreter's exit joins a thread still decoding.
    """

    def __init__(self, items: PreparedImages, n_threads: int) -> None:
        self._items = items
        self._tasks: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._results: dict[int, dict] = {}
        self._ready = threading.Condition()
        self._closed = threading.Event()
        self._n_threads = n_threads
        for k in range(n_threads):
            threading.Thread(target=self._work, name=f"chestview-decode-{k}", daemon=True).start()

    def _work(self) -> None:
        while True:
            i = self._tasks.get()
            if i is None or self._closed.is_set():
                return
            try:
                item = self._items[i]
            except BaseException as exc:  # noqa: BLE001 - a worker that dies would leave its index unanswered
                item = {"path": str(self._items.paths[i]), "error": f"cannot read image ({type(exc).__name__}: {exc})"}
            with self._ready:
                self._results[i] = item
                self._ready.notify_all()

    def submit(self, i: int) -> None:
        self._tasks.put(i)

    def take(self, i: int) -> dict:
        """Item ``i`` once prepared, released from the pool."""
        with self._ready:
            self._ready.wait_for(lambda: i in self._results)
            return self._results.pop(i)

    def held_bytes(self, indices: range, unknown: int) -> int:
        """Bytes held by ``indices``, those not prepared yet counted as ``unknown`` each."""
        with self._ready:
            return sum(item_bytes(self._results[i]) if i in self._results else unknown for i in indices)

    def close(self) -> None:
        self._closed.set()
        for _ in range(self._n_threads):
            self._tasks.put(None)
        with self._ready:
            self._results.clear()


TRIM_EVERY = 128  # images between hand-backs of freed decode memory (engine.memory)


def _trim_now_and_then(count: int) -> int:
    """The count of images since the last trim, after trimming when it reached TRIM_EVERY."""
    if count < TRIM_EVERY:
        return count
    release_freed_memory()
    return 0


def prefetched_batches(
    items: PreparedImages, batch_size: int, num_workers: int, max_bytes: int = PREFETCH_BYTES
) -> Iterator[list[dict]]:
    """Batches of decoded, preprocessed images, in order, prepared ahead by ``num_workers`` threads.

    Threads, not DataLoader processes: PNG/JPEG/DICOM decoding and resizing release the GIL, and
    threads neither pay a process start per call nor pickle full-size images back to the model.
    Prepared ahead: at most two batches, and no more once those waiting would hold ``max_bytes``
    (images not decoded yet counted as the largest so far; the next batch is always queued), so
    memory stays bounded on a folder of thousands. When the consumer stops (``close()``, a
    ``break``, an exception such as KeyboardInterrupt), the threads are let go without a wait.
    """
    n = len(items)
    since_trim = 0
    if num_workers <= 0:
        for start in range(0, n, batch_size):
            batch = [items[i] for i in range(start, min(start + batch_size, n))]
            since_trim = _trim_now_and_then(since_trim + len(batch))
            yield batch
        return
    threads = _DecodeThreads(items, num_workers)
    try:
        ahead = 2 * batch_size
        submitted = min(ahead, n)
        for i in range(submitted):
            threads.submit(i)
        largest = 0  # an image not decoded yet is assumed as large as the largest one so far
        for start in range(0, n, batch_size):
            batch = [threads.take(i) for i in range(start, min(start + batch_size, n))]
            largest = max([largest, *map(item_bytes, batch)])
            following = start + batch_size
            while submitted < n and submitted < following + ahead:
                if submitted >= following + batch_size and threads.held_bytes(range(following, submitted), largest) >= max_bytes:
                    break
                threads.submit(submitted)
                submitted += 1
            since_trim = _trim_now_and_then(since_trim + len(batch))
            yield batch
    finally:
        threads.close()
