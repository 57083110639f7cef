"""The reproductions of issue 22, run as a user would: no source ever overwritten, no hang on a
special file, a result cache that survives its neighbours, one chestview line per problem."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from chestview.cli.main import main

IMAGES = Path(__file__).resolve().parents[1] / "data" / "nih_64px" / "images"


def _checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()
    }


def _chestview_lines(err: str) -> list[str]:
    """stderr holds only chestview's one-line messages: no traceback, no library log line."""
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert all(line.startswith("chestview: ") for line in lines), err
    return lines


def _within(seconds: float, fn, *args):
    """``fn(*args)`` in a thread: fails (instead of hanging the suite) when it has not returned in time."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (a hang)"
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for i, p in enumerate(sorted(IMAGES.glob("*.png"))[:3], start=1):
        shutil.copy(p, folder / f"0000000{i}_000.png")
    return folder


# -- 1. an output file never lands on an input ------------------------------------------------
@pytest.mark.parametrize("flag", ["--csv", "--json"])
def test_worklist_lists_pointing_at_an_input_are_refused(tiny_zoo, src, flag, capsys):
    before = _checksums(src)
    assert main(["worklist", str(src), "--no-cache", flag, str(src / "00000001_000.png")]) == 2
    (line,) = _chestview_lines(capsys.readouterr().err)
    assert "00000001_000.png: is an input" in line
    assert _checksums(src) == before


def test_worklist_list_by_another_name_or_named_like_an_image_is_refused(tiny_zoo, src, tmp_path, capsys):
    before = _checksums(src)
    link = tmp_path / "link.csv"
    os.link(src / "00000002_000.png", link)  # a hard link: the same file under another name
    assert main(["worklist", str(src), "--no-cache", "--json", str(link)]) == 2
    assert "is an input" in _chestview_lines(capsys.readouterr().err)[0]
    # Not yet an input, but the next run would read it as one.
    assert main(["worklist", str(src), "--no-cache", "--csv", str(src / "list.png")]) == 2
    assert "named like an image" in _chestview_lines(capsys.readouterr().err)[0]
    assert _checksums(src) == before and not (src / "list.png").exists()
    # Beside the sources under a name no scan reads as an image: written.
    assert main(["worklist", str(src), "--no-cache", "--csv", str(src / "list.csv")]) == 0
    assert (src / "list.csv").read_text().count("\n") == 4


@pytest.mark.parametrize("flag", ["train", "eval"])
def test_train_and_eval_out_naming_a_file_fail_up_front(tiny_zoo, tmp_path, flag, capsys, test_data):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    args = (["train", "--data", f"nih:{test_data / 'nih_64px'}", "--epochs", "1", "--out", str(target)]
            if flag == "train" else
            ["eval", "--model", str(tiny_zoo), "--data", f"nih:{test_data / 'nih_64px'}", "--out", str(target)])
    assert main(args) == 2
    (line,) = _chestview_lines(capsys.readouterr().err)
    assert "exists and is not a folder" in line
    assert target.read_text() == "keep me"


# -- 2. no hang on a special file ---------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_worklist_never_reads_a_fifo_or_a_link_to_a_device(tiny_zoo, src, capsys):
    os.mkfifo(src / "x.png")
    os.symlink("/dev/zero", src / "zero.png")
    assert _within(60, main, ["worklist", str(src)]) == 1
    lines = _chestview_lines(capsys.readouterr().err)
    assert any("x.png: is a named pipe (FIFO)" in line for line in lines)
    assert any("zero.png: is a device" in line for line in lines)


def test_hashes_refuse_special_files(tmp_path):
    from chestview.engine.result_cache import file_sha256
    from chestview.engine.util import NotRegularFileError, sha256_file

    for fn in (file_sha256, sha256_file):
        with pytest.raises(NotRegularFileError):
            _within(10, fn, "/dev/zero")
        with pytest.raises(NotRegularFileError):
            fn(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe")
        with pytest.raises(NotRegularFileError):
            _within(10, file_sha256, tmp_path / "pipe")


# -- 4. a cache that survives its neighbours ----------------------------------------------------
def _cache_path() -> Path:
    from chestview.engine.result_cache import default_cache_path

    return default_cache_path()


@pytest.fixture
def own_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CHESTVIEW_HOME", str(tmp_path / "home"))
    return _cache_path()


def _worklist_rows(out_json: Path) -> list[dict]:
    return json.loads(out_json.read_text())["rows"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permissions (not as root)")
def test_a_read_only_cache_folder_or_file_costs_neither_list_nor_cache(tiny_zoo, src, own_cache, tmp_path, capsys):
    listed = tmp_path / "first.json"
    assert main(["worklist", str(src), "--json", str(listed)]) == 0
    capsys.readouterr()
    healthy = own_cache.read_bytes()
    folder = own_cache.parent
    (src / "00000004_000.png").write_bytes((src / "00000001_000.png").read_bytes() + b"\0")  # a miss to store
    os.chmod(own_cache, 0o444)
    os.chmod(folder, 0o555)
    try:
        again = tmp_path / "again.json"
        assert main(["worklist", str(src), "--json", str(again)]) == 0
        lines = _chestview_lines(capsys.readouterr().err)
        assert len(lines) == 1 and "result cache not usable" in lines[0] and "no cache this run" in lines[0]
        assert len(_worklist_rows(again)) == 4
    finally:
        os.chmod(folder, 0o755)
        os.chmod(own_cache, 0o644)
    assert own_cache.read_bytes() == healthy and not list(folder.glob("*.corrupt"))


def test_a_read_only_cache_database_is_kept_and_skipped(tiny_zoo, src, own_cache, tmp_path, capsys, monkeypatch):
    """As a read-only file is for a user who is not root: SQLite opens it read-only (SQLITE_READONLY)."""
    import chestview.engine.result_cache as rc

    assert main(["worklist", str(src), "--json", str(tmp_path / "first.json")]) == 0
    capsys.readouterr()
    healthy = own_cache.read_bytes()
    real_connect = sqlite3.connect
    monkeypatch.setattr(rc.sqlite3, "connect",
                        lambda path, **k: real_connect(f"file:{path}?mode=ro", uri=True, **k))
    (src / "00000004_000.png").write_bytes((src / "00000001_000.png").read_bytes() + b"\0")  # a miss to store
    again = tmp_path / "again.json"
    assert main(["worklist", str(src), "--json", str(again)]) == 0
    lines = _chestview_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "result cache not usable" in lines[0] and "no cache this run" in lines[0], lines
    assert len(_worklist_rows(again)) == 4
    assert own_cache.read_bytes() == healthy and not list(own_cache.parent.glob("*.corrupt"))


def test_a_cache_folder_that_cannot_be_made_still_gives_the_list(tiny_zoo, src, own_cache, tmp_path, capsys):
    own_cache.parent.parent.mkdir(parents=True, exist_ok=True)
    own_cache.parent.write_text("a file where the cache folder goes")
    out = tmp_path / "list.json"
    assert main(["worklist", str(src), "--json", str(out)]) == 0
    lines = _chestview_lines(capsys.readouterr().err)  # and the backend's, which cannot cache its export
    assert "no cache this run" in lines[0] and len(_worklist_rows(out)) == 3


def test_a_cache_locked_by_another_process_is_kept_and_skipped(tiny_zoo, src, own_cache, tmp_path, capsys,
                                                              monkeypatch):
    import chestview.engine.result_cache as rc

    assert main(["worklist", str(src), "--json", str(tmp_path / "first.json")]) == 0
    capsys.readouterr()
    entries = rc.ResultCache(own_cache).stats().entries
    holder = sqlite3.connect(own_cache, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    original = rc.ResultCache.__init__
    monkeypatch.setattr(rc.ResultCache, "__init__",
                        lambda self, *a, **k: original(self, *a, **{**k, "busy_timeout": 0.2}))
    try:
        (src / "00000004_000.png").write_bytes((src / "00000001_000.png").read_bytes() + b"\0")
        assert _within(60, main, ["worklist", str(src), "--json", str(tmp_path / "again.json")]) == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    lines = _chestview_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "no cache this run" in lines[0]
    assert len(_worklist_rows(tmp_path / "again.json")) == 4
    assert not list(own_cache.parent.glob("*.corrupt"))
    assert rc.ResultCache(own_cache).stats().entries == entries  # the cache as it was


def test_a_same_size_replacement_with_its_mtime_restored_is_not_served_from_the_cache(tmp_path):
    from chestview.engine.result_cache import ResultCache

    a, b = sorted(IMAGES.glob("*.png"))[:2]
    target = tmp_path / "film.png"
    shutil.copy(a, target)
    cache = ResultCache(tmp_path / "cache.sqlite")
    first = cache.file_digests([str(target)])[str(target)]
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes, near the end of a small file
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    second = cache.file_digests([str(target)])[str(target)]
    assert second != first and second == hashlib.sha256(bytes(data)).hexdigest()


# -- 3. one file's trouble never costs the run --------------------------------------------------
@pytest.mark.parametrize("length", [236, 249, 255])
def test_a_long_legal_name_is_predicted_and_written(tiny_zoo, tmp_path, length, capsys):
    src = tmp_path / "src"
    src.mkdir()
    name = "x" * (length - 4) + ".png"
    shutil.copy(sorted(IMAGES.glob("*.png"))[0], src / name)
    shutil.copy(sorted(IMAGES.glob("*.png"))[1], src / "short.png")
    out = tmp_path / "out"
    assert main(["predict", str(src), "--out", str(out)]) == 0
    assert _chestview_lines(capsys.readouterr().err) == []
    results = json.loads((out / "results.json").read_text())["results"]
    assert {Path(r["path"]).name for r in results} == {name, "short.png"} and not any(r["error"] for r in results)
    written = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert len(written) == 3 and all(len(n.encode()) <= 255 - 14 for n in written)


def test_a_long_dicom_name_gets_its_dicom_objects(tiny_zoo, samples_dir, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    name = "d" * 245 + ".dcm"
    shutil.copy(samples_dir / "dx_nih_google_uncompressed.dcm", src / name)
    assert main(["predict", str(src), "--out", str(tmp_path / "out"), "--no-images",
                 "--dicom-out", str(tmp_path / "dicom")]) == 0
    assert _chestview_lines(capsys.readouterr().err) == []
    assert len(list((tmp_path / "dicom").glob("*.dcm"))) == 2


def _dicom_and_png(samples_dir: Path, tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(samples_dir / "dx_nih_google_uncompressed.dcm", src / "a.dcm")
    shutil.copy(sorted(IMAGES.glob("*.png"))[0], src / "b.png")
    return src


def test_an_unwritable_dicom_out_is_a_per_file_error(tiny_zoo, samples_dir, tmp_path, capsys, monkeypatch):
    import tempfile

    from chestview.engine.dicom_export import writer

    src = _dicom_and_png(samples_dir, tmp_path)
    before = _checksums(src)
    dicom = tmp_path / "dicom"
    dicom.mkdir()
    real = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):  # what a read-only folder does (root ignores its mode)
        if Path(dir) == dicom:
            raise PermissionError(13, "Permission denied", str(Path(dir) / kwargs.get("prefix", "")))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(writer.tempfile, "mkstemp", read_only)
    out = tmp_path / "out"
    assert main(["predict", str(src), "--out", str(out), "--dicom-out", str(dicom)]) == 1
    lines = _chestview_lines(capsys.readouterr().err)
    assert any(f"{dicom / 'a_sr.dcm'}: cannot write (Permission denied)" in line for line in lines), lines
    results = {Path(r["path"]).name: r for r in json.loads((out / "results.json").read_text())["results"]}
    assert results["a.dcm"]["error"] and results["b.png"]["error"] is None
    assert _checksums(src) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permissions (not as root)")
def test_a_read_only_dicom_out_is_a_per_file_error(tiny_zoo, samples_dir, tmp_path, capsys):
    src = _dicom_and_png(samples_dir, tmp_path)
    dicom = tmp_path / "dicom"
    dicom.mkdir(mode=0o555)
    try:
        assert main(["predict", str(src), "--out", str(tmp_path / "out"), "--dicom-out", str(dicom)]) == 1
    finally:
        dicom.chmod(0o755)
    assert any("a_sr.dcm: cannot write" in line for line in _chestview_lines(capsys.readouterr().err))
    assert (tmp_path / "out" / "results.json").is_file()


def test_a_full_disk_is_a_per_file_error_naming_the_path(tiny_zoo, samples_dir, tmp_path, capsys, monkeypatch):
    import errno

    from chestview.engine import export
    from chestview.engine.dicom_export import writer

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    src = _dicom_and_png(samples_dir, tmp_path)
    real = export.save_image_atomic
    monkeypatch.setattr(export, "save_image_atomic",  # the disk fills up after a's image
                        lambda path, *a, **k: full() if Path(path).name.startswith("b") else real(path, *a, **k))
    monkeypatch.setattr(writer, "_place", full)
    out = tmp_path / "out"
    assert main(["predict", str(src), "--out", str(out), "--dicom-out", str(tmp_path / "dicom")]) == 1
    lines = _chestview_lines(capsys.readouterr().err)
    assert any(f"{out / 'b_annotated.png'}: cannot write (No space left on device)" in line for line in lines), lines
    assert any(f"{tmp_path / 'dicom' / 'a_sr.dcm'}: cannot write (No space left on device)" in line for line in lines)
    assert all(r["error"] for r in json.loads((out / "results.json").read_text())["results"])
    assert not [p for p in (tmp_path / "dicom").iterdir() if p.name.endswith(".tmp")]


def test_results_json_on_a_full_disk_is_one_line_naming_it(tmp_path):
    import errno

    from chestview.engine.util import atomic_write

    with pytest.raises(OSError) as caught:
        with atomic_write(tmp_path / "results.json", "w"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.filename == str(tmp_path / "results.json") and caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_dicom_out_notes_are_escaped_and_stale_temporaries_removed(tiny_zoo, samples_dir, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(samples_dir / "dx_nih_google_uncompressed.dcm", src / "x.dcm")
    shutil.copy(sorted(IMAGES.glob("*.png"))[0], src / "evil\x1b[31m\nname.png")
    dicom = tmp_path / "dicom"
    dicom.mkdir()
    (dicom / ".x_sr.abcd1234.tmp").write_bytes(b"left by a killed run")
    (dicom / ".someone_else.abcd1234.tmp").write_bytes(b"not ours")
    assert main(["predict", str(src), "--out", str(tmp_path / "out"), "--no-images", "--dicom-out", str(dicom)]) == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err
    (note,) = _chestview_lines(err)
    assert note.startswith("chestview: note: ") and "evil\\x1b[31m\\nname.png" in note
    assert sorted(p.name for p in dicom.iterdir()) == [".someone_else.abcd1234.tmp", "x_pr.dcm", "x_sr.dcm"]


def test_dicom_out_naming_a_file_fails_up_front(tiny_zoo, samples_dir, tmp_path, capsys):
    target = tmp_path / "f"
    target.write_text("keep")
    assert main(["predict", str(samples_dir / "dx_nih_google_uncompressed.dcm"), "--out", str(tmp_path / "out"),
                 "--dicom-out", str(target)]) == 2
    assert "exists and is not a folder" in _chestview_lines(capsys.readouterr().err)[0]
    assert target.read_text() == "keep" and not (tmp_path / "out").exists()


# -- 5. model entries confined; cards validated; downloads bounded --------------------------------
def _edit_card(entry: Path, edit) -> None:
    card = json.loads((entry / "card.json").read_text())
    edit(card)
    (entry / "card.json").write_text(json.dumps(card))


@pytest.mark.parametrize("field", ["weights", "box_prior", "input_gate", "graph"])
@pytest.mark.parametrize("name", ["../../../../etc/passwd", "/etc/passwd", "/dev/zero"])
def test_a_card_naming_a_file_outside_its_entry_is_refused(tiny_zoo, tmp_path, field, name, capsys):
    def edit(card: dict) -> None:
        if field == "weights":
            card["weights"] = name
        elif field == "graph":
            card["graph"] = {"file": name, "sha256": "0" * 64, "reference": "r.safetensors",
                             "reference_sha256": "0" * 64, "weights_sha256": card["sha256"]}
        else:
            card[field] = {"file": name, "sha256": "0" * 64, **({"exponent": 1.0} if field == "box_prior" else {})}

    _edit_card(tiny_zoo, edit)
    png = sorted(IMAGES.glob("*.png"))[0]
    assert _within(60, main, ["predict", str(png), "--model", str(tiny_zoo), "--out", str(tmp_path / "o")]) == 2
    (line,) = _chestview_lines(capsys.readouterr().err)
    assert "invalid model card" in line and "inside the model's folder" in line


@pytest.mark.parametrize("what", ["weights", "prior", "gate", "graph", "reference"])
def test_a_link_out_of_the_entry_or_to_a_device_is_never_read(tiny_zoo, tmp_path, what, capsys):
    """Names that look plain but are links: resolved, and refused when they leave the entry or are no
    regular file (/dev/zero would be read until memory runs out)."""
    from chestview.engine.backends.packaged import shipped_graph, shipped_reference
    from chestview.engine.errors import ModelError
    from chestview.engine.gate.store import load_gate
    from chestview.engine.zoo import ModelCard, load_model

    os.symlink("/dev/zero", tiny_zoo / "zero.bin")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x" * 100)
    os.symlink(outside, tiny_zoo / "out.bin")
    for link in ("zero.bin", "out.bin"):
        def edit(card: dict) -> None:
            if what == "weights":
                card["weights"] = link
            elif what == "prior":
                card["box_prior"] = {"file": link, "sha256": "0" * 64, "exponent": 1.0}
            elif what == "gate":
                card["input_gate"] = {"file": link, "sha256": "0" * 64}
            else:
                card["graph"] = {"file": link if what == "graph" else "g.onnx", "sha256": "0" * 64,
                                 "reference": link if what == "reference" else "r.st", "reference_sha256": "0" * 64,
                                 "weights_sha256": card["sha256"], "export_format": 2}

        original = (tiny_zoo / "card.json").read_text()
        _edit_card(tiny_zoo, edit)
        try:
            if what in ("weights", "prior"):
                with pytest.raises(ModelError, match="outside the model's folder|not a regular file"):
                    _within(30, load_model, tiny_zoo)
            elif what == "gate":
                assert _within(30, load_gate, tiny_zoo, ModelCard.load(tiny_zoo)) is None
            else:
                loaded = load_model(tiny_zoo, lazy=True)
                from chestview.engine.backends.export import EXPORT_FORMAT

                loaded = loaded.with_card(loaded.card.with_updates(graph={**loaded.card.graph,
                                                                          "export_format": EXPORT_FORMAT}))
                fn = shipped_graph if what == "graph" else shipped_reference
                assert _within(30, fn, loaded) is None
        finally:
            (tiny_zoo / "card.json").write_text(original)


def test_a_huge_weights_file_is_refused_before_reading(tiny_zoo, monkeypatch):
    from chestview.engine import entry_files
    from chestview.engine.errors import ModelError
    from chestview.engine.zoo import load_model

    monkeypatch.setitem(entry_files.LIMITS, "weights", 1000)
    with pytest.raises(ModelError, match="more than a model's weights can be"):
        load_model(tiny_zoo)


@pytest.mark.parametrize("edit, words", [
    (lambda c: c["preprocessing"].update(size=60000), "preprocessing.size"),
    (lambda c: c.update(schema_version="x"), "schema_version"),
    (lambda c: c.update(schema_version=99), "newer than this chestview"),
    (lambda c: c.update(labels=[f"L{i}" for i in range(100_000)], thresholds={}, unreliable_labels=[]), "labels"),
    (lambda c: c["preprocessing"].update(std=[0, 0, 0]), "std' must be positive"),
    (lambda c: c["preprocessing"].update(std=[float("nan")] * 3), "preprocessing.std"),
    (lambda c: c["preprocessing"].update(mean=[1e308] * 3), "preprocessing.mean"),
    (lambda c: c.update(calibration={"method": "platt", "params": {"Mass": [1e308, 0]}}), "calibration"),
    (lambda c: c.update(id="../../escaped"), "'id'"),
])
def test_absurd_card_values_are_refused_with_one_line(tiny_zoo, tmp_path, edit, words, capsys):
    _edit_card(tiny_zoo, edit)
    png = sorted(IMAGES.glob("*.png"))[0]
    assert main(["predict", str(png), "--model", str(tiny_zoo), "--out", str(tmp_path / "o")]) == 2
    (line,) = _chestview_lines(capsys.readouterr().err)
    assert "invalid model card" in line and words in line and "unexpected" not in line


def test_import_with_an_id_that_leaves_the_models_folder_is_refused(tiny_zoo, tmp_path, capsys):
    from chestview.engine.paths import user_models_dir

    before = sorted(p.name for p in tmp_path.iterdir())
    for bad in ("../../../escaped_model", "/tmp/abs", "a/b", ".."):
        assert main(["models", "import", str(tiny_zoo / "model.safetensors"), "--format", "state-dict",
                     "--arch", "resnet34_baseline", "--id", bad]) == 2
        (line,) = _chestview_lines(capsys.readouterr().err)
        assert "not a model id" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not user_models_dir().parent.joinpath("escaped_model").exists()


def test_unknown_model_ids_exit_2_everywhere(tiny_zoo, tmp_path, capsys):
    for argv in (["models", "fit-gate", "no-such-model", "--data", f"nih:{tmp_path}"],
                 ["models", "pack-graph", "no-such-model"],
                 ["models", "fetch", "no-such-model"],
                 ["models", "show", "no-such-model"]):
        assert main(argv) == 2, argv
        (line,) = _chestview_lines(capsys.readouterr().err)
        assert "no-such-model" in line


@pytest.fixture
def endless_server():
    """/endless: a response that never ends; /trickle: one byte every 0.2 s, forever."""
    import http.server
    import time

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    if self.path == "/endless":
                        self.wfile.write(b"x" * 65536)
                    else:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.2)
            except OSError:
                pass

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_is_bounded_by_size_and_time(endless_server, monkeypatch, capsys):
    from chestview.engine.zoo import fetch

    monkeypatch.setattr(fetch, "MAX_DOWNLOAD_BYTES", 4 << 20)
    monkeypatch.setattr(fetch, "DOWNLOAD_DEADLINE_S", 2.0)
    sha = "0" * 64
    assert _within(30, main, ["models", "fetch", "e", "--url", f"{endless_server}/endless", "--format", "chexnet",
                              "--sha256", sha]) == 1
    (line,) = _chestview_lines(capsys.readouterr().err)
    assert "more than 4,194,304 bytes" in line
    assert _within(30, main, ["models", "fetch", "t", "--url", f"{endless_server}/trickle", "--format", "chexnet",
                              "--sha256", sha]) == 1
    (line,) = _chestview_lines(capsys.readouterr().err)
    assert "took longer than 2 s" in line
    assert not fetch.downloads_dir().exists() or not any(fetch.downloads_dir().iterdir())


# -- 6. stderr carries chestview's lines only ------------------------------------------------------
@pytest.mark.slow
def test_pydicoms_own_test_files_give_only_chestview_lines(tiny_zoo, tmp_path, capsys):
    """pydicom's test corpus (decoder errors with stacks, odd headers): every file a result or a
    one-line error, and nothing on stderr but chestview's lines."""
    import pydicom.data

    corpus = Path(pydicom.data.__file__).parent / "test_files"
    out = tmp_path / "out"
    assert main(["predict", str(corpus), "--out", str(out), "--no-images"]) == 1
    lines = _chestview_lines(capsys.readouterr().err)
    results = json.loads((out / "results.json").read_text())["results"]
    failed = {r["path"] for r in results if r["error"]}
    assert len(results) > 100 and failed and len(failed) < len(results)
    # every failed file has exactly its one line; warnings name their file
    for path in failed:
        assert sum(line.startswith(f"chestview: {path}: ") for line in lines) == 1, path
    assert all(line.startswith(("chestview: warning: ", "chestview: /")) for line in lines)


