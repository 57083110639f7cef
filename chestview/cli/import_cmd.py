"""``chestview models import FILE --format F`` and ``chestview models fetch NAME``: published checkpoints -> zoo."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chestview.cli.common import error, table
from chestview.engine.errors import ChestviewError, ModelError

# The engine modules import torch (seconds): they are imported only when a command runs, so these
# names are repeated here (a test keeps them equal to importers.FORMATS).
FORMAT_CHOICES = ("chexnet", "torchxrayvision", "state-dict")


def _add_import_options(p: argparse.ArgumentParser, *, with_format: bool) -> None:
    if with_format:
        p.add_argument("--format", required=True, choices=FORMAT_CHOICES, help="layout of the checkpoint")
    p.add_argument("--id", dest="model_id", help="zoo id (default: from the format and file name)")
    p.add_argument("--arch", help="state-dict: registered architecture (chestview models show / models list)")
    p.add_argument("--arch-kwargs", type=_json_object, default={}, metavar="JSON",
                   help='state-dict: architecture arguments, e.g. \'{"trunk": "resnet18"}\'')
    p.add_argument("--labels", type=_labels, metavar="LABELS",
                   help="one name per classifier output ('' drops an output): comma-separated, a JSON list, "
                   "a JSON file, or a count")
    p.add_argument("--thresholds", type=_thresholds, metavar="JSON",
                   help="operating thresholds (probabilities): {label: p}, a list aligned with the outputs, or a JSON file")
    p.add_argument("--weight-set", metavar="NAME",
                   help="torchxrayvision: published weight set, e.g. all, nih, chex (default: from the file name)")
    p.add_argument("--preprocessing", type=_json_object, metavar="JSON",
                   help='state-dict: {"size": 224, "channels": 3, "mean": [...], "std": [...]}')
    p.add_argument("--out", help="destination directory (default: the user model directory / ID)")
    p.add_argument("--fp16", action="store_true", help="store half-precision weights (half the size)")
    p.add_argument("--force", action="store_true", help="replace a model already at the destination")


def add_parsers(msub: argparse._SubParsersAction) -> None:
    imp = msub.add_parser("import", help="convert a published checkpoint into a zoo model")
    imp.add_argument("file", help="checkpoint (.pth, .pt, .pth.tar, .safetensors); never unpickled as code")
    _add_import_options(imp, with_format=True)
    imp.set_defaults(models_run=run_import)

    fetch = msub.add_parser("fetch", help="download a published checkpoint (SHA-256 checked) and import it")
    fetch.add_argument("name", nargs="?", help="a known checkpoint (omit to list them)")
    fetch.add_argument("--url", help="download from here instead (a mirror, or any URL with --format)")
    fetch.add_argument("--sha256", help="expected SHA-256 of the file (required where none is known)")
    fetch.add_argument("--format", choices=FORMAT_CHOICES, help="layout, for a NAME that is not known")
    fetch.add_argument("--no-import", action="store_true", help="only download into the cache")
    _add_import_options(fetch, with_format=False)
    fetch.set_defaults(models_run=run_fetch)


# ----- argument parsing ---------------------------------------------------------------------------


def _load_json(text: str) -> Any:
    path = Path(text)
    try:
        if not text.lstrip().startswith(("{", "[")) and path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        return json.loads(text)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: not JSON or a JSON file ({exc})") from None


def _json_object(text: str) -> dict:
    value = _load_json(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a JSON object")
    return value


def _labels(text: str) -> list[str] | int:
    if text.strip().isdigit():
        return int(text)
    if text.lstrip().startswith("[") or Path(text).is_file():
        value = _load_json(text)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise argparse.ArgumentTypeError(f"{text!r}: expected a JSON list of names")
        return value
    return [part.strip() for part in text.split(",")]


def _thresholds(text: str) -> dict[str, float] | list[float | None]:
    value = _load_json(text)
    if isinstance(value, dict) and all(isinstance(v, (int, float)) for v in value.values()):
        return {str(k): float(v) for k, v in value.items()}
    if isinstance(value, list) and all(v is None or isinstance(v, (int, float)) for v in value):
        return value
    raise argparse.ArgumentTypeError(f"{text!r}: expected {{label: probability}} or a list of probabilities/null")


def _options(args: argparse.Namespace, source_url: str | None = None):
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.preprocess import Preprocessing
    from chestview.engine.zoo.importers import ImportOptions

    pre = None
    if args.preprocessing:
        try:
            base = Preprocessing().to_json()
            pre = Preprocessing.from_json({**base, **args.preprocessing})
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"--preprocessing: invalid ({exc})") from None
    return ImportOptions(
        model_id=args.model_id,
        arch=args.arch,
        arch_kwargs=args.arch_kwargs,
        labels=args.labels,
        thresholds=args.thresholds,
        weight_set=args.weight_set,
        preprocessing=pre,
        source_url=source_url,
    )


# ----- commands -----------------------------------------------------------------------------------


def _import(path: Path, fmt: str, args: argparse.Namespace, source_url: str | None = None) -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.zoo.importers import import_checkpoint
    from chestview.engine.zoo.store import zoo_dirs

    result = import_checkpoint(
        path, fmt, _options(args, source_url), out_dir=args.out, overwrite=args.force, fp16=args.fp16
    )
    card = result.card
    dropped = f", {result.dropped_outputs} placeholder output(s) dropped" if result.dropped_outputs else ""
    print(f"imported {card.id} -> {result.path} ({len(card.labels)} labels{dropped})")
    if not card.thresholds:
        print("  no published thresholds: 0.5 is used for every label")
    in_zoo = result.path.parent.resolve() in {d.resolve() for d in zoo_dirs()}
    print(f"  try: chestview predict --model {card.id if in_zoo else result.path} IMAGE")
    return 0


def _bad_id(args: argparse.Namespace) -> bool:
    """A --id that cannot name a zoo folder (``../../x``): a usage error, before anything is read."""
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.zoo.card import id_problem

    model_id = getattr(args, "model_id", None)
    problem = id_problem(model_id) if model_id is not None else None
    if problem:
        error(f"--id {model_id}: not a model id: it {problem}")
    return bool(problem)


def run_import(args: argparse.Namespace) -> int:
    if _bad_id(args):
        return 2
    try:
        return _import(Path(args.file), args.format, args)
    except ChestviewError as exc:
        error(str(exc))
        return 1


def _list_published() -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.zoo.fetch import PUBLISHED

    rows = [[c.name, c.format, "yes" if c.sha256 else "no (--sha256)", c.url] for c in PUBLISHED.values()]
    print(table(rows, ["name", "format", "known SHA-256", "official URL"]))
    return 0


class _ProgressBar:
    """A tqdm bar on stderr fed by the engine's DownloadProgress events (hidden when stderr is no terminal)."""

    def __init__(self) -> None:
        self._bar = None

    def __call__(self, ev) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=ev.total, unit="B", unit_scale=True, unit_divisor=1024, desc="download",
                             file=sys.stderr, leave=False, disable=None)
        self._bar.update(ev.done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_fetch(args: argparse.Namespace) -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.zoo.fetch import fetch_checkpoint, published_checkpoint

    if not args.name:
        return _list_published()
    bar = _ProgressBar()
    if _bad_id(args):
        return 2
    try:
        checkpoint = published_checkpoint(args.name, url=args.url, fmt=args.format)
        path = fetch_checkpoint(checkpoint, url=args.url, sha256=args.sha256, on_progress=bar)
    except ChestviewError as exc:
        error(str(exc))
        return exc.exit_code  # 2: an unknown name or no SHA-256; 1: the download failed
    finally:
        bar.close()
    print(f"downloaded {args.url or checkpoint.url} -> {path} (SHA-256 verified)")
    if args.no_import:
        return 0
    if checkpoint.weight_set and not args.weight_set:
        args.weight_set = checkpoint.weight_set
    try:
        return _import(path, args.format or checkpoint.format, args, source_url=args.url or checkpoint.url)
    except ChestviewError as exc:
        error(str(exc))
        if checkpoint.note and "pickled" in str(exc):
            error(f"{checkpoint.name}: {checkpoint.note}")
        return 1
