"""The model registry: every architecture with its builder, preprocessing, classes, weights and attribution hooks.

Modelled on torchvision's registry: a name maps to a ``ModelSpec`` that knows
how to build the network, which weights entries it has (variant, file,
source, one-line description, bound together as torchvision binds weights to
their metadata) and, as timm keeps per-architecture knowledge in its config,
where attribution methods should look inside it and the range of each config
field. ``load_model`` is the one entry point the rest of shiftlab uses;
``list_models`` and ``list_variants`` name what exists.

This module holds the mechanism only. Each family module defines its specs
beside its builder and registers them there (``shiftlab.models.cifar_resnet``,
``vit``, ``imagenet``); ``shiftlab.models`` imports the family modules, so
adding an architecture is its module with ``register_model(spec)`` and one
import line there. ``register_model`` is also the public call for a spec made
at run time, from a file of one's own models, say::

    from shiftlab.models import ModelSpec, Weights, load_model, register_model

    augmix = Weights("augmix", "my run", "AugMix on pets", packaged=lambda: "/data/pets/augmix.pth")
    register_model(ModelSpec(arch="pets", dataset="pets", build=..., config={"num_classes": 37},
                             bounds={"num_classes": (2, 1000)}, weights=(augmix,), ...))
    load_model("pets", "augmix")  # the file named by its entry, with the card beside it when there is one

A weights entry with ``packaged`` names its file wherever it is; without one
the file is ``checkpoint_root()/<dataset>/<arch>/<variant>.safetensors`` (or
``.pth``...). When every entry of a spec names its file, only those variants
exist.

``register_model`` refuses an ``arch`` already registered (``DuplicateNameError``),
names that cannot be folder names and config fields without a range
(``ParameterError``). ``list_models`` lists the architectures by dataset name,
then in registration order.

Variant names (``baseline``, ``augmix``...) and their aliases come from the
vocabulary of ``shiftlab.models.variants``; the ResNet-50's ``sin``
(Stylized-ImageNet) is a weights entry of that architecture alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from shiftlab.checkpoint import WEIGHT_SUFFIXES, load_strict, read_tensors, strip_weight_suffix
from shiftlab.device import resolve_device
from shiftlab.errors import (
    CheckpointError,
    DuplicateNameError,
    ModelCardError,
    ModelsFileError,
    ParameterError,
    UnknownModelError,
    UnknownVariantError,
)
from shiftlab.models.cards import NAME_PATTERN, ModelCard, card_path, read_card
from shiftlab.models.classifier import AttributionHooks, Classifier, LoadedModel
from shiftlab.models.variants import VARIANT_NAME, aliases_of, known_variants, resolve_variant

CHECKPOINT_ENV_VAR = "SHIFTLAB_CHECKPOINTS"
#: the range of a class count a card or ``build_model`` may set: the network is built from its config before its
#: weights are read, so an absurd depth, width or class count would cost minutes and gigabytes
NUM_CLASSES_BOUNDS: dict[str, tuple[float, float]] = {"num_classes": (2, 1000)}
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
    #: the range of each config field a card or ``build_model`` may set (every field of ``config`` has one)
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(NUM_CLASSES_BOUNDS))
    #: its marker on the zoo's scatter plots, or None where the charts give it none
    marker: str | None = None
    #: how a weights file gets into the built network, when not by ``shiftlab.checkpoint.load_strict`` of the
    #: file's tensors (a Hugging Face folder, whose saved key names transformers converts on loading)
    load_weights: Callable[[nn.Module, Path], None] | None = field(default=None, repr=False)
    #: whether its weights live outside the zoo folder, each file where its entry names it (a user's models file):
    #: its cards are then written beside those files, never into the zoo
    external: bool = False
    #: whether its batch norms may be folded for fast inference (``Classifier.inference_net``): true for the zoo,
    #: whose architectures a test checks, false for a user's network
    foldable: bool = True

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
        names = [variant, *aliases_of(variant)]
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


_REGISTRY: dict[str, ModelSpec] = {}
#: why the user's models file was not used (``shiftlab.models.user``), told with an unknown model's error
_MODELS_FILE_PROBLEM: list[ModelsFileError] = []


def note_models_file_problem(problem: ModelsFileError | None) -> None:
    """Remember why the models file was not used (None: it was), so that an unknown model's error says it."""
    _MODELS_FILE_PROBLEM[:] = [problem] if problem else []


def models_file_problem() -> ModelsFileError | None:
    """Why the last models file was not used (None when it was, or when there was none)."""
    return _MODELS_FILE_PROBLEM[0] if _MODELS_FILE_PROBLEM else None


