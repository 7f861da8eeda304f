"""Classifiers: ``list_models()``, ``load_model(arch, weights)`` and the pieces they return.

Importing this package registers every architecture: each family module below registers its own specs.
"""

from shiftlab.models import cifar_resnet, imagenet, vit  # noqa: F401 (each registers its architectures)
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
    register_model,
    zoo_card,
)
from shiftlab.models.variants import Variant, get_variant, known_variants, register_variant, resolve_variant

__all__ = [
    "UNTRAINED",
    "AttributionHooks",
    "Classifier",
    "LoadedModel",
    "ModelCard",
    "ModelSpec",
    "Variant",
    "Weights",
    "build_model",
    "card_path",
    "checkpoint_root",
    "get_spec",
    "get_variant",
    "known_variants",
    "list_models",
    "list_variants",
    "load_model",
    "read_card",
    "register_model",
    "register_variant",
    "resolve_variant",
    "save_checkpoint",
    "write_card",
    "zoo_card",
]
