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


def test_send_to_a_local_orthanc(objects, tmp_path, capsys, samples_dir):
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
        # The compressed sources (JPEG baseline, JPEG 2000, JPEG-LS) and a preamble-less file go as they are.
        from pydicom.data import get_testdata_file

        sources = [samples_dir / "cr_siim_jpeg_baseline.dcm", samples_dir / "cr_mono1_rg1_jpeg2000.dcm",
                   Path(get_testdata_file("MR_small_jpeg_ls_lossless.dcm")),
                   _preambleless(samples_dir / "dx_nih_google_uncompressed.dcm", tmp_path / "old_style.dcm")]
        code = main(["send", *map(str, sources), "--host", "127.0.0.1", "--port", str(dicom_port), "--aet", "ORTHANC"])
        assert code == 0, capsys.readouterr().err
        stored = json.loads(urllib.request.urlopen(f"{api}/instances?expand", timeout=10).read())
        uids = {i["MainDicomTags"]["SOPInstanceUID"] for i in stored}
        assert {pydicom.dcmread(f, force=True, stop_before_pixels=True).SOPInstanceUID for f in sources} <= uids
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


def _preambleless(source: Path, target: Path) -> Path:
    """``source`` written as an old ACR-NEMA style file: no preamble, no DICM, no file meta."""
    from pydicom.filewriter import write_dataset
    from pydicom.filebase import DicomBytesIO

    ds = pydicom.dcmread(source)
    ds.decompress() if ds.file_meta.TransferSyntaxUID.is_compressed else None
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    write_dataset(buffer, ds)
    target.write_bytes(buffer.getvalue())
    return target


@pytest.fixture
def any_syntax_scp():
    """A Storage SCP that accepts every transfer syntax, compressed ones included."""
    from pynetdicom import AE, AllStoragePresentationContexts, evt
    from pynetdicom.sop_class import SecondaryCaptureImageStorage  # noqa: F401 - registers names
    from pydicom.uid import AllTransferSyntaxes

    received: list[tuple[str, str]] = []

    def on_store(event):
        received.append((event.dataset.SOPInstanceUID, event.context.transfer_syntax))
        return 0x0000

    ae = AE(ae_title="ANYSCP")
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, AllTransferSyntaxes)
    port = _free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    yield port, received
    server.shutdown()


def test_compressed_and_preambleless_sources_are_sent_as_they_are(samples_dir, tmp_path, any_syntax_scp, capsys):
    from pydicom.data import get_testdata_file

    port, received = any_syntax_scp
    jpeg_ls = Path(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    files = [samples_dir / "cr_siim_jpeg_baseline.dcm", samples_dir / "cr_mono1_rg1_jpeg2000.dcm", jpeg_ls,
             samples_dir / "dx_nih_google_uncompressed.dcm",
             _preambleless(samples_dir / "dx_nih_google_uncompressed.dcm", tmp_path / "old_style.dcm")]
    # predict reads the preamble-less file
    from chestview.engine.io.loader import load_image

    assert load_image(files[-1]).pixels.size > 0
    argv = ["send", *map(str, files[:4]), "--host", "127.0.0.1", "--port", str(port), "--aet", "ANYSCP"]
    assert main(argv) == 0, capsys.readouterr().err
    syntaxes = {uid: ts for uid, ts in received}
    for f in files[:3]:  # each compressed file in its own transfer syntax
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        assert syntaxes[ds.SOPInstanceUID] == ds.file_meta.TransferSyntaxUID
    received.clear()
    outcomes = send_files([files[-1]], "127.0.0.1", port, "ANYSCP", timeout=10)
    assert [o.ok for o in outcomes] == [True] and len(received) == 1


def test_contexts_per_sop_class_and_syntax():
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit, JPEG2000

    from chestview.engine.dicom_export.send import requested_contexts

    def ds(sop: str, ts: str) -> Dataset:
        d = Dataset()
        d.SOPClassUID = sop
        d.file_meta = FileMetaDataset()
        d.file_meta.TransferSyntaxUID = ts
        return d

    got = requested_contexts([ds("1.2", JPEGBaseline8Bit), ds("1.2", JPEG2000), ds("1.2", ImplicitVRLittleEndian),
                              ds("1.2", ExplicitVRLittleEndian), ds("1.3", JPEGBaseline8Bit)])
    assert got == [("1.2", (JPEGBaseline8Bit,)), ("1.2", (JPEG2000,)),
                   ("1.2", (ExplicitVRLittleEndian, ImplicitVRLittleEndian)), ("1.3", (JPEGBaseline8Bit,))]
