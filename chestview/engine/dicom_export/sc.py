"""A Secondary Capture of the annotated image: heatmap, boxes and labels burned into the pixels.

Marked as what it is: DERIVED/SECONDARY, Burned In Annotation YES, "not for clinical use" in the
pixels (the render's footer) and in Image Comments, referencing the source image it was made from.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from chestview.engine.dicom_export.source import Algorithm
from chestview.engine.render import NOT_FOR_CLINICAL_USE

SC_SERIES_DESCRIPTION = "chestview AI annotated image (not for clinical use)"


def build_sc(
    source: Dataset,
    rgb: np.ndarray,
    algorithm: Algorithm,
    *,
    series_uid: str,
    series_number: int,
    instance_number: int,
) -> hd.sc.SCImage:
    """``rgb``: (rows, columns, 3) uint8, the annotated render in the source's pixel space."""
    sc = hd.sc.SCImage(
        pixel_array=np.ascontiguousarray(rgb, dtype=np.uint8),
        photometric_interpretation="RGB",
        bits_allocated=8,
        coordinate_system="PATIENT",
        study_instance_uid=source.StudyInstanceUID,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=instance_number,
        manufacturer="chestview",
        patient_id=source.PatientID,
        patient_name=source.PatientName,
        patient_birth_date=source.PatientBirthDate,
        patient_sex=source.PatientSex,
        accession_number=source.AccessionNumber,
        study_id=source.StudyID,
        study_date=source.StudyDate,
        study_time=source.StudyTime,
        referring_physician_name=source.ReferringPhysicianName,
        # Required by highdicom for the PATIENT frame; replaced below by the source's own value.
        patient_orientation=("L", "F"),
    )
    sc.copy_patient_and_study_information(source)
    # Type 2C: the source's orientation, or empty when the source does not say.
    sc.PatientOrientation = source.get("PatientOrientation", "")
    sc.SeriesDescription = SC_SERIES_DESCRIPTION
    sc.Laterality = source.get("Laterality", "")  # Type 2C in General Series: the source's, or empty
    sc.ConversionType = "WSD"  # made on a workstation, not digitised
    sc.BurnedInAnnotation = "YES"
    sc.ImageComments = f"{NOT_FOR_CLINICAL_USE}: chestview {algorithm.model_id} findings burned in"
    sc.DerivationDescription = f"annotated by chestview ({algorithm.software_version}, model {algorithm.model_id})"[:1024]
    sc.ManufacturerModelName = algorithm.model_id[:64]
    sc.SoftwareVersions = algorithm.software_version
    if str(source.get("LossyImageCompression", "")).strip() == "01":
        sc.LossyImageCompression = "01"  # a derived image of a lossy source stays marked lossy
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    sc.SourceImageSequence = [item]
    return sc
