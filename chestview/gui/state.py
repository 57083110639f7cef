"""Qt-free session state of the app: the studies catalogue and the caches behind "going back is instant".

Nothing here imports Qt, so it can be tested (and reused) without a display.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Hashable, TypeVar

from chestview.engine.priors import find_prior as engine_find_prior

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class CatalogImage:
    """One image of the browser. DICOM images carry their patient / study / series; raster images
    have empty strings there and are listed on their own."""

    path: str
    title: str
    patient: str = ""
    study: str = ""
    series: str = ""
    is_dicom: bool = False
    info: str = ""  # short extra text (modality, date, view) for the tooltip
    patient_id: str = ""  # DICOM PatientID ("" when absent): what "same patient" means for priors
    study_date: str = ""  # DICOM StudyDate, YYYYMMDD ("" when absent)
    study_uid: str = ""
    accession: str = ""  # DICOM AccessionNumber
    view: str = ""  # DICOM ViewPosition (PA, AP, LL…)
    modality: str = ""


def find_prior(images: list[CatalogImage], path: str) -> CatalogImage | None:
    """The most recent earlier image of the same patient (:func:`chestview.engine.priors.find_prior`:
    DICOM PatientID and study date, or NIH ``PATIENT_FOLLOWUP.png`` names), or None."""
    return engine_find_prior(images, path)


@dataclass
class Catalog:
    images: list[CatalogImage] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def paths(self) -> list[str]:
        return [im.path for im in self.images]

    def merge(self, other: "Catalog") -> "Catalog":
        seen = set(self.paths())
        images = self.images + [im for im in other.images if im.path not in seen]
        seen_err = {p for p, _ in self.errors}
        errors = self.errors + [e for e in other.errors if e[0] not in seen_err]
        return Catalog(images, errors)


class LRUCache(Generic[K, V]):
    """A small least-recently-used mapping."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, default: Any = None) -> V | Any:
        if key not in self._data:
            return default
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.max_items:
            self._data.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()

    def keys(self) -> list[K]:
        return list(self._data)


class ResultCache(LRUCache[tuple[str, str], Any]):
    """ImageResult per (image path, model id). Results are small (heatmaps are low resolution)."""

    def __init__(self, max_items: int = 2000) -> None:
        super().__init__(max_items)
        self._listeners: list[Any] = []

    def subscribe(self, listener: Any) -> None:
        """``listener(path, model_id, result)`` after every :meth:`store` (the worklist follows the runs)."""
        self._listeners.append(listener)

    @staticmethod
    def key(path: str | Path, model_id: str) -> tuple[str, str]:
        return (str(path), model_id)

    def result(self, path: str | Path, model_id: str) -> Any:
        return self.get(self.key(path, model_id))

    def store(self, path: str | Path, model_id: str, result: Any) -> None:
        self.put(self.key(path, model_id), result)
        for listener in self._listeners:
            listener(str(path), model_id, result)

    def for_model(self, model_id: str) -> dict[str, Any]:
        return {p: self._data[(p, m)] for p, m in self._data if m == model_id}
