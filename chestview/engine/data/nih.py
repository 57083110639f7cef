"""NIH ChestX-ray14 in its own release format: ``Data_Entry_2017*.csv``, images in one folder or
NIH's ``images_001/images/...`` layout, optional ``train_val_list.txt`` / ``test_list.txt`` and
``BBox_List_2017.csv`` (coordinates in the 1024x1024 space of the release)."""

from __future__ import annotations

import csv
import gzip
import io
import logging
from pathlib import Path
from typing import TextIO

import numpy as np

from chestview.engine.data.files import image_size, index_images
from chestview.engine.data.types import NIH_LABELS, LabeledDataset, Sample
from chestview.engine.errors import DatasetError
from chestview.engine.results import Box

log = logging.getLogger(__name__)

RELEASE_SIZE = 1024.0  # the box list's coordinate space
_BOX_LABEL_ALIASES = {"Infiltrate": "Infiltration"}


def _open_text(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _find_one(folder: Path, patterns: tuple[str, ...]) -> Path | None:
    for pattern in patterns:
        found = sorted(folder.glob(pattern))
        if found:
            return found[-1]  # Data_Entry_2017_v2020.csv sorts after Data_Entry_2017.csv
    return None


def _pick_image_root(root: Path, images: str | Path | None) -> Path:
    if images is not None:
        chosen = Path(images)
        chosen = chosen if chosen.is_absolute() else root / chosen
        if not chosen.is_dir():
            raise DatasetError(f"{chosen}: image folder not found")
        return chosen
    if (root / "images").is_dir():
        return root / "images"
    return root  # NIH layout images_001/images/...: the index walks all of it


def _read_entries(csv_path: Path) -> list[dict[str, str]]:
    required = ("Image Index", "Finding Labels")
    rows: list[dict[str, str]] = []
    try:
        with _open_text(csv_path) as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not set(required) <= set(reader.fieldnames):
                raise DatasetError(f"{csv_path}: not an NIH Data_Entry file (needs 'Image Index' and 'Finding Labels')")
            for row in reader:
                if not any((v or "").strip() for k, v in row.items() if k is not None):
                    continue  # a blank line
                if any(row.get(k) is None for k in required):
                    # DictReader fills the fields of a short row with None
                    raise DatasetError(
                        f"{csv_path}: line {reader.line_num}: the row has too few fields "
                        f"(no {', '.join(repr(k) for k in required if row.get(k) is None)})"
                    )
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{csv_path}: cannot read the NIH label file ({exc})") from exc
    if not rows:
        raise DatasetError(f"{csv_path}: the NIH Data_Entry file lists no images")
    return rows


def read_boxes(path: Path) -> dict[str, list[tuple[str, float, float, float, float]]]:
    """An NIH ``BBox_List_2017.csv``: image name -> (label, x, y, w, h) in the release's 1024 px space."""
    out: dict[str, list[tuple[str, float, float, float, float]]] = {}
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            next(reader, None)  # header "Image Index,Finding Label,Bbox [x,y,w,h],,,"
            for line_no, row in enumerate(reader, start=2):
                if not row or not row[0].strip():
                    continue
                try:
                    x, y, w, h = (float(v) for v in row[2:6])
                except (ValueError, IndexError) as exc:
                    raise DatasetError(f"{path}: line {line_no}: bad box ({exc})") from exc
                label = _BOX_LABEL_ALIASES.get(row[1].strip(), row[1].strip())
                out.setdefault(row[0].strip(), []).append((label, x, y, w, h))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read the NIH box list ({exc})") from exc
    return out


def _read_collections(path: Path) -> dict[str, str]:
    """Image name -> group "c<collection>" from ``collections.csv`` (absent file: no groups)."""
    if not path.is_file():
        return {}
    try:
        with _open_text(path) as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"Image Index", "collection"} <= set(reader.fieldnames):
                raise DatasetError(f"{path}: needs the columns 'Image Index' and 'collection'")
            return {row["Image Index"].strip(): f"c{row['collection'].strip()}" for row in reader
                    if (row.get("Image Index") or "").strip() and (row.get("collection") or "").strip()}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read the collection list ({exc})") from exc


