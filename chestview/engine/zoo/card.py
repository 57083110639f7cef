"""Model cards: everything needed to use a model and to judge it (torchvision's Weights, timm's cfg)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from chestview.engine.entry_files import name_problem
from chestview.engine.errors import ModelError
from chestview.engine.preprocess import INTENSITY_MODES, Preprocessing
from chestview.engine.util import atomic_write_text

CARD_FILE = "card.json"
SCHEMA_VERSION = 1
SUPERVISION_KINDS = ("weak", "box", "imported", "untrained")
DEFAULT_BOX_THRESHOLD = 180  # Wang et al. 2017
ABNORMALITY = "Abnormality"  # the name of the abnormality output in calibration and reports
GRAPH_KEYS = ("file", "sha256", "reference", "reference_sha256", "weights_sha256")  # a shipped graph's record
CHECK_OUTPUT_KEYS = ("file", "sha256", "weights_sha256")  # torch's check outputs of a model without a graph


@dataclass(frozen=True)
class ModelCard:
    id: str
    architecture: str
    labels: tuple[str, ...]
    preprocessing: Preprocessing
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    # Heatmap level (0-255) at which boxes are cut; chosen on the validation split like the thresholds.
    box_threshold: int = DEFAULT_BOX_THRESHOLD
    unreliable_labels: tuple[str, ...] = ()
    supervision: str = "weak"
    description: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    weights: str = "model.safetensors"
    sha256: str = ""
    # The input gate's statistics file, its SHA-256 and fit summary (chestview.engine.gate); {} when none.
    input_gate: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    # Non-empty: the model has an abnormality output after its label outputs ("threshold", "rule").
    abnormality: dict[str, Any] = field(default_factory=dict)
    # Per-output Platt scaling fitted on the validation split: {"method", "params": {name: [a, b]}};
    # the calibrated probability is sigmoid(a * logit + b). Empty: the raw sigmoid.
    calibration: dict[str, Any] = field(default_factory=dict)
    # Non-empty: boxes are cut from heatmap * prior ** exponent ({"file", "sha256", "exponent"}),
    # the per-label priors learned from the training split's boxes (explain/prior.py).
    box_prior: dict[str, Any] = field(default_factory=dict)
    # Reduced-precision proofs, per precision ("bf16"): the deltas measured against float32 on the
    # validation split, the limits and whether they held, for the weights of ``weights_sha256``
    # (chestview.engine.precision_proof). Only a passing entry lets that precision run.
    reduced_precision: dict[str, Any] = field(default_factory=dict)
    # Non-empty: the entry ships its ONNX graph (weights read from the weights file) and torch's
    # outputs on the fixed check input, for the weights of ``weights_sha256``
    # (chestview.engine.backends.packaged): the CPU backends start without building the module.
    graph: dict[str, Any] = field(default_factory=dict)
    # A model that keeps torch (no graph) ships torch's outputs on the same fixed check input here,
    # so that a test or a user can tell the weights still give what they gave when published.
    check_outputs: dict[str, Any] = field(default_factory=dict)

    def threshold(self, label: str) -> float:
        return float(self.thresholds.get(label, 0.5))

    @property
    def has_abnormality(self) -> bool:
        return bool(self.abnormality)

    @property
    def n_outputs(self) -> int:
        return len(self.labels) + (1 if self.has_abnormality else 0)

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.labels + ((ABNORMALITY,) if self.has_abnormality else ())

    def platt(self, name: str) -> tuple[float, float]:
        a, b = (self.calibration.get("params") or {}).get(name, (1.0, 0.0))
        return float(a), float(b)

    def with_updates(self, **changes: Any) -> "ModelCard":
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["unreliable_labels"] = list(self.unreliable_labels)
        data["preprocessing"] = self.preprocessing.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "card") -> "ModelCard":
        problems = validate_card(data)
        if problems:
            raise ModelError(f"{source}: invalid model card: {'; '.join(problems)}")
        return cls(
            id=data["id"],
            architecture=data["architecture"],
            labels=tuple(data["labels"]),
            preprocessing=Preprocessing.from_json(data["preprocessing"]),
            arch_kwargs=dict(data.get("arch_kwargs", {})),
            thresholds={k: float(v) for k, v in data.get("thresholds", {}).items()},
            box_threshold=int(data.get("box_threshold", DEFAULT_BOX_THRESHOLD)),
            unreliable_labels=tuple(data.get("unreliable_labels", ())),
            supervision=data.get("supervision", "weak"),
            description=data.get("description", ""),
            provenance=dict(data.get("provenance", {})),
            metrics=dict(data.get("metrics", {})),
            licence=data.get("licence", ""),
            weights=data.get("weights", "model.safetensors"),
            sha256=data.get("sha256", ""),
            input_gate=dict(data.get("input_gate", {})),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
            abnormality=dict(data.get("abnormality") or {}),
            calibration=dict(data.get("calibration") or {}),
            box_prior=dict(data.get("box_prior") or {}),
            reduced_precision=dict(data.get("reduced_precision") or {}),
            graph=dict(data.get("graph") or {}),
            check_outputs=dict(data.get("check_outputs") or {}),
        )

    @classmethod
    def load(cls, directory: str | Path) -> "ModelCard":
        path = Path(directory) / CARD_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{path}: no model card here") from None
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: cannot read model card ({exc})") from None
        if not isinstance(data, dict):
            raise ModelError(f"{path}: a model card must be a JSON object")
        return cls.from_json(data, source=str(path))

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CARD_FILE
        atomic_write_text(path, json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n")
        return path


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# Bounds a real card stays far within: a card outside them is damaged or hostile, refused on load.
MAX_LABELS = 1000
MAX_INPUT_SIZE = 2048  # pixels per side of the model input
MAX_PLATT = 1000.0  # |a| and |b| of a Platt scaling (fitted ones are within ~10)
MAX_PRIOR_EXPONENT = 100.0


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def id_problem(model_id: object) -> str | None:
    """Why ``model_id`` cannot name a zoo entry (it is also its folder's name), or None."""
    if not isinstance(model_id, str) or not model_id or len(model_id) > 128 or model_id in (".", "..") \
            or any(c in model_id for c in "/\\ \0:") or model_id.startswith(("-", ".")):
        return ("must be a non-empty name (at most 128 characters) without slashes, spaces or colons, "
                "not starting with '.' or '-'")
    return None


def preprocessing_problems(pre: Any) -> list[str]:
    """A card's ``preprocessing`` checked field by field: sizes and statistics a model can run with."""
    if not isinstance(pre, dict):
        return ["'preprocessing' must be an object"]
    problems = []
    size, channels = pre.get("size"), pre.get("channels")
    if not _is_int(size) or not 8 <= size <= MAX_INPUT_SIZE:
        problems.append(f"'preprocessing.size' must be an integer from 8 to {MAX_INPUT_SIZE}")
    if channels not in (1, 3) or not _is_int(channels):
        problems.append("'preprocessing.channels' must be 1 or 3")
    for key in ("mean", "std"):
        values = pre.get(key)
        if not isinstance(values, list) or len(values) not in (1, channels if _is_int(channels) else 1) \
                or not all(_is_number(v) and abs(v) <= 1e3 for v in values):
            problems.append(f"'preprocessing.{key}' must be a list of finite numbers, one per channel")
        elif key == "std" and not all(v > 1e-6 for v in values):
            problems.append("'preprocessing.std' must be positive")
    if pre.get("intensity", "window") not in INTENSITY_MODES:
        problems.append(f"'preprocessing.intensity' must be one of {', '.join(INTENSITY_MODES)}")
    return problems


def file_name_problems(data: dict[str, Any]) -> list[str]:
    """Every file a card names is a plain name inside its entry (see :mod:`chestview.engine.entry_files`)."""
    named = [("weights", data.get("weights", "model.safetensors"))]
    for key, fields in (("input_gate", ("file",)), ("box_prior", ("file",)), ("graph", ("file", "reference")),
                        ("check_outputs", ("file",))):
        record = data.get(key) or {}
        if isinstance(record, dict):
            named += [(f"{key}.{f}", record[f]) for f in fields if f in record]
    split = (data.get("provenance") or {}).get("split_file") if isinstance(data.get("provenance"), dict) else None
    if isinstance(split, dict) and "file" in split:
        named.append(("provenance.split_file.file", split["file"]))
    return [f"'{key}' {problem}" for key, name in named if (problem := name_problem(name)) is not None]


def validate_card(data: dict[str, Any]) -> list[str]:
    """Problems with a card's JSON (empty when valid): its schema, field by field, with the bounds a
    real model stays within. Checked on load and by a test over the zoo."""
    problems: list[str] = []
    for key, kind in (("id", str), ("architecture", str), ("labels", list), ("preprocessing", dict)):
        if not isinstance(data.get(key), kind):
            problems.append(f"'{key}' missing or not a {kind.__name__}")
    if problems:
        return problems
    version = data.get("schema_version", SCHEMA_VERSION)
    if not _is_int(version) or version < 1:
        return ["'schema_version' must be a positive integer"]
    if version > SCHEMA_VERSION:
        return [f"schema_version {version} is newer than this chestview reads ({SCHEMA_VERSION}); update chestview"]
    if id_problem(data["id"]):
        problems.append(f"'id' {id_problem(data['id'])}")
    labels = data["labels"]
    if not labels or len(labels) > MAX_LABELS or not all(isinstance(lbl, str) and 0 < len(lbl) <= 200 for lbl in labels):
        problems.append(f"'labels' must be a non-empty list of at most {MAX_LABELS} names")
        return problems
    elif len(set(labels)) != len(labels):
        problems.append("'labels' has duplicates")
    pre_problems = preprocessing_problems(data["preprocessing"])
    problems += pre_problems
    if not pre_problems:
        try:
            Preprocessing.from_json(data["preprocessing"])
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"'preprocessing' invalid ({exc})")
    problems += file_name_problems(data)
    thresholds = data.get("thresholds", {})
    if not isinstance(thresholds, dict):
        problems.append("'thresholds' must map labels to numbers")
    else:
        for label, value in thresholds.items():
            if label not in labels:
                problems.append(f"threshold for unknown label {label!r}")
            elif not _is_number(value) or not 0.0 <= value <= 1.0:
                problems.append(f"threshold of {label!r} must be a probability")
    box = data.get("box_threshold", DEFAULT_BOX_THRESHOLD)
    if not isinstance(box, int) or isinstance(box, bool) or not 1 <= box <= 255:
        problems.append("'box_threshold' must be an integer heatmap level from 1 to 255")
    for label in data.get("unreliable_labels", []):
        if label not in labels:
            problems.append(f"unreliable label {label!r} is not a label")
    if data.get("supervision", "weak") not in SUPERVISION_KINDS:
        problems.append(f"'supervision' must be one of {', '.join(SUPERVISION_KINDS)}")
    sha = data.get("sha256", "")
    if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        problems.append("'sha256' must be 64 lowercase hex digits")
    ab = data.get("abnormality") or {}
    if not isinstance(ab, dict) or ("threshold" in ab and not (_is_number(ab["threshold"]) and 0 <= ab["threshold"] <= 1)):
        problems.append("'abnormality' must be an object with a probability 'threshold'")
    cal = data.get("calibration") or {}
    params = cal.get("params", {}) if isinstance(cal, dict) else None
    if not isinstance(params, dict) or not all(
            isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_number(x) and abs(x) <= MAX_PLATT for x in v)
            for v in params.values()):
        problems.append(f"'calibration' must map outputs to [a, b] Platt parameters (each within ±{MAX_PLATT:g})")
    bp = data.get("box_prior") or {}
    if bp and not (isinstance(bp, dict) and isinstance(bp.get("file"), str) and _is_number(bp.get("exponent"))
                   and 0 <= bp["exponent"] <= MAX_PRIOR_EXPONENT):
        problems.append(f"'box_prior' must name a 'file' and an 'exponent' from 0 to {MAX_PRIOR_EXPONENT:g}")
    rp = data.get("reduced_precision") or {}
    if not isinstance(rp, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("passed"), bool) and isinstance(v.get("weights_sha256"), str)
            for v in rp.values()):
        problems.append("'reduced_precision' must map precisions to records with 'passed' and 'weights_sha256'")
    graph = data.get("graph") or {}
    if graph and not (isinstance(graph, dict) and all(isinstance(graph.get(k), str) for k in GRAPH_KEYS)):
        problems.append(f"'graph' must name {', '.join(GRAPH_KEYS)}")
    check = data.get("check_outputs") or {}
    if check and not (isinstance(check, dict) and all(isinstance(check.get(k), str) for k in CHECK_OUTPUT_KEYS)):
        problems.append(f"'check_outputs' must name {', '.join(CHECK_OUTPUT_KEYS)}")
    if not isinstance(data.get("arch_kwargs", {}), dict):
        problems.append("'arch_kwargs' must be an object")
    gate = data.get("input_gate", {})
    if not isinstance(gate, dict) or (gate and not (isinstance(gate.get("file"), str) and isinstance(gate.get("sha256"), str))):
        problems.append("'input_gate' must be an object with 'file' and 'sha256'")
    return problems
