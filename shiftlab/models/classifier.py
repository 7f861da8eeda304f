"""The wrapper every shiftlab model is used through.

``Classifier`` takes float images in [0, 1] (N×3×H×W) and applies the
network's own input normalisation inside, so callers — shifts, attribution,
metrics, the app — never need to know each network's preprocessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn


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


@dataclass
class LoadedModel:
    """A classifier ready for inference, with the metadata that travels with its weights."""

    model: Classifier
    card: dict
    classes: list[str]
    input_size: int
    device: torch.device
    arch: str
    variant: str
    extras: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.arch}/{self.variant}"
