"""The report line: positives with probabilities, the abnormality call, the input check, the model."""

from chestview.engine.report_line import report_line
from chestview.engine.results import Abnormality, Finding, ImageResult, InputCheck


def test_report_line_positives_call_check_and_disclaimer():
    r = ImageResult("x.png", findings=[Finding("Pleural_Thickening", 0.71, 0.5, True),
                                       Finding("Mass", 0.2, 0.5, False),
                                       Finding("Hernia", 0.9, 0.5, True, reliable=False)],
                    abnormality=Abnormality(0.88, 0.5, True), input_check=InputCheck(0.97, 0.03, False))
    line = report_line(r, "m1")
    assert line == ("AI (m1): Pleural Thickening 0.71; abnormal (0.88); input check ok (0.97). "
                    "Not for clinical use.")
    none = report_line(ImageResult("y.png", findings=[Finding("Mass", 0.2, 0.5, False)]), "m1")
    assert "no finding above its operating point" in none
    flagged = report_line(ImageResult("z.png", findings=[Finding("Mass", 0.9, 0.5, True)],
                                      input_check=InputCheck(0.01, 0.03, True, "Modality is CT")), "m1")
    assert "withheld" in flagged and "Mass" not in flagged and "Modality is CT" in flagged
    assert report_line(ImageResult("e.png", error="cannot read"), "m1").startswith("AI (m1): not read")
