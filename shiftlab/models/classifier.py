"""The wrapper every shiftlab model is used through.

``Classifier`` takes float images in [0, 1] (N×3×H×W) and applies the
network's own input normalisation inside, so callers — shifts, attribution,
metrics, the app — never need to know each network's preprocessing.
"""

from __future__ import annotations

import copy
import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import fx, nn
from torch.fx.experimental.optimization import fuse

from shiftlab.models.cards import ModelCard

#: held while a network is folded for inference (``Classifier.inference_net``)
_FOLDING = threading.Lock()


class Classifier(nn.Module):
    """``net(normalize(x))`` for x in [0, 1]; the mean/std buffers are not saved with the weights."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self._inference: tuple[tuple, nn.Module] | None = None  # (weights' storage and versions, inference_net)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] images to the network's input space."""
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))

    def inference_net(self) -> nn.Module:
        """A copy of ``net`` for many forward passes without gradients (WCAM's perturbed images): every batch
        norm folded into the convolution before it (``torch.fx``'s ``fuse``), the ReLUs and the residual sums
        made in place.

        The same function up to float32 rounding (the folded weights round differently; the in-place
        operations compute the same values); ResNet-20 runs about 25 % faster on a CPU. In-place ReLUs are
        safe in the zoo's architectures, whose ReLUs never overwrite a tensor that is used again (a test
        compares every architecture's outputs). A network without batch norms is returned as it is. Made in
        eval mode, whatever ``net``'s mode, and kept until a weight or buffer of ``net`` changes or moves
        (ResNet-50's takes 0.75 s to make).
        """
        if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.net.modules()):
            return self.net
        with _FOLDING:  # one server's sessions share a cached model: two foldings at once break fx's tracing
            versions = tuple((t.data_ptr(), t._version) for t in (*self.net.parameters(), *self.net.buffers()))
            if self._inference is None or self._inference[0] != versions:
                self._inference = (versions, folded_in_place(self.net))
            return self._inference[1]


def folded_in_place(net: nn.Module) -> nn.Module:
    """``net``'s eval-mode copy with batch norms folded into convolutions, in-place ReLUs and in-place residual
    sums (see ``inference_net``). The copy drops every hook: another session may be explaining ``net`` at this
    moment (captum's hooks on one of its layers), and ``net`` itself is left untouched, its mode included."""
    copied = copy.deepcopy(net).eval()
    for module in copied.modules():
        module._forward_hooks.clear()
        module._forward_pre_hooks.clear()
        module._backward_hooks.clear()
    fused = fuse(copied, inplace=True)
    for module in fused.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = True
    for node in fused.graph.nodes:
        # a sum whose left operand is a module's output used nowhere else (the residual branch) adds into it:
        # the same values without a new tensor (ResNet-20's WCAM runs 4 % faster)
        left = node.args[0] if node.op == "call_function" and node.target is operator.add else None
        if isinstance(left, fx.Node) and left.op == "call_module" and len(left.users) == 1:
            node.target = operator.iadd
    fused.recompile()
    return fused


@dataclass(frozen=True)
class AttributionHooks:
    """What attribution methods need to know about an architecture, declared by its spec.

    ``gradcam_layer`` is the dotted name, inside the ``Classifier``, of the
    module whose output Grad-CAM explains (None for a network without one: a
    user's token model whose attention cannot be read; Grad-CAM is then not offered). ``cpu_batch_size`` is the number of
    images per forward pass at which the network runs fastest per image on one
    CPU thread: perturbation methods (WCAM) batch their perturbed images by it
    on a CPU. A larger batch's activations leave the core's caches (measured,
    docs/wcam.md). A token model (a ViT) also gives its patch ``token_grid``
    (patches per side) and ``attentions``, a function of (network, normalised
    images) returning the logits and every layer's attention probabilities
    (N×heads×T×T, class token first).
    """

    gradcam_layer: str | None
    cpu_batch_size: int
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
