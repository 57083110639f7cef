"""Download published checkpoints into the user cache, verified by SHA-256, then import them.

A download goes to a temporary file beside its destination and is renamed into place only when
its SHA-256 matches, so the cache never holds a partial or unverified file. The hash is always
required: either known here or given by the user (``--sha256``); we know of no hashes published
by the checkpoints' authors, so none is trusted on first use. urllib only (no extra dependency).
"""

from __future__ import annotations

import hashlib
import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from chestview import __version__
from chestview.engine.errors import ChestviewError, RunError
from chestview.engine.paths import user_cache_dir
from chestview.engine.util import atomic_write, sha256_file
from chestview.engine.zoo.importers import FORMATS, TXRV_WEIGHT_SETS


@dataclass(frozen=True)
class PublishedCheckpoint:
    name: str
    url: str
    format: str
    file_name: str
    sha256: str | None = None
    weight_set: str | None = None  # torchxrayvision's name, for its labels and thresholds
    note: str = ""


_TXRV_PICKLED = (
    "the official file is a pickled torchxrayvision module, which chestview refuses to unpickle; "
    "re-save it as a state dict where torchxrayvision is installed: torch.save(xrv.models.DenseNet("
    "weights='densenet121-res224-{name}').state_dict(), 'txrv-{name}.pt'), then `chestview models import "
    "txrv-{name}.pt --format torchxrayvision --weight-set {name}` (or serve it and pass --url)"
)

PUBLISHED: dict[str, PublishedCheckpoint] = {
    c.name: c
    for c in (
        PublishedCheckpoint(
            "chexnet-arnoweng",
            "https://github.com/arnoweng/CheXNet/raw/master/model.pth.tar",
            "chexnet",
            "model.pth.tar",
            note="CheXNet reimplementation (DenseNet-121, 14 NIH labels)",
        ),
        *(
            PublishedCheckpoint(
                f"txrv-densenet121-{ws.name}", ws.url, "torchxrayvision", ws.file_name, weight_set=ws.name,
                note=_TXRV_PICKLED.format(name=ws.name),
            )
            for ws in TXRV_WEIGHT_SETS.values()
        ),
    )
}


@dataclass(frozen=True)
class DownloadProgress:
    """``done`` bytes of ``total`` (None when the server does not say)."""

    url: str
    done: int
    total: int | None


def downloads_dir() -> Path:
    return user_cache_dir() / "downloads"


def published_checkpoint(name: str, *, url: str | None = None, fmt: str | None = None) -> PublishedCheckpoint:
    """A known checkpoint, or an ad-hoc one when both ``url`` and ``fmt`` are given."""
    if name in PUBLISHED:
        return PUBLISHED[name]
    if url and fmt:
        if fmt not in FORMATS:
            raise ChestviewError(f"{name}: unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        file_name = Path(urllib.parse.urlparse(url).path).name or f"{name}.pt"
        return PublishedCheckpoint(name, url, fmt, file_name)
    raise ChestviewError(
        f"{name}: not a known checkpoint (known: {', '.join(PUBLISHED)}); for another one give --url and --format"
    )


def _check_hex(sha256: str) -> str:
    sha = sha256.strip().lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ChestviewError(f"{sha256!r}: a SHA-256 is 64 hexadecimal digits")
    return sha


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are followed to http(s) only (urllib's default also follows ftp://)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 (urllib's signature)
        target = urllib.parse.urljoin(req.full_url, newurl)
        if urllib.parse.urlparse(target).scheme not in ("http", "https"):
            raise RunError(f"{req.full_url}: redirected to {target}; only http(s) URLs are fetched")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)

#: A download is bounded by size and by time: an endless or trickling response is cut off, not
#: followed forever (published checkpoints are tens of MB; a model's weights are at most 2 GB).
MAX_DOWNLOAD_BYTES = 2048 << 20
DOWNLOAD_DEADLINE_S = 1800.0


def download(
    url: str,
    dest: Path,
    *,
    sha256: str,
    on_progress: Callable[[DownloadProgress], None] | None = None,
    timeout: float = 60.0,
    chunk: int = 1 << 20,
    max_bytes: int | None = None,
    deadline_s: float | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically; a wrong SHA-256 leaves nothing behind. ``timeout``:
    seconds a connection may stay silent; ``max_bytes`` and ``deadline_s`` (default
    :data:`MAX_DOWNLOAD_BYTES`, :data:`DOWNLOAD_DEADLINE_S`) bound the whole transfer."""
    max_bytes = MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes
    deadline_s = DOWNLOAD_DEADLINE_S if deadline_s is None else deadline_s
    started = time.monotonic()
    expected = _check_hex(sha256)
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise ChestviewError(f"{url}: only http(s) URLs are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": f"chestview/{__version__}"})
    try:
        response = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise RunError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}".rstrip(": ")
        raise RunError(f"{url}: cannot download ({reason})") from None
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > max_bytes:
            raise RunError(f"{url}: the server announces {total:,} bytes, more than a checkpoint can be "
                           f"({max_bytes:,}); not downloaded")
        digest = hashlib.sha256()
        done = 0
        # atomic_write removes its temporary file when anything below raises.
        with atomic_write(dest, "wb") as fh:
            try:
                # read1: what has arrived, so that a trickling server meets the deadline check below
                while block := response.read1(chunk):
                    if done + len(block) > max_bytes:
                        raise RunError(f"{url}: more than {max_bytes:,} bytes, more than a checkpoint can be; "
                                       "download stopped and discarded")
                    if time.monotonic() - started > deadline_s:
                        raise RunError(f"{url}: download took longer than {deadline_s:g} s ({done:,} bytes by "
                                       "then); stopped and discarded")
                    fh.write(block)
                    digest.update(block)
                    done += len(block)
                    if on_progress:
                        on_progress(DownloadProgress(url, done, total))
            except (OSError, http.client.HTTPException) as exc:
                # a chunked response cut off mid-transfer raises IncompleteRead, an HTTPException
                raise RunError(f"{url}: download interrupted after {done:,} bytes ({type(exc).__name__})") from None
            if total is not None and done != total:
                raise RunError(f"{url}: download incomplete ({done} of {total} bytes)")
            if digest.hexdigest() != expected:
                raise RunError(
                    f"{url}: SHA-256 mismatch (expected {expected[:12]}…, got {digest.hexdigest()[:12]}…); "
                    "the download was discarded"
                )
    return dest


def fetch_checkpoint(
    checkpoint: PublishedCheckpoint,
    *,
    url: str | None = None,
    sha256: str | None = None,
    on_progress: Callable[[DownloadProgress], None] | None = None,
) -> Path:
    """The verified local copy of a checkpoint in ``downloads_dir()``, downloaded unless cached."""
    wanted = sha256 or checkpoint.sha256
    if not wanted:
        raise ChestviewError(
            f"{checkpoint.name}: no SHA-256 is known for this checkpoint; pass --sha256 with the hash "
            "published by its source (or of a copy you have verified): downloads are never trusted unchecked"
        )
    wanted = _check_hex(wanted)
    dest = downloads_dir() / f"{wanted[:12]}-{checkpoint.file_name}"
    if dest.is_file() and sha256_file(dest) == wanted:
        return dest
    return download(url or checkpoint.url, dest, sha256=wanted, on_progress=on_progress)
