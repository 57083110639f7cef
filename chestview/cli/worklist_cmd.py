"""``chestview worklist PATH...``: every image scored and sorted for triage, from the result cache
where it can."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chestview.cli.common import at_least, collect_inputs, error, report, report_backend, table
from chestview.cli.progress import add_quiet_argument, progress_for
from chestview.engine.errors import ChestviewError
from chestview.engine.reviews import ReviewStore, write_reviews_csv


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worklist", help="score images and list them most suspicious first (flagged inputs apart)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="image files (PNG, JPEG, DICOM) or folders")
    p.add_argument("--samples", action="store_true", help="also list the sample studies bundled with chestview")
    p.add_argument("--model", help="zoo model id or model directory (default: the zoo's default)")
    p.add_argument("--csv", metavar="FILE", help="also write the worklist as CSV")
    p.add_argument("--json", metavar="FILE", help="also write the worklist as JSON")
    p.add_argument("--reviews", metavar="CSV",
                   help="also write the reader's verdicts (from the app's review store) with the model's "
                        "probabilities, one row per judged finding")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--no-cache", action="store_true", help="run every image; neither read nor write the result cache")
    p.add_argument("--site", metavar="NAME", help="use a site profile made by `chestview calibrate`")
    add_quiet_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.device import resolve_device
    from chestview.engine.outputs import check_output_file
    from chestview.engine.result_cache import ResultCache, cached_results, predict_with_cache, settings_key
    from chestview.engine.results import ImageResult
    from chestview.engine.util import atomic_write_text
    from chestview.engine.worklist import build_worklist, write_worklist_csv
    from chestview.engine.zoo import ModelCard, default_model_id, find_model

    from chestview.engine.paths import samples_dir

    if args.samples:
        args.paths = [*args.paths, str(samples_dir())]
    if not args.paths:
        error("give at least one PATH, or --samples for the bundled sample studies")
        return 2
    if not at_least("--batch-size", args.batch_size, 1):
        return 2
    model_id = args.model or default_model_id()
    if model_id is None:
        error("no model is installed: the zoo is empty (train one with `chestview train` or import one)")
        return 2
    try:
        model_dir = find_model(model_id)
        card = ModelCard.load(model_dir)
        profile = None
        if args.site:
            # deferred: imports torch; `chestview --help` and the other commands do not pay for it
            from chestview.engine.site import load_profile

            profile = load_profile(card.id, args.site)
            card = profile.apply(card)  # the cache key, too, names the site's operating points
        device = resolve_device(args.device)
    except ChestviewError as exc:
        error(str(exc))
        return 2
    files, failures = collect_inputs(args.paths)
    try:  # before anything runs: neither list may land on (or be read back as) an input
        for target in (args.csv, args.json):
            if target:
                check_output_file(target, roots=args.paths, inputs=files)
    except ChestviewError as exc:
        error(str(exc))
        return 2
    cache = None if args.no_cache else ResultCache()
    # What the cache holds is found from the card alone: a folder seen before is listed without
    # loading the model at all.
    hits: dict = {}
    if cache is not None and files:
        hits, _ = cached_results(None, files, cache, key=settings_key(card, device_type=device.type,
                                                                       box_threshold=card.box_threshold))
    results = [hits[p] for p in files if p in hits]
    misses = [p for p in files if p not in hits]
    backend = "no model run"
    if misses:
        # deferred: imports torch; `chestview --help` and the other commands do not pay for it
        from chestview.engine.inference import Predictor
        from chestview.engine.zoo import load_model

        try:
            # deferred: imports torch; `chestview --help` and the other commands do not pay for it
            from chestview.engine.site import with_site

            predictor = Predictor(with_site(load_model(model_dir), profile), device=device, boxes="positive")
        except ChestviewError as exc:
            error(str(exc))
            return 2
        report_backend(predictor)
        backend = predictor.backend_name
        with progress_for(args) as bar:
            for result in predict_with_cache(predictor, misses, cache, batch_size=args.batch_size,
                                             on_progress=bar.on_predict):
                if result.error:
                    report(result.error)
                results.append(result)
    for path, message in failures:
        report(message)
        results.append(ImageResult(path=path, error=message))
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.gate.drift import folder_drift

    drift = folder_drift(card, results)
    rows = build_worklist(results, card.id)
    shown = [
        [i + 1, Path(r.path).name, r.shown_score(), _clip(r.call_text, 40), _clip(r.shown_findings(), 70),
         _clip(r.check_text(), 70), _clip(" | ".join(r.warnings), 50)]
        for i, r in enumerate(rows)
    ]
    source = f"{len(hits)} from the result cache, {len(misses)} run" if cache is not None else "result cache off"
    print(f"worklist: {len(rows)} image(s), model {card.id} on {device} ({backend}); {source}; most suspicious "
          f"first, flagged inputs (not a frontal chest radiograph?) after them")
    if shown:
        print(table(shown, ["#", "file", "score", "case call", "top findings (+ positive)", "input check", "warnings"]))
    if profile is not None:
        print(f"site profile: {profile.name}")
    if drift is not None and drift.warn:
        print(f"WARNING: {drift.message}")
    if args.csv:
        print(f"wrote {write_worklist_csv(args.csv, rows)}")
    if args.json:
        doc = {"model": card.id, "rows": [r.to_json() for r in rows]}
        if profile is not None:
            doc["site"] = profile.name
        if drift is not None:
            doc["drift"] = drift.to_json()
        atomic_write_text(Path(args.json), json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.reviews:
        store = ReviewStore()
        try:
            reviews = store.get_many(files)
        finally:
            store.close()
        by_path = {r.path: r for r in results}
        judged = {p: rv for p, rv in reviews.items() if rv.verdicts or rv.read or rv.note}
        print(f"wrote {write_reviews_csv(args.reviews, judged, by_path)} ({len(judged)} reviewed film(s))")
    if not files and not failures:
        error("no images found in the given paths")
        return 1
    return 1 if any(r.error for r in results) else 0


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, with "…" when cut (the CSV and JSON keep it whole)."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
