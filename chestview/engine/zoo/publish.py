"""Publishing a finished training run into a zoo directory (the bundled ``model_zoo/`` or the user's).

A run directory holds ``model/`` (card + weights, written by ``chestview train``) and ``eval/``
(the test-split report the card's numbers come from). Both are copied, so that the report ships
beside the card and a test can re-derive the card's numbers from it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from chestview.engine.backends.base import BackendUnavailable
from chestview.engine.backends.packaged import pack_check_outputs, pack_graph
from chestview.engine.errors import ChestviewError, ModelError
from chestview.engine.zoo.card import ModelCard
from chestview.engine.zoo.store import load_model

log = logging.getLogger(__name__)
REPORT_FILES = ("report.json", "report.md", "roc_grid.png", "reliability.png")


def publish_run(run_dir: str | Path, zoo_dir: str | Path, *, overwrite: bool = False) -> Path:
    run_dir, zoo_dir = Path(run_dir), Path(zoo_dir)
    card = ModelCard.load(run_dir / "model")
    load_model(run_dir / "model")  # refuses weights that fail their checksum or do not fit
    if "test" not in card.metrics and "split" in card.metrics:  # runs before metrics were keyed by split
        flat = dict(card.metrics)
        history = flat.pop("history", [])
        card = card.with_updates(metrics={flat["split"]: flat, "history": history})
    target = zoo_dir / card.id
    if target.exists():
        if not overwrite:
            raise ModelError(f"{target}: already in the zoo (use --overwrite to replace it)")
        shutil.rmtree(target)
    staging = zoo_dir / f".{card.id}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "eval").mkdir(parents=True)
    shutil.copyfile(run_dir / "model" / card.weights, staging / card.weights)
    if card.box_prior:
        shutil.copyfile(run_dir / "model" / card.box_prior["file"], staging / card.box_prior["file"])
    split_record = (card.provenance or {}).get("split_file") or {}
    if split_record.get("file"):  # the split as its images: evaluation of the entry cannot leak
        shutil.copyfile(run_dir / "model" / split_record["file"], staging / split_record["file"])
    card.save(staging)
    for name in REPORT_FILES:
        if (run_dir / "eval" / name).is_file():
            shutil.copyfile(run_dir / "eval" / name, staging / "eval" / name)
    _pack_graph(staging)
    staging.rename(target)  # the entry appears whole or not at all
    return target


def _pack_graph(entry: Path) -> None:
    """Ship the ONNX graph in the entry (backends.packaged), so its first use needs no torch module;
    a model that keeps torch ships torch's check outputs instead; a machine without onnx or an export that does not map onto the weights
    file publishes without one (its first use exports into the cache instead)."""
    try:
        pack_graph(entry)
    except BackendUnavailable as exc:
        log.info("%s: no graph shipped (%s)", entry, exc)
        if exc.expected:  # it keeps torch by design: ship torch's check outputs instead
            pack_check_outputs(entry)
    except ChestviewError as exc:
        log.info("%s: no graph shipped (%s)", entry, exc)
