"""The reader's measurements in the DICOM objects: the presentation state draws each line and writes
each value on a layer of its own, the SR measures them (mm where the source has a pixel spacing, pixels
where not), dciodvfy finds no errors; by default the film's stored annotations are exported."""

from __future__ import annotations

import subprocess

import pydicom
import pytest

from chestview.engine.annotations import Annotation, AnnotationStore
from chestview.engine.dicom_export import DicomExporter
from chestview.engine.result_cache import file_sha256

from .conftest import require_tool

pytestmark = pytest.mark.filterwarnings("ignore:.*person name:UserWarning")

MEASUREMENTS = (
    Annotation("ruler", ((100.0, 100.0), (400.0, 500.0))),  # 500 px
    Annotation("angle", ((200.0, 200.0), (300.0, 200.0), (200.0, 200.0), (200.0, 300.0))),  # 90 degrees
    Annotation("text", ((600.0, 150.0),), "compare with prior"),
    Annotation("ctr", ((300.0, 600.0), (600.0, 600.0), (150.0, 700.0), (750.0, 700.0))),  # 300 / 600
    Annotation("arrow", ((800.0, 100.0), (700.0, 200.0)), "nodule"),
)


def _items(items):
    for item in items:
        yield item
        yield from _items(item.get("ContentSequence", []))


def _nums(ds) -> dict[str, list[tuple[float, str]]]:
    """Every NUM item of an SR, by concept meaning: (value, unit code)."""
    found: dict[str, list[tuple[float, str]]] = {}
    for item in _items(ds.ContentSequence):
        if item.get("ValueType") == "NUM":
            value = item.MeasuredValueSequence[0]
            found.setdefault(item.ConceptNameCodeSequence[0].CodeMeaning, []).append(
                (float(value.NumericValue), value.MeasurementUnitsCodeSequence[0].CodeValue))
    return found


def _texts(ds, layer: str) -> list[str]:
    return [t.UnformattedTextValue for a in ds.GraphicAnnotationSequence if a.GraphicLayer == layer
            for t in a.get("TextObjectSequence", [])]


@pytest.fixture(scope="module")
def written(predicted, tmp_path_factory, samples_dir):
    """{source name: (sr, pr)} with the four kinds of measurement, on a source with a pixel spacing
    (0.168 mm) and one without."""
    card, results = predicted
    out = tmp_path_factory.mktemp("measured")
    store = AnnotationStore(out / "annotations")
    files = {}
    with DicomExporter(out, card, annotation_store=store) as exporter:
        for name in ("cr_siim_jpeg_baseline.dcm", "dx_nih_google_uncompressed.dcm"):
            store.save(file_sha256(samples_dir / name), MEASUREMENTS)  # exported from the store by default
            files[name] = tuple(pydicom.dcmread(p) for p in exporter.export(results[name]))
    return files


def test_the_sr_measures_in_mm_where_the_spacing_is_known(written):
    sr, _ = written["cr_siim_jpeg_baseline.dcm"]
    nums = _nums(sr)
    assert nums["Length"] == [(pytest.approx(500 * 0.168, abs=0.01), "mm")]
    assert nums["Angle"] == [(pytest.approx(90.0), "deg")]
    assert nums["Cardiac diameter (widest, horizontal)"] == [(pytest.approx(300 * 0.168, abs=0.01), "mm")]
    assert nums["Cardiothoracic ratio"] == [(pytest.approx(0.5), "1")]
    sr_px, _ = written["dx_nih_google_uncompressed.dcm"]
    assert _nums(sr_px)["Length"] == [(pytest.approx(500.0), "{pixels}")]
    texts = [i.TextValue for i in _items(sr.ContentSequence) if i.get("ValueType") == "TEXT"]
    assert "Reader note 3: compare with prior" in texts and "Reader measurement 1: ruler" in texts
    assert "Reader arrow 5: nodule" in texts


def test_the_presentation_state_draws_them_on_their_own_layer(written):
    _, pr = written["cr_siim_jpeg_baseline.dcm"]
    assert [layer.GraphicLayer for layer in pr.GraphicLayerSequence] == ["FINDINGS", "MEASUREMENTS"]
    (own,) = [a for a in pr.GraphicAnnotationSequence if a.GraphicLayer == "MEASUREMENTS"]
    lines = [g for g in own.GraphicObjectSequence if g.GraphicType == "POLYLINE"]
    assert len(lines) == 8  # ruler 1, angle 2, CTR 2, arrow 3 (shaft and head)
    assert [float(v) for v in lines[0].GraphicData] == [100.0, 100.0, 400.0, 500.0]
    assert [float(v) for v in lines[5].GraphicData] == [700.0, 200.0, 800.0, 100.0]  # the shaft, head to tail
    assert _texts(pr, "MEASUREMENTS") == ["84.0 mm", "90.0 deg", "compare with prior", "CTR 0.50", "nodule"]


@pytest.mark.parametrize("name", ["cr_siim_jpeg_baseline.dcm", "dx_nih_google_uncompressed.dcm"])
def test_dciodvfy_finds_no_errors_with_measurements(written, name, tmp_path):
    exe = require_tool("dciodvfy", "dicom3tools")
    for ds, kind in zip(written[name], ("sr", "pr")):
        path = tmp_path / f"{kind}.dcm"
        ds.save_as(path)
        run = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=120)
        errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
        assert not errors, f"{name} {kind}: " + "; ".join(errors)


def test_explicit_measurements_replace_the_stored_ones_and_none_adds_no_layer(predicted, tmp_path):
    card, results = predicted
    with DicomExporter(tmp_path, card, annotation_store=AnnotationStore(tmp_path / "a")) as exporter:
        _, pr = (pydicom.dcmread(p) for p in exporter.export(results["cr_siim_jpeg_baseline.dcm"]))
        _, pr2 = (pydicom.dcmread(p) for p in exporter.export(results["cr_siim_jpeg_baseline.dcm"],
                                                               measurements=MEASUREMENTS[:1]))
    assert [layer.GraphicLayer for layer in pr.GraphicLayerSequence] == ["FINDINGS"]
    assert _texts(pr2, "MEASUREMENTS") == ["84.0 mm"]
