"""``chestview models``: list the zoo; ``models show ID``; ``models import``/``fetch`` for published checkpoints."""

from __future__ import annotations

import argparse
import json

from chestview.cli.common import at_least, error, table
from chestview.cli.progress import add_quiet_argument, progress_for
from chestview.engine.errors import ChestviewError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the model zoo, show a card, import or fetch published checkpoints")
    p.add_argument("--json", action="store_true", help="machine-readable listing")
    p.add_argument("--markdown", action="store_true", help="the README's zoo tables, from the cards")
    p.add_argument("--archs", action="store_true", help="list the registered architectures instead")
    msub = p.add_subparsers(dest="models_command")
    show = msub.add_parser("show", help="print a model's card: what it is, data, metrics, operating points, limits")
    show.add_argument("model", help="model id or directory")
    show.add_argument("--json", dest="show_json", action="store_true", help="print the raw card (card.json) instead")
    pub = msub.add_parser("publish", help="copy a finished training run (model + eval report) into a zoo")
    pub.add_argument("run_dir", metavar="RUN", help="the --out folder of `chestview train`")
    pub.add_argument("--zoo", help="zoo folder (default: the user's models folder)")
    pub.add_argument("--overwrite", action="store_true")
    pub.set_defaults(models_run=_publish)
    gate = msub.add_parser("fit-gate", help="fit a model's input gate (does this look like a chest film?) on its training data")
    gate.add_argument("model", help="model id or directory")
    gate.add_argument("--data", required=True, metavar="FORMAT:PATH",
                      help="the model's training data (e.g. nih:PATH); split as the card records")
    gate.add_argument("--device", default="cpu", help="auto, cpu, cuda, cuda:N or mps (default: %(default)s)")
    gate.add_argument("--batch-size", type=int, default=16)
    gate.add_argument("--max-flag-rate", type=float, default=0.02,
                      help="largest share of validation films (and of processed chest films, with the kind "
                           "classifier) the gate may flag (default: %(default)s)")
    gate.add_argument("--no-kinds", dest="kinds", action="store_false",
                      help="fit the feature distance only, without the kind classifier (chest film or not)")
    gate.add_argument("--kind-films", type=int, default=80,
                      help="training films whose processed variants and near-misses fit the kind classifier "
                           "(default: %(default)s)")
    gate.add_argument("--kind-val-films", type=int, default=40,
                      help="validation films whose variants and near-misses measure it (default: %(default)s)")
    gate.add_argument("--holdout", type=float, default=0.3,
                      help="share of the photographs and slices held out to measure it (default: %(default)s)")
    gate.add_argument("--seed", type=int, default=0)
    add_quiet_argument(gate)
    gate.set_defaults(models_run=_fit_gate)
    prec = msub.add_parser("check-precision",
                           help="measure a reduced precision against f32 on the model's validation split; "
                                "record it in the card (bf16 runs only for a model whose record passed)")
    prec.add_argument("model", help="model id or directory")
    prec.add_argument("--data", required=True, metavar="FORMAT:PATH",
                      help="the model's training data (e.g. nih:PATH); split as the card records")
    prec.add_argument("--precision", choices=["bf16"], default="bf16", help="the reduced precision (default: %(default)s)")
    prec.add_argument("--batch-size", type=int, default=8)
    prec.add_argument("--workers", type=int, default=None)
    prec.add_argument("--dry-run", action="store_true", help="measure and print, but do not write the card")
    prec.add_argument("--json", action="store_true", help="print the measurement as JSON")
    prec.set_defaults(models_run=_check_precision)
    pack = msub.add_parser("pack-graph",
                           help="ship the model's ONNX graph (reading the weights file) and torch's check outputs in "
                                "its zoo entry, so the CPU backends start without building the torch module")
    pack.add_argument("model", help="model id or directory")
    pack.set_defaults(models_run=_pack_graph)
    try:
        from chestview.cli import import_cmd

        import_cmd.add_parsers(msub)
    except ImportError:  # the importers are optional pieces of the zoo
        pass
    p.set_defaults(run=run)


def _publish(args: argparse.Namespace) -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.paths import user_models_dir
    from chestview.engine.zoo.publish import publish_run

    try:
        target = publish_run(args.run_dir, args.zoo or user_models_dir(), overwrite=args.overwrite)
    except ChestviewError as exc:
        error(str(exc))
        return exc.exit_code  # 2: an unknown model or a bad card; 1: the run itself failed
    print(f"published {target}")
    return 0


