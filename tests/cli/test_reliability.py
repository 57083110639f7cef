"""The reproductions of issue 15, run as a user would: sources never touched, one line per problem
(never a traceback), nothing skipped in silence, uniform exit codes (0 ok, 1 inputs failed, 2 usage)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from chestview.cli.main import main
from chestview.engine.outputs import LOCK_NAME, FolderLock

IMAGES = Path(__file__).resolve().parents[1] / "data" / "nih_64px" / "images"


def _checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _one_line_each(err: str) -> list[str]:
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert all(line.startswith("chestview: ") for line in lines), err
    return lines


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A source folder of real images, one of them named like an output of another."""
    folder = tmp_path / "src"
    folder.mkdir()
    names = sorted(p.name for p in IMAGES.glob("*.png"))
    shutil.copy(IMAGES / names[0], folder / "00000001_000.png")
    shutil.copy(IMAGES / names[1], folder / "00000001_000_annotated.png")  # a source, not an output
    shutil.copy(IMAGES / names[2], folder / "00000002_000.png")
    return folder


# -- 1. sources are sacred ---------------------------------------------------------------------
def test_out_set_to_the_source_folder_is_refused(tiny_zoo, src, capsys):
    before = _checksums(src)
    assert main(["predict", str(src), "--out", str(src)]) == 2
    (line,) = _one_line_each(capsys.readouterr().err)
    assert "is the input folder" in line and "00000001_000_annotated.png" in line
    assert _checksums(src) == before  # nothing written, nothing changed


