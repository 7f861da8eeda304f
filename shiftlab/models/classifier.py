"""The wrapper every shiftlab model is used through.

``Classifier`` takes float images in [0, 1] (N×3×H×W) and applies the
network's own input normalisation inside, so callers — shifts, attribution,
metrics, the app — never need to know each network's preprocessing.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from shiftlab.models.cards import ModelCard

#: held while a network is folded for inference (``Classifier.inference_net``)
_FOLDING = threading.Lock()
#: held while a classifier's spare copies are taken or given back (``Classifier.lent_copy``)
_LENDING = threading.Lock()
#: spare copies kept per classifier: one server's concurrent Grad-CAMs of one model rarely exceed it
MAX_SPARE_COPIES = 2


class Classifier(nn.Module):
    """``net(normalize(x))`` for x in [0, 1]; the mean/std buffers are not saved with the weights."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float], foldable: bool = True):
        super().__init__()
        self.net = net
        self.foldable = foldable  # whether inference_net may fold batch norms (see there)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self._inference: tuple[tuple, nn.Module] | None = None  # (weights' storage and versions, inference_net)
        self._spares: list[tuple[tuple, Classifier]] = []  # (weights' storage and versions, a hookless copy)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] images to the network's input space."""
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))

    def copy(self) -> Classifier:
        """An independent copy (weights, mode and device) without the hooks another session's attribution may hold
        on this one at the moment, nor its inference net: what a computation that changes weights starts from."""
        clone = Classifier(hookless_copy(self.net), self.mean.flatten().tolist(), self.std.flatten().tolist(),
                           self.foldable)
        return clone.to(self.mean.device).train(self.training)

    @contextmanager
    def lent_copy(self) -> Iterator[Classifier]:
        """A hookless copy to hook for one computation (Grad-CAM hooks a layer), lent from a few spares kept with
        this classifier: the deep copy (about 100 ms for a ResNet-50) is paid once per concurrent caller, not on
        every call. A spare made before a weight changed or moved is dropped; hooks left on a copy are removed
        when it comes back."""
        versions = self._weight_versions()
        with _LENDING:
            self._spares = [(made, spare) for made, spare in self._spares if made == versions]
            clone = self._spares.pop()[1] if self._spares else None
        clone = (clone or self.copy()).train(self.training)
        try:
            yield clone
        finally:
            strip_hooks(clone.net)
            with _LENDING:
                if len(self._spares) < MAX_SPARE_COPIES and self._weight_versions() == versions:
                    self._spares.append((versions, clone))

    def _weight_versions(self) -> tuple:
        """Where each weight and buffer lives and how often it was changed in place: equal while nothing moved."""
        return tuple((t.data_ptr(), t._version) for t in (*self.net.parameters(), *self.net.buffers()))

    def inference_net(self) -> nn.Module:
        """A copy of ``net`` for many forward passes without gradients (WCAM's perturbed images): every batch
        norm that directly follows a convolution of the same module folded into it, and the ReLUs made in place.

        The same function up to float32 rounding (the folded weights round differently; the in-place ReLUs
        compute the same values); ResNet-20 runs about 20 % faster on a CPU. In-place ReLUs are safe in the zoo's
        architectures, whose ReLUs never overwrite a tensor that is used again (a test compares every
        architecture's outputs); a network built without ``foldable`` (a user's, whose layers nobody checked)
        is returned as it is, and so is one without batch norms. Made in eval mode, whatever ``net``'s mode, and
        kept until a weight or buffer of ``net`` changes or moves.
        """
        if not self.foldable or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.net.modules()):
            return self.net
        with _FOLDING:
            versions = self._weight_versions()
            if self._inference is None or self._inference[0] != versions:
                self._inference = (versions, folded_in_place(self.net))
            return self._inference[1]


def hookless_copy(net: nn.Module) -> nn.Module:
    """A deep copy of ``net`` without any forward or backward hook: one server's sessions share a cached model,
    and another session may be explaining it at this moment (captum's hooks on one of its layers)."""
    copied = copy.deepcopy(net)
    strip_hooks(copied)
    return copied


def strip_hooks(net: nn.Module) -> None:
    """Remove every forward and backward hook from ``net``'s modules."""
    for module in net.modules():
        module._forward_hooks.clear()
        module._forward_pre_hooks.clear()
        module._backward_hooks.clear()
        module._backward_pre_hooks.clear()


def folded_in_place(net: nn.Module) -> nn.Module:
    """``net``'s eval-mode copy (``hookless_copy``) with each batch norm that directly follows a convolution among
    its module's children folded into it (``torch.nn.utils.fusion.fuse_conv_bn_eval``, the batch norm left as an
    identity) and in-place ReLUs; ``net`` itself is left untouched, its mode included.

    Pairs are found from the modules' declaration order, not by tracing: ``torch.fx`` traces by patching
    ``nn.Module.__call__`` for the whole process, which breaks every other session's forward pass on a shared
    server. The zoo's architectures declare each batch norm right after the convolution it normalises (a test
    compares every architecture's outputs).
    """
    folded = hookless_copy(net).eval()
    for parent in list(folded.modules()):
        children = list(parent.named_children())
        for (conv_name, conv), (norm_name, norm) in zip(children, children[1:]):
            if (isinstance(conv, nn.Conv2d) and type(norm) is nn.BatchNorm2d and norm.track_running_stats
                    and conv.out_channels == norm.num_features):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, norm))
                setattr(parent, norm_name, nn.Identity())
    for module in folded.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = True
    return folded


@dataclass(frozen=True)
class AttributionHooks:
    """What attribution methods need to know about an architecture, declared by its spec.

    ``gradcam_layer`` is the dotted name, inside the ``Classifier``, of the
    module whose output Grad-CAM explains (None for a network without one: a
    user's token model whose attention cannot be read; Grad-CAM is then not
    offered). ``cpu_batch_size`` is the number of images per forward pass at
    which the network runs fastest per image on one CPU thread: perturbation
    methods (WCAM) batch their perturbed images by it on a CPU. A larger batch's
    activations leave the core's caches (measured, docs/wcam.md). A token model
    (a ViT) also gives its patch ``token_grid`` (patches per side) and
    ``attentions``, a function of (network, normalised images) returning the
    logits and every layer's attention probabilities (N×heads×T×T, class token
    first). ``batch_invariant`` says that the network gives an image the same
    bits on a CPU in a batch of any size from 2 up (a test checks each
    architecture that says so): deletion and insertion curves may then share
    batches; not so where a layer rounds with the batch's size (a MobileNet's
    Hardswish, a Linear layer's matrix product).
    """

    gradcam_layer: str | None
    cpu_batch_size: int
    token_grid: int | None = None
    attentions: Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, tuple[torch.Tensor, ...]]] | None = None
    batch_invariant: bool = False

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