def _read_list(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def read_nih(spec_path: str | Path, *, images: str | Path | None = None, with_boxes: bool = True,
             first_collection: int | str | None = None) -> LabeledDataset:
    """Read an NIH ChestX-ray14 folder (or its Data_Entry CSV). ``images``: the image folder,
    relative to the CSV's folder or absolute (default: ``images/`` if present, else search the
    whole folder recursively). Rows whose image is absent are skipped and counted.

    ``first_collection`` N: the CSV's first N rows are one collection (group "first") and the rest
    another ("second") -- a folder assembled from two selections with different label mixes.
    Without it, a ``collections.csv`` beside the label file (``Image Index,collection``) names each
    image's collection (group "c1", "c2", ...). Splits are stratified on the group and reports
    measure each."""
    try:
        n_first = None if first_collection in (None, "") else int(first_collection)
    except (TypeError, ValueError):
        raise DatasetError(f"first_collection must be a row count, not {first_collection!r}") from None
    spec_path = Path(spec_path)
    if spec_path.is_file():
        csv_path, root = spec_path, spec_path.parent
    elif spec_path.is_dir():
        root = spec_path
        found = _find_one(root, ("Data_Entry_2017*.csv", "Data_Entry_2017*.csv.gz"))
        if found is None:
            raise DatasetError(f"{root}: no Data_Entry_2017*.csv in this folder")
        csv_path = found
    else:
        raise DatasetError(f"{spec_path}: no such file or folder")

    rows = _read_entries(csv_path)
    collections = _read_collections(root / "collections.csv") if n_first is None else {}
    index = index_images(_pick_image_root(root, images))
    label_pos = {lab: i for i, lab in enumerate(NIH_LABELS)}
    box_file = _find_one(root, ("BBox_List_2017.csv", "BBox_List_2017.csv.gz")) if with_boxes else None
    boxes = read_boxes(box_file) if box_file else {}

    samples: list[Sample] = []
    name_to_index: dict[str, int] = {}
    missing = 0
    unknown_labels: set[str] = set()
    for row_number, row in enumerate(rows):
        name = row["Image Index"].strip()
        path = index.get(name)
        if path is None:
            missing += 1
            continue
        targets = np.zeros(len(NIH_LABELS), np.float32)  # NIH labels are complete: absent = negative
        for lab in row["Finding Labels"].split("|"):
            lab = lab.strip()
            if lab in ("No Finding", ""):
                continue
            if lab in label_pos:
                targets[label_pos[lab]] = 1.0
            else:
                unknown_labels.add(lab)
        size: tuple[int, int] | None = None
        sample_boxes: list[tuple[str, Box]] = []
        if name in boxes:
            size = image_size(path)
            sx, sy = size[0] / RELEASE_SIZE, size[1] / RELEASE_SIZE
            for lab, x, y, w, h in boxes[name]:
                if lab not in label_pos:
                    unknown_labels.add(lab)
                    continue
                sample_boxes.append((lab, Box(x * sx, y * sy, w * sx, h * sy)))
        pid = (row.get("Patient ID") or "").strip() or None
        name_to_index[name] = len(samples)
        if n_first is not None:
            group: str | None = "first" if row_number < n_first else "second"
        else:
            group = collections.get(name)
        samples.append(Sample(str(path), targets, pid, tuple(sample_boxes), size, group))

    if unknown_labels:
        log.warning("%s: labels outside the 14 NIH labels ignored: %s", csv_path, sorted(unknown_labels))
    if not samples:
        raise DatasetError(f"{csv_path}: none of the {len(rows)} images listed was found under {root}")
    if missing:
        log.info("%s: %d of %d listed images are missing and were skipped", csv_path, missing, len(rows))

    official: dict[str, list[int]] | None = None
    tv, te = root / "train_val_list.txt", root / "test_list.txt"
    if tv.is_file() and te.is_file():
        official = {
            "train_val": [name_to_index[n] for n in _read_list(tv) if n in name_to_index],
            "test": [name_to_index[n] for n in _read_list(te) if n in name_to_index],
        }
    return LabeledDataset(
        name=f"nih:{root}", labels=NIH_LABELS, samples=samples, official_splits=official, root=root,
        missing_images=missing,
        meta={"csv": str(csv_path), "rows": len(rows), "box_file": str(box_file) if box_file else None},
    )