def test_verbose_works_on_every_command(capsys):
    from chestview.cli.main import SUBCOMMANDS

    for command in SUBCOMMANDS:
        with pytest.raises(SystemExit) as done:
            main([command, "-v", "--help"])
        assert done.value.code == 0, command
        assert "-v, --verbose" in capsys.readouterr().out, command
    with pytest.raises(SystemExit):
        main(["models", "show", "-v", "--help"])
    assert "-v, --verbose" in capsys.readouterr().out
    assert main(["-v", "models", "show", "no-such-model"]) == 2  # before the command too
    assert main(["models", "show", "no-such-model", "--verbose"]) == 2


def test_library_log_records_and_warnings_stay_off_stderr_unless_verbose(capsys):
    import logging

    from chestview.cli.logs import setup_logging

    setup_logging(False)
    try:
        logging.getLogger("pydicom.pixels.decoders.base").error("decoder failed", exc_info=ValueError("x"))
        logging.getLogger("pynetdicom.assoc").error("Association rejected")
        logging.getLogger("py.warnings").warning("RuntimeWarning: invalid value encountered in divide")
        logging.getLogger("chestview.engine.something").warning("a thing\nwith a newline")
        assert capsys.readouterr().err == "chestview: warning: a thing\\nwith a newline\n"
        setup_logging(True)
        logging.getLogger("pynetdicom.assoc").error("Association rejected")
        assert capsys.readouterr().err.startswith("chestview: error: pynetdicom.assoc: Association rejected")
    finally:
        setup_logging(False)


