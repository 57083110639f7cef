"""The images the gate's kind classifier learns from: chest films under other processing (positives)
and things that are not a frontal chest radiograph (negatives), written as files so that they travel
the same decode path as a user's images.

Positives are a hospital's other ways of making the same film: another gamma, brightness, window,
resolution, JPEG compression, histogram equalisation. Negatives are photographs (colour and turned
gray) from scikit-image's bundled samples, CT/MR/US/NM slices from pydicom's bundled test files, and
near-misses made from chest films: small crops, 90-degree rotations and inverted films (a negative).
Every generator is a pure function of its input array and a seeded generator.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

Array = np.ndarray
Variant = Callable[[Array, np.random.Generator], Array | bytes]

# scikit-image's sample images that ship in its wheel (others are downloaded on first use: never here).
PHOTOS = ("astronaut", "brick", "camera", "cat", "cell", "checkerboard", "chelsea", "clock", "coffee", "coins",
          "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
          "microaneurysms", "moon", "page", "retina", "rocket", "shepp_logan_phantom", "text")
SLICE_MODALITIES = ("CT", "MR", "US", "NM", "OT")


@dataclass(frozen=True)
class Example:
    path: Path
    chest: bool  # a frontal chest radiograph (however processed)
    kind: str  # the processing or the kind of non-radiograph
    source: str  # what it was made from (held-out examples come from other sources)


# -- positives: the same film, processed another way ------------------------------------------
def _curve(a: Array, f: Callable[[Array], Array]) -> Array:
    return np.clip(np.round(f(a.astype(np.float32) / 255.0) * 255.0), 0, 255).astype(np.uint8)


def _resize(a: Array, side: int) -> Array:
    h, w = a.shape[:2]
    s = side / max(h, w)
    return np.asarray(Image.fromarray(a).resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS))


def _jpeg(a: Array, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _window(a: Array, lo_pct: float, hi_pct: float) -> Array:
    lo, hi = np.percentile(a, [lo_pct, hi_pct])
    return _curve(a, lambda x: (x - lo / 255.0) / max((hi - lo) / 255.0, 1e-3))


def _equalise(a: Array) -> Array:
    from skimage.exposure import equalize_hist

    return (equalize_hist(a) * 255).astype(np.uint8)


def apply_curve(a: Array, gamma: float = 1.0, offset: float = 0.0, contrast: float = 1.0) -> Array:
    """A processing curve: ``((x ** gamma) - 0.5) * contrast + 0.5 + offset/255`` on 0-1 gray levels."""
    return _curve(a, lambda x: (x**gamma - 0.5) * contrast + 0.5 + offset / 255.0)


CHEST_VARIANTS: dict[str, Variant] = {
    "original": lambda a, r: a,
    "gamma0.7": lambda a, r: apply_curve(a, gamma=0.7),
    "gamma1.4": lambda a, r: apply_curve(a, gamma=1.4),
    "brighter20": lambda a, r: apply_curve(a, offset=20),
    "darker20": lambda a, r: apply_curve(a, offset=-20),
    "contrast0.7": lambda a, r: apply_curve(a, contrast=0.7),
    "window2-98": lambda a, r: _window(a, 2, 98),
    "window10-90": lambda a, r: _window(a, 10, 90),
    "equalised": lambda a, r: _equalise(a),
    "small256": lambda a, r: _resize(a, 256),
    "large1024": lambda a, r: _resize(a, 1024),
    "jpeg30": lambda a, r: _jpeg(a, 30),
    "jpeg70-gamma0.8": lambda a, r: _jpeg(apply_curve(a, gamma=0.8), 70),
    "sharpened": lambda a, r: _unsharp(a),
}


def _unsharp(a: Array) -> Array:
    from PIL import ImageFilter

    return np.asarray(Image.fromarray(a).filter(ImageFilter.UnsharpMask(radius=6, percent=120, threshold=2)))


# -- near-misses made from chest films ---------------------------------------------------------
def _crop(a: Array, r: np.random.Generator) -> Array:
    """A small window of the film (a third to 45% of each side): anatomy, but not a chest film."""
    h, w = a.shape[:2]
    f = r.uniform(0.3, 0.45)
    ch, cw = int(h * f), int(w * f)
    y, x = int(r.integers(0, h - ch + 1)), int(r.integers(0, w - cw + 1))
    return a[y : y + ch, x : x + cw]


NEAR_MISSES: dict[str, Variant] = {
    "crop": _crop,
    "rotated90": lambda a, r: np.ascontiguousarray(np.rot90(a, 1)),
    "rotated270": lambda a, r: np.ascontiguousarray(np.rot90(a, 3)),
    "inverted": lambda a, r: 255 - a,
}


# -- other images ------------------------------------------------------------------------------
def as_uint8(arr: Array) -> Array:
    """A photograph or a slice as 8-bit (min-max stretched when it is not 8-bit already)."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.dtype == np.uint8:
        return arr
    arr = arr.astype(np.float32)
    return ((arr - arr.min()) / max(float(np.ptp(arr)), 1e-6) * 255).astype(np.uint8)


