"""Worker jobs without a window: the batch export keeps patient-naming folders out of its report
and never writes over a source."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from chestview.engine.outputs import OutputFolderError
from chestview.gui import jobs
from chestview.gui.state import ResultCache


def _export(model_id: str, folder: Path, out: Path, *, include_paths: bool) -> list:
    paths = sorted(str(p) for p in folder.iterdir())
    return list(jobs.export_batch_job(jobs.PredictorCache(), model_id, "cpu", paths, ResultCache(), str(out),
                                      include_paths=include_paths))


@pytest.fixture
def patient_folder(tmp_path: Path, test_data: Path) -> Path:
    folder = tmp_path / "DOE^JANE_MRN123456"
    folder.mkdir()
    shutil.copy(test_data / "nih_64px" / "images" / "00000002_000.png", folder / "good.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    return folder


def test_batch_export_without_paths_names_failed_files_by_base_name(tiny_zoo, patient_folder, tmp_path):
    events = _export(tiny_zoo, patient_folder, tmp_path / "out", include_paths=False)
    assert [bool(e.error) for e in events] == [True, False]  # broken.png, good.png
    text = (tmp_path / "out" / "results.json").read_text()
    assert "DOE^JANE" not in text and "MRN123456" not in text
    rows = {r["path"]: r for r in json.loads(text)["results"]}
    assert rows["broken.png"]["error"].startswith("broken.png: ")
    # with paths asked for, the folder is kept
    _export(tiny_zoo, patient_folder, tmp_path / "out2", include_paths=True)
    assert "DOE^JANE_MRN123456" in (tmp_path / "out2" / "results.json").read_text()


def test_batch_export_into_its_source_folder_is_refused(tiny_zoo, patient_folder):
    shutil.copy(patient_folder / "good.png", patient_folder / "good_annotated.png")  # a source named like an output
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in patient_folder.iterdir()}
    with pytest.raises(OutputFolderError, match="would overwrite the source"):
        _export(tiny_zoo, patient_folder, patient_folder, include_paths=False)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in patient_folder.iterdir()} == before