# -- 7. a damaged file inside a training set is named ----------------------------------------------
@pytest.mark.slow
def test_a_truncated_png_in_a_training_set_is_named_and_skipped(tmp_path, test_data, capsys):
    data = tmp_path / "nih"
    shutil.copytree(test_data / "nih_64px", data)
    victim = sorted((data / "images").glob("*.png"))[3]
    victim.write_bytes(victim.read_bytes()[: len(victim.read_bytes()) // 2])
    code = main(["train", "--arch", "resnet34_baseline", "--trunk", "resnet18", "--data", f"nih:{data}",
                 "--size", "64", "--epochs", "1", "--batch-size", "8", "--workers", "1", "--device", "cpu",
                 "--out", str(tmp_path / "run"), "--model-id", "smoke", "--no-progress"])
    err = capsys.readouterr().err
    assert "Caught" not in err and "Traceback" not in err
    assert victim.name in err
    assert code == 0 and (tmp_path / "run" / "model" / "card.json").is_file()


# -- 9. DICOM pixels: a frame of another shape, a NaN rescale ----------------------------------------
def test_a_compressed_frame_of_another_shape_and_a_nan_rescale_are_errors(tiny_zoo, samples_dir, tmp_path, capsys):
    import pydicom

    src = tmp_path / "src"
    src.mkdir()
    jpeg = pydicom.dcmread(samples_dir / "cr_siim_jpeg_baseline.dcm")  # a 1024x1024 JPEG frame
    jpeg.Rows, jpeg.Columns = 2048, 512  # the same pixel count
    jpeg.save_as(src / "jpeg_reshaped.dcm")
    j2k = pydicom.dcmread(samples_dir / "cr_mono1_rg1_jpeg2000.dcm")
    j2k.Rows, j2k.Columns = j2k.Columns, j2k.Rows
    j2k.save_as(src / "j2k_transposed.dcm")
    for keyword in ("RescaleIntercept", "RescaleSlope"):
        ds = pydicom.dcmread(samples_dir / "dx_nih_google_uncompressed.dcm")
        setattr(ds, keyword, "NaN")
        ds.save_as(src / f"nan_{keyword}.dcm")
    shutil.copy(samples_dir / "dx_nih_google_uncompressed.dcm", src / "fine.dcm")
    out = tmp_path / "out"
    assert main(["predict", str(src), "--out", str(out), "--no-images"]) == 1
    lines = _chestview_lines(capsys.readouterr().err)
    errors = {Path(r["path"]).name: r["error"] for r in json.loads((out / "results.json").read_text())["results"]}
    assert "the compressed frame is 1024x1024, not the header's 512x2048" in errors["jpeg_reshaped.dcm"]
    assert "not the header's" in errors["j2k_transposed.dcm"]
    assert "RescaleIntercept is not a finite number" in errors["nan_RescaleIntercept.dcm"]
    assert "RescaleSlope is not a finite number" in errors["nan_RescaleSlope.dcm"]
    assert errors["fine.dcm"] is None and len([line for line in lines if "warning" not in line]) == 4


def test_a_screenshot_never_lands_on_an_input(src, capsys):
    before = _checksums(src)
    assert main([str(src / "00000001_000.png"), "--screenshot", str(src / "00000001_000.png")]) == 2
    assert "is an input" in _chestview_lines(capsys.readouterr().err)[0]
    assert main([str(src), "--screenshot", str(src / "shot.png")]) == 2
    assert "named like an image" in _chestview_lines(capsys.readouterr().err)[0]
    assert _checksums(src) == before


def test_the_public_error_text_names_no_folder():
    from chestview.engine.export import public_error

    path = "/data/DOE JANE MRN123456/study 1/img.png"
    for message in (
        f"{path}: cannot decode",
        "cannot open 'DOE JANE MRN123456/study 1/img.png' (truncated)",  # a relative fragment
        "reading /data/DOE JANE MRN123456/study 1 failed",  # the folder alone, with spaces
        "no such file: study 1/img.png",
    ):
        text = public_error(message, path)
        assert "DOE" not in text and "MRN" not in text and "JANE" not in text and "study 1" not in text, text
    assert public_error(f"{path}: cannot decode", path) == "img.png: cannot decode"
