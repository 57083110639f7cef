"""C-STORE: push DICOM files (chestview's objects, or any) to a PACS or viewer with pynetdicom.

One association for all files. Presentation contexts per SOP class: one for the uncompressed
little-endian syntaxes (explicit and implicit, the receiver picks; pynetdicom re-encodes between
them), and one for each other transfer syntax the files have, on its own (a JPEG, JPEG 2000 or
JPEG-LS file is sent as it is, and a receiver accepts or refuses exactly that). A file without
preamble or file meta (which ``predict`` reads) is sent in the encoding it was read with. Every
file gets an outcome; a refused association or a dead host is one clear error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from chestview.engine.errors import ChestviewError, ImageLoadError
from chestview.engine.io._common import short_cause
from chestview.engine.io.detect import sniff_file
from chestview.engine.io.dicom import read_dataset

MAX_CONTEXTS = 128  # the DICOM limit on presentation contexts per association
DEFAULT_CALLING_AET = "CHESTVIEW"


@dataclass(frozen=True)
class StoreOutcome:
    path: str
    ok: bool
    message: str  # "stored" or the reason


def dicom_files(paths: list[str | Path]) -> list[Path]:
    """The files to send: files as given, folders searched recursively for ``*.dcm``."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*.dcm") if q.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            raise ChestviewError(f"{p}: no such file or directory")
    return files


def send_files(
    files: list[Path],
    host: str,
    port: int,
    called_aet: str,
    *,
    calling_aet: str = DEFAULT_CALLING_AET,
    timeout: float = 30.0,
) -> list[StoreOutcome]:
    from pynetdicom import AE

    headers: list[tuple[Path, pydicom.Dataset]] = []
    outcomes: list[StoreOutcome] = []
    for path in files:
        try:
            ds = _read(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file: one line, the rest still goes
            reason = exc.reason if isinstance(exc, ImageLoadError) else short_cause(exc)
            outcomes.append(StoreOutcome(str(path), False, f"not a DICOM file to send ({reason})"))
            continue
        missing = [k for k in ("SOPClassUID", "SOPInstanceUID") if k not in ds]
        if missing:
            outcomes.append(StoreOutcome(str(path), False, f"cannot send: no {', '.join(missing)}"))
            continue
        headers.append((path, ds))
    if not headers:
        return outcomes
    contexts = requested_contexts(ds for _, ds in headers)
    if len(contexts) > MAX_CONTEXTS:
        raise ChestviewError(f"too many kinds of DICOM object in one send ({len(contexts)} presentation contexts "
                             f"of SOP class and transfer syntax; at most {MAX_CONTEXTS}): send them in parts")
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    for sop_class, syntaxes in contexts:
        ae.add_requested_context(sop_class, list(syntaxes))
    try:
        assoc = ae.associate(host, int(port), ae_title=called_aet)
    except Exception as exc:  # noqa: BLE001 - socket errors come in many types
        raise ChestviewError(f"{host}:{port}: cannot connect ({short_cause(exc)})") from None
    if not assoc.is_established:
        why = "rejected" if assoc.is_rejected else "aborted" if assoc.is_aborted else "not established"
        raise ChestviewError(f"{host}:{port}: association with {called_aet} {why} (check host, port and AE titles)")
    try:
        for path, ds in headers:
            outcomes.append(_store(assoc, path, ds))
    finally:
        if assoc.is_established:
            assoc.release()
    return outcomes


_UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def _read(path: Path) -> pydicom.Dataset:
    """The whole file as ``predict`` reads it: with or without preamble and file meta (then its
    transfer syntax is the encoding it was read in)."""
    return read_dataset(path, force=sniff_file(path) == "dicom-raw")


def requested_contexts(datasets: Iterable[pydicom.Dataset]) -> list[tuple[str, tuple[str, ...]]]:
    """(SOP class, transfer syntaxes) of each presentation context to propose: per SOP class one
    context of the uncompressed little-endian syntaxes, and one per other syntax the files use."""
    wanted: dict[tuple[str, tuple[str, ...]], None] = {}
    for ds in datasets:
        sop_class, syntax = str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)
        syntaxes = _UNCOMPRESSED if syntax in _UNCOMPRESSED else (syntax,)
        wanted[(sop_class, syntaxes)] = None
    return list(wanted)


def _store(assoc, path: Path, ds: pydicom.Dataset) -> StoreOutcome:
    try:
        status = assoc.send_c_store(ds)
    except ValueError as exc:  # no accepted presentation context for this SOP class / transfer syntax
        return StoreOutcome(str(path), False, f"not accepted by the receiver ({short_cause(exc)})")
    code = getattr(status, "Status", None)
    if code is None:
        return StoreOutcome(str(path), False, "no response (connection lost or timed out)")
    if code == 0x0000:
        return StoreOutcome(str(path), True, "stored")
    if code in (0xB000, 0xB007, 0xB006):
        return StoreOutcome(str(path), True, f"stored with warning 0x{code:04X}")
    return StoreOutcome(str(path), False, f"refused with status 0x{code:04X}")
