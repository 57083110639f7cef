"""How the files in tests/data were made from ../shared/data (run once by hand; tests never run it).

    python tests/data/derive_from_shared.py

DICOM files small enough are copied unchanged. Large uncompressed ones are reduced by averaging
4x4 blocks, every header kept (only Rows/Columns and the pixel data change), so the tests stay small
while the pixels stay real.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pydicom

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data"

COPY_DICOM = ["cr_mono1_rg1_jpeg2000.dcm", "cr_siim_jpeg_baseline.dcm", "dx_nih_google_uncompressed.dcm"]
SHRINK_DICOM = {
    "cr_mono1_rg1_uncompressed.dcm": "cr_mono1_rg1_uncompressed_quarter.dcm",
    **{f"sc_nih_udacity_test{i}.dcm": f"sc_nih_udacity_test{i}_quarter.dcm" for i in range(1, 7)},
}
# 512 px NIH images: two of one patient, a No Finding, a Hernia, and boxed findings (one to three boxes).
NIH_IMAGES = [
    "00000001_000.png",
    "00000001_002.png",
    "00000002_000.png",
    "00000003_000.png",
    "00000032_037.png",
    "00000072_000.png",
    "00000661_000.png",
    "00000830_000.png",
    "00001075_024.png",
    "00002106_000.png",
    "00002395_007.png",
    "00005140_001.png",
    "00008814_010.png",
]


def shrink_dicom(src: Path, dst: Path, factor: int = 4) -> None:
    ds = pydicom.dcmread(src)
    arr = ds.pixel_array
    h, w = (arr.shape[0] // factor) * factor, (arr.shape[1] // factor) * factor
    blocks = arr[:h, :w].reshape(h // factor, factor, w // factor, factor).astype(np.float64)
    small = np.rint(blocks.mean(axis=(1, 3))).astype(arr.dtype)
    ds.Rows, ds.Columns = small.shape
    ds.PixelData = small.tobytes()
    ds.save_as(dst, enforce_file_format=False)


def main() -> None:
    out = HERE / "dicom"
    out.mkdir(exist_ok=True)
    for name in COPY_DICOM:
        shutil.copyfile(SHARED / "dicom" / name, out / name)
    for src, dst in SHRINK_DICOM.items():
        shrink_dicom(SHARED / "dicom" / src, out / dst)

    nih = HERE / "nih"
    (nih / "images").mkdir(parents=True, exist_ok=True)
    for name in NIH_IMAGES:
        shutil.copyfile(SHARED / "nih" / "images" / name, nih / "images" / name)
    wanted = set(NIH_IMAGES)
    for table in ("Data_Entry_2017_v2020.csv", "BBox_List_2017.csv"):
        with open(SHARED / "nih" / table, newline="") as fh:
            lines = fh.read().splitlines(keepends=True)
        kept = [lines[0]] + [ln for ln in lines[1:] if next(csv.reader([ln]))[0] in wanted]
        (nih / table).write_text("".join(kept), newline="")


if __name__ == "__main__":
    main()
