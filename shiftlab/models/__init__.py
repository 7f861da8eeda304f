"""Classifiers: ``list_models()``, ``load_model(arch, variant)`` and the pieces they return."""

from shiftlab.models.classifier import Classifier, LoadedModel
from shiftlab.models.registry import (
    ModelSpec,
    build_model,
    card_path,
    checkpoint_root,
    get_spec,
    list_models,
    list_variants,
    load_model,
)

__all__ = [
    "Classifier",
    "LoadedModel",
    "ModelSpec",
    "build_model",
    "card_path",
    "checkpoint_root",
    "get_spec",
    "list_models",
    "list_variants",
    "load_model",
]
