"""The variant vocabulary: the ways of training weights that every architecture of the zoo may have.

A ``Variant`` owns its name and its facts: what weights trained that way
are, which kind of robustness method it is (``standard``, ``augmentation``,
``adversarial``), its colour on every zoo chart and the other names it is
known by (the WCAM paper's ImageNet ``adv`` and ``adv_free``). Each is
registered here, next to its definition, by ``register_variant``, which
refuses a name or alias already taken; the rest of shiftlab derives what it
needs from ``known_variants()``: the weights entries of the architectures shiftlab
trains (``shiftlab.models.registry.trained_weights``), the training variants
(``shiftlab.training.variants`` refuses a class whose name is not here), the
zoo's acceptance targets (``shiftlab.zoo.targets``, by kind) and the chart
colours (``shiftlab.app.charts``).

Adding a variant: one ``register_variant`` call here and its training class
in ``shiftlab.training.variants``.
"""

from __future__ import annotations

from dataclasses import dataclass

from shiftlab.errors import DuplicateNameError, ParameterError, UnknownVariantError
from shiftlab.models.cards import NAME_PATTERN

#: what a variant name may look like: it becomes a file name, so no separators, no leading dot
VARIANT_NAME = NAME_PATTERN
#: the kinds of variant: plain training, a data augmentation, an adversarial training
KINDS = ("standard", "augmentation", "adversarial")


@dataclass(frozen=True)
class Variant:
    """One way of training weights: its name, what weights trained so are, its kind, chart colour and aliases."""

    name: str
    description: str
    kind: str
    colour: str
    aliases: tuple[str, ...] = ()


_VARIANTS: dict[str, Variant] = {}
_ALIASES: dict[str, str] = {}


def register_variant(variant: Variant) -> Variant:
    """Add ``variant`` to the vocabulary; returns it. A ``DuplicateNameError`` when its name or an alias is
    taken, a ``ParameterError`` when one is malformed or its kind is not one of ``KINDS``."""
    names = (variant.name, *variant.aliases)
    bad = [name for name in names if not VARIANT_NAME.fullmatch(name)]
    if bad:
        raise ParameterError(f"variant names are letters, digits, '_' and '-'; got {bad[0]!r}")
    taken = [name for name in names if name in _VARIANTS or name in _ALIASES]
    if taken or len(set(names)) != len(names):
        raise DuplicateNameError(f"variant name {(taken or [variant.name])[0]!r} is already registered")
    if variant.kind not in KINDS:
        raise ParameterError(f"variant {variant.name!r}: kind must be one of {', '.join(KINDS)}, got {variant.kind!r}")
    _VARIANTS[variant.name] = variant
    _ALIASES.update(dict.fromkeys(variant.aliases, variant.name))
    return variant


def known_variants() -> list[Variant]:
    """Every registered variant, in registration order."""
    return list(_VARIANTS.values())


def get_variant(name: str) -> Variant:
    """The registered variant called ``name`` (or aliased so); ``UnknownVariantError`` lists the known names."""
    try:
        return _VARIANTS[_ALIASES.get(name, name)]
    except (KeyError, TypeError):
        raise UnknownVariantError(f"unknown variant {name!r}; known: {', '.join(_VARIANTS)}") from None


def resolve_variant(variant: str) -> str:
    """The project's name of ``variant`` (``adv`` -> ``pgd_adv``); refuses names that could escape the zoo folder.

    A well-formed name outside the vocabulary (a user's own variant) is its own name.
    """
    if not isinstance(variant, str) or not VARIANT_NAME.fullmatch(variant):
        raise UnknownVariantError(
            "variant names are letters, digits, '_' and '-' (at most 64, not starting with '-' or '_'); "
            f"got {variant!r}"
        )
    return _ALIASES.get(variant, variant)


def aliases_of(variant: str) -> tuple[str, ...]:
    """The other names of ``variant`` (none for a name outside the vocabulary)."""
    known = _VARIANTS.get(variant)
    return known.aliases if known else ()


# The baseline grey, augmentation cool, adversarial warm.
register_variant(Variant("baseline", "standard training: random crop and flip, cross-entropy", "standard", "#868e96"))
register_variant(Variant(
    "augmix", "AugMix augmentation chains with a Jensen-Shannon consistency loss (Hendrycks et al. 2020)",
    "augmentation", "#1f6feb"))
register_variant(Variant(
    "pixmix", "PixMix: images mixed with fractal pictures (Hendrycks et al. 2022)",
    "augmentation", "#2f9e44"))
register_variant(Variant(
    "pgd_adv", "PGD adversarial training, L∞ ε 8/255 (Madry et al. 2018)",
    "adversarial", "#c92a2a", aliases=("adv",)))
register_variant(Variant(
    "free_adv", "'free' adversarial training with minibatch replays, L∞ ε 8/255 (Shafahi et al. 2019)",
    "adversarial", "#f08c00", aliases=("adv_free",)))
register_variant(Variant("fast_adv", "FGSM with random start, L∞ ε 8/255 (Wong et al. 2020)", "adversarial", "#ae3ec9"))
