"""Made-up non-radiographs for the gate's tests: photographs from scikit-image's samples, real CT
and MR slices from pydicom's test files (as DICOM and as header-less PNG), a drawn CT-like slice."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from chestview.engine.gate.kinds import as_uint8  # the engine's own conversion, not a copy


def _ct_like_slice(size: int = 256) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.zeros((size, size), np.float32)
    img[((xx - 0.5) / 0.4) ** 2 + ((yy - 0.53) / 0.3) ** 2 < 1] = 0.55  # body
    for cx in (0.33, 0.67):
        img[((xx - cx) / 0.14) ** 2 + ((yy - 0.49) / 0.2) ** 2 < 1] = 0.08  # lungs
    img[((xx - 0.5) / 0.05) ** 2 + ((yy - 0.72) / 0.05) ** 2 < 1] = 0.95  # vertebra
    img += np.random.default_rng(0).normal(0, 0.02, img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


# scikit-image's sample images that ship in its wheel (others are downloaded on first use: never here).
PHOTOS = ("astronaut", "brick", "camera", "cat", "cell", "checkerboard", "chelsea", "clock", "coffee", "coins",
          "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
          "microaneurysms", "moon", "page", "retina", "rocket", "shepp_logan_phantom", "text")


def _readable(path: Path) -> bool:
    """chestview opens it (some of pydicom's test files are deliberately broken: an error, not a gate case)."""
    from chestview.engine.errors import ChestviewError
    from chestview.engine.io.loader import load_image

    try:
        load_image(path)
    except ChestviewError:
        return False
    return True


@pytest.fixture(scope="session")
def non_radiographs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """57 images that are not chest radiographs: every photograph above (and a gray copy of each colour
    one), every CT and MR slice among pydicom's bundled test files (as DICOM and as header-less PNG),
    and a drawn CT-like slice. The README's gate numbers are this set."""
    import pydicom
    import pydicom.data
    import skimage.data

    out = tmp_path_factory.mktemp("non-radiographs")
    paths = []
    for name in PHOTOS:
        arr = as_uint8(getattr(skimage.data, name)())
        paths.append(out / f"{name}.png")
        Image.fromarray(arr).save(paths[-1])
        if arr.ndim == 3:  # a gray photograph is the gate's hard case: no colour check can catch it
            paths.append(out / f"{name}_gray.png")
            Image.fromarray(arr).convert("L").save(paths[-1])
    # The files in pydicom's wheel only (get_testdata_file would download the others).
    for src in sorted((Path(pydicom.data.__file__).parent / "test_files").rglob("*.dcm")):
        try:
            ds = pydicom.dcmread(src)
            if ds.get("Modality") not in ("CT", "MR") or "PixelData" not in ds:
                continue
            a = ds.pixel_array
        except Exception:  # a test file this pydicom cannot decode: not ours to judge
            continue
        if a.ndim != 2 or not _readable(src):
            continue
        shutil.copy(src, out / src.name)
        paths.append(out / src.name)
        png = out / f"{src.stem}_pixels.png"  # the same slice without its header
        Image.fromarray(as_uint8(a)).save(png)
        paths.append(png)
    p = out / "ct_like.png"
    Image.fromarray(_ct_like_slice()).save(p)
    paths.append(p)
    return paths
