"""Published checkpoints -> zoo entries, without ever running code from the file.

Formats:

- ``chexnet``: arnoweng/CheXNet's ``model.pth.tar`` (a dict with ``state_dict``; DataParallel
  ``module.`` prefixes, pre-0.4 torchvision DenseNet names such as ``norm.1``, classifier
  ``Sequential(Linear, Sigmoid)``), 14 NIH labels, ImageNet normalisation, RGB 224.
- ``torchxrayvision``: a state dict of torchxrayvision's DenseNet-121 (one input channel, 18
  outputs, some of them untrained placeholders ``''`` that we drop), pixels scaled to [-1024, 1024].
- ``state-dict``: a plain state dict of one of our registered architectures, loaded strictly.

Files are read with ``torch.load(weights_only=True)`` or safetensors; a pickled module is refused.
Every import builds the architecture and loads the converted weights strictly before anything is
written, so a card never describes weights that do not fit it.
"""

from __future__ import annotations

import math
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from chestview import __version__
from chestview.engine.errors import ModelError
from chestview.engine.models import get_model, model_info
from chestview.engine.paths import user_models_dir
from chestview.engine.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from chestview.engine.util import sha256_file
from chestview.engine.zoo.card import CARD_FILE, ModelCard, id_problem
from chestview.engine.zoo.store import list_zoo, save_zoo_entry

FORMATS = ("chexnet", "torchxrayvision", "state-dict")

# ---------------------------------------------------------------------------------------------
# What is known about the published weights
# ---------------------------------------------------------------------------------------------

CHEXNET_LABELS = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)
CHEXNET_SOURCE = {
    "url": "https://github.com/arnoweng/CheXNet",
    "paper": "Rajpurkar et al. 2017, CheXNet: Radiologist-Level Pneumonia Detection on Chest X-Rays "
    "with Deep Learning, arXiv:1711.05225 (reimplementation by arnoweng)",
    "licence": "no licence file in the source repository; trained on NIH ChestX-ray14 (see its terms) "
    "- ask the authors before redistributing",
}

TXRV_SOURCE = {
    "url": "https://github.com/mlmed/torchxrayvision",
    "paper": "Cohen et al. 2022, TorchXRayVision: A library of chest X-ray datasets and models, MIDL 2022, "
    "arXiv:2111.00595; Cohen et al. 2020, On the limits of cross-domain generalization in automated X-ray "
    "prediction, MIDL 2020, arXiv:2002.02497",
    "licence": "torchxrayvision code Apache-2.0; weights trained on public datasets with their own terms "
    "(CheXpert and MIMIC-CXR: research use only) - check them before use",
}
TXRV_RELEASE = "https://github.com/mlmed/torchxrayvision/releases/download/v1/"
# torchxrayvision feeds one channel scaled to [-1024, 1024]: x01 * 2048 - 1024 == (x01 - 0.5) / (1/2048).
TXRV_PREPROCESSING = Preprocessing(size=224, channels=1, mean=(0.5,), std=(1.0 / 2048.0,))
TXRV_OUTPUTS = (
    "Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema", "Fibrosis",
    "Effusion", "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule", "Mass", "Hernia",
    "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum",
)


@dataclass(frozen=True)
class TxrvWeightSet:
    """One of torchxrayvision's DenseNet-121 weight sets: ``labels`` has 18 entries, ``''`` where
    the training data had no such label (that output is untrained); ``op_threshs`` are its
    operating points in probability space, ``None`` where there is none."""

    name: str
    file_name: str
    datasets: str
    labels: tuple[str, ...]
    op_threshs: tuple[float | None, ...]

    @property
    def url(self) -> str:
        return TXRV_RELEASE + self.file_name


def _only(keep: str) -> tuple[str, ...]:
    return tuple(name if name in keep.split(",") else "" for name in TXRV_OUTPUTS)


