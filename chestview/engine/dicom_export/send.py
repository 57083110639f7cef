"""C-STORE: push DICOM files (chestview's objects, or any) to a PACS or viewer with pynetdicom.

One association for all files; a presentation context per SOP class with the file's own transfer
syntax plus explicit/implicit little endian, so the receiver can pick. Every file gets an outcome;
a refused association or a dead host is one clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from chestview.engine.errors import ChestviewError
from chestview.engine.io._common import short_cause

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
            ds = pydicom.dcmread(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file: one line, the rest still goes
            outcomes.append(StoreOutcome(str(path), False, f"not a DICOM file to send ({short_cause(exc)})"))
            continue
        missing = [k for k in ("SOPClassUID", "SOPInstanceUID") if k not in ds]
        if missing or "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
            outcomes.append(StoreOutcome(str(path), False, f"cannot send: no {', '.join(missing or ['transfer syntax'])}"))
            continue
        headers.append((path, ds))
    if not headers:
        return outcomes
    contexts: dict[str, set[str]] = {}
    for _, ds in headers:
        contexts.setdefault(str(ds.SOPClassUID), {ExplicitVRLittleEndian, ImplicitVRLittleEndian}).add(
            str(ds.file_meta.TransferSyntaxUID)
        )
    if len(contexts) > MAX_CONTEXTS:
        raise ChestviewError(f"too many kinds of DICOM object in one send ({len(contexts)} SOP classes)")
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    for sop_class, syntaxes in contexts.items():
        ae.add_requested_context(sop_class, sorted(syntaxes))
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
