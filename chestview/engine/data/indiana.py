"""Indiana University chest X-rays: the Chest ALSTM-MLC pickles ``{image name: [tag, ...]}`` and
the Open-i report XML (MeSH terms as tags, ``parentImage`` ids as image files)."""

from __future__ import annotations

import io
import logging
import pickle
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from chestview.engine.data.files import index_images
from chestview.engine.data.types import LabeledDataset, Sample
from chestview.engine.errors import DatasetError

log = logging.getLogger(__name__)

_SAFE_BUILTINS = frozenset({"dict", "list", "str", "tuple", "set", "frozenset"})
_SPLIT_PATTERNS = {"train": ("*train*.pkl", "*train*.pickle"),
                   "val": ("*val*.pkl", "*val*.pickle", "*dev*.pkl"),
                   "test": ("*test*.pkl", "*test*.pickle")}
_PATIENT_RE = re.compile(r"^(CXR\d+)_", re.IGNORECASE)
_IMAGE_EXTS = ("", ".png", ".jpg", ".jpeg", ".dcm")


class _RestrictedUnpickler(pickle.Unpickler):
    """Loading a pickle runs code: only plain containers of strings may be rebuilt."""

    def __init__(self, data: bytes, path: Path) -> None:
        super().__init__(io.BytesIO(data))
        self._path = path

    def find_class(self, module: str, name: str):  # noqa: ANN201 (pickle API)
        if module == "builtins" and name in _SAFE_BUILTINS:
            return getattr(__import__("builtins"), name)
        raise DatasetError(f"{self._path}: refused to load {module}.{name} from the pickle (only dict/list/str/tuple/set are allowed)")


