"""Results as DICOM objects a PACS stores beside the study: SR, GSPS and, optionally, SC.

Identity: every object carries the source's patient and study attributes and Study Instance UID
(that is how a PACS files it) and references the source image; each output series is new. Within
one exporter (one CLI run, one app export), the objects of one kind for one study share a series.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from chestview.engine.dicom_export.gsps import build_gsps
from chestview.engine.dicom_export.sc import build_sc
from chestview.engine.dicom_export.source import (
    Algorithm,
    NotDicomSource,
    check_geometry,
    read_source_header,
    source_window,
)
from chestview.engine.dicom_export.sr import build_sr
from chestview.engine.dicom_export.writer import write_new
from chestview.engine.errors import ChestviewError
from chestview.engine.io._common import short_cause
from chestview.engine.io.image import XrayImage
from chestview.engine.io.loader import load_image
from chestview.engine.render import render_annotated
from chestview.engine.results import ImageResult
from chestview.engine.zoo.card import ModelCard

# Series numbers of chestview's output series: high, so that they sort after the acquisition's.
SERIES_NUMBERS = {"sr": 9901, "pr": 9902, "sc": 9903}

__all__ = ["DicomExporter", "NotDicomSource"]


@dataclass
class _Series:
    uid: str = field(default_factory=generate_uid)
    next_instance: int = 1


class DicomExporter:
    """Writes the DICOM objects of results into ``out_dir``. Not thread-safe: one per job."""

    def __init__(self, out_dir: str | Path, card: ModelCard, *, secondary_capture: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.card = card
        self.algorithm = Algorithm.from_card(card)
        self.secondary_capture = secondary_capture
        self._series: dict[tuple[str, str], _Series] = {}
        self.written: list[Path] = []

    def export(
        self,
        result: ImageResult,
        *,
        image: XrayImage | None = None,
        window: tuple[float, float] | None = None,
        labels: list[str] | None = None,
    ) -> list[Path]:
        """SR, GSPS (and SC) of one result; returns the files written.

        ``window``: the display window in chestview's space (larger is brighter), default the image's.
        ``labels``: findings burned into the SC (default the positive ones).
        Raises NotDicomSource for PNG/JPEG inputs and ChestviewError for an unusable DICOM header.
        """
        source = read_source_header(result.path)
        check_geometry(result.path, source, result.image_width, result.image_height)
        if image is None:
            image = load_image(result.path)
        stem = Path(result.path).stem or "image"
        try:  # build everything before writing anything: a failure leaves no half set behind
            with warnings.catch_warnings():
                # highdicom warns about names like "Covid0000": the source's identity is copied as it is.
                warnings.filterwarnings("ignore", message=".*person name.*", category=UserWarning)
                objects = self._build(source, result, image, window, labels)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # highdicom validates the source header's values (dates, codes, enumerations) as it copies them
            raise ChestviewError(f"{result.path}: cannot make DICOM objects from this header ({short_cause(exc)})") from None
        paths = [write_new(self.out_dir, f"{stem}_{kind}", ds, protect=(result.path,)) for kind, ds in objects]
        self.written.extend(paths)
        return paths

    def _build(self, source, result, image, window, labels) -> list[tuple[str, Dataset]]:
        objects: list[tuple[str, Dataset]] = [
            ("sr", build_sr(source, result, self.algorithm, **self._next(source, "sr"))),
            ("pr", build_gsps(source, result, self.algorithm, source_window(source, image, window), **self._next(source, "pr"))),
        ]
        if self.secondary_capture:
            # A flagged input: the flag, never its findings (render_annotated hides them when no labels are asked).
            rgb = render_annotated(image, result, labels=None if result.flagged else labels, model_id=self.card.id,
                                   window=window, model_warning=self.algorithm.warning)
            objects.append(("sc", build_sc(source, rgb, self.algorithm, **self._next(source, "sc"))))
        return objects

    def _next(self, source, kind: str) -> dict:
        series = self._series.setdefault((str(source.StudyInstanceUID), kind), _Series())
        number = series.next_instance
        series.next_instance += 1
        return {"series_uid": series.uid, "series_number": SERIES_NUMBERS[kind], "instance_number": number}
