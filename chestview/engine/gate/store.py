"""The gate's statistics on disk: ``input_gate.safetensors`` beside the weights, its SHA-256 and
fit summary in the card's ``input_gate`` field. Read with safetensors (no code runs) after the
checksum matches; a missing or mismatched file means "no statistics", with a logged warning."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load, save

from chestview.engine.entry_files import read_entry_file
from chestview.engine.errors import ModelError
from chestview.engine.gate.stats import GateStats
from chestview.engine.util import atomic_write_bytes
from chestview.engine.zoo.card import ModelCard

log = logging.getLogger(__name__)
GATE_FILE = "input_gate.safetensors"


def save_gate(directory: str | Path, card: ModelCard, stats: GateStats, summary: dict[str, Any]) -> ModelCard:
    """Write the statistics and the card that names them (atomically); returns the new card."""
    directory = Path(directory)
    blob = save(stats.to_tensors(), metadata={"model_id": card.id, "kind": "chestview input gate (PPCA" + (" + kind classifier)" if stats.kind is not None else ")")})
    atomic_write_bytes(directory / GATE_FILE, blob)
    entry = {"file": GATE_FILE, "sha256": hashlib.sha256(blob).hexdigest(), **summary}
    card = card.with_updates(input_gate=entry)
    card.save(directory)
    return card


def load_gate(directory: str | Path, card: ModelCard) -> GateStats | None:
    entry = card.input_gate
    if not entry:
        return None
    path = Path(directory) / str(entry.get("file", GATE_FILE))
    try:
        blob = read_entry_file(directory, entry.get("file", GATE_FILE), "input gate")
    except ModelError as exc:
        log.warning("%s; pixel and header checks only", exc)
        return None
    if hashlib.sha256(blob).hexdigest() != entry.get("sha256"):
        log.warning("%s: SHA-256 does not match the card; input gate not used", path)
        return None
    try:
        return GateStats.from_tensors({k: np.asarray(v) for k, v in load(blob).items()})
    except Exception as exc:  # safetensors raises its own error types; a bad file must not stop inference
        log.warning("%s: not a valid input gate file (%s)", path, exc)
        return None
