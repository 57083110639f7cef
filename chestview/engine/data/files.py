"""Finding image files and reading cheap facts about them (size from the header only)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from chestview.engine.errors import DatasetError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".tif", ".tiff", ".bmp")


def index_images(root: Path, suffixes: Iterable[str] = IMAGE_SUFFIXES) -> dict[str, Path]:
    """Map file name -> path for every image below ``root`` (one walk, sorted for determinism).

    The NIH release splits its images over ``images_001/images`` ... ``images_012/images``; a name
    seen twice keeps the first path found and is logged once in a summary."""
    wanted = tuple(s.lower() for s in suffixes)
    index: dict[str, Path] = {}
    duplicates = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(wanted):
                if name in index:
                    duplicates += 1
                    continue
                index[name] = Path(dirpath) / name
    if duplicates:
        log.warning("%s: %d image names found more than once; the first path found is used", root, duplicates)
    return index


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) read from the file header (PIL opens lazily, no pixel decode)."""
    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read the image size ({exc})") from exc


def resolve_relative(name: str, bases: Iterable[Path]) -> Path | None:
    """First existing ``base/name`` among ``bases``; also tries the name without its first
    component (CheXpert paths start with the dataset folder's own name)."""
    rel = Path(name)
    if rel.is_absolute():
        return rel if rel.exists() else None
    candidates: list[Path] = []
    for base in bases:
        candidates.append(base / rel)
        if len(rel.parts) > 1:
            candidates.append(base / Path(*rel.parts[1:]))
    return next((c for c in candidates if c.exists()), None)
