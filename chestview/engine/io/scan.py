"""Find images under files and folders and list them as patient -> study -> series -> images.

Only headers are read (``stop_before_pixels`` and a short tag list), so listing a thousand DICOM
files takes a second or two, not the time to decode them. PNG/JPEG files are one-image studies.
A non-image file found while walking a folder is skipped silently (folders hold reports, DICOMDIRs
and thumbnails) unless its name claims an image (``.png``, ``.jpg``, ``.dcm``, …): then it is
reported, as is an entry so named that is no readable regular file (a FIFO, a socket, a broken link
or symlink loop, a folder ``x.png/`` without images; never opened). One the user named explicitly
is reported, as is any unreadable DICOM and a named folder without any image.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import ImageLoadError
from ._common import file_problem, short_cause
from .detect import FileFormat, sniff_file
from .dicom import read_dataset
from .library_warnings import captured_warnings

ImageKind = Literal["dicom", "raster"]
# A file with one of these names that is not an image is broken, not unrelated: report it.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".dcm", ".dicom"})
PathLike = str | os.PathLike[str]

_HEADER_TAGS = [
    "AccessionNumber",
    "ViewPosition",
    "PatientID",
    "PatientName",
    "StudyInstanceUID",
    "StudyDescription",
    "StudyDate",
    "SeriesInstanceUID",
    "SeriesDescription",
    "SeriesNumber",
    "Modality",
    "SOPInstanceUID",
    "SOPClassUID",
    "InstanceNumber",
    "NumberOfFrames",
    "Rows",
    "Columns",
]


@dataclass(frozen=True)
class ImageRef:
    path: Path
    instance_number: int | None
    sop_uid: str | None
    kind: ImageKind
    frames: int = 1
    view: str | None = None  # DICOM ViewPosition (PA, AP, LL…)


@dataclass(frozen=True)
class Series:
    uid: str
    modality: str | None
    description: str | None
    number: int | None
    images: list[ImageRef] = field(default_factory=list)


@dataclass(frozen=True)
class Study:
    uid: str
    description: str | None
    date: str | None
    patient_id: str | None
    series: list[Series] = field(default_factory=list)
    accession: str | None = None

    @property
    def images(self) -> list[ImageRef]:
        return [im for s in self.series for im in s.images]


@dataclass(frozen=True)
class Patient:
    id: str | None  # None: images with no patient identity (PNG/JPEG, anonymised DICOM)
    name: str | None
    studies: list[Study] = field(default_factory=list)


@dataclass(frozen=True)
class ScanProgress:
    files_done: int
    path: str


@dataclass(frozen=True)
class ScanResult:
    patients: list[Patient]
    errors: list[tuple[str, str]]  # (path, one-line reason)
    cancelled: bool = False

    @property
    def studies(self) -> list[Study]:
        return [st for p in self.patients for st in p.studies]

    @property
    def images(self) -> list[ImageRef]:
        return [im for st in self.studies for im in st.images]


def iter_image_files(paths: PathLike | Iterable[PathLike]) -> Iterator[Path]:
    """Image files (by content) under ``paths``, folders walked recursively and in sorted order.

    Hidden files and folders are skipped while walking. A path named explicitly, a file named like
    an image (``.png``, ``.dcm``, …) and a named folder without any image are yielded as they are,
    even when they are not images or do not exist, so that loading them reports why.
    """
    for path, _fmt, _explicit in _walk(paths):
        yield path


def scan_paths(
    paths: PathLike | Iterable[PathLike],
    *,
    on_event: Callable[[ScanProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ScanResult:
    """List the studies under ``paths`` from headers only; never raises for a bad file."""
    builder = _Builder()
    errors: list[tuple[str, str]] = []
    done = 0
    cancelled = False
    for path, fmt, explicit in _walk(paths):
        if should_stop is not None and should_stop():
            cancelled = True
            break
        try:
            if fmt is None:
                if explicit:
                    errors.append((str(path), _explicit_reason(path)))
            elif fmt in ("png", "jpeg"):
                builder.add_raster(path)
            else:
                with captured_warnings():  # header warnings: shown when the image itself is loaded
                    builder.add_dicom(path, fmt, explicit, errors)
        except Exception as exc:  # one odd file must not stop the listing
            errors.append((str(path), f"cannot read ({short_cause(exc)})"))
        done += 1
        if on_event is not None:
            on_event(ScanProgress(done, str(path)))
    return ScanResult(builder.build(), errors, cancelled)


def _explicit_reason(path: Path) -> str:
    if path.is_dir():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return "is a folder named like an image, holding no PNG, JPEG or DICOM image"
        return "folder holds no PNG, JPEG or DICOM image"
    return file_problem(path) or "not a PNG, JPEG or DICOM image"


def _sniff(path: Path) -> FileFormat | None:
    try:
        return sniff_file(path)
    except OSError:
        return None


def _walk(paths: PathLike | Iterable[PathLike]) -> Iterator[tuple[Path, FileFormat | None, bool]]:
    """(path, format, named explicitly) for every candidate file, each file once."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    seen: set[str] = set()

    def once(p: Path) -> bool:
        key = os.path.realpath(p)  # never raises, even on a symlink loop
        if key in seen:
            return False
        seen.add(key)
        return True

    def named_like_image(name: str) -> bool:
        return Path(name).suffix.lower() in IMAGE_SUFFIXES

    for raw in paths:
        root = Path(raw)
        if root.is_dir():
            found = 0
            # Folders named like an image (x.png/) are reported when they hold no image themselves.
            image_named_dirs: dict[Path, int] = {}
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for d in dirnames:
                    if named_like_image(d):
                        image_named_dirs[Path(dirpath, d)] = 0
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    p = Path(dirpath, name)
                    if file_problem(p) is not None and not (p.is_file() and named_like_image(name)):
                        # Not a readable regular file (FIFO, socket, broken link, symlink loop, a
                        # link to a folder): never opened; reported when its name claims an image.
                        if named_like_image(name) and once(p):
                            found += 1
                            yield p, None, True
                        continue
                    fmt = _sniff(p)
                    if fmt is None and not named_like_image(name):
                        continue
                    if once(p):
                        found += 1
                        if image_named_dirs:
                            for folder in p.parents:
                                if folder in image_named_dirs:
                                    image_named_dirs[folder] += 1
                        # named like an image but not one (fmt None): say why
                        yield p, fmt, fmt is None
            for folder, count in image_named_dirs.items():
                if count == 0 and once(folder):
                    found += 1
                    yield folder, None, True
            if not found and once(root):
                yield root, None, True
        elif once(root):
            yield root, (_sniff(root) if root.is_file() else None), True


