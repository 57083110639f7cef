"""Entry point of the ``chestview`` command.

``chestview [PATH...]`` opens the app; ``chestview predict|models|bench|train|eval ...`` are the
scriptable commands. Bad input gives one line on stderr, never a traceback. Exit codes, the same
for every command: 0 done, 1 some inputs (or the run) failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import logging
import os
import sys

from chestview import __version__
from chestview.cli.common import error, os_error_text, report
from chestview.cli.logs import setup_logging
from chestview.engine.errors import ChestviewError
from chestview.engine.outputs import check_output_file
from chestview.engine.paths import samples_dir

# name -> module under chestview.cli with add_parser(sub) setting args.run
SUBCOMMANDS = {
    "predict": "predict_cmd",
    "worklist": "worklist_cmd",
    "models": "models_cmd",
    "bench": "bench_cmd",
    "train": "train_cmd",
    "eval": "eval_cmd",
    "send": "send_cmd",
    "calibrate": "calibrate_cmd",
}


def _command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chestview", description="Chest X-ray review with deep learning. Not for clinical use.")
    parser.add_argument("--version", action="version", version=f"chestview {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in SUBCOMMANDS.items():
        try:
            mod = importlib.import_module(f"chestview.cli.{module}")
        except ImportError as exc:
            if exc.name != f"chestview.cli.{module}":
                raise
            continue
        mod.add_parser(sub)
    _add_verbose(sub)
    return parser


def _add_verbose(sub: argparse._SubParsersAction) -> None:
    """``-v`` after the command too (``chestview predict -v``), in every command and sub-command.
    SUPPRESS: a subparser's default would overwrite a ``-v`` given before the command."""
    for parser in set(sub.choices.values()):
        parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                            help="log what the engine does (tracebacks of unexpected errors included)")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_verbose(action)


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chestview",
        description="Open the chestview app (on the bundled samples when no PATH is given). "
        f"Commands: {', '.join(SUBCOMMANDS)} (chestview COMMAND --help).",
    )
    parser.add_argument("--version", action="version", version=f"chestview {__version__}")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to open")
    parser.add_argument("--screenshot", metavar="FILE", help="render the window offscreen to FILE (PNG) and exit")
    parser.add_argument("--finding", metavar="LABEL", help="with --screenshot: the finding to select")
    parser.add_argument("--model", help="model to run first (default: the zoo's default)")
    parser.add_argument("--show-identifiers", action="store_true",
                        help="with --screenshot: show patient names and IDs (hidden by default)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the app does")
    return parser


HEADLESS_HINT = (
    "no display found (DISPLAY and WAYLAND_DISPLAY are unset): run the app with QT_QPA_PLATFORM=offscreen, "
    "render it with `chestview --screenshot FILE`, or use the commands (`chestview predict --samples`)"
)


def no_display() -> bool:
    """True on Linux/BSD when Qt has no display to open and no platform plugin was chosen: the
    xcb plugin would abort the process with a Qt message instead of an error."""
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _run_command(args: argparse.Namespace) -> int:
    """The command line's boundary: whatever escapes a command becomes one line and an exit code."""
    log = logging.getLogger("chestview")
    try:
        return int(args.run(args) or 0)
    except ChestviewError as exc:
        log.debug("error", exc_info=True)
        error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        raise  # main() ends quietly with 141
    except (OSError, http.client.HTTPException) as exc:
        log.debug("error", exc_info=True)
        report(os_error_text(exc))
        return 1
    except Exception as exc:  # a bug: still one line (with -v the traceback is logged as well)
        if args.verbose:
            log.exception("unexpected error")
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        error(f"unexpected error ({type(exc).__name__}{': ' + first if first else ''}); run with -v for details")
        return 1


def main(argv: list[str] | None = None) -> int:
    """The console entry point: output cut short by a closed pipe (``chestview models --json | head``)
    ends quietly with 141 (128 + SIGPIPE), as a shell tool killed by SIGPIPE would."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a broken pipe shows up here rather than at interpreter exit
        return code
    except BrokenPipeError:
        # Point stdout at /dev/null so that the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if a not in ("-v", "--verbose")), None)  # `chestview -v predict ...`
    if first in SUBCOMMANDS:
        parser = _command_parser()
        args = parser.parse_args(argv)
        args.argv = argv  # the exact command, for provenance (cards record how a model was trained)
        setup_logging(args.verbose)
        return _run_command(args)
    if argv and argv[0] in ("-h", "--help"):
        _app_parser().print_help()
        print("\ncommands:")
        _command_parser().print_help()
        return 0
    args = _app_parser().parse_args(argv)
    setup_logging(args.verbose)
    if args.screenshot:
        roots = args.paths or [str(samples_dir())]
        try:  # the screenshot never lands on (or among) the images it shows
            check_output_file(args.screenshot, roots=roots, inputs=[p for p in roots if os.path.isfile(p)])
        except ChestviewError as exc:
            error(str(exc))
            return 2
    if not args.screenshot and no_display():  # --screenshot renders offscreen by itself
        error(HEADLESS_HINT)
        return 2
    if args.model:  # an unknown id is a usage error here as in every command, not an empty window
        # deferred: imports torch; `chestview --help` and the other commands do not pay for it
        from chestview.engine.zoo import find_model

        try:
            find_model(args.model)
        except ChestviewError as exc:
            error(str(exc))
            return exc.exit_code
    # deferred: the app imports Qt; `chestview --help` and the commands do not pay for it
    from chestview.gui.app import run_app

    return run_app(args.paths, screenshot=args.screenshot, finding=args.finding, model=args.model,
                   show_identifiers=args.show_identifiers)
