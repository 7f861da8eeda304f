"""Training variants: a pluggable augmentation plus a training step.

A variant turns a uint8 batch into a loss. ``baseline`` is random crop + flip
(and, when the recipe asks for it, RandAugment) with cross-entropy; robust
variants (AugMix, PixMix, adversarial training) register their own class with
``register_variant`` and are picked by name on the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from shiftlab.augment import rand_augment, random_crop_flip, to_unit_float


@dataclass
class StepOutput:
    """What one training step reports: the loss to minimise and the logits on the clean-label batch."""

    loss: torch.Tensor
    logits: torch.Tensor


class TrainingVariant:
    """Base class: crop+flip augmentation and cross-entropy. Subclasses override ``augment`` or ``step``."""

    name = "baseline"
    description = "random crop (pad 4) + horizontal flip, cross-entropy"

    def __init__(self, recipe: "dict"):
        self.recipe = recipe
        self.label_smoothing = float(recipe.get("label_smoothing", 0.0))
        ra = recipe.get("randaugment")
        self.rand_augment = rand_augment(*ra) if ra else None

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 N×3×H×W -> augmented float images in [0, 1]."""
        images = random_crop_flip(images)
        if self.rand_augment is not None:
            images = self.rand_augment(images)
        return to_unit_float(images)

    def step(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, autocast: Callable) -> StepOutput:
        """Forward pass and loss on an augmented batch already on the model's device."""
        with autocast():
            logits = model(images)
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=self.label_smoothing)
        return StepOutput(loss, logits.detach())


_VARIANTS: dict[str, type[TrainingVariant]] = {"baseline": TrainingVariant}


def register_variant(cls: type[TrainingVariant]) -> type[TrainingVariant]:
    """Class decorator that makes a variant available to ``shiftlab.train`` by its ``name``."""
    _VARIANTS[cls.name] = cls
    return cls


def list_training_variants() -> list[str]:
    """Names accepted by ``--variant``."""
    return list(_VARIANTS)


def make_variant(name: str, recipe: dict) -> TrainingVariant:
    """Instantiate the variant called ``name`` for ``recipe``."""
    if name not in _VARIANTS:
        raise ValueError(f"unknown training variant {name!r}; known: {', '.join(_VARIANTS)}")
    return _VARIANTS[name](recipe)
