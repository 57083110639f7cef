"""Made-up non-radiographs for the gate's tests: photographs from scikit-image's samples, real CT
and MR slices from pydicom's test files (as DICOM and as header-less PNG), a drawn CT-like slice."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _ct_like_slice(size: int = 256) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.zeros((size, size), np.float32)
    img[((xx - 0.5) / 0.4) ** 2 + ((yy - 0.53) / 0.3) ** 2 < 1] = 0.55  # body
    for cx in (0.33, 0.67):
        img[((xx - cx) / 0.14) ** 2 + ((yy - 0.49) / 0.2) ** 2 < 1] = 0.08  # lungs
    img[((xx - 0.5) / 0.05) ** 2 + ((yy - 0.72) / 0.05) ** 2 < 1] = 0.95  # vertebra
    img += np.random.default_rng(0).normal(0, 0.02, img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="session")
def non_radiographs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    import pydicom
    import pydicom.data
    import skimage.data

    out = tmp_path_factory.mktemp("non-radiographs")
    paths = []
    for name in ("camera", "chelsea", "coins", "moon", "astronaut", "page"):
        arr = getattr(skimage.data, name)()
        p = out / f"{name}.png"
        Image.fromarray(arr).save(p)
        paths.append(p)
    for name in ("CT_small.dcm", "MR_small.dcm"):
        src = Path(pydicom.data.get_testdata_file(name))
        shutil.copy(src, out / name)
        paths.append(out / name)
        a = pydicom.dcmread(src).pixel_array.astype(np.float32)
        a = (a - a.min()) / max(float(np.ptp(a)), 1e-6) * 255
        png = out / f"{src.stem}_pixels.png"  # the same slice without its header
        Image.fromarray(a.astype(np.uint8)).resize((256, 256)).save(png)
        paths.append(png)
    p = out / "ct_like.png"
    Image.fromarray(_ct_like_slice()).save(p)
    paths.append(p)
    return paths
