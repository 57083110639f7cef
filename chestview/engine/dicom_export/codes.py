"""Coded concepts of chestview's DICOM objects.

Standard codes (SNOMED CT "SCT", DICOM "DCM", UCUM) where PS3.16 or SNOMED CT has one for the label;
the rest use chestview's private coding scheme, declared in each object's Coding Scheme
Identification, rather than a guessed standard code: a wrong code is worse than a local one.
"""

from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset

PRIVATE_SCHEME = "99CHESTVIEW"
PRIVATE_SCHEME_NAME = "chestview local codes"

# The NIH ChestX-ray14 labels (and common spellings of other datasets' labels).
_LABEL_CODES: dict[str, tuple[str, str, str]] = {
    "atelectasis": ("46621007", "SCT", "Atelectasis"),
    "cardiomegaly": ("287272002", "SCT", "Cardiomegaly"),
    "effusion": ("60046008", "SCT", "Pleural effusion"),
    "pleural effusion": ("60046008", "SCT", "Pleural effusion"),
    "infiltration": ("112121", "DCM", "Infiltrate"),
    "mass": ("4147007", "SCT", "Mass"),
    "nodule": ("27925004", "SCT", "Nodule"),
    "pneumonia": ("233604007", "SCT", "Pneumonia"),
    "pneumothorax": ("36118008", "SCT", "Pneumothorax"),
    "consolidation": ("95436008", "SCT", "Lung consolidation"),
    "edema": ("19242006", "SCT", "Pulmonary edema"),
    "emphysema": ("87433001", "SCT", "Pulmonary emphysema"),
    "fibrosis": ("112674009", "SCT", "Fibrosis"),
}

PRESENT = CodedConcept("52101004", "SCT", "Present")
ABSENT = CodedConcept("272519000", "SCT", "Absent")
PROBABILITY = CodedConcept("122157", "DCM", "Probability")
SCORE = CodedConcept("246262008", "SCT", "Score")
NO_UNITS = CodedConcept("1", "UCUM", "no units")
ABNORMAL = CodedConcept("263654008", "SCT", "Abnormal")
PLAIN_RADIOGRAPHY = CodedConcept("168537006", "SCT", "Plain radiography")
THRESHOLD = CodedConcept("THRESHOLD", PRIVATE_SCHEME, "Decision threshold")
INPUT_CHECK = CodedConcept("INPUTCHECK", PRIVATE_SCHEME, "Input looks like a frontal chest radiograph")
INPUT_FLAGGED = CodedConcept("INPUTFLAGGED", PRIVATE_SCHEME, "Input flagged as not a frontal chest radiograph")
DIFFUSE = CodedConcept("DIFFUSE", PRIVATE_SCHEME, "Diffuse: no focal region, so no box")
DISCORDANT = CodedConcept("DISCORDANT", PRIVATE_SCHEME, "Finding positive on a film called normal")
LENGTH = CodedConcept("410668003", "SCT", "Length")
ANGLE = CodedConcept("1483009", "SCT", "Angle")
MILLIMETRE = CodedConcept("mm", "UCUM", "millimeter")
PIXELS = CodedConcept("{pixels}", "UCUM", "pixels")  # a UCUM annotation (dimensionless): no pixel spacing known
DEGREE = CodedConcept("deg", "UCUM", "degree")
CARDIAC_DIAMETER = CodedConcept("CARDIACDIAM", PRIVATE_SCHEME, "Cardiac diameter (widest, horizontal)")
THORACIC_DIAMETER = CodedConcept("THORACICDIAM", PRIVATE_SCHEME, "Thoracic diameter (widest inner, horizontal)")
CARDIOTHORACIC_RATIO = CodedConcept("CTR", PRIVATE_SCHEME, "Cardiothoracic ratio")
READER_NOTE = CodedConcept("READERNOTE", PRIVATE_SCHEME, "Reader's text note on the image")
UNRELIABLE = CodedConcept("UNRELIABLE", PRIVATE_SCHEME, "Too few training positives for a meaningful probability")


def label_code(label: str) -> CodedConcept:
    """The finding code of a model label: standard where known, else private with the label as value."""
    known = _LABEL_CODES.get(label.replace("_", " ").strip().lower())
    if known:
        return CodedConcept(*known)
    return CodedConcept(_private_value(label), PRIVATE_SCHEME, label.replace("_", " "))


def _private_value(label: str) -> str:
    # Code Value is SH (16 characters); keep it readable and unique enough for a model's labels.
    value = "".join(c for c in label.upper() if c.isalnum())[:16]
    return value or "FINDING"


def coding_scheme_identification() -> list[Dataset]:
    """The Coding Scheme Identification item that declares the private scheme."""
    item = Dataset()
    item.CodingSchemeDesignator = PRIVATE_SCHEME
    item.CodingSchemeName = PRIVATE_SCHEME_NAME
    item.CodingSchemeResponsibleOrganization = "chestview"
    return [item]
