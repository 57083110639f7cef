"""``chestview predict PATH...``: findings, heatmaps and boxes for files and folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chestview.cli.common import error, table
from chestview.engine.errors import ChestviewError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="run a model on images and folders; write results.json and annotated PNGs")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files (PNG, JPEG, DICOM) or folders")
    p.add_argument("--model", help="zoo model id or model directory (default: the zoo's default)")
    p.add_argument("--out", default="chestview-results", help="output folder (default: %(default)s)")
    p.add_argument("--boxes", choices=["positive", "all", "none"], default="positive")
    p.add_argument("--tta", choices=["none", "tencrop"], default="none")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=None, help="decoding workers (default: automatic)")
    p.add_argument("--box-threshold", type=int, default=None,
                   help="heatmap threshold 1-255 for boxes (default: the model card's, chosen on validation)")
    p.add_argument("--no-images", action="store_true", help="write results.json only")
    p.add_argument("--dicom-out", metavar="DIR",
                   help="also write a DICOM SR and presentation state per DICOM input into DIR (for a PACS or viewer)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from chestview.cli.dicom_out import export_dicom
    from chestview.engine.dicom_export import DicomExporter
    from chestview.engine.export import export_annotated, output_name, results_document, write_results_json
    from chestview.engine.inference import Predictor
    from chestview.engine.io.loader import load_image
    from chestview.engine.io.scan import iter_image_files
    from chestview.engine.zoo import default_model_id, load_model

    if args.batch_size < 1:
        error("--batch-size must be at least 1")
        return 2
    if args.box_threshold is not None and not 1 <= args.box_threshold <= 255:
        error("--box-threshold must be between 1 and 255")
        return 2
    model_id = args.model or default_model_id()
    if model_id is None:
        error("no model is installed: the zoo is empty (train one with `chestview train` or import one)")
        return 2
    try:
        loaded = load_model(model_id)
        predictor = Predictor(
            loaded, device=args.device, tta=args.tta, boxes=args.boxes, box_threshold=args.box_threshold
        )
    except ChestviewError as exc:
        error(str(exc))
        return 2

    files: list[str] = []
    failures: list[tuple[str, str]] = []
    for raw in args.paths:
        if not Path(raw).exists():
            failures.append((raw, f"{raw}: no such file or directory"))
    existing = [p for p in args.paths if Path(p).exists()]
    files = [str(p) for p in iter_image_files(existing)]
    out = Path(args.out)
    results = []
    used: set[str] = set()
    dicom_out = DicomExporter(args.dicom_out, loaded.card) if args.dicom_out else None
    for result in predictor.predict_paths(files, batch_size=args.batch_size, num_workers=args.workers):
        results.append(result)
        if result.error:
            print(f"chestview: {result.error}", file=sys.stderr)
            continue
        for w in result.warnings:
            print(f"chestview: warning: {result.path}: {w}", file=sys.stderr)
        image = None
        if not args.no_images:
            try:
                image = load_image(result.path)
                export_annotated(out / output_name(result.path, used), image, result, loaded.card, with_json=False)
            except ChestviewError as exc:
                result.error = str(exc)
                print(f"chestview: {exc}", file=sys.stderr)
        if dicom_out is not None and not result.error:
            export_dicom(dicom_out, result, image)
    from chestview.engine.results import ImageResult

    for path, message in failures:
        print(f"chestview: {message}", file=sys.stderr)
        results.append(ImageResult(path=path, error=message))
    settings = {"boxes": args.boxes, "tta": args.tta, "box_threshold": predictor.box_threshold, "device": str(predictor.device)}
    write_results_json(out / "results.json", results_document(loaded.card, results, settings=settings))

    rows = []
    for r in results:
        if r.error:
            rows.append([Path(r.path).name, "ERROR", r.error.split(": ", 1)[-1][:60]])
            continue
        pos = [f"{f.label} {f.probability:.2f}" for f in r.findings if f.positive]
        top = r.findings[0] if r.findings else None
        summary = ", ".join(pos) if pos else f"none positive (top: {top.label} {top.probability:.2f})" if top else ""
        rows.append([Path(r.path).name, "warn" if r.warnings else "ok", summary])
    print(f"model {loaded.card.id} on {predictor.device}; {len(results)} input(s)")
    if rows:
        print(table(rows, ["image", "status", "positive findings"]))
    print(f"wrote {out / 'results.json'}")
    if dicom_out is not None:
        print(f"wrote {len(dicom_out.written)} DICOM object(s) in {dicom_out.out_dir}")
    if not files and not failures:
        error("no images found in the given paths")
        return 1
    return 1 if any(r.error for r in results) else 0