def register_model(spec: ModelSpec) -> ModelSpec:
    """Make ``spec`` known to ``list_models``, ``get_spec`` and ``load_model`` by its ``arch``; returns it.

    A ``DuplicateNameError`` when the arch is taken; a ``ParameterError`` when the arch or dataset could not be a
    folder name, or when a config field has no range in ``spec.bounds`` or its default lies outside it.
    """
    for what in ("arch", "dataset"):
        if not isinstance(getattr(spec, what), str) or not NAME_PATTERN.fullmatch(getattr(spec, what)):
            raise ParameterError(f"a model's {what} is letters, digits, '_' and '-' (at most 64); got "
                                 f"{getattr(spec, what)!r:.80}")
    if spec.arch in _REGISTRY:
        raise DuplicateNameError(f"model {spec.arch!r} is already registered ({_REGISTRY[spec.arch].description})")
    unbounded = sorted(set(spec.config) - set(spec.bounds))
    if unbounded:
        raise ParameterError(f"{spec.arch}: config fields {unbounded} have no range in its bounds")
    checked_config(spec, {}, f"{spec.arch}'s default config")
    _REGISTRY[spec.arch] = spec
    return spec


def unregister_model(arch: str) -> None:
    """Forget ``arch`` (a run-time spec, e.g. of a models file being replaced); an unknown name is ignored."""
    _REGISTRY.pop(arch, None)


def trained_weights(arch: str) -> tuple[Weights, ...]:
    """The weights entries of an architecture that shiftlab trains: one per variant of the vocabulary."""
    return tuple(Weights(v.name, f"trained by shiftlab: shiftlab train --model {arch}/{v.name}", v.description)
                 for v in known_variants())


def list_models() -> list[str]:
    """Registered architecture names, by dataset name, then in registration order."""
    return [spec.arch for spec in sorted(_REGISTRY.values(), key=lambda spec: spec.dataset)]


def get_spec(arch: str) -> ModelSpec:
    """The ``ModelSpec`` of ``arch``; ``UnknownModelError`` lists the known names (and why the models file was
    not used, when it was not)."""
    try:
        return _REGISTRY[arch]
    except (KeyError, TypeError):
        problem = models_file_problem()
        note = f" (your models file was not used: {problem})" if problem else ""
        raise UnknownModelError(f"unknown model {arch!r}; known: {', '.join(list_models())}{note}") from None


def list_variants(arch: str) -> list[str]:
    """Variants of ``arch`` whose weights are available on this machine."""
    return get_spec(arch).available_variants()


def build_model(arch: str, **config) -> Classifier:
    """A randomly initialised ``Classifier`` for ``arch`` (config overrides the spec's defaults, within its bounds)."""
    spec = get_spec(arch)
    return Classifier(spec.build(**checked_config(spec, config)), spec.mean, spec.std, spec.foldable)


def checked_config(spec: ModelSpec, config: dict, where: str = "config") -> dict:
    """``spec.config`` updated with ``config``, each field known to the architecture and within ``spec.bounds``
    (a ``ParameterError`` naming the field and its range otherwise), checked before anything is built."""
    unknown = sorted(set(config) - set(spec.config))
    if unknown:
        raise ParameterError(f"{where}: {spec.arch} has no config fields {unknown}; it has {', '.join(spec.config)}")
    merged = {**spec.config, **config}
    for name, value in merged.items():
        low, high = spec.bounds[name]
        kind = float if isinstance(low, float) else int
        if (isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int)
                or not math.isfinite(value) or not low <= value <= high):
            what = "a number" if kind is float else "an integer"
            raise ParameterError(f"{where}: {spec.arch}'s {name} must be {what} from {low} to {high}, "
                                 f"got {value!r:.40}")
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
    classifier = Classifier(spec.build(**config), spec.mean, spec.std, spec.foldable)
    if spec.load_weights is not None:
        spec.load_weights(classifier.net, path)
    else:
        load_strict(classifier.net, read_tensors(path), source=str(path))
    return _ready(spec, classifier, card, config, device)


def _untrained(spec: ModelSpec, device: str | torch.device, seed: int) -> LoadedModel:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = Classifier(spec.build(**spec.config), spec.mean, spec.std, spec.foldable)
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
        return check_card_names(read_card(path), spec.arch, weights, _named(spec, variant)).bind_weights(weights)
    entry = spec.entry(variant)
    return ModelCard(spec.arch, variant, dataset=spec.dataset, weights=str(weights),
                     description=entry.description if entry else None,
                     source=entry.source if entry else None).bind_weights(weights)


def check_card_names(card: ModelCard, arch: str, weights: Path, variant: str | None = None) -> ModelCard:
    """``card``, refused when it describes another architecture than ``arch`` or another variant than its
    weights file's name says (a card is believed only beside its own weights) — or, for a user's model whose
    models file names each variant's file (``variant`` given), another variant than that; returns it."""
    path = card_path(weights)
    if card.arch != arch:
        raise CheckpointError(f"{path} describes a {card.arch!r}, not a {arch!r}")
    stem = path.stem if variant is None else variant
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
    return check_card_names(read_card(path), spec.arch, weights, _named(spec, variant)).bind_weights(weights)


def _named(spec: ModelSpec, variant: str) -> str | None:
    """The variant a card beside an external spec's weights must describe (None: the file's name says it)."""
    return resolve_variant(variant) if spec.external else None
