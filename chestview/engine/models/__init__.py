"""Architectures (registry), their heads and trunks, and class activation maps.

The modules, from the bottom up: :mod:`.registry` (the registry and :class:`ModelOutput`; imports no
architecture), :mod:`.gradcam`, :mod:`.imagenet` (offline ImageNet weights), :mod:`.trunks`,
:mod:`.heads`, then the architectures: :mod:`.architectures` (the trunk + head family, a table) and
the research ones, :mod:`.alstm_mlc` (CNN + attention + LSTM label decoder), :mod:`.ctranscnn`
(parallel CNN and Transformer branches with label queries) and :mod:`.bilinear` (bilinear pooling
for the multi-label softmax loss). This package imports every architecture module, and importing one
registers it: the registry never reaches down for them. None of them imports torchvision or timm
before a model is built.
"""

from chestview.engine.models import alstm_mlc, architectures, bilinear, ctranscnn  # noqa: F401 - registers them
from chestview.engine.models.architectures import model_summary
from chestview.engine.models.gradcam import gradcam  # eager: the submodule has the same name
from chestview.engine.models.registry import ModelOutput, get_model, list_models, model_info, register_model
from chestview.engine.models.trunks import list_trunks

__all__ = [
    "ModelOutput",
    "get_model",
    "gradcam",
    "list_models",
    "list_trunks",
    "model_info",
    "model_summary",
    "register_model",
]
