"""``chestview eval``: AUROC with intervals and the localization table of a model on a dataset, or
(``--reader-verdicts CSV``) the model against the reader's own agree/disagree verdicts."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chestview.cli.common import add_backend_argument, at_least, between, error, one_line
from chestview.cli.progress import add_quiet_argument, progress_for, write_stderr
from chestview.engine.errors import ChestviewError
from chestview.engine.outputs import check_output_folder


def add_parser(sub: argparse._SubParsersAction) -> None:
    # deferred: imports torch and torchvision and sklearn; `chestview --help` and the other commands do not pay for it
    from chestview.engine.train.evaluation import SPLITS

    p = sub.add_parser("eval", help="evaluate a model on a labelled dataset (AUROC with 95%% CIs, localization)")
    p.add_argument("--model", required=True, help="zoo model id or model directory")
    p.add_argument("--data", metavar="FORMAT:PATH", help="nih:DIR, chexpert:CSV, indiana:DIR, openi:DIR or csv:CSV")
    p.add_argument("--reader-verdicts", metavar="CSV",
                   help="instead of --data: the reader's verdicts (written by `chestview worklist PATH --reviews "
                        "CSV`) as the test set: agree keeps the model's call at review time, disagree turns it "
                        "over, unsure is skipped; per finding n, positives, AUROC, sensitivity/specificity at "
                        "the model's operating point and agreement")
    p.add_argument("--data-opt", action="append", metavar="KEY=VALUE", help="dataset reader option")
    p.add_argument("--boxes", metavar="CSV", help="NIH BBox_List_2017.csv with ground-truth boxes for these images")
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="which split (the model's training split when --data is its training data; default test)")
    p.add_argument("--split-fractions", metavar="TRAIN,VAL,TEST", help="override the split fractions")
    p.add_argument("--split-seed", type=int, help="override the split seed")
    p.add_argument("--tta", choices=["none", "tencrop"], default="none")
    p.add_argument("--heatmap-threshold", type=int, default=None,
                   help="heatmap threshold 1-255 for boxes (default: the model card's box threshold)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs (0: none)")
    p.add_argument("--write-thresholds", action="store_true",
                   help="fit on the VALIDATION split and write into the model card: Platt calibration, one "
                        "threshold for every finding (at most 30%% of the validation normals with any positive), "
                        "the abnormality threshold (90%% sensitivity), the box threshold and box-prior exponent; "
                        "without validation normals, Youden's J per label (then measure --split with them)")
    p.add_argument("--update-card", action="store_true",
                   help="write the fresh test metrics into the model card and the report into <model>/eval/ "
                        "(only for the card's own data and split, --split test)")
    p.add_argument("--probe", choices=["intensity"],
                   help="also run the shortcut probe: the validation films re-scored under gamma 0.7/1.4 and "
                        "+/-20 gray levels (mean change of the case-call score, case calls flipped)")
    p.add_argument("--out", help="write report.json / report.md here")
    p.add_argument("--device", default="auto")
    add_backend_argument(p)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=None)
    add_quiet_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if bool(args.data) == bool(args.reader_verdicts):
        error("give --data FORMAT:PATH or --reader-verdicts CSV (one of them)")
        return 2
    if args.reader_verdicts:
        from chestview.cli.reader_eval import run_reader_verdicts  # deferred: imports torch

        return run_reader_verdicts(args)
    return run_dataset(args)


def run_dataset(args: argparse.Namespace) -> int:
    # deferred: imports torch and torchvision and sklearn; `chestview --help` and the other commands do not pay for it
    from chestview.cli.train_cmd import floats, parse_pairs, print_evaluation
    from chestview.engine.train.evaluation import evaluate
    from chestview.engine.train.events import Log

    if not (between("--heatmap-threshold", args.heatmap_threshold, 1, 255)
            and at_least("--batch-size", args.batch_size, 1)
            and at_least("--bootstrap", args.bootstrap, 0, note="0: no intervals")
            and at_least("--workers", args.workers, 0)):
        return 2
    if args.out:
        try:  # up front: a file in the way is found before the whole evaluation, not after it
            check_output_folder(args.out)
        except ChestviewError as exc:
            error(str(exc))
            return 2
    fractions = None
    if args.split_fractions:
        try:
            fractions = floats(args.split_fractions)
        except argparse.ArgumentTypeError as exc:
            error(str(exc))
            return 2

    bar = progress_for(args)

    def on_event(ev: Any) -> None:
        if isinstance(ev, Log):
            write_stderr(ev.message)
        else:
            bar.on_stage(ev)  # EvalProgress per split: a bar with its rate and time left

    with bar:
        result = evaluate(
            args.model,
            args.data,
            split=args.split,
            boxes_csv=args.boxes,
            tta=args.tta,
            out_dir=args.out,
            heatmap_threshold=args.heatmap_threshold,
            device=args.device,
            backend=args.backend,
            precision=args.precision,
            data_options=parse_pairs(args.data_opt, "--data-opt"),
            split_fractions=fractions,
            split_seed=args.split_seed,
            n_boot=args.bootstrap,
            write_thresholds=args.write_thresholds,
            update_card=args.update_card,
            probe=bool(args.probe),
            batch_size=args.batch_size,
            num_workers=args.workers,
            on_event=on_event,
        )
    if result.cancelled:
        error("evaluation cancelled")
        return 1
    print(f"model {result.model_id}")
    print_evaluation(result)
    if result.probe is not None:
        print("\n" + result.probe.text())
    if result.thresholds:
        print("\noperating thresholds (validation split) written to the card:")
        rules = {result.threshold_rules.get(label, "") for label in result.thresholds}
        shared = len(rules) == 1  # one rule for every label (the specificity rule): say it once
        for label, t in result.thresholds.items():
            rule = result.threshold_rules.get(label, "")
            print(f"  {label}: {t:.4f}" + (f"  ({rule})" if rule and not shared else ""))
        if shared and next(iter(rules)):
            print(f"  rule: {next(iter(rules))}")
        if "Abnormality" in result.threshold_rules:
            print(f"  abnormality: {result.threshold_rules['Abnormality']}")
    if result.box_threshold is not None:
        print(f"{result.box_threshold_note or f'box threshold {result.box_threshold}'}: written to the card")
    if args.update_card:
        print("\ntest metrics and eval/ report written into the model card's directory")
    if result.errors:
        print(f"\n{len(result.errors)} image(s) could not be read:", file=sys.stderr)
        for e in result.errors[:10]:
            print(f"  {one_line(e)}", file=sys.stderr)
        return 1  # some inputs failed (the metrics are over the others)
    return 0
