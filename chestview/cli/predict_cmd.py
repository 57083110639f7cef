"""``chestview predict PATH...``: findings, heatmaps and boxes for files and folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chestview.cli.common import collect_inputs, error, table
from chestview.engine.errors import ChestviewError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="run a model on images and folders; write results.json and annotated PNGs")
    p.add_argument("paths", nargs="*", metavar="PATH", help="image files (PNG, JPEG, DICOM) or folders")
    p.add_argument("--samples", action="store_true", help="also run on the sample studies bundled with chestview")
    p.add_argument("--model", action="append",
                   help="zoo model id or model directory (default: the zoo's default); repeat to run several "
                        "models, all in one results.json")
    p.add_argument("--ensemble", action="store_true",
                   help="with several --model: add an ensemble entry (mean of their probabilities)")
    p.add_argument("--out", default="chestview-results", help="output folder (default: %(default)s)")
    p.add_argument("--boxes", choices=["positive", "all", "none"], default="positive")
    p.add_argument("--tta", choices=["none", "tencrop"], default="none")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=None, help="decoding workers (default: automatic)")
    p.add_argument("--box-threshold", type=int, default=None,
                   help="heatmap threshold 1-255 for boxes (default: the model card's, chosen on validation)")
    p.add_argument("--no-images", action="store_true", help="write results.json only")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from chestview.engine.ensemble import ensemble_result
    from chestview.engine.export import (
        export_annotated,
        multi_model_document,
        output_name,
        results_document,
        write_results_json,
    )
    from chestview.engine.inference import Predictor
    from chestview.engine.io.loader import load_image
    from chestview.engine.results import ImageResult
    from chestview.engine.zoo import default_model_id, load_model

    from chestview.engine.paths import samples_dir

    if args.samples:
        args.paths = [*args.paths, str(samples_dir())]
    if not args.paths:
        error("give at least one PATH, or --samples for the bundled sample studies")
        return 2
    if args.batch_size < 1:
        error("--batch-size must be at least 1")
        return 2
    if args.box_threshold is not None and not 1 <= args.box_threshold <= 255:
        error("--box-threshold must be between 1 and 255")
        return 2
    model_ids = list(dict.fromkeys(args.model or [default_model_id()]))
    if model_ids == [None]:
        error("no model is installed: the zoo is empty (train one with `chestview train` or import one)")
        return 2
    if args.ensemble and len(model_ids) < 2:
        error("--ensemble needs two or more --model")
        return 2
    predictors = []
    try:
        for model_id in model_ids:
            predictors.append(Predictor(load_model(model_id), device=args.device, tta=args.tta, boxes=args.boxes,
                                        box_threshold=args.box_threshold))
    except ChestviewError as exc:
        error(str(exc))
        return 2

    files, failures = collect_inputs(args.paths)
    out = Path(args.out)
    used: set[str] = set()
    per_model: list[list[ImageResult]] = []
    for m, predictor in enumerate(predictors):
        card = predictor.card
        results = []
        for result in predictor.predict_paths(files, batch_size=args.batch_size, num_workers=args.workers):
            results.append(result)
            if result.error:
                if m == 0:
                    print(f"chestview: {result.error}", file=sys.stderr)
                continue
            if m == 0:
                for w in result.warnings:
                    print(f"chestview: warning: {result.path}: {w}", file=sys.stderr)
            if not args.no_images:
                stem = result.path if len(predictors) == 1 else f"{Path(result.path).stem}_{card.id}"
                try:
                    image = load_image(result.path)
                    export_annotated(out / output_name(stem, used), image, result, card, with_json=False)
                except ChestviewError as exc:
                    result.error = str(exc)
                    print(f"chestview: {exc}", file=sys.stderr)
        for path, message in failures:
            if m == 0:
                print(f"chestview: {message}", file=sys.stderr)
            results.append(ImageResult(path=path, error=message))
        per_model.append(results)
    settings = {"boxes": args.boxes, "tta": args.tta, "box_threshold": predictors[0].box_threshold,
                "device": str(predictors[0].device)}
    results = per_model[0]
    cards = [p.card for p in predictors]
    if len(predictors) == 1:
        document = results_document(cards[0], results, settings=settings)
    else:
        if args.box_threshold is None:
            settings["box_threshold"] = {p.card.id: p.box_threshold for p in predictors}
        ensemble = [ensemble_result(list(rs)) for rs in zip(*per_model)] if args.ensemble else None
        document = multi_model_document(cards, per_model, ensemble=ensemble, settings=settings)
    write_results_json(out / "results.json", document)

    rows = []
    for i, r in enumerate(results):
        if r.error:
            rows.append([Path(r.path).name, "ERROR", r.error.split(": ", 1)[-1][:60]])
            continue
        if r.flagged:  # no positives for what is probably not a chest film; they stay in results.json
            rows.append([Path(r.path).name, "FLAGGED", f"not a frontal chest radiograph? {r.input_check.reason}"])
            continue
        summaries = []
        for card, rs in zip(cards, per_model):
            summary = _positives(rs[i]) if not rs[i].error else "error"
            summaries.append(summary if len(cards) == 1 else f"[{card.id}] {summary}")
        rows.append([Path(r.path).name, "warn" if r.warnings else "ok", "; ".join(summaries)])
    print(f"model{'s' if len(cards) > 1 else ''} {', '.join(c.id for c in cards)} on {predictors[0].device}; "
          f"{len(results)} input(s)")
    if rows:
        print(table(rows, ["image", "status", "positive findings"]))
    print(f"wrote {out / 'results.json'}")
    if not files and not failures:
        error("no images found in the given paths")
        return 1
    return 1 if any(r.error for r in results) else 0


def _positives(r) -> str:
    pos = [f"{f.label} {f.probability:.2f}" for f in r.findings if f.positive]
    top = r.findings[0] if r.findings else None
    return ", ".join(pos) if pos else f"none positive (top: {top.label} {top.probability:.2f})" if top else ""
