"""Classifiers: ``list_models()``, ``load_model(arch, weights)`` and the pieces they return."""

from shiftlab.models.cards import ModelCard, card_path, read_card, save_checkpoint, write_card
from shiftlab.models.classifier import AttributionHooks, Classifier, LoadedModel
from shiftlab.models.registry import (
    UNTRAINED,
    ModelSpec,
    Weights,
    build_model,
    checkpoint_root,
    get_spec,
    list_models,
    list_variants,
    load_model,
    resolve_variant,
    zoo_card,
)

__all__ = [
    "UNTRAINED",
    "AttributionHooks",
    "Classifier",
    "LoadedModel",
    "ModelCard",
    "ModelSpec",
    "Weights",
    "build_model",
    "card_path",
    "checkpoint_root",
    "get_spec",
    "list_models",
    "list_variants",
    "load_model",
    "read_card",
    "resolve_variant",
    "save_checkpoint",
    "write_card",
    "zoo_card",
]
