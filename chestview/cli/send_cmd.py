"""``chestview send PATH... --host H --port P --aet AE``: C-STORE DICOM files (e.g. --dicom-out's) to a PACS."""

from __future__ import annotations

import argparse
import sys

from chestview.cli.common import error
from chestview.engine.errors import ChestviewError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("send", help="send DICOM files (e.g. the output of predict --dicom-out) to a PACS with C-STORE")
    p.add_argument("paths", nargs="+", metavar="PATH", help="DICOM files or folders (searched for *.dcm)")
    p.add_argument("--host", required=True, help="the receiver's host name or address")
    p.add_argument("--port", required=True, type=int, help="the receiver's DICOM port")
    p.add_argument("--aet", required=True, help="the receiver's AE title (called AE)")
    p.add_argument("--calling-aet", default="CHESTVIEW", help="chestview's AE title (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds (default: %(default)s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.dicom_export.send import dicom_files, send_files

    if not 0 < args.port < 65536:
        error("--port must be between 1 and 65535")
        return 2
    for title in (args.aet, args.calling_aet):
        if not title.strip() or len(title) > 16:
            error(f"AE title {title!r} must be 1 to 16 characters")
            return 2
    try:
        files = dicom_files(args.paths)
        if not files:
            error("no DICOM files found in the given paths")
            return 1
        outcomes = send_files(files, args.host, args.port, args.aet, calling_aet=args.calling_aet, timeout=args.timeout)
    except ChestviewError as exc:
        print(f"chestview: {exc}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        if not outcome.ok:
            print(f"chestview: {outcome.path}: {outcome.message}", file=sys.stderr)
    sent = sum(o.ok for o in outcomes)
    print(f"sent {sent} of {len(outcomes)} file(s) to {args.aet}@{args.host}:{args.port}")
    return 0 if sent == len(outcomes) else 1
