"""The model zoo: cards, weights, and the places models are found."""

from chestview.engine.zoo.card import ModelCard, validate_card
from chestview.engine.zoo.store import (
    LoadedModel,
    ZooEntry,
    default_model_id,
    find_model,
    list_zoo,
    load_model,
    save_zoo_entry,
)

__all__ = [
    "LoadedModel",
    "ModelCard",
    "ZooEntry",
    "default_model_id",
    "find_model",
    "list_zoo",
    "load_model",
    "save_zoo_entry",
    "validate_card",
]