def test_out_inside_the_source_folder_never_reads_its_outputs_back(tiny_zoo, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for p in sorted(IMAGES.glob("*.png"))[:2]:
        shutil.copy(p, src)
    before = _checksums(src)
    out = src / "results"
    # No output can land on an input: allowed, and the inputs are listed before anything is written.
    assert main(["predict", str(src), "--out", str(out)]) == 0
    assert len(json.loads((out / "results.json").read_text())["results"]) == 2
    assert {k: v for k, v in _checksums(src).items() if not k.startswith("results/")} == before
    # A second run would read the first one's outputs as inputs and overwrite them: refused.
    written = _checksums(out)
    capsys.readouterr()
    assert main(["predict", str(src), "--out", str(out)]) == 2
    (line,) = _one_line_each(capsys.readouterr().err)
    assert "lies inside the input folder" in line
    assert _checksums(out) == written


def test_out_naming_an_existing_file_is_one_line(tiny_zoo, src, capsys):
    before = _checksums(src)
    assert main(["predict", str(src / "00000002_000.png"), "--out", str(src / "00000001_000.png")]) == 2
    (line,) = _one_line_each(capsys.readouterr().err)
    assert "00000001_000.png: exists and is not a folder" in line
    assert _checksums(src) == before


# -- 3. nothing skipped in silence -------------------------------------------------------------
def test_entries_named_like_images_that_are_not_files_are_reported(tiny_zoo, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(sorted(IMAGES.glob("*.png"))[0], src / "good.png")
    os.mkfifo(src / "pipe.png")
    (src / "x.png").mkdir()
    os.symlink(src / "loop.png", src / "loop.png")
    out = tmp_path / "out"
    assert main(["predict", str(src), "--out", str(out)]) == 1
    lines = _one_line_each(capsys.readouterr().err)
    reasons = {"pipe.png": "named pipe", "x.png": "directory", "loop.png": "symbolic link loop"}
    for name, reason in reasons.items():
        assert any(name in ln and reason in ln for ln in lines), (name, lines)
    rows = {Path(r["path"]).name: r for r in json.loads((out / "results.json").read_text())["results"]}
    assert set(rows) == {"good.png", *reasons}
    assert rows["good.png"]["error"] is None and all(rows[n]["error"] for n in reasons)


def test_dicom_pixel_data_larger_than_its_header_is_an_error(tiny_zoo, tmp_path, capsys):
    import pydicom

    ds = pydicom.dcmread(Path(__file__).resolve().parents[1] / "data" / "dicom" / "dx_nih_google_uncompressed.dcm")
    ds.Rows = ds.Columns = 100  # 1024 x 1024 pixels under a 100 x 100 header
    ds.save_as(tmp_path / "wrong_size.dcm")
    assert main(["predict", str(tmp_path / "wrong_size.dcm"), "--out", str(tmp_path / "out")]) == 1
    (line,) = _one_line_each(capsys.readouterr().err)
    assert "wrong_size.dcm: pixel data does not match the header" in line
    (row,) = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert "does not match the header" in row["error"] and row["warnings"] == []


def test_a_newline_in_a_file_name_splits_no_line(tiny_zoo, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(sorted(IMAGES.glob("*.png"))[0], src / "good\nimage.png")
    (src / "bad\nname.png").write_bytes(b"not an image")
    assert main(["predict", str(src), "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    (line,) = _one_line_each(captured.err)
    assert "bad\\nname.png" in line
    table = captured.out.splitlines()
    assert any(r.startswith("bad\\nname.png") and "ERROR" in r for r in table)
    assert any(r.startswith("good\\nimage.png") and " ok " in r for r in table)
    assert not any(r.startswith(("name.png", "image.png")) for r in table)


# -- 6. locks and stale temporaries ------------------------------------------------------------
def test_a_second_writer_of_an_output_folder_is_refused(tiny_zoo, src, tmp_path, capsys):
    out = tmp_path / "out"
    with FolderLock(out):  # as a predict still running would hold it
        assert main(["predict", str(src / "00000002_000.png"), "--out", str(out)]) == 2
        (line,) = _one_line_each(capsys.readouterr().err)
        assert f"process {os.getpid()} is writing this output folder" in line
    assert not (out / "results.json").exists()
    # A lock left by a process that has died is taken over.
    (out / LOCK_NAME).write_text("999999999\n")
    assert main(["predict", str(src / "00000002_000.png"), "--out", str(out)]) == 0
    assert (out / "results.json").is_file() and not (out / LOCK_NAME).exists()


def test_temporaries_of_a_killed_run_are_removed(tiny_zoo, src, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    ours = [out / ".00000002_000_annotated.png.k3j_x9a2.tmp", out / ".results.json.a1b2c3d4.tmp"]
    theirs = out / ".notes.txt.a1b2c3d4.tmp"  # not a name we write: left alone
    for p in [*ours, theirs]:
        p.write_bytes(b"\0" * 1000)
    assert main(["predict", str(src / "00000002_000.png"), "--out", str(out)]) == 0
    assert not any(p.exists() for p in ours) and theirs.exists()
    assert sorted(p.name for p in out.iterdir()) == [".notes.txt.a1b2c3d4.tmp", "00000002_000_annotated.png", "results.json"]


# -- 2. tracebacks and exit codes --------------------------------------------------------------
@pytest.fixture
def nih_short_row(tmp_path: Path, test_data: Path) -> Path:
    folder = shutil.copytree(test_data / "nih_64px", tmp_path / "nih")
    with open(folder / "Data_Entry_2017_v2020.csv", "a", encoding="utf-8") as fh:
        fh.write("00000099_000.png\n")  # a row cut short: no Finding Labels
    return folder


def test_a_short_nih_row_is_one_line_in_train_and_eval(nih_short_row, tiny_zoo, tmp_path, capsys):
    spec = f"nih:{nih_short_row}"
    assert main(["train", "--arch", "resnet34_baseline", "--trunk", "resnet18", "--data", spec, "--size", "64",
                 "--epochs", "1", "--workers", "0", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    (line,) = _one_line_each(capsys.readouterr().err)
    assert "Data_Entry_2017_v2020.csv: line 42: the row has too few fields" in line
    assert main(["eval", "--model", str(tiny_zoo), "--data", spec, "--bootstrap", "0"]) == 2
    (line,) = _one_line_each(capsys.readouterr().err)
    assert "line 42: the row has too few fields" in line


def test_usage_errors_exit_2_in_every_command(tiny_zoo, tmp_path, capsys, test_data):
    data = f"nih:{test_data / 'nih_64px'}"
    commands = [
        ["train", "--data", data, "--epochs", "0", "--out", str(tmp_path / "r0")],
        ["train", "--data", f"nih:{tmp_path / 'nothing'}", "--out", str(tmp_path / "r1")],
        ["eval", "--model", str(tmp_path / "no-model"), "--data", data],
        ["bench", "--model", "no-such-model"],
        ["bench", "--batch-size", "0"],
        ["predict", str(tmp_path), "--model", "no-such-model"],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        _one_line_each(capsys.readouterr().err)
    assert not (tmp_path / "r0").exists()  # --epochs 0 publishes no untrained model


def _serve(handler_cls):
    import http.server
    import threading

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return httpd, thread


@pytest.fixture
def http_server():
    """A local server (127.0.0.1) for /cut (chunked, closed mid-transfer) and /ftp (a redirect to ftp://)."""
    import http.server

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            if self.path == "/ftp":
                self.send_response(302)
                self.send_header("Location", "ftp://127.0.0.1/model.pt")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"1000\r\n" + b"x" * 100)  # announces 4096 bytes, sends 100, hangs up
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args) -> None:
            pass

    httpd, thread = _serve(Handler)
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_fetch_cut_mid_transfer_and_redirect_to_ftp(http_server, capsys, tmp_path):
    from chestview.engine.zoo.fetch import downloads_dir

    base, hits = http_server
    sha = "0" * 64
    assert main(["models", "fetch", "cut", "--url", f"{base}/cut", "--format", "chexnet", "--sha256", sha]) == 1
    (line,) = _one_line_each(capsys.readouterr().err)
    assert "download interrupted" in line and "IncompleteRead" in line
    assert not downloads_dir().exists() or not any(downloads_dir().iterdir())  # no partial file left
    assert main(["models", "fetch", "ftp", "--url", f"{base}/ftp", "--format", "chexnet", "--sha256", sha]) == 1
    (line,) = _one_line_each(capsys.readouterr().err)
    assert "redirected to ftp://127.0.0.1/model.pt; only http(s) URLs are fetched" in line
    assert hits == ["/cut", "/ftp"]
