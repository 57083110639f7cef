"""``open_dataset("kind:PATH", **opts)``: one entry point for every dataset format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from chestview.engine.data.indiana import read_indiana, read_openi
from chestview.engine.data.nih import read_nih
from chestview.engine.data.tabular import read_chexpert, read_generic_csv
from chestview.engine.data.types import LabeledDataset
from chestview.engine.errors import DatasetError

READERS: dict[str, Callable[..., LabeledDataset]] = {
    "nih": read_nih,
    "chexpert": read_chexpert,
    "indiana": read_indiana,
    "openi": read_openi,
    "csv": read_generic_csv,
}


def open_dataset(spec: str, **opts: Any) -> LabeledDataset:
    """Open ``"nih:PATH" | "chexpert:CSV" | "indiana:DIR" | "openi:DIR" | "csv:CSV"``; ``opts``
    go to the reader (e.g. ``images="images_1024"``, ``uncertain="U-Ones"``, ``frontal_only=True``)."""
    kind, sep, path = spec.partition(":")
    if not sep or kind.lower() not in READERS or not path:
        raise DatasetError(f"dataset {spec!r}: expected KIND:PATH with KIND one of {', '.join(READERS)}")
    try:
        return READERS[kind.lower()](Path(path).expanduser(), **opts)
    except TypeError as exc:  # an option the reader does not take
        raise DatasetError(f"dataset {spec!r}: {exc}") from exc
