"""C-STORE of the exported objects: to an in-process pynetdicom SCP, and to a real Orthanc on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pydicom
import pytest

from chestview.cli.main import main
from chestview.engine.dicom_export.send import dicom_files, send_files
from chestview.engine.errors import ChestviewError

from .conftest import require_tool

pytestmark = pytest.mark.filterwarnings("ignore:.*person name:UserWarning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def objects(exported, tmp_path_factory) -> Path:
    """One folder with an SR, a PR and an SC (three SOP classes, one association)."""
    folder = tmp_path_factory.mktemp("to-send")
    for path in exported["cr_siim_jpeg_baseline.dcm"].values():
        shutil.copy(path, folder)
    return folder


@pytest.fixture
def store_scp():
    """A pynetdicom Storage SCP on 127.0.0.1 that keeps what it receives."""
    from pynetdicom import AE, AllStoragePresentationContexts, evt

    received: list[pydicom.Dataset] = []

    def on_store(event):
        received.append(event.dataset)
        return 0x0000

    ae = AE(ae_title="TESTSCP")
    ae.supported_contexts = AllStoragePresentationContexts
    port = _free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    yield port, received
    server.shutdown()


def test_send_stores_every_object(objects, store_scp):
    port, received = store_scp
    files = dicom_files([objects])
    outcomes = send_files(files, "127.0.0.1", port, "TESTSCP", timeout=10)
    assert [o.ok for o in outcomes] == [True] * 3
    sent = {pydicom.dcmread(f).SOPInstanceUID for f in files}
    assert {ds.SOPInstanceUID for ds in received} == sent


def test_send_cli_reports_a_dead_port_in_one_line(objects, capsys):
    code = main(["send", str(objects), "--host", "127.0.0.1", "--port", str(_free_port()), "--aet", "NOBODY",
                 "--timeout", "3"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("chestview: 127.0.0.1:") and "Traceback" not in err[0]


def test_send_cli_usage_errors(objects, capsys):
    assert main(["send", str(objects), "--host", "h", "--port", "0", "--aet", "X"]) == 2
    assert main(["send", str(objects), "--host", "h", "--port", "104", "--aet", "A" * 17]) == 2
    with pytest.raises(ChestviewError, match="no such file"):
        dicom_files([objects / "missing"])


def test_send_to_a_local_orthanc(objects, tmp_path, capsys):
    exe = require_tool("Orthanc", "orthanc")
    dicom_port, http_port = _free_port(), _free_port()
    config = {
        "Name": "chestview-test", "StorageDirectory": str(tmp_path / "db"), "IndexDirectory": str(tmp_path / "db"),
        "DicomAet": "ORTHANC", "DicomPort": dicom_port, "HttpPort": http_port, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "DicomCheckCalledAet": True, "Plugins": [], "DicomServerEnabled": True,
    }
    (tmp_path / "orthanc.json").write_text(json.dumps(config))
    log = open(tmp_path / "orthanc.log", "wb")
    server = subprocess.Popen([exe, str(tmp_path / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{api}/system", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Orthanc did not start: {(tmp_path / 'orthanc.log').read_text()[-500:]}")
                time.sleep(0.3)
        code = main(["send", str(objects), "--host", "127.0.0.1", "--port", str(dicom_port), "--aet", "ORTHANC"])
        assert code == 0, capsys.readouterr().err
        assert "sent 3 of 3 file(s) to ORTHANC@127.0.0.1" in capsys.readouterr().out
        stored = json.loads(urllib.request.urlopen(f"{api}/instances?expand", timeout=10).read())
        uids = {i["MainDicomTags"]["SOPInstanceUID"] for i in stored}
        assert uids == {pydicom.dcmread(f).SOPInstanceUID for f in dicom_files([objects])}
        # Orthanc filed them under the source's study and patient.
        studies = json.loads(urllib.request.urlopen(f"{api}/studies?expand", timeout=10).read())
        source = pydicom.dcmread(next(iter(objects.glob("*_sr.dcm"))))
        assert [s["MainDicomTags"]["StudyInstanceUID"] for s in studies] == [source.StudyInstanceUID]
        # A wrong called AE title is refused, in one line.
        assert main(["send", str(objects), "--host", "127.0.0.1", "--port", str(dicom_port), "--aet", "WRONG"]) == 1
        assert "association with WRONG rejected" in capsys.readouterr().err
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