_N = None  # torchxrayvision's NaN: no operating point
_CHEX_LIKE = (
    "Atelectasis,Consolidation,Pneumothorax,Edema,Effusion,Pneumonia,Cardiomegaly,"
    "Lung Lesion,Fracture,Lung Opacity,Enlarged Cardiomediastinum"
)
_NIH = ",".join(TXRV_OUTPUTS[:14])
_SUFFIX = "-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt"
# Labels and operating points as published in torchxrayvision's models.py (model_urls).
TXRV_WEIGHT_SETS: dict[str, TxrvWeightSet] = {
    s.name: s
    for s in (
        TxrvWeightSet(
            "all", "nih-pc-chex-mimic_ch-google-openi-kaggle" + _SUFFIX,
            "NIH, PadChest, CheXpert, MIMIC-CXR, Google, OpenI, RSNA", TXRV_OUTPUTS,
            (0.07422872, 0.038290843, 0.09814756, 0.0098118475, 0.023601074, 0.0022490358, 0.010060724,
             0.103246614, 0.056810737, 0.026791653, 0.050318155, 0.023985857, 0.01939503, 0.042889766,
             0.053369623, 0.035975814, 0.20204692, 0.05015312),
        ),
        TxrvWeightSet(
            "nih", "nih" + _SUFFIX, "NIH ChestX-ray14", _only(_NIH),
            (0.039117552, 0.0034529066, 0.11396341, 0.0057298196, 0.00045666535, 0.0018880932, 0.012037827,
             0.038744126, 0.0037213727, 0.014730946, 0.016149804, 0.054241467, 0.037198864, 0.0004403434,
             _N, _N, _N, _N),
        ),
        TxrvWeightSet(
            "pc", "pc" + _SUFFIX, "PadChest", _only(_NIH + ",Fracture"),
            (0.031012505, 0.013347598, 0.081435576, 0.001262615, 0.002587246, 0.0035944257, 0.0023071,
             0.055412333, 0.044385884, 0.042766232, 0.043258056, 0.037629247, 0.005658899, 0.0091741895,
             _N, 0.026507627, _N, _N),
        ),
        TxrvWeightSet(
            "chex", "chex" + _SUFFIX, "CheXpert", _only(_CHEX_LIKE),
            (0.1988969, 0.05710573, _N, 0.0531293, 0.1435217, _N, _N, 0.27212676, 0.07749717, _N,
             0.19712369, _N, _N, _N, 0.09932402, 0.09273402, 0.3270967, 0.10888247),
        ),
        TxrvWeightSet(
            "rsna", "kaggle" + _SUFFIX, "RSNA Pneumonia Challenge", _only("Pneumonia,Lung Opacity"),
            (_N,) * 8 + (0.13486601,) + (_N,) * 7 + (0.13511065, _N),
        ),
        TxrvWeightSet(
            "mimic_nb", "mimic_nb" + _SUFFIX, "MIMIC-CXR (NegBio labels)", _only(_CHEX_LIKE),
            (0.08558747, 0.011884617, _N, 0.0040595434, 0.010733786, _N, _N, 0.118761964, 0.022924708, _N,
             0.06358637, _N, _N, _N, 0.022143636, 0.017476924, 0.1258702, 0.014020768),
        ),
        TxrvWeightSet(
            "mimic_ch", "mimic_ch" + _SUFFIX, "MIMIC-CXR (CheXpert labels)", _only(_CHEX_LIKE),
            (0.09121389, 0.010573786, _N, 0.005023008, 0.003698257, _N, _N, 0.08001232, 0.037242252, _N,
             0.05006329, _N, _N, _N, 0.019866971, 0.03823637, 0.11303808, 0.0069147074),
        ),
    )
}


def txrv_weight_set(name: str) -> TxrvWeightSet:
    """A weight set by torchxrayvision's name (``all`` or ``densenet121-res224-all``)."""
    key = name.removeprefix("densenet121-res224-")
    try:
        return TXRV_WEIGHT_SETS[key]
    except KeyError:
        raise ModelError(
            f"unknown torchxrayvision weight set {name!r}; known: {', '.join(TXRV_WEIGHT_SETS)}"
        ) from None


def _txrv_set_from_file_name(path: Path) -> TxrvWeightSet | None:
    for ws in TXRV_WEIGHT_SETS.values():
        if path.name == ws.file_name or path.stem in (ws.name, f"densenet121-res224-{ws.name}"):
            return ws
    return None


# ---------------------------------------------------------------------------------------------
# Reading a checkpoint safely
# ---------------------------------------------------------------------------------------------

