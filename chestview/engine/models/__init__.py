"""Architectures (registry), their heads and trunks, and class activation maps."""

from chestview.engine.models.gradcam import gradcam  # eager: the submodule has the same name
from chestview.engine.models.registry import ModelOutput, get_model, list_models, model_info, register_model

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


def __getattr__(name: str):
    # Lazy, so importing the registry does not import torchvision and timm before they are needed.
    if name == "model_summary":
        from chestview.engine.models.architectures import model_summary

        return model_summary
    if name == "list_trunks":
        from chestview.engine.models.trunks import list_trunks

        return list_trunks
    raise AttributeError(name)