class _Builder:
    """Collects headers into nested dicts, then freezes them sorted."""

    def __init__(self) -> None:
        # patient key -> (name, study uid -> (study info, series uid -> (series info, [ImageRef])))
        self._patients: dict[str | None, dict] = {}

    def _series(self, pid: str | None, pname: str | None, study: tuple, series: tuple) -> list[ImageRef]:
        patient = self._patients.setdefault(pid, {"name": pname, "studies": {}})
        if patient["name"] is None:
            patient["name"] = pname
        st = patient["studies"].setdefault(study[0], {"info": study, "series": {}})
        se = st["series"].setdefault(series[0], {"info": series, "images": []})
        return se["images"]

    def add_raster(self, path: Path) -> None:
        uid = f"file:{path}"
        images = self._series(None, None, (uid, path.name, None, None), (uid, None, path.name, None))
        images.append(ImageRef(path, None, None, "raster"))

    def add_dicom(self, path: Path, fmt: FileFormat, explicit: bool, errors: list[tuple[str, str]]) -> None:
        try:
            ds = read_dataset(path, force=fmt == "dicom-raw", stop_before_pixels=True, specific_tags=_HEADER_TAGS)
        except ImageLoadError as exc:
            errors.append((str(path), exc.reason))
            return
        if not ds.get("Rows") or not ds.get("Columns"):
            # A DICOMDIR, report or presentation state: not an image we can show.
            if explicit:
                errors.append((str(path), "DICOM file holds no image"))
            return
        pid = _s(ds.get("PatientID"))
        study_uid = _s(ds.get("StudyInstanceUID")) or f"nostudy:{path.parent}"
        series_uid = _s(ds.get("SeriesInstanceUID")) or f"noseries:{study_uid}"
        images = self._series(
            pid,
            _s(ds.get("PatientName")),
            (study_uid, _s(ds.get("StudyDescription")), _s(ds.get("StudyDate")), _s(ds.get("AccessionNumber"))),
            (series_uid, _s(ds.get("Modality")), _s(ds.get("SeriesDescription")), _i(ds.get("SeriesNumber"))),
        )
        frames = _i(ds.get("NumberOfFrames")) or 1
        images.append(ImageRef(path, _i(ds.get("InstanceNumber")), _s(ds.get("SOPInstanceUID")), "dicom", frames,
                               _s(ds.get("ViewPosition"))))

    def build(self) -> list[Patient]:
        patients = []
        for pid, p in self._patients.items():
            studies = []
            for st in p["studies"].values():
                uid, description, date, accession = st["info"]
                series = []
                for se in st["series"].values():
                    s_uid, modality, s_desc, number = se["info"]
                    images = sorted(se["images"], key=_image_key)
                    series.append(Series(s_uid, modality, s_desc, number, images))
                series.sort(key=lambda s: (s.number is None, s.number or 0, s.description or "", s.uid))
                studies.append(Study(uid, description, date, pid, series, accession))
            studies.sort(key=lambda s: (s.date or "", s.description or "", s.uid))
            patients.append(Patient(pid, p["name"], studies))
        patients.sort(key=lambda p: (p.id is None, p.id or ""))
        return patients


def _image_key(im: ImageRef) -> tuple:
    return (im.instance_number is None, im.instance_number or 0, im.path.name, str(im.path))


def _s(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _i(value: object) -> int | None:
    try:
        return int(float(str(value))) if value is not None and str(value).strip() else None
    except ValueError:
        return None