PICKLED_OBJECT_HELP = (
    "this file is a pickled Python object, not plain weights, and chestview never unpickles code; "
    "re-save its state_dict with torch.save(model.state_dict(), 'weights.pt') where you trust the file, "
    "and import that"
)


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint: safetensors, or a ``torch.save``'d state dict (maybe inside
    ``{'state_dict': ...}``), read with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise ModelError(f"{path}: not a valid safetensors file ({exc})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelError(f"{path}: {PICKLED_OBJECT_HELP}") from None
    except Exception as exc:  # torch.load raises many kinds of error on a file that is not a checkpoint
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a readable PyTorch checkpoint ({reason})") from None
    return _tensors_of(obj, path)


def _tensors_of(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]  # training checkpoints wrap the weights with epoch/optimizer/loss
                break
    if not isinstance(obj, Mapping) or not obj:
        raise ModelError(f"{path}: expected a state dict (names -> tensors), found {type(obj).__name__}")
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelError(f"{path}: not a state dict: entries {', '.join(bad[:5])} are not named tensors")
    return dict(obj)


# ---------------------------------------------------------------------------------------------
# Renaming published layouts to ours
# ---------------------------------------------------------------------------------------------

# Pre-0.4 torchvision named dense-layer parts "norm.1", "conv.2"; now they are "norm1", "conv2".
_OLD_DENSE_LAYER = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)

# torchvision DenseNet -> chestview "chexnet" (DenseNetTrunk + CAMHead); see trunks.py/heads.py.
_TORCHVISION_DENSENET_TO_CHEXNET = (
    ("features.conv0.", "trunk.stem.0."),
    ("features.norm0.", "trunk.stem.1."),
    ("features.denseblock", "trunk.block"),
    ("features.transition", "trunk.trans"),
    ("features.norm5.", "trunk.norm5."),
    ("classifier.", "head.classifier."),
)


def strip_prefixes(state: Mapping[str, torch.Tensor], prefixes: Sequence[str]) -> dict[str, torch.Tensor]:
    """Remove wrapper prefixes (``module.`` of DataParallel, ``densenet121.`` of CheXNet) wherever present."""
    out = {}
    for key, value in state.items():
        stripped = True
        while stripped:
            stripped = False
            for prefix in prefixes:
                if key.startswith(prefix):
                    key, stripped = key[len(prefix):], True
        out[key] = value
    return out


