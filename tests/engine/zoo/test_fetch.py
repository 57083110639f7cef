"""Downloads from a local HTTP server (no network): hash check, atomic cache, 404, then import."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from collections import OrderedDict
from functools import partial
from pathlib import Path

import pytest
import torch
from torch import nn

from chestview.cli.main import main
from chestview.engine.errors import ChestviewError
from chestview.engine.zoo import load_model
from chestview.engine.zoo.fetch import (
    PUBLISHED,
    DownloadProgress,
    downloads_dir,
    fetch_checkpoint,
    published_checkpoint,
)


@pytest.fixture(autouse=True)
def _own_user_dirs(tmp_path, monkeypatch):
    """A fresh user zoo and cache per test (the session-wide one would carry imports between tests)."""
    monkeypatch.setenv("CHESTVIEW_HOME", str(tmp_path / "home"))


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        _Handler.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """Serves ``tmp_path / "www"`` on 127.0.0.1, an ephemeral port. Yields (root dir, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cache_files() -> list[Path]:
    return sorted(downloads_dir().iterdir()) if downloads_dir().is_dir() else []


def test_download_verifies_reports_progress_and_caches(server):
    root, base = server
    data = bytes(range(256)) * 5000  # ~1.3 MB: several chunks
    (root / "w.pt").write_bytes(data)
    ckpt = published_checkpoint("mine", url=f"{base}/w.pt", fmt="state-dict")
    events: list[DownloadProgress] = []
    path = fetch_checkpoint(ckpt, sha256=_sha(data).upper(), on_progress=events.append)
    assert path.read_bytes() == data and path.parent == downloads_dir()
    assert events[-1].done == events[-1].total == len(data)
    assert fetch_checkpoint(ckpt, sha256=_sha(data)) == path
    assert _Handler.requests == ["/w.pt"]  # the second call used the verified cache
    assert _cache_files() == [path]  # no temporary files left


def test_hash_mismatch_leaves_nothing(server):
    root, base = server
    (root / "w.pt").write_bytes(b"tampered")
    ckpt = published_checkpoint("mine", url=f"{base}/w.pt", fmt="chexnet")
    with pytest.raises(ChestviewError, match=r"w\.pt: SHA-256 mismatch .*discarded"):
        fetch_checkpoint(ckpt, sha256=_sha(b"original"))
    assert _cache_files() == []


def test_http_errors_and_missing_hash(server):
    _, base = server
    ckpt = published_checkpoint("mine", url=f"{base}/missing.pt", fmt="chexnet")
    with pytest.raises(ChestviewError, match=r"missing\.pt: HTTP 404"):
        fetch_checkpoint(ckpt, sha256="0" * 64)
    assert _cache_files() == []
    assert PUBLISHED["chexnet-arnoweng"].sha256 is None
    with pytest.raises(ChestviewError, match="pass --sha256"):
        fetch_checkpoint(PUBLISHED["chexnet-arnoweng"])
    with pytest.raises(ChestviewError, match="not a known checkpoint"):
        published_checkpoint("nonsense")
    with pytest.raises(ChestviewError, match="only http"):
        fetch_checkpoint(published_checkpoint("f", url="file:///etc/passwd", fmt="chexnet"), sha256="0" * 64)


def test_cli_fetch_imports_chexnet(server, capsys):
    from torchvision import models as tvm

    root, base = server
    torch.manual_seed(0)
    ref = tvm.densenet121(weights=None, num_classes=14).eval()
    state = OrderedDict(
        ("module.densenet121." + re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k)
         .replace("classifier.", "classifier.0."), v)
        for k, v in ref.state_dict().items()
    )
    torch.save({"epoch": 1, "state_dict": state}, root / "model.pth.tar")
    sha = _sha((root / "model.pth.tar").read_bytes())

    rc = main(["models", "fetch", "chexnet-arnoweng", "--url", f"{base}/model.pth.tar", "--sha256", sha])
    assert rc == 0, capsys.readouterr().err
    loaded = load_model("chexnet-arnoweng")
    assert loaded.card.provenance["downloaded_from"].endswith("/model.pth.tar")
    assert loaded.card.provenance["source_sha256"] == sha
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x).logits, ref(x), atol=1e-5, rtol=0)


def test_cli_fetch_refuses_pickled_torchxrayvision_module(server, capsys):
    root, base = server
    torch.save(nn.Linear(2, 2), root / "txrv.pt")
    sha = _sha((root / "txrv.pt").read_bytes())
    rc = main(["models", "fetch", "txrv-densenet121-all", "--url", f"{base}/txrv.pt", "--sha256", sha])
    err = capsys.readouterr().err
    assert rc == 1
    assert "pickled Python object" in err and "--weight-set all" in err
    assert main(["models", "fetch"]) == 0 and "txrv-densenet121-nih" in capsys.readouterr().out
