"""Results as DICOM objects a PACS stores beside the study: SR, GSPS and, optionally, SC.

Identity: every object carries the source's patient and study attributes and Study Instance UID
(that is how a PACS files it) and references the source image; each output series is new. Within
one exporter (one CLI run, one app export), the objects of one kind for one study share a series.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from chestview.engine.annotations import Annotation, AnnotationStore
from chestview.engine.dicom_export.gsps import build_gsps
from chestview.engine.dicom_export.measurements import sr_measurement_groups
from chestview.engine.dicom_export.sc import build_sc
from chestview.engine.dicom_export.source import (
    Algorithm,
    NotDicomSource,
    check_geometry,
    read_source_header,
    source_window,
)
from chestview.engine.dicom_export.sr import build_sr
from chestview.engine.dicom_export.writer import WriterClaim, write_new
from chestview.engine.errors import ChestviewError
from chestview.engine.io._common import short_cause
from chestview.engine.io.image import XrayImage
from chestview.engine.result_cache import file_sha256
from chestview.engine.io.loader import load_image
from chestview.engine.render import render_annotated
from chestview.engine.results import ImageResult
from chestview.engine.util import NAME_MAX, TEMP_OVERHEAD, fit_name
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

    def __init__(self, out_dir: str | Path, card: ModelCard, *, secondary_capture: bool = False,
                 annotation_store: AnnotationStore | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.annotation_store = annotation_store
        self.card = card
        self.algorithm = Algorithm.from_card(card)
        self.secondary_capture = secondary_capture
        self._series: dict[tuple[str, str], _Series] = {}
        self.written: list[Path] = []
        self._claim = WriterClaim(self.out_dir)

    def close(self) -> None:
        """Let go of the output folder (see :class:`WriterClaim`)."""
        self._claim.release()

    def __enter__(self) -> DicomExporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def export(
        self,
        result: ImageResult,
        *,
        image: XrayImage | None = None,
        window: tuple[float, float] | None = None,
        labels: list[str] | None = None,
        measurements: Sequence[Annotation] | None = None,
    ) -> list[Path]:
        """SR, GSPS (and SC) of one result; returns the files written.

        ``measurements``: the reader's annotations, drawn in the GSPS and measured in the SR; default
        the ones stored for this film (by its bytes, :class:`AnnotationStore`).
        ``window``: the display window in chestview's space (larger is brighter), default the image's.
        ``labels``: findings burned into the SC (default the positive ones).
        Raises NotDicomSource for PNG/JPEG inputs and ChestviewError for an unusable DICOM header.
        """
        source = read_source_header(result.path)
        check_geometry(result.path, source, result.image_width, result.image_height)
        if image is None:
            image = load_image(result.path)
        if measurements is None:
            measurements = self.stored_measurements(result.path)
        # "<stem>_sr_9999.dcm" and its temporary ("." + name + ".XXXXXXXX.tmp") within NAME_MAX
        stem = fit_name(Path(result.path).stem, NAME_MAX - TEMP_OVERHEAD - len("_sr_9999.dcm")) or "image"
        try:  # build everything before writing anything: a failure leaves no half set behind
            with warnings.catch_warnings():
                # highdicom warns about names like "Covid0000": the source's identity is copied as it is.
                warnings.filterwarnings("ignore", message=".*person name.*", category=UserWarning)
                objects = self._build(source, result, image, window, labels, tuple(measurements))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # highdicom validates the source header's values (dates, codes, enumerations) as it copies them
            raise ChestviewError(f"{result.path}: cannot make DICOM objects from this header ({short_cause(exc)})") from None
        self._claim.acquire()  # held while this result's objects are written; no file left behind
        try:
            paths = [write_new(self.out_dir, f"{stem}_{kind}", ds, protect=(result.path,)) for kind, ds in objects]
        finally:
            self._claim.release()
        self.written.extend(paths)
        return paths

    def stored_measurements(self, path: str) -> tuple[Annotation, ...]:
        """The annotations stored for the film at ``path`` (none for an unreadable file)."""
        if self.annotation_store is None:
            self.annotation_store = AnnotationStore()
        try:
            return self.annotation_store.load(file_sha256(path))
        except OSError:
            return ()

    def _build(self, source, result, image, window, labels, measurements) -> list[tuple[str, Dataset]]:
        spacing = image.pixel_spacing
        extra = sr_measurement_groups(measurements, spacing, source)
        objects: list[tuple[str, Dataset]] = [
            ("sr", build_sr(source, result, self.algorithm, extra_groups=extra, **self._next(source, "sr"))),
            ("pr", build_gsps(source, result, self.algorithm, source_window(source, image, window),
                              measurements=measurements, spacing=spacing, **self._next(source, "pr"))),
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