def modernise_densenet_names(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        m = _OLD_DENSE_LAYER.match(key)
        out[m.group(1) + m.group(2) if m else key] = value
    return out


def torchvision_densenet_to_chexnet(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Names of a torchvision-style DenseNet (``features.*``, ``classifier.*``) in our ``chexnet``;
    names that do not match stay as they are, so the strict load reports them."""
    out = {}
    for key, value in state.items():
        for old, new in _TORCHVISION_DENSENET_TO_CHEXNET:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def keep_outputs(state: dict[str, torch.Tensor], rows: Sequence[int], prefix: str = "head.classifier.") -> None:
    """Keep only classifier ``rows`` (in place): drops untrained placeholder outputs cleanly."""
    index = torch.as_tensor(list(rows), dtype=torch.long)
    for name in ("weight", "bias"):
        if prefix + name in state:
            state[prefix + name] = state[prefix + name].index_select(0, index).clone()


# ---------------------------------------------------------------------------------------------
# Format converters: checkpoint tensors -> what a card needs
# ---------------------------------------------------------------------------------------------


@dataclass
class Converted:
    """A checkpoint in our terms. ``outputs`` names every classifier row in the file, ``''`` for
    rows to drop; ``thresholds`` is aligned with ``outputs`` (None: no operating point known)."""

    architecture: str
    state: dict[str, torch.Tensor]
    outputs: tuple[str, ...]
    thresholds: tuple[float | None, ...]
    preprocessing: Preprocessing
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    default_id: str = "imported-model"
    source: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    needs_labels: bool = False  # the output names cannot be known from the file


@dataclass(frozen=True)
class ImportOptions:
    """User overrides. ``labels``: names for the classifier rows (``''`` drops a row) or a count;
    ``thresholds``: ``{label: p}`` or a list aligned with the rows."""

    model_id: str | None = None
    arch: str | None = None
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    labels: Sequence[str] | int | None = None
    thresholds: Mapping[str, float] | Sequence[float | None] | None = None
    weight_set: str | None = None
    preprocessing: Preprocessing | None = None
    source_url: str | None = None


def _classifier_rows(state: Mapping[str, torch.Tensor], path: Path) -> int:
    weight = state.get("head.classifier.weight")
    if weight is None or weight.ndim != 2:
        raise ModelError(f"{path}: no classifier weight found after conversion (expected a DenseNet checkpoint)")
    return int(weight.shape[0])


def convert_chexnet(state: dict[str, torch.Tensor], path: Path, opts: ImportOptions) -> Converted:
    state = modernise_densenet_names(strip_prefixes(state, ("module.", "densenet121.")))
    # CheXNet's classifier is Sequential(Linear, Sigmoid): "classifier.0.*"; the sigmoid is ours to apply.
    state = {re.sub(r"^classifier\.0\.", "classifier.", k): v for k, v in state.items()}
    state = torchvision_densenet_to_chexnet(state)
    rows = _classifier_rows(state, path)
    known = rows == len(CHEXNET_LABELS)
    return Converted(
        architecture="chexnet",
        state=state,
        outputs=CHEXNET_LABELS if known else tuple(f"output_{i}" for i in range(rows)),
        thresholds=(None,) * rows,
        preprocessing=Preprocessing(size=224, channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD),
        default_id="chexnet-arnoweng",
        source=CHEXNET_SOURCE,
        needs_labels=not known,
    )


def convert_torchxrayvision(state: dict[str, torch.Tensor], path: Path, opts: ImportOptions) -> Converted:
    state = strip_prefixes(state, ("module.",))
    saved_threshs = state.pop("op_threshs", None)  # a buffer when the model was saved with them set
    state = torchvision_densenet_to_chexnet(modernise_densenet_names(state))
    rows = _classifier_rows(state, path)
    ws = txrv_weight_set(opts.weight_set) if opts.weight_set else _txrv_set_from_file_name(path)
    if ws is None and opts.labels is None:
        raise ModelError(
            f"{path}: cannot tell which torchxrayvision weight set this is from its name; pass "
            f"--weight-set ({', '.join(TXRV_WEIGHT_SETS)}) or --labels"
        )
    if ws and rows != len(ws.labels):
        raise ModelError(f"{path}: {rows} outputs, but torchxrayvision weight set {ws.name!r} has {len(ws.labels)}")
    outputs = ws.labels if ws else tuple(f"output_{i}" for i in range(rows))
    thresholds: tuple[float | None, ...] = ws.op_threshs if ws else (None,) * rows
    if saved_threshs is not None and saved_threshs.numel() == rows:
        thresholds = tuple(None if math.isnan(v) else float(v) for v in saved_threshs.float().tolist())
    name = ws.name if ws else _slug(path.stem)
    source = dict(TXRV_SOURCE)
    if ws:
        source.update(weights_url=ws.url, weight_set=f"densenet121-res224-{ws.name}", datasets=ws.datasets)
    return Converted(
        architecture="chexnet",
        state=state,
        outputs=outputs,
        thresholds=thresholds,
        preprocessing=TXRV_PREPROCESSING,
        default_id=f"txrv-densenet121-{name}",
        source=source,
        notes=["Unlike torchxrayvision, chestview resizes the whole image without a centre crop"],
        needs_labels=ws is None,
    )


def convert_state_dict(state: dict[str, torch.Tensor], path: Path, opts: ImportOptions) -> Converted:
    if not opts.arch:
        raise ModelError(f"{path}: --arch is needed for a plain state dict")

    model_info(opts.arch)  # unknown architecture -> one-line error listing the known ones
    if opts.labels is None:
        raise ModelError(f"{path}: --labels (names or a count) is needed for a plain state dict")
    state = strip_prefixes(state, ("module.",))
    rows = opts.labels if isinstance(opts.labels, int) else len(opts.labels)
    pre = opts.preprocessing
    if pre is None:
        channels = _first_conv_channels(state)
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.449,), (0.226,))
        pre = Preprocessing(size=224, channels=channels, mean=mean, std=std)
    return Converted(
        architecture=opts.arch,
        state=state,
        outputs=tuple(f"output_{i}" for i in range(rows)),
        thresholds=(None,) * rows,
        preprocessing=pre,
        arch_kwargs=dict(opts.arch_kwargs),
        default_id=_slug(path.stem),
        notes=[] if opts.preprocessing else [f"preprocessing assumed: {pre.to_json()}"],
    )


def _first_conv_channels(state: Mapping[str, torch.Tensor]) -> int:
    for value in state.values():
        if value.ndim == 4:
            return 1 if value.shape[1] == 1 else 3
    return 3


CONVERTERS = {
    "chexnet": convert_chexnet,
    "torchxrayvision": convert_torchxrayvision,
    "state-dict": convert_state_dict,
}


# ---------------------------------------------------------------------------------------------
# The import itself
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    card: ModelCard
    path: Path
    dropped_outputs: int


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.") or "imported-model"


def _apply_labels(conv: Converted, opts: ImportOptions, path: Path) -> None:
    if opts.labels is None:
        if conv.needs_labels:
            raise ModelError(f"{path}: the classifier has {len(conv.outputs)} outputs of unknown names; pass --labels")
        return
    rows = len(conv.outputs)
    labels = [f"output_{i}" for i in range(opts.labels)] if isinstance(opts.labels, int) else list(opts.labels)
    if len(labels) != rows:
        raise ModelError(f"{path}: {len(labels)} labels given but the classifier has {rows} outputs")
    conv.outputs = tuple(labels)


def _apply_thresholds(conv: Converted, opts: ImportOptions, path: Path) -> None:
    given = opts.thresholds
    if given is None:
        return
    if isinstance(given, Mapping):
        unknown = sorted(set(given) - set(conv.outputs) - {""})
        if unknown:
            raise ModelError(f"{path}: thresholds for unknown labels {', '.join(unknown)}")
        conv.thresholds = tuple(given.get(label) for label in conv.outputs)
        return
    if len(given) != len(conv.outputs):
        raise ModelError(f"{path}: {len(given)} thresholds given but the classifier has {len(conv.outputs)} outputs")
    conv.thresholds = tuple(None if v is None or math.isnan(float(v)) else float(v) for v in given)


def _fill_batchnorm_counters(state: dict[str, torch.Tensor], module: torch.nn.Module) -> None:
    # Checkpoints older than PyTorch 0.4.1 have no num_batches_tracked; it does not affect inference.
    for name, value in module.state_dict().items():
        if name.endswith("num_batches_tracked") and name not in state:
            state[name] = torch.zeros_like(value)


def _build_and_load(conv: Converted, labels: int, path: Path) -> torch.nn.Module:
    kwargs = {k: v for k, v in conv.arch_kwargs.items() if k != "pretrained_trunk"}
    try:
        module = get_model(conv.architecture, num_classes=labels, in_chans=conv.preprocessing.channels, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{path}: cannot build {conv.architecture!r} with {kwargs} ({exc})") from None
    _fill_batchnorm_counters(conv.state, module)
    try:
        missing, unexpected = module.load_state_dict(conv.state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        shapes = [line.strip() for line in str(exc).splitlines() if "size mismatch" in line]
        raise ModelError(
            f"{path}: weights do not fit {conv.architecture!r}: {shapes[0] if shapes else exc}"
        ) from None
    if missing or unexpected:
        raise ModelError(
            f"{path}: weights do not fit {conv.architecture!r} (missing {len(missing)}, e.g. {missing[:2]}; "
            f"unexpected {len(unexpected)}, e.g. {unexpected[:2]})"
        )
    return module.eval()


def _description(conv: Converted, fmt: str, labels: Sequence[str], thresholds: Mapping[str, float], dropped: int) -> str:
    parts = [f"Imported from a published {fmt} checkpoint; not trained or validated by chestview."]
    if dropped:
        parts.append(f"{dropped} untrained placeholder output(s) of the source were dropped.")
    if not thresholds:
        parts.append("The source publishes no operating thresholds: 0.5 is used for every label.")
    elif len(thresholds) < len(labels):
        rest = [lbl for lbl in labels if lbl not in thresholds]
        parts.append(f"Operating thresholds from the source; 0.5 for {', '.join(rest)} (none published).")
    else:
        parts.append("Operating thresholds (probability) from the source.")
    parts += [note + "." for note in conv.notes]
    return " ".join(parts)


def import_checkpoint(
    path: str | Path,
    fmt: str,
    options: ImportOptions | None = None,
    *,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    fp16: bool = False,
) -> ImportResult:
    """Convert a published checkpoint into a zoo entry (default: ``user_models_dir()/ID``).

    Weights are kept in float32 unless ``fp16`` (half the size, ~1e-3 relative change in outputs).
    """
    path = Path(path)
    opts = options or ImportOptions()
    if fmt not in CONVERTERS:
        raise ModelError(f"{path}: unknown checkpoint format {fmt!r}; known: {', '.join(FORMATS)}")
    _check_options(path, fmt, opts)
    if opts.model_id is not None and id_problem(opts.model_id):  # before anything is read or written
        raise ModelError(f"{opts.model_id}: not a model id: it {id_problem(opts.model_id)}")
    conv = CONVERTERS[fmt](read_checkpoint(path), path, opts)
    model_id = opts.model_id or conv.default_id
    if id_problem(model_id):
        raise ModelError(f"{model_id}: not a model id: it {id_problem(model_id)}; give one with --id")
    dest = Path(out_dir) if out_dir else user_models_dir() / model_id
    _check_destination(dest, model_id, overwrite)
    _apply_labels(conv, opts, path)
    _apply_thresholds(conv, opts, path)

    keep = [i for i, label in enumerate(conv.outputs) if label]
    if not keep:
        raise ModelError(f"{path}: every output is a placeholder; nothing to import")
    if fmt != "state-dict" and len(keep) < len(conv.outputs):
        keep_outputs(conv.state, keep)
    elif len(keep) < len(conv.outputs):
        raise ModelError(f"{path}: empty label names are only allowed for chexnet/torchxrayvision checkpoints")
    labels = tuple(conv.outputs[i] for i in keep)
    if len(set(labels)) != len(labels):
        raise ModelError(f"{path}: duplicate label names")
    thresholds = {conv.outputs[i]: conv.thresholds[i] for i in keep if conv.thresholds[i] is not None}
    for label, value in thresholds.items():
        if not 0.0 <= value <= 1.0:
            raise ModelError(f"{path}: threshold of {label!r} must be a probability, got {value}")

    module = _build_and_load(conv, len(labels), path)

    provenance: dict[str, Any] = {
        "source_file": path.name,
        "source_sha256": sha256_file(path),
        "format": fmt,
        "imported_with": f"chestview {__version__}",
        **{k: v for k, v in conv.source.items() if k != "licence"},
    }
    if opts.source_url:
        provenance["downloaded_from"] = opts.source_url
    card = ModelCard(
        id=model_id,
        architecture=conv.architecture,
        arch_kwargs=dict(conv.arch_kwargs),
        labels=labels,
        preprocessing=conv.preprocessing,
        thresholds={k: float(v) for k, v in thresholds.items()},
        supervision="imported",
        description=_description(conv, fmt, labels, thresholds, len(conv.outputs) - len(keep)),
        provenance=provenance,
        licence=conv.source.get("licence", "unknown: as stated by the checkpoint's publisher"),
    )
    card = save_zoo_entry(dest, card, module.state_dict(), fp16=fp16)
    return ImportResult(card=card, path=dest, dropped_outputs=len(conv.outputs) - len(keep))


def _check_options(path: Path, fmt: str, opts: ImportOptions) -> None:
    # Silently ignoring an option would leave the user believing it took effect.
    if fmt != "state-dict" and (opts.arch or opts.arch_kwargs or opts.preprocessing):
        raise ModelError(f"{path}: --arch, --arch-kwargs and --preprocessing apply to --format state-dict only")
    if fmt != "torchxrayvision" and opts.weight_set:
        raise ModelError(f"{path}: --weight-set applies to --format torchxrayvision only")


def _check_destination(dest: Path, model_id: str, overwrite: bool) -> None:
    if (dest / CARD_FILE).exists() and not overwrite:
        raise ModelError(f"{dest}: a model is already installed here; pass --force to replace it")
    for entry in list_zoo():
        if entry.card.id == model_id and entry.path.resolve() != dest.resolve():
            raise ModelError(f"{entry.path}: a model with id {model_id!r} is already in the zoo; choose another --id")