def load_tag_pickle(path: str | Path) -> dict[str, list[str]]:
    """Read ``{image name: [tag, ...]}`` safely; anything else is a DatasetError naming the file."""
    path = Path(path)
    try:
        obj = _RestrictedUnpickler(path.read_bytes(), path).load()
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001  # any unpickling failure is a malformed file
        raise DatasetError(f"{path}: not a readable tag pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, Mapping):
        raise DatasetError(f"{path}: expected a dict of image name -> tags, got {type(obj).__name__}")
    out: dict[str, list[str]] = {}
    for name, tags in obj.items():
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(name, str) or not isinstance(tags, (list, tuple, set, frozenset)) or \
                not all(isinstance(t, str) for t in tags):
            raise DatasetError(f"{path}: entry {name!r} is not image name -> list of tag strings")
        out[name] = sorted({t.strip() for t in tags if t.strip()}) if isinstance(tags, (set, frozenset)) \
            else list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    return out


def _label_order(tag_lists: Sequence[Sequence[str]], min_count: int) -> tuple[str, ...]:
    counts = Counter(t for tags in tag_lists for t in tags)
    # most frequent first, ties by name: deterministic whatever the dict order
    return tuple(t for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count)


def _find_image(name: str, index: Mapping[str, Path]) -> Path | None:
    base = Path(name).name
    for ext in _IMAGE_EXTS:
        if base + ext in index:
            return index[base + ext]
    stem = Path(base).stem  # pickles may name "x.png" while the folder holds "x.jpg"
    return next((index[stem + ext] for ext in _IMAGE_EXTS[1:] if stem + ext in index), None)


def _build(name: str, root: Path, entries: list[tuple[str, list[str], str | None, str | None]],
           index: Mapping[str, Path], min_count: int, labels: Sequence[str] | None) -> LabeledDataset:
    """entries: (image name, tags, split or None, patient id or None)."""
    found = [(e, _find_image(e[0], index)) for e in entries]
    missing = sum(p is None for _, p in found)
    found = [(e, p) for e, p in found if p is not None]
    # label set from the images actually present, so it does not depend on absent files
    label_names = tuple(labels) if labels else _label_order([e[1] for e, _ in found], min_count)
    pos = {t: i for i, t in enumerate(label_names)}
    samples: list[Sample] = []
    splits: dict[str, list[int]] = {}
    for (image_name, tags, split, pid), path in found:
        targets = np.zeros(len(label_names), np.float32)  # report tags are complete: absent = negative
        for t in tags:
            if t in pos:
                targets[pos[t]] = 1.0
        if pid is None:
            m = _PATIENT_RE.match(Path(image_name).name)
            pid = m.group(1).upper() if m else None
        if split is not None:
            splits.setdefault(split, []).append(len(samples))
        samples.append(Sample(str(path), targets, pid))
    if not samples:
        raise DatasetError(f"{root}: none of the {len(entries)} listed images was found")
    if missing:
        log.info("%s: %d of %d listed images are missing and were skipped", root, missing, len(entries))
    return LabeledDataset(name=name, labels=label_names, samples=samples, official_splits=splits or None,
                          root=root, missing_images=missing)


def _image_root(root: Path, images: str | Path | None) -> Path:
    if images is None:
        return root
    p = Path(images)
    p = p if p.is_absolute() else root / p
    if not p.is_dir():
        raise DatasetError(f"{p}: image folder not found")
    return p


def read_indiana(root: str | Path, *, images: str | Path | None = None, min_count: int = 1,
                 labels: Sequence[str] | None = None) -> LabeledDataset:
    """Read ``*train*.pkl`` / ``*val*.pkl`` / ``*test*.pkl`` under ``root`` (the pickles' split
    becomes the official split); images are searched recursively under ``images`` (default root)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    entries: list[tuple[str, list[str], str | None, str | None]] = []
    used: set[Path] = set()
    for split, patterns in _SPLIT_PATTERNS.items():
        files = sorted({f for pat in patterns for f in root.glob(pat)} - used)
        for f in files:
            used.add(f)
            entries.extend((n, tags, split, None) for n, tags in sorted(load_tag_pickle(f).items()))
    if not entries:
        raise DatasetError(f"{root}: no *train*.pkl, *val*.pkl or *test*.pkl tag pickles found")
    index = index_images(_image_root(root, images))
    return _build(f"indiana:{root}", root, entries, index, min_count, labels)


def _mesh_tag(term: str, full_terms: bool) -> str:
    term = " ".join(term.split())
    if not full_terms:
        term = term.split("/")[0].strip()  # "Opacity/lung/base/left" -> "Opacity"
    return term[:1].upper() + term[1:]


def parse_openi_report(path: str | Path, *, full_terms: bool = False) -> tuple[str | None, list[str], list[str]]:
    """(report id, tags from MeSH major + automatic terms, parentImage ids) of one Open-i XML."""
    path = Path(path)
    try:
        tree = ET.parse(path)
    except (ET.ParseError, OSError) as exc:
        raise DatasetError(f"{path}: not a readable Open-i report XML ({exc})") from exc
    root = tree.getroot()
    uid = root.find("uId")
    report_id = uid.get("id") if uid is not None else None
    tags: list[str] = []
    for el in root.findall("MeSH/major") + root.findall("MeSH/automatic"):
        if el.text and el.text.strip():
            tags.append(_mesh_tag(el.text, full_terms))
    images = [el.get("id", "") for el in root.findall("parentImage") if el.get("id")]
    return report_id, list(dict.fromkeys(tags)), images


def read_openi(root: str | Path, *, images: str | Path | None = None, min_count: int = 1,
               full_terms: bool = False, labels: Sequence[str] | None = None) -> LabeledDataset:
    """Read every report XML under ``root``; each parentImage becomes a sample with its report's
    tags. The report id (``uId``, e.g. CXR1) is the patient id, so splits never part a study."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    xml_files = sorted(root.rglob("*.xml"))
    if not xml_files:
        raise DatasetError(f"{root}: no Open-i report XML files found")
    entries: list[tuple[str, list[str], str | None, str | None]] = []
    for f in xml_files:
        report_id, tags, image_ids = parse_openi_report(f, full_terms=full_terms)
        entries.extend((img, tags, None, report_id) for img in image_ids)
    if not entries:
        raise DatasetError(f"{root}: the report XML files list no parentImage")
    index = index_images(_image_root(root, images))
    return _build(f"openi:{root}", root, entries, index, min_count, labels)
