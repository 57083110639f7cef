"""``chestview bench``: stage timings and throughputs of a model on real images."""

from __future__ import annotations

import argparse
import json

from chestview.cli.common import add_backend_argument, at_least, error, table
from chestview.cli.progress import add_quiet_argument, progress_for, write_stderr
from chestview.engine.errors import ChestviewError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure decode, preprocess, forward, heatmaps, boxes and throughput")
    p.add_argument("--model", help="zoo model id or directory (default: the zoo's default)")
    p.add_argument("--device", default="auto")
    add_backend_argument(p)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--images", nargs="+", metavar="PATH", help="images or folders (default: the bundled samples)")
    p.add_argument("-n", "--n-images", type=int, default=32, help="images to time (cycled; default %(default)s)")
    p.add_argument("--workers", type=int, default=None, help="decoding workers of the pipeline (default: automatic)")
    p.add_argument("--repeat", type=int, default=3,
                   help="interleaved rounds per backend, each keeping its best (default %(default)s): "
                        "steadier ratios on a machine shared with other work")
    p.add_argument("--json", action="store_true", help="print the JSON result instead of tables")
    add_quiet_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.bench import BACKEND_HEADER, run_benchmark
    from chestview.engine.io.scan import iter_image_files
    from chestview.engine.paths import samples_dir
    from chestview.engine.zoo import default_model_id, load_model

    model_id = args.model or default_model_id()
    if model_id is None:
        error("no model is installed: the zoo is empty")
        return 2
    if not (at_least("--batch-size", args.batch_size, 1) and at_least("--n-images", args.n_images, 1)
            and at_least("--repeat", args.repeat, 1) and at_least("--workers", args.workers, 0)):
        return 2
    paths = [str(p) for p in iter_image_files(args.images or [samples_dir()])]
    try:
        loaded = load_model(model_id)
        with progress_for(args, unit="step") as bar:  # one bar per stage: decode, each backend's rounds
            result = run_benchmark(
                loaded, paths, device=args.device, batch_size=args.batch_size, n_images=args.n_images,
                num_workers=args.workers, backend=args.backend, precision=args.precision, repeat=args.repeat,
                on_event=bar.on_stage,
            )
    except ChestviewError as exc:
        error(str(exc))
        return exc.exit_code
    if args.precision != "f32" and not result.default_backend.endswith(args.precision):  # refused: say why
        why = result.unavailable_backends.get(f"openvino-{args.precision}", f"{args.precision} unavailable")
        write_stderr(f"chestview: warning: {why}; using f32")
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    print(f"model {result.model_id} on {result.device}, batch {result.batch_size}, {result.n_images} images from "
          f"{result.image_source}" + (f"; best of {result.repeat} interleaved rounds" if result.repeat > 1 else ""))
    print(table(result.backend_rows(), BACKEND_HEADER))
    for name, why in result.unavailable_backends.items():
        print(f"  {name}: not measured ({why})")
    for note in result.timing_notes():
        print(f"  note: {note}")
    print(f"\nstages with the default backend ({result.default_backend}):")
    rows = [[s, f"{t.median_ms:.1f}", f"{t.p90_ms:.1f}"] for s, t in result.stages.items()]
    print(table(rows, ["stage (per image)", "median ms", "p90 ms"]))
    print()
    print(f"pipeline throughput (files -> results): {result.pipeline_images_per_s:.2f} images/s")
    print(f"model-only forward throughput:          {result.model_images_per_s:.2f} images/s")
    print(f"pipeline / model:                       {result.pipeline_to_model_ratio:.2f}")
    if result.cpu_ceiling_ratio is not None:
        print(f"  CPU ceiling of that ratio (all stages share the {result.environment.get('cpu_threads')} threads' cores): "
              f"{result.cpu_ceiling_ratio:.2f}")
    print(f"heatmaps + boxes (all labels) / forward: {result.explain_cost_fraction:.1%}")
    print(f"peak memory: {result.peak_memory_mb:.0f} MB" + (f", GPU {result.peak_gpu_memory_mb:.0f} MB" if result.peak_gpu_memory_mb else ""))
    return 0
