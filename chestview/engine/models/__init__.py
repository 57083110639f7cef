"""Architectures (registry), their heads and trunks, and class activation maps."""

from chestview.engine.models.registry import ModelOutput, get_model, list_models, model_info, register_model

__all__ = ["ModelOutput", "get_model", "list_models", "model_info", "register_model"]
