"""``chestview eval --reader-verdicts CSV --model ID``: a model against the reader's own verdicts
(the engine's :func:`~chestview.engine.evaluate.against_reader.evaluate_against_reader`), printed as a
table; ``--out DIR`` also writes ``reader_verdicts.json``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from chestview.cli.common import at_least, report, table
from chestview.cli.progress import progress_for


def run_reader_verdicts(args: argparse.Namespace) -> int:
    # deferred: imports torch (the model run); `chestview --help` does not pay for it
    from chestview.engine.evaluate.against_reader import TABLE_HEADER, evaluate_against_reader
    from chestview.engine.util import atomic_write_text

    if not at_least("--batch-size", args.batch_size, 1):
        return 2
    if args.out:
        from chestview.engine.outputs import check_output_folder  # deferred with the rest of the run

        check_output_folder(args.out)  # a ChestviewError is one line and exit 2 (cli.main)
    with progress_for(args) as bar:
        result = evaluate_against_reader(args.reader_verdicts, args.model, device=args.device, backend=args.backend,
                                         precision=args.precision, batch_size=args.batch_size,
                                         num_workers=args.workers, on_event=bar.on_stage)
    for line in result.errors:
        report(line)
    print(result.summary())
    if result.rows:
        print(table(result.table_rows(), TABLE_HEADER))
    else:
        print("no film could be scored")
    if args.out:
        target = Path(args.out) / "reader_verdicts.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, json.dumps(result.to_json(), indent=2) + "\n")
        print(f"wrote {target}")
    return 1 if result.errors or not result.rows else 0
