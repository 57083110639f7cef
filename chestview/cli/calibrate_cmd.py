"""``chestview calibrate --model ID --data csv:FILE --site NAME``: a site profile from local labelled films."""

from __future__ import annotations

import argparse
import json

from chestview.cli.common import add_backend_argument, error, report
from chestview.engine.errors import ChestviewError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate",
                       help="fit a site profile (calibration, operating points, gate cut) on this site's labelled "
                            "films; stored in the user data folder, the model entry is never changed")
    p.add_argument("--model", help="zoo model id or model directory (default: the zoo's default)")
    p.add_argument("--data", required=True, metavar="FORMAT:PATH",
                   help="this site's films with labels (csv:FILE with path and label columns, nih:DIR, ...)")
    p.add_argument("--data-opt", action="append", default=[], metavar="KEY=VALUE", help="an option of the dataset reader")
    p.add_argument("--site", required=True, metavar="NAME", help="the profile's name (use it with --site on predict/worklist)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    add_backend_argument(p)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0, help="seed of the two-fold split that measures the profile")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: imports torch; `chestview --help` and the other commands do not pay for it
    from chestview.engine.data import open_dataset
    from chestview.engine.site import save_profile
    from chestview.engine.site.fit import describe, fit_site_profile
    from chestview.engine.site.profile import check_name
    from chestview.engine.zoo import default_model_id, load_model

    model_id = args.model or default_model_id()
    if model_id is None:
        error("no model is installed: the zoo is empty")
        return 2
    try:
        check_name(args.site)
        options = dict(kv.split("=", 1) for kv in args.data_opt if "=" in kv)
        if len(options) != len(args.data_opt):
            raise ChestviewError("--data-opt takes KEY=VALUE")
        loaded = load_model(model_id)
        ds = open_dataset(args.data, **options)
    except ChestviewError as exc:
        error(str(exc))
        return 2
    try:
        profile = fit_site_profile(loaded, ds, args.site, data=args.data, seed=args.seed, device=args.device,
                                   backend=args.backend, batch_size=args.batch_size)
    except ChestviewError as exc:
        error(str(exc))
        return 1
    path = save_profile(profile)
    if args.json:
        print(json.dumps(profile.to_json(), indent=2))
    else:
        print("\n".join(describe(profile)))
    print(f"wrote {path}; use it with --site {profile.name} (predict, worklist) or in the app's Settings")
    return 0