def to_gray(arr: Array) -> Array:
    return np.asarray(Image.fromarray(arr).convert("L")) if arr.ndim == 3 else arr


def photographs() -> Iterator[tuple[str, Array]]:
    import skimage.data

    for name in PHOTOS:
        yield name, as_uint8(getattr(skimage.data, name)())


def slices() -> Iterator[tuple[str, str, Array]]:
    """(name, modality, 8-bit pixels) of every single-frame image among pydicom's bundled test files
    that is not a radiograph (files pydicom cannot decode here are skipped)."""
    import pydicom
    import pydicom.data

    seen: set[str] = set()  # pydicom ships one slice in many encodings: each picture once
    quiet = logging.getLogger("pydicom")
    level = quiet.level
    for src in sorted((Path(pydicom.data.__file__).parent / "test_files").rglob("*.dcm")):
        try:
            # The test files are odd on purpose (and some need codecs not installed): their warnings
            # and decoder errors are noise here.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quiet.setLevel(logging.CRITICAL + 1)
                try:
                    ds = pydicom.dcmread(src)
                    a = ds.pixel_array
                finally:
                    quiet.setLevel(level)
            modality = str(ds.get("Modality", ""))
            if modality not in SLICE_MODALITIES:
                continue
            if ds.get("PhotometricInterpretation", "").startswith("YBR"):
                from pydicom.pixels import convert_color_space

                a = convert_color_space(a, ds.PhotometricInterpretation, "RGB")
        except Exception:  # a deliberately broken test file, or a codec not installed: not an example
            continue
        if a.ndim == 4 or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
            a = a[0]  # the first frame
        if a.ndim not in (2, 3) or min(a.shape[:2]) < 32:
            continue
        a = as_uint8(a)
        digest = hashlib.sha256(np.ascontiguousarray(to_gray(a)).tobytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            yield src.stem, modality, a


def _augment(a: Array, r: np.random.Generator) -> Array:
    """A random crop (60-90% of each side), maybe mirrored: another view of the same picture."""
    h, w = a.shape[:2]
    f = r.uniform(0.6, 0.9)
    ch, cw = max(8, int(h * f)), max(8, int(w * f))
    y, x = int(r.integers(0, h - ch + 1)), int(r.integers(0, w - cw + 1))
    out = a[y : y + ch, x : x + cw]
    return np.ascontiguousarray(out[:, ::-1]) if r.random() < 0.5 else out


def held_out(source: str, fraction: float) -> bool:
    """Whether ``source`` belongs to the held-out part: a stable hash of its name, so every example
    made from one source lands on the same side."""
    return (zlib.crc32(source.encode()) % 1000) / 1000.0 < fraction


def _write(out: Path, name: str, img: Array | bytes) -> Path:
    if isinstance(img, bytes):
        path = out / f"{name}.jpg"
        path.write_bytes(img)
    else:
        path = out / f"{name}.png"
        Image.fromarray(img).save(path)
    return path


def _read_gray(path: str | Path) -> Array:
    return np.asarray(Image.open(path).convert("L"))


def chest_examples(films: list[str], out: Path, *, seed: int = 0, variants: dict[str, Variant] | None = None,
                   near_miss_every: int = 1) -> list[Example]:
    """Every processing variant of each film (positives), and one near-miss of every
    ``near_miss_every``-th film (negatives, cycling through the kinds)."""
    out.mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(seed)
    variants = CHEST_VARIANTS if variants is None else variants
    misses = list(NEAR_MISSES.items())
    examples: list[Example] = []
    for i, film in enumerate(films):
        a = _read_gray(film)
        stem = Path(film).stem
        for kind, f in variants.items():
            examples.append(Example(_write(out, f"{stem}_{kind}", f(a, r)), True, kind, stem))
        if i % near_miss_every == 0:
            kind, f = misses[(i // near_miss_every) % len(misses)]
            examples.append(Example(_write(out, f"{stem}_{kind}", f(a, r)), False, kind, stem))
    return examples


def other_examples(out: Path, *, seed: int = 0, copies: int = 3) -> list[Example]:
    """Photographs (colour, turned gray, and ``copies`` cropped views of each in gray) and slices
    (as 8-bit PNG, and ``copies`` cropped views): every one a negative."""
    out.mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(seed)
    examples: list[Example] = []
    for name, a in photographs():
        if a.ndim == 3:
            examples.append(Example(_write(out, f"photo_{name}", a), False, "photo", name))
        g = to_gray(a)
        examples.append(Example(_write(out, f"photo_{name}_gray", g), False, "photo (gray)", name))
        for k in range(copies):
            examples.append(Example(_write(out, f"photo_{name}_gray{k}", _augment(g, r)), False, "photo (gray)", name))
    for name, modality, a in slices():
        g = to_gray(a)
        examples.append(Example(_write(out, f"slice_{name}", g), False, modality, name))
        for k in range(copies):
            examples.append(Example(_write(out, f"slice_{name}_{k}", _augment(g, r)), False, modality, name))
    return examples
