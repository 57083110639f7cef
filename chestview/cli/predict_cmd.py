"""``chestview predict PATH...``: findings, heatmaps and boxes for files and folders."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

from chestview.cli.common import (
    add_backend_argument, at_least, between, collect_inputs, error, report, report_backend, table,
)
from chestview.cli.progress import add_quiet_argument, progress_for
from chestview.engine.errors import ChestviewError
from chestview.engine.shard import merge_parts, parse_shard, run_key, shard_device, shard_from_env, write_part


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
    add_backend_argument(p)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=None, help="decoding workers (default: automatic)")
    p.add_argument("--box-threshold", type=int, default=None,
                   help="heatmap threshold 1-255 for boxes (default: the model card's, chosen on validation)")
    p.add_argument("--no-images", action="store_true", help="write results.json only")
    p.add_argument("--shard", metavar="I/N", help="take every N-th input from the I-th (1-based) and write a part; "
                   "the shard that completes the set merges results.json (under torchrun: RANK of WORLD_SIZE); "
                   "one --model only")
    p.add_argument("--dicom-out", metavar="DIR",
                   help="also write a DICOM SR and presentation state per DICOM input into DIR (for a PACS or "
                        "viewer); one --model only")
    p.add_argument("--site", metavar="NAME",
                   help="use a site profile made by `chestview calibrate` (its calibration, operating points and "
                        "gate cut); one --model only")
    add_quiet_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.cli.dicom_out import export_dicom
    from chestview.engine.dicom_export import DicomExporter
    from chestview.engine.ensemble import ensemble_result
    from chestview.engine.export import (
        export_annotated,
        multi_model_document,
        output_name,
        results_document,
        write_results_json,
    )
    from chestview.engine.case_call import case_call
    from chestview.engine.inference import Predictor
    from chestview.engine.io.loader import load_image
    from chestview.engine.outputs import check_output_folder, open_output_folder
    from chestview.engine.results import ImageResult
    from chestview.engine.gate.drift import folder_drift
    from chestview.engine.paths import samples_dir
    from chestview.engine.zoo import default_model_id, load_model

    if args.samples:
        args.paths = [*args.paths, str(samples_dir())]
    if not args.paths:
        error("give at least one PATH, or --samples for the bundled sample studies")
        return 2
    if not (at_least("--batch-size", args.batch_size, 1)
            and at_least("--workers", args.workers, 0, note="0: decode on the main thread")
            and between("--box-threshold", args.box_threshold, 1, 255, what="a heatmap level")):
        return 2
    model_ids = list(dict.fromkeys(args.model or [default_model_id()]))
    if model_ids == [None]:
        error("no model is installed: the zoo is empty (train one with `chestview train` or import one)")
        return 2
    if args.ensemble and len(model_ids) < 2:
        error("--ensemble needs two or more --model")
        return 2

    try:
        shard = parse_shard(args.shard) if args.shard else shard_from_env()
    except ChestviewError as exc:
        error(str(exc))
        return 2
    if args.site and len(model_ids) > 1:
        error("--site takes one --model, not several (a profile belongs to one model)")
        return 2
    if len(model_ids) > 1 and (shard is not None or args.dicom_out):
        # A shard's part and the DICOM objects describe one model's results; several models would
        # need a part and an SR per model, which neither format has.
        error("--shard (or torchrun) and --dicom-out take one --model, not several")
        return 2
    predictors: list[Predictor] = []
    try:
        device = shard_device(args.device) if shard else args.device
        for model_id in model_ids:
            loaded = load_model(model_id)
            if args.site:
                # deferred: imports torch; `chestview --help` and the other commands do not pay for it
                from chestview.engine.site import load_profile, with_site

                loaded = with_site(loaded, load_profile(loaded.card.id, args.site))
            predictors.append(Predictor(loaded, device=device, tta=args.tta, boxes=args.boxes,
                                        box_threshold=args.box_threshold, backend=args.backend,
                                        precision=args.precision))
    except ChestviewError as exc:
        error(str(exc))
        return 2
    for predictor in predictors:
        report_backend(predictor)
    cards = [p.card for p in predictors]
    multi = len(predictors) > 1

    # Every input is listed, and every output named, before anything is written: outputs are never
    # read back as inputs and never land on one (exit 2 instead).
    files, failures = collect_inputs(args.paths)
    existing = [p for p in args.paths if Path(p).exists() or Path(p).is_symlink()]
    used: set[str] = set()
    # names[m][k]: model m's annotated image of file k, named from the whole list so shards name alike.
    names = [[output_name(f if not multi else f"{Path(f).stem}_{card.id}", used) for f in files] for card in cards]
    mine = shard.take(len(files)) if shard else list(range(len(files)))
    outputs = [] if args.no_images else [names[m][k] for m in range(len(cards)) for k in mine]
    if args.dicom_out:
        try:
            check_output_folder(args.dicom_out)
        except ChestviewError as exc:
            error(str(exc))
            return 2
    dicom_out = DicomExporter(args.dicom_out, cards[0]) if args.dicom_out else None

    shard_name = f"{shard.index + 1}-of-{shard.count}" if shard else ""
    per_model: list[list[ImageResult]] = []
    with contextlib.ExitStack() as stack:
        if dicom_out is not None:
            stack.enter_context(dicom_out)
        out = stack.enter_context(open_output_folder(args.out, roots=existing, inputs=files, outputs=outputs,
                                                     what="chestview predict", shard=shard_name))
        for m, predictor in enumerate(predictors):
            first = m == 0  # input errors and warnings are reported once, for the first model
            results: list[ImageResult] = []
            bar = stack.enter_context(progress_for(args, predictor.card.id if multi else ""))
            batches = predictor.predict_paths([files[k] for k in mine], batch_size=args.batch_size,
                                              num_workers=args.workers, on_progress=bar.on_predict)
            for k, result in zip(mine, batches):
                results.append(result)
                if result.error:
                    if first:
                        report(result.error)
                    continue
                if first:
                    for w in result.warnings:
                        report(f"warning: {result.path}: {w}")
                image = None
                if not args.no_images:
                    try:
                        image = load_image(result.path)
                        export_annotated(out / names[m][k], image, result, predictor.card, with_json=False)
                    except ChestviewError as exc:
                        result.error = str(exc)
                        report(str(exc))
                    except OSError as exc:  # a full disk: this file's error, and results.json still tried
                        target = out / names[m][k]
                        result.error = f"{target}: cannot write ({exc.strerror or type(exc).__name__})"
                        report(result.error)
                if dicom_out is not None and not result.error:
                    export_dicom(dicom_out, result, image)
            bar.close()
            if shard and shard.index > 0:
                failures = []  # the first shard reports the missing paths
            for path, message in failures:
                if first:
                    report(message)
                results.append(ImageResult(path=path, error=message))
            per_model.append(results)
        predictor = predictors[0]
        results = per_model[0]
        drift = folder_drift(cards[0], results) if shard is None else None
        settings = {"boxes": args.boxes, "tta": args.tta, "box_threshold": predictor.box_threshold,
                    "device": str(predictor.device), "backend": predictor.backend_name}
        if not multi:
            document = results_document(cards[0], results, settings=settings)
        else:
            if args.box_threshold is None:
                settings["box_threshold"] = {p.card.id: p.box_threshold for p in predictors}
            settings["backend"] = {p.card.id: p.backend_name for p in predictors}
            ensemble = [ensemble_result(list(rs)) for rs in zip(*per_model)] if args.ensemble else None
            document = multi_model_document(cards, per_model, ensemble=ensemble, settings=settings)
        if drift is not None:
            document["drift"] = drift.to_json()
        if shard is None:
            written = write_results_json(out / "results.json", document)
        else:
            card = cards[0]
            key = run_key(files + list(args.paths), model=card.id, sha256=card.sha256,
                          boxes=args.boxes, tta=args.tta, box_threshold=predictor.box_threshold)
            written = write_part(out, shard, key, mine + list(range(len(files), len(files) + len(failures))), document)
            written = merge_parts(out, shard.count, key) or written

    rows = []
    for i, r in enumerate(results):
        if r.error:
            rows.append([Path(r.path).name, "ERROR", "", r.error.split(": ", 1)[-1][:60]])
            continue
        ab = r.abnormality
        call = case_call(r)  # the one rule the app, the worklist and the exports follow
        abnormal = ("" if ab is None else f"{ab.probability:.2f} ") + (call.short if call is not None else "")
        if r.flagged:  # no scores for what is probably not a chest film; they stay in results.json
            rows.append([Path(r.path).name, "FLAGGED", "–",
                         f"not a frontal chest radiograph? {r.input_check.reason}"])
            continue
        summaries = []
        for card, rs in zip(cards, per_model):
            summary = _positives(rs[i]) if not rs[i].error else "error"
            summaries.append(summary if not multi else f"[{card.id}] {summary}")
        rows.append([Path(r.path).name, "warn" if r.warnings else "ok", abnormal, "; ".join(summaries)])
    backends = ", ".join(dict.fromkeys(p.backend_name for p in predictors))
    print(f"model{'s' if multi else ''} {', '.join(c.id for c in cards)} on {predictors[0].device} ({backends}); "
          f"{len(results)} input(s)")
    if rows:
        print(table(rows, ["image", "status", "abnormality (case call)", "positive findings"]))
    if predictors[0].site:
        print(f"site profile: {predictors[0].site}")
    if drift is not None and drift.warn:
        print(f"WARNING: {drift.message}")
    print(f"wrote {written}" + (f" (shard {shard.index + 1}/{shard.count})" if shard else ""))
    if dicom_out is not None:
        print(f"wrote {len(dicom_out.written)} DICOM object(s) in {dicom_out.out_dir}")
    if not files and not failures:
        error("no images found in the given paths")
        return 1
    if shard is not None and not args.shard:
        # Under torchrun a rank that exits 1 stops the others: only the rank that merged reports the
        # failed inputs of the whole run (the others' parts are written by then).
        if written.name != "results.json":
            return 0
        return 1 if any(r.get("error") for r in json.loads(written.read_text(encoding="utf-8"))["results"]) else 0
    return 1 if any(r.error for r in results) else 0


def _positives(r) -> str:
    pos = [f"{f.label} {f.probability:.2f}" + (" (diffuse, no box)" if f.diffuse else "") for f in r.findings if f.positive]
    top = r.findings[0] if r.findings else None
    return ", ".join(pos) if pos else f"none positive (top: {top.label} {top.probability:.2f})" if top else ""
