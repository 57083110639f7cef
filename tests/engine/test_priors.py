"""Prior matching (DICOM PatientID + study date; NIH PATIENT_FOLLOWUP names) and the change table."""

from __future__ import annotations

from dataclasses import dataclass

from chestview.engine.priors import compare_findings, find_prior, nih_name, prior_label
from chestview.engine.results import Finding, ImageResult


@dataclass(frozen=True)
class F:
    path: str
    is_dicom: bool = False
    patient_id: str = ""
    study_date: str = ""
    study_uid: str = ""


def test_dicom_priors_by_patient_id_and_date():
    films = [F("a1.dcm", True, "P1", "20200101", "s1"), F("a2.dcm", True, "P1", "20210601", "s2"),
             F("a3.dcm", True, "P1", "20220301", "s3"), F("b1.dcm", True, "P2", "20190101", "s4"),
             F("a3b.dcm", True, "P1", "20220301", "s3"), F("nodate.dcm", True, "P1", "", "s5")]
    assert find_prior(films, "a3.dcm").path == "a2.dcm"
    assert find_prior(films, "a2.dcm").path == "a1.dcm"
    assert find_prior(films, "a1.dcm") is None
    assert find_prior(films, "b1.dcm") is None  # another patient's earlier film is not a prior
    assert find_prior(films, "nodate.dcm") is None
    assert prior_label(films[1]) == "2021-06-01"


def test_nih_priors_by_follow_up_number():
    films = [F("/d/00000013_000.png"), F("/d/00000013_004.png"), F("/d/00000013_010.png"),
             F("/d/00000014_001.png"), F("/d/photo.png")]
    assert nih_name("/d/00000013_004.png") == ("00000013", 4)
    assert nih_name("/d/photo.png") is None
    assert find_prior(films, "/d/00000013_010.png").path == "/d/00000013_004.png"
    assert find_prior(films, "/d/00000013_004.png").path == "/d/00000013_000.png"
    assert find_prior(films, "/d/00000013_000.png") is None
    assert find_prior(films, "/d/00000014_001.png") is None
    assert find_prior(films, "/d/photo.png") is None
    assert prior_label(films[1]) == "follow-up 4"


def test_change_table_at_the_operating_point():
    prior = ImageResult("p", findings=[Finding("Effusion", 0.3, 0.5, False), Finding("Mass", 0.7, 0.5, True),
                                       Finding("Nodule", 0.2, 0.5, False), Finding("Edema", 0.6, 0.5, True)])
    now = ImageResult("c", findings=[Finding("Effusion", 0.8, 0.5, True), Finding("Mass", 0.4, 0.5, False),
                                     Finding("Nodule", 0.21, 0.5, False), Finding("Edema", 0.9, 0.5, True)])
    changes = {c.label: c.status for c in compare_findings(prior, now)}
    assert changes == {"Effusion": "new", "Mass": "resolved", "Nodule": "unchanged", "Edema": "higher"}
    assert [c.status for c in compare_findings(prior, now)][:2] == ["new", "resolved"]