def _fit_gate(args: argparse.Namespace) -> int:
    # deferred: imports torch and torchvision and sklearn; `chestview --help` and the other commands do not pay for it
    from chestview.engine.gate.fit import fit_input_gate

    if not at_least("--batch-size", args.batch_size, 1):
        return 2
    if not 0.0 <= args.max_flag_rate < 1.0:
        error(f"--max-flag-rate must be in [0, 1), a share of the validation films (got {args.max_flag_rate})")
        return 2
    if not 0.0 < args.holdout < 1.0 or args.kind_films < 2 or args.kind_val_films < 1:
        error("--holdout must be in (0, 1), --kind-films at least 2 and --kind-val-films at least 1")
        return 2
    try:
        with progress_for(args) as bar:  # one bar per stage: training, validation and example films' features
            fit = fit_input_gate(args.model, args.data, device=args.device, batch_size=args.batch_size,
                                 max_flag_rate=args.max_flag_rate, on_progress=bar.on_counts, kinds=args.kinds,
                                 kind_films=args.kind_films, kind_val_films=args.kind_val_films,
                                 holdout=args.holdout, seed=args.seed)
    except ChestviewError as exc:
        error(str(exc))
        return exc.exit_code  # 2: an unknown model or a bad card; 1: the run itself failed
    s = fit.summary()
    print(f"input gate of {args.model}: threshold {s['threshold']} on {s['feature_dim']} features "
          f"({s['components']} components), fitted on {s['train_images']} training films; "
          f"{s['val_flagged']}/{s['val_images']} validation films flagged ({100 * s['val_flagged_rate']:.1f}%); "
          f"{fit.seconds:.0f} s")
    if fit.kind is not None:
        cf, cn = fit.kind.rates(True)
        of, on = fit.kind.rates(False)
        print(f"kind classifier, held out: {cf}/{cn} processed chest films flagged ({100 * cf / max(cn, 1):.1f}%), "
              f"{of}/{on} non-radiographs flagged ({100 * of / max(on, 1):.1f}%)")
        for kind, row in sorted(fit.kind.held_out.items(), key=lambda kv: (kv[1]["chest"], kv[0])):
            print(f"  {'chest' if row['chest'] else 'other'}  {kind:<18} {row['flagged']:>4}/{row['n']}")
    return 0


def _pack_graph(args: argparse.Namespace) -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.backends.base import BackendUnavailable
    from chestview.engine.backends.packaged import pack_check_outputs, pack_graph
    from chestview.engine.zoo import find_model

    try:
        directory = find_model(args.model)
        try:
            card = pack_graph(directory)
        except BackendUnavailable as exc:
            if not exc.expected:
                raise
            card = pack_check_outputs(directory)  # it keeps torch: its check outputs, no graph
            print(f"{card.id}: {exc}; shipped {card.check_outputs['file']} (torch's outputs on the check input)")
            return 0
    except ChestviewError as exc:
        error(str(exc))
        return exc.exit_code  # 2: an unknown model or a bad card; 1: the run itself failed
    g = card.graph
    print(f"{card.id}: shipped {g['file']} ({g['external_parameters']} parameters read from {card.weights}) "
          f"and {g['reference']} (torch {g['torch']})")
    return 0


