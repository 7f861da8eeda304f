"""The wrapper every shiftlab model is used through.

``Classifier`` takes float images in [0, 1] (N×3×H×W) and applies the
network's own input normalisation inside, so callers — shifts, attribution,
metrics, the app — never need to know each network's preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from shiftlab.models.cards import ModelCard


class Classifier(nn.Module):
    """``net(normalize(x))`` for x in [0, 1]; the mean/std buffers are not saved with the weights."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] images to the network's input space."""
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


@dataclass(frozen=True)
class AttributionHooks:
    """What attribution methods need to know about an architecture, declared by its spec.

    ``gradcam_layer`` is the dotted name, inside the ``Classifier``, of the
    module whose output Grad-CAM explains. A token model (a ViT) also gives
    its patch ``token_grid`` (patches per side) and ``attentions``, a function
    of (network, normalised images) returning the logits and every layer's
    attention probabilities (N×heads×T×T, class token first).
    """

    gradcam_layer: str
    token_grid: int | None = None
    attentions: Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, tuple[torch.Tensor, ...]]] | None = None

    @property
    def family(self) -> str:
        """``"vit"`` for a token model with attention maps, ``"cnn"`` otherwise."""
        return "vit" if self.attentions is not None else "cnn"


@dataclass
class LoadedModel:
    """A classifier ready for inference, with the metadata that travels with its weights."""

    model: Classifier
    card: ModelCard
    classes: list[str]
    input_size: int
    device: torch.device
    hooks: AttributionHooks

    @property
    def arch(self) -> str:
        return self.card.arch

    @property
    def variant(self) -> str:
        return self.card.variant

    @property
    def family(self) -> str:
        return self.hooks.family

    @property
    def name(self) -> str:
        return self.card.name
