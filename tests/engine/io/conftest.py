"""Fixtures for the io tests: paths to the real files and a factory for small synthetic DICOMs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

DICOM_DIR = Path(__file__).resolve().parents[2] / "data" / "dicom"
NIH_DIR = Path(__file__).resolve().parents[2] / "data" / "nih" / "images"

MakeDicom = Callable[..., Path]


def build_dataset(pixels: np.ndarray, **attrs: Any) -> Dataset:
    """A minimal valid CR chest image around ``pixels`` (2-D gray, 3-D RGB or (frames, H, W))."""
    pixels = np.ascontiguousarray(pixels)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "CR"
    ds.BodyPartExamined = "CHEST"
    ds.PatientID = "P1"
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = "1.2.3.4.1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    rgb = attrs.pop("rgb", False)
    if rgb:
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
        ds.Rows, ds.Columns = pixels.shape[:2]
    else:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = pixels.shape[-2:]
        if pixels.ndim == 3:
            ds.NumberOfFrames = pixels.shape[0]
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = attrs.pop("BitsStored", bits)
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelData = pixels.tobytes()
    for key, value in attrs.items():
        if value is None:
            if key in ds:
                delattr(ds, key)
        else:
            setattr(ds, key, value)
    return ds


@pytest.fixture
def build_ds() -> Callable[..., Dataset]:
    return build_dataset


@pytest.fixture
def make_dicom(tmp_path: Path) -> MakeDicom:
    """make_dicom(pixels, name="x.dcm", **attributes) -> path of a written DICOM file."""

    def make(pixels: np.ndarray, name: str = "image.dcm", **attrs: Any) -> Path:
        ds = build_dataset(pixels, **attrs)
        path = tmp_path / name
        ds.save_as(path, enforce_file_format=True)
        return path

    return make


@pytest.fixture(scope="session")
def rg1_uncompressed_full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full-size uncompressed MONOCHROME1 RG1 file, regenerated from the JPEG 2000 one."""
    ds = pydicom.dcmread(DICOM_DIR / "cr_mono1_rg1_jpeg2000.dcm")
    ds.decompress()
    path = tmp_path_factory.mktemp("rg1") / "cr_mono1_rg1_uncompressed.dcm"
    ds.save_as(path)
    return path