def _check_precision(args: argparse.Namespace) -> int:
    # deferred: imports torch and torchvision and sklearn; `chestview --help` and the other commands do not pay for it
    from chestview.engine.backends.precision import AUROC_LIMIT, LOCALIZATION_LIMIT
    from chestview.engine.precision_proof import check_precision

    if not at_least("--batch-size", args.batch_size, 1):
        return 2
    try:
        proof = check_precision(args.model, args.data, args.precision, batch_size=args.batch_size,
                                num_workers=args.workers, write=not args.dry_run)
    except ChestviewError as exc:
        error(str(exc))
        return exc.exit_code  # 2: an unknown model or a bad card; 1: the run itself failed
    if args.json:
        print(json.dumps(proof.to_json(), indent=2, default=str))
        return 0
    f = lambda v, d=4: "-" if v is None else f"{v:+.{d}f}"  # noqa: E731
    p = args.precision
    print(f"{proof.model_id}: {p} against f32 (OpenVINO) on the validation split of {proof.data} "
          f"({proof.n_images} films, {proof.n_gt_boxes} boxes on {proof.n_box_images})")
    rows = [["mean AUROC", f"{proof.mean_auroc['f32'] or 0:.4f}", f"{proof.mean_auroc[p] or 0:.4f}",
             f(proof.mean_auroc_delta), f"{AUROC_LIMIT}"]]
    if proof.abnormality_auroc:
        rows.append(["abnormality AUROC", f"{proof.abnormality_auroc['f32'] or 0:.4f}",
                     f"{proof.abnormality_auroc[p] or 0:.4f}", f(proof.abnormality_auroc_delta), f"{AUROC_LIMIT}"])
    if proof.localization_delta is not None:
        rows.append(["localization score", f"{proof.localization['f32']:.4f}", f"{proof.localization[p]:.4f}",
                     f(proof.localization_delta), f"{LOCALIZATION_LIMIT}"])
    rows.append(["forward img/s", f"{proof.images_per_s.get('f32', 0):.1f}", f"{proof.images_per_s.get(p, 0):.1f}",
                 f"x{proof.speed_ratio:.2f}", ""])
    print(table(rows, ["measure", "f32", p, "delta", "limit (abs)"]))
    print(f"max |probability delta| {proof.max_abs_prob_delta:.4f} (mean {proof.mean_abs_prob_delta:.5f}); "
          f"largest per-label AUROC move {f(proof.max_abs_label_auroc_delta)}")
    verdict = "PASSED: --precision " + p + " may run this model" if proof.passed else \
        "FAILED: --precision " + p + " falls back to f32 for this model"
    print(verdict + ("" if args.dry_run else " (recorded in its card)") + f"; {proof.seconds:.0f} s")
    return 0


def _mean_auroc(card) -> str:
    value = card.metrics.get("test", {}).get("mean_auroc") if isinstance(card.metrics.get("test"), dict) else None
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def run(args: argparse.Namespace) -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.zoo import ModelCard, default_model_id, find_model, list_zoo

    if getattr(args, "models_command", None) == "show":
        try:
            directory = find_model(args.model)
            card = ModelCard.load(directory)
        except ChestviewError as exc:
            error(str(exc))
            return 2
        if args.show_json or args.json:
            print(json.dumps(card.to_json(), indent=2))
            return 0
        # deferred: imports torch and sklearn; `chestview --help` and the other commands do not pay for it
        from chestview.cli.card_view import card_text
        from chestview.engine.zoo import list_zoo

        entries = list_zoo()
        bundled = any(e.bundled and e.path == directory for e in entries)
        reference = next((e.card for e in entries if e.card.id == default_model_id()), None)
        print(card_text(card, where="bundled" if bundled else str(directory), default=card.id == default_model_id(),
                        reference=reference))
        return 0
    if getattr(args, "models_command", None) not in (None, "show"):
        return args.models_run(args)

    if args.archs:
        # deferred: imports torch; `chestview --help` and the other commands do not pay for it
        from chestview.engine.models import list_models, model_info

        rows = [[name, model_info(name).description[:90]] for name in list_models()]
        print(table(rows, ["architecture", "description"]))
        return 0
    problems: list[str] = []
    entries = list_zoo(problems)
    for p in problems:
        error(p)
    if args.markdown:
        # deferred: imports torch and sklearn; `chestview --help` and the other commands do not pay for it
        from chestview.engine.zoo.summary import per_label_table, reader_table, shortcut_table, zoo_table

        default = default_model_id()
        print(zoo_table([e.card for e in entries], default))
        print()
        print(reader_table([e.card for e in entries]))
        print()
        print(shortcut_table([e.card for e in entries]))
        for e in entries:
            if e.card.id == default:
                print()
                print(per_label_table(e.card))
        return 0
    if args.json:
        print(json.dumps([{**e.card.to_json(), "path": str(e.path), "bundled": e.bundled} for e in entries], indent=2))
        return 0
    if not entries:
        print("The model zoo is empty: no trained model is installed yet.")
        print("Train one with `chestview train ...` or import a published checkpoint with `chestview models import`.")
        return 0
    default = default_model_id()
    rows = [
        [
            ("* " if e.card.id == default else "  ") + e.card.id,
            e.card.architecture + (f"/{e.card.arch_kwargs['trunk']}" if "trunk" in e.card.arch_kwargs else ""),
            len(e.card.labels),
            e.card.supervision,
            _mean_auroc(e.card),
            "bundled" if e.bundled else str(e.path),
        ]
        for e in entries
    ]
    print(table(rows, ["id (* default)", "architecture", "labels", "supervision", "test mean AUROC", "where"]))
    return 0
