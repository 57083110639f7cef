"""``chestview train``: train a model on a labelled dataset and write a zoo entry.

Options come from ``--config FILE`` (TOML, see TrainConfig), then flags override them. With
``--resume`` the run's own ``OUT/config.toml`` is the base unless ``--config`` is given.
Ctrl-C once stops cleanly after the current batch (the last completed epoch stays resumable).
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import tomllib
from pathlib import Path
from typing import Any, Iterator

from chestview.cli.common import table
from chestview.cli.progress import Progress, add_quiet_argument, write_stderr
from chestview.engine.errors import ChestviewError


def parse_value(text: str) -> Any:
    """A KEY=VALUE value as TOML would read it (numbers, true/false, lists), else the plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_pairs(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ChestviewError(f"{flag} expects KEY=VALUE, got {pair!r}")
        out[key.strip().replace("-", "_")] = parse_value(value.strip())
    return out


def floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_parser(sub: argparse._SubParsersAction) -> None:
    # deferred: imports torch and torchvision and sklearn; `chestview --help` and the other commands do not pay for it
    from chestview.engine.train.config import METHODOLOGIES, SCHEDULES
    from chestview.engine.train.losses import list_losses

    p = sub.add_parser("train", help="train a model on a labelled dataset; write a zoo entry and a report")
    p.add_argument("--config", metavar="FILE", help="TOML training configuration; flags override it")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    g = p.add_argument_group("model")
    g.add_argument("--arch", help="architecture (chestview models --archs; default chexnet)")
    g.add_argument("--trunk", help="trunk for the architecture (densenet121, resnet18/34/50, efficientnet_lite0..2)")
    g.add_argument("--pretrained-trunk", action="store_true", default=None, help="start from ImageNet trunk weights")
    g.add_argument("--lse-r", type=float, help="LSE pooling sharpness r (chestxray8)")
    g.add_argument("--arch-arg", action="append", metavar="KEY=VALUE", help="other architecture options")
    g.add_argument("--methodology", choices=METHODOLOGIES,
                   help="full: train all; classifier: freeze the trunk; untrained: evaluate as built")
    g.add_argument("--model-id", help="id of the zoo entry (default: ARCH[-TRUNK]-DATA-SIZEpx)")
    d = p.add_argument_group("data")
    d.add_argument("--data", metavar="FORMAT:PATH", help="nih:DIR, chexpert:CSV, indiana:DIR, openi:DIR or csv:CSV")
    d.add_argument("--data-opt", action="append", metavar="KEY=VALUE", help="dataset reader option (e.g. images=images_1024)")
    d.add_argument("--labels", type=names, help="comma-separated labels to train (default: all of the dataset's)")
    d.add_argument("--size", type=int, help="input size in pixels (default 224)")
    d.add_argument("--channels", type=int, choices=(1, 3))
    d.add_argument("--mean", type=floats, help="normalisation mean(s) (default: from the trunk)")
    d.add_argument("--std", type=floats, help="normalisation std(s) (default: from the trunk)")
    d.add_argument("--intensity", choices=("window", "equalize"),
                   help="gray-level standardisation before the model (equalize: per-image histogram "
                        "equalisation, part of the model's preprocessing; default window)")
    d.add_argument("--balance-normals", action="store_true", default=None,
                   help="draw normal films so that each collection's normals weigh alike")
    d.add_argument("--split", type=floats, metavar="TRAIN,VAL,TEST", help="split fractions (default 0.7,0.1,0.2)")
    d.add_argument("--split-seed", type=int)
    d.add_argument("--no-augment", dest="augment", action="store_false", default=None)
    d.add_argument("--augment-strength", type=float,
                   help="scale every augmentation range (default 1: ±7°, ±10%% zoom, ±5%% shift, ±10%% brightness/contrast)")
    d.add_argument("--workers", dest="num_workers", type=int, help="DataLoader workers (default 2)")
    o = p.add_argument_group("optimisation")
    o.add_argument("--loss", choices=list_losses(), help="image-level loss (default bce)")
    o.add_argument("--loss-arg", action="append", metavar="KEY=VALUE", help="loss option (focal: gamma, alpha; msml: no_finding=anchor|skip|every)")
    o.add_argument("--box-weight", type=float, help="weight of the box supervision loss (0 = weak supervision)")
    o.add_argument("--epochs", type=int)
    o.add_argument("--batch-size", type=int)
    o.add_argument("--lr", type=float, help="Adam learning rate (default 1e-4)")
    o.add_argument("--weight-decay", type=float)
    o.add_argument("--schedule", choices=SCHEDULES,
                   help="plateau (x0.1 on a val-loss plateau), step (/10 every 20 epochs) or cosine (warm-up, then cosine decay)")
    o.add_argument("--warmup-epochs", type=float, help="linear learning-rate warm-up (cosine schedule)")
    o.add_argument("--trunk-lr-mult", type=float, help="the trunk learns at lr times this (default 1)")
    o.add_argument("--ema-decay", type=float, help="keep an exponential moving average of the weights (e.g. 0.998)")
    o.add_argument("--label-smoothing", type=float, help="label smoothing of the image loss (default 0)")
    o.add_argument("--abnormality", action="store_true", default=None,
                   help="train an abnormality output of its own (any label vs No Finding)")
    o.add_argument("--group-weight", action="append", metavar="GROUP=W",
                   help="sampling weight of a collection (nih: c1, c2, c3 from collections.csv, e.g. c2=0.5)")
    o.add_argument("--patience", dest="early_stop_patience", type=int, help="early stopping patience in epochs (0: off)")
    o.add_argument("--select-on", choices=("loss", "auroc"),
                   help="best epoch (kept weights, early stopping): lowest validation loss (default) or highest "
                        "validation mean AUROC")
    o.add_argument("--seed", type=int)
    r = p.add_argument_group("run")
    r.add_argument("--out", help="run folder (default runs/train)")
    r.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    r.add_argument("--no-amp", dest="amp", action="store_false", default=None, help="no mixed precision on CUDA")
    r.add_argument("--no-channels-last", dest="channels_last", action="store_false", default=None)
    r.add_argument("--min-positives", dest="unreliable_min_positives", type=int,
                   help="labels with fewer training positives are marked unreliable (default 10)")
    r.add_argument("--fp32-weights", dest="fp16_weights", action="store_false", default=None,
                   help="store the zoo weights in float32 (default float16)")
    r.add_argument("--heatmap-threshold", type=int, help="fixed box threshold 1-255 (default: chosen on the validation split's boxes, else 180)")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars (default: when stderr is a terminal)")
    add_quiet_argument(r)
    p.set_defaults(run=run)


_DIRECT = ("arch", "methodology", "model_id", "data", "labels", "size", "channels", "mean", "std", "split",
           "split_seed", "augment", "num_workers", "loss", "box_weight", "epochs", "batch_size", "lr",
           "weight_decay", "schedule", "warmup_epochs", "trunk_lr_mult", "ema_decay", "label_smoothing", "abnormality", "early_stop_patience", "select_on", "augment_strength", "seed", "out", "device", "amp", "channels_last",
           "unreliable_min_positives", "fp16_weights", "heatmap_threshold", "intensity", "balance_normals")


def config_from_args(args: argparse.Namespace) -> Any:
    # deferred: imports torch and torchvision and sklearn; `chestview --help` and the other commands do not pay for it
    from chestview.engine.train.config import TrainConfig, load_config

    if args.config:
        base = load_config(args.config)
    elif args.resume and args.out and (Path(args.out) / "config.toml").is_file():
        base = load_config(Path(args.out) / "config.toml")
    else:
        base = TrainConfig()
    overrides = {name: getattr(args, name) for name in _DIRECT}
    arch_kwargs = dict(base.arch_kwargs)
    arch_kwargs.update(parse_pairs(args.arch_arg, "--arch-arg"))
    for key, value in (("trunk", args.trunk), ("pretrained_trunk", args.pretrained_trunk), ("lse_r", args.lse_r)):
        if value is not None:
            arch_kwargs[key] = value
    overrides["arch_kwargs"] = arch_kwargs
    overrides["data_options"] = {**base.data_options, **parse_pairs(args.data_opt, "--data-opt")}
    overrides["loss_kwargs"] = {**base.loss_kwargs, **parse_pairs(args.loss_arg, "--loss-arg")}
    overrides["group_weights"] = {**base.group_weights,
                                  **{k: float(v) for k, v in parse_pairs(args.group_weight, "--group-weight").items()}}
    if args.loss and args.loss != base.loss and not args.loss_arg:
        overrides["loss_kwargs"] = {}  # options of the config's loss do not fit another loss
    return base.with_overrides(**overrides)


@contextlib.contextmanager
def _ctrl_c_stops(flag: dict[str, bool]) -> Iterator[None]:
    """First Ctrl-C: stop after the current batch. Second: interrupt at once."""

    def handler(signum: int, frame: Any) -> None:
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True
        print("\nstopping after this batch (Ctrl-C again to abort)", file=sys.stderr)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None or v != v else f"{v:.{digits}f}"


def print_evaluation(evaluation: Any) -> None:
    rows = [
        (r.label, _fmt(r.auroc), f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]", r.n_pos, r.n_neg, "" if r.reliable else "few positives")
        for r in evaluation.auroc.per_label
    ]
    print(f"\n{evaluation.split} split of {evaluation.data}: {evaluation.n_images} images")
    if getattr(evaluation, "split_note", ""):
        print(f"({evaluation.split_note})")
    print(table(rows, ("label", "AUROC", "95% CI", "pos", "neg", "note")))
    print(f"mean AUROC {_fmt(evaluation.auroc.mean_auroc)}")
    reader = getattr(evaluation, "reader", None) or {}
    if reader:
        print("\nwhat a reader meets (calibrated scores, validation thresholds):")
        for key, name in (("abnormality_auroc", "abnormality AUROC, normal vs abnormal"),
                          ("abnormal_flagged", "abnormal films flagged by the abnormality score"),
                          ("normal_flagged", "normal films flagged by the abnormality score"),
                          ("normal_with_any_positive", "normal films with any positive finding"),
                          ("abnormal_with_any_positive", "abnormal films with any positive finding"),
                          ("mean_auroc_boxed8", "mean AUROC, 8 boxed labels"),
                          ("mean_auroc_boxed8_c1", "mean AUROC, 8 boxed labels, first collection"),
                          ("ece_labels_before", "calibration error (labels) before scaling"),
                          ("ece_labels_after", "calibration error (labels) after scaling")):
            if reader.get(key) is not None:
                print(f"  {name}: {_fmt(reader[key])}")
        per = reader.get("per_collection") or {}
        if per:
            print("\nper collection:")
            rows = [(g, m.get("n"), m.get("n_normal"), _fmt(m.get("abnormality_auroc")), _fmt(m.get("normal_flagged")),
                     _fmt(m.get("normal_with_any_positive")), _fmt(m.get("mean_auroc")), _fmt(m.get("mean_auroc_boxed8")))
                    for g, m in per.items()]
            print(table(rows, ("collection", "images", "normal", "abnormality AUROC", "normals called abnormal",
                               "normals with a positive", "mean AUROC", "boxed-8 AUROC")))
    if evaluation.localization is not None:
        print("\nlocalization (share of boxes found; model vs fixed prior boxes vs swapped maps vs one mean box):")
        print(localization_text(evaluation.localization))
    if evaluation.out_dir is not None:
        print(f"\nreport: {evaluation.out_dir}")


def localization_text(loc: Any) -> str:
    """Mean accuracy (share of ground-truth boxes found) per threshold: model, prior, swap, prior_mean."""
    kinds = [k for k in ("model", "prior", "swap", "prior_mean") if k in loc]
    rows = []
    for criterion in ("iou", "iobb"):
        first = getattr(loc[kinds[0]], criterion)
        for t, threshold in enumerate(first.thresholds):
            rows.append((f"{criterion.upper()} > {threshold:g}",
                         *(_fmt(getattr(loc[k], criterion).mean_accuracy[t]) for k in kinds)))
    n = loc[kinds[0]]
    head = f"{n.n_images} images, {sum(n.n_gt_boxes.values())} boxes, labels: {', '.join(n.labels)}"
    return head + "\n" + table(rows, ("criterion", *kinds))


def run(args: argparse.Namespace) -> int:
    # deferred: imports torch and torchvision and sklearn; `chestview --help` and the other commands do not pay for it
    from chestview.engine.train.events import EpochDone, Log
    from chestview.engine.train.trainer import result_summary, train

    from chestview.engine.outputs import check_output_folder

    config = config_from_args(args)
    check_output_folder(config.out)  # a file in the way: one line, exit 2, before any data is read
    flag = {"stop": False}
    progress = False if args.quiet else args.progress  # None: bars when stderr is a terminal
    bar = Progress(enabled=progress)  # the final evaluation's splits; the trainer draws the epochs' bars

    def on_event(ev: Any) -> None:
        if isinstance(ev, Log):
            write_stderr(ev.message)
        elif isinstance(ev, EpochDone):
            pass  # the trainer's Log line already says it
        else:
            bar.on_stage(ev)

    with _ctrl_c_stops(flag), bar:
        result = train(
            config,
            on_event=on_event,
            should_stop=lambda: flag["stop"],
            resume=args.resume,
            progress=progress,
            command_line=shlex.join(["chestview", *getattr(args, "argv", sys.argv[1:])]),
        )
    print(result_summary(result))
    if result.cancelled:
        print(f"resume with: chestview train --out {shlex.quote(str(config.out))} --resume", file=sys.stderr)
        return 1
    if result.evaluation is not None:
        print_evaluation(result.evaluation)
    if result.model_dir is not None:
        print(f"\nmodel: {result.model_dir}  (chestview predict --model {shlex.quote(str(result.model_dir))} IMAGE...)")
    return 0
