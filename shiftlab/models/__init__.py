"""Classifiers: ``list_models()``, ``load_model(arch, weights)`` and the pieces they return.

Importing this package registers every architecture: each family module below registers its own specs, then the
user's models file (``$SHIFTLAB_MODELS`` or ``./shiftlab-models.toml``, see ``shiftlab.models.user``) adds its
models and datasets; a broken file leaves the zoo as it is, its error in ``models_file_problem()``.
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
    models_file_problem,
    register_model,
    unregister_model,
    zoo_card,
)
from shiftlab.models.user import forget_models_file, use_models_file
from shiftlab.models.variants import Variant, get_variant, known_variants, register_variant, resolve_variant

use_models_file()

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
    "forget_models_file",
    "get_spec",
    "get_variant",
    "known_variants",
    "list_models",
    "list_variants",
    "load_model",
    "models_file_problem",
    "read_card",
    "register_model",
    "register_variant",
    "unregister_model",
    "resolve_variant",
    "use_models_file",
    "save_checkpoint",
    "write_card",
    "zoo_card",
]
