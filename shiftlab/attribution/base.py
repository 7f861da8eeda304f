"""What every attribution method shares: the result type, the base class and its registry, input and target checks.

A method is a class with a ``name``, the model ``families`` it supports and a
``_compute(x, target, **options)`` that returns N×H×W maps (a tensor at input
resolution) and method-specific extras. ``AttributionMethod.attribute`` does
the rest once for all methods: it validates the uint8 images and the options,
resolves the target class, runs the model in eval mode and packs an
``Attribution``. Options are checked (``check_options``) before any image is
touched; every bound is stated in its method's docstring.

The class also declares what a caller needs to know before running it, as
captum's methods do: its title and description, the options that make it
answer in seconds on a CPU, whether it runs the model many times per image,
which options steer a run rather than define its result. ``@register_method``
next to the class makes it available by name (``METHODS``).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shiftlab.argcheck import choice, real, shown, whole
from shiftlab.errors import (
    AttributionError,
    DuplicateNameError,
    ImageInputError,
    UnknownOptionError,
    UnsupportedMethodError,
)
from shiftlab.inference import to_tensor
from shiftlab.models import AttributionHooks, LoadedModel


class MethodExtras:
    """Base of a method's typed extras (a dataclass whose fields are its figures, batched over the images).

    ``items()`` lists the figures by name in field order, as a dict of extras
    would: a sweep stores the per-image arrays among them
    (``shiftlab.sweep.records.encode_details``), and ``from_arrays`` rebuilds
    the extras from what it stored.
    """

    def items(self) -> list[tuple[str, Any]]:
        """(name, value) of every field, in declaration order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> MethodExtras:
        """The extras of a result read back from a sweep store: the per-image arrays it kept, by name."""
        raise NotImplementedError


@dataclass(frozen=True)
class Attribution:
    """The result of one attribution call.

    ``maps`` are float32 N×H×W at the model's input resolution (higher = more
    important), ``target`` the int64 class explained for each image,
    ``options`` every option the method ran with (defaults included) and
    ``extras`` what the method returns besides the maps (see each method): a
    ``MethodExtras`` for a method that declares its ``extras_type``, else a
    dict of named arrays.
    """

    maps: np.ndarray
    target: np.ndarray
    method: str
    options: dict[str, Any]
    extras: Mapping[str, Any] | MethodExtras = field(default_factory=dict)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Run in eval mode (batch norm statistics frozen, no dropout), then restore the previous mode."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def prepare_images(images: np.ndarray, loaded: LoadedModel) -> torch.Tensor:
    """uint8 N×S×S×3 images at the model's input size S -> float N×3×S×S in [0, 1] on the model's device."""
    x = to_tensor(images, loaded.device)
    size = loaded.input_size
    if len(x) == 0:
        raise ImageInputError("attribution needs at least one image")
    if x.shape[-2:] != (size, size):
        raise ImageInputError(
            f"{loaded.arch} takes {size}×{size} images, got {x.shape[-2]}×{x.shape[-1]}; resize them first"
        )
    return x


def resolve_target(loaded: LoadedModel, x: torch.Tensor, target: int | np.ndarray | list[int] | None) -> np.ndarray:
    """int64 class per image: the predicted class when ``target`` is None, else ``target`` checked and broadcast."""
    if target is None:
        with torch.no_grad():
            return loaded.model(x).argmax(1).cpu().numpy().astype(np.int64)
    try:
        values = np.asarray(target)
    except (ValueError, TypeError):
        raise AttributionError(f"target must be an int class index or one per image, got {shown(target)}") from None
    if values.dtype == bool or not np.issubdtype(values.dtype, np.integer):
        raise AttributionError(f"target must be an int class index or one per image, got {shown(target)}")
    values = np.broadcast_to(values, (len(x),)) if values.ndim == 0 else values
    if values.shape != (len(x),):
        raise AttributionError(f"target must be one int or {len(x)} ints (one per image), got shape {values.shape}")
    n_classes = len(loaded.classes)
    if values.min() < 0 or values.max() >= n_classes:
        raise AttributionError(f"target classes must lie in [0, {n_classes}), got {values.tolist()}")
    return values.astype(np.int64)


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of N×h×w maps to N×H×W (coarse Grad-CAM and token maps to image resolution)."""
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def check_int(name: str, value: int, minimum: int, maximum: int | None = None) -> None:
    """Raise ``AttributionError`` unless ``value`` is an int from ``minimum`` to ``maximum`` (None: no upper bound)."""
    whole(name, value, minimum, maximum, AttributionError)


def check_real(name: str, value: float, low: float, high: float, high_open: bool = False) -> None:
    """Raise ``AttributionError`` unless ``value`` is a finite number from ``low`` to ``high``."""
    real(name, value, low, high, high_open=high_open, error=AttributionError)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise ``AttributionError`` unless ``value`` is one of ``choices``."""
    choice(name, value, choices, AttributionError)


class AttributionMethod(ABC):
    """Base class: ``Method(loaded).attribute(images, target=None, **options) -> Attribution``."""

    name: ClassVar[str]
    #: a readable title shown beside the name, and what the map shows in a sentence or two
    title: ClassVar[str]
    description: ClassVar[str]
    families: ClassVar[tuple[str, ...]] = ("cnn", "vit")
    #: options a page passes so that the method answers in seconds on a CPU (the rest keep their defaults)
    interactive_options: ClassVar[dict[str, Any]] = {}
    #: options laid over ``interactive_options`` for a model with large inputs (the app's ``LARGE_INPUT_SIDE``)
    large_input_options: ClassVar[dict[str, Any]] = {}
    #: whether it runs the model many times per image: slow on a CPU for a large-input model
    many_passes: ClassVar[bool] = False
    #: whether its maps are signed (evidence for and against the class): drawn on a diverging colour scale
    signed: ClassVar[bool] = False
    #: options that steer a run rather than define its result (a progress callback, an earlier result to resume):
    #: left out of the options a page caches or a store records
    run_controls: ClassVar[tuple[str, ...]] = ()
    #: the type of its extras when they are typed (``MethodExtras``); None: a dict of named arrays
    extras_type: ClassVar[type[MethodExtras] | None] = None

    def __init__(self, loaded: LoadedModel):
        reason = self.unavailable(loaded.arch, loaded.hooks)
        if reason is not None:
            raise UnsupportedMethodError(
                f"{self.name} {reason}. "
                "shiftlab.attribution.list_methods(loaded) lists the methods it supports."
            )
        self.loaded = loaded
        self.model = loaded.model
        self.hooks = loaded.hooks

    @classmethod
    def unavailable(cls, arch: str, hooks: AttributionHooks) -> str | None:
        """Why this method cannot explain the model ``arch`` whose spec declares ``hooks``, worded to follow the
        method's name ("needs ..."), or None when it can. Known before any weights load, so a page offers only
        what applies. The base checks the model family; a method needing more overrides it."""
        if hooks.family in cls.families:
            return None
        return f"needs a model of family {' or '.join(map(repr, cls.families))}; {arch} is a {hooks.family!r}"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The options ``_compute`` takes, with their default values."""
        parameters = inspect.signature(cls._compute).parameters.values()
        return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}

    @classmethod
    def passes(cls, options: Mapping[str, Any]) -> int:
        """Passes of the model (forward, and backward when it takes gradients) one image costs with ``options``
        (every option, defaults included): what ``shiftlab.estimates`` times to say how long a map will take.
        One, unless the method says more."""
        return 1

    @classmethod
    def stored_extras(cls, arrays: dict[str, np.ndarray]) -> Mapping[str, Any] | MethodExtras:
        """Its extras rebuilt from the per-image arrays a sweep stored (batched over the images): an
        ``extras_type`` when it declares one, else the arrays themselves."""
        return arrays if cls.extras_type is None else cls.extras_type.from_arrays(arrays)

    def attribute(
        self, images: np.ndarray, target: int | np.ndarray | list[int] | None = None, **options: Any
    ) -> Attribution:
        """Attribution maps of uint8 N×H×W×3 ``images`` for ``target`` (None: the predicted class)."""
        options = self.checked(options)
        x = prepare_images(images, self.loaded)
        with eval_mode(self.model):
            targets = resolve_target(self.loaded, x, target)
            maps, extras = self._compute(x, torch.from_numpy(targets).to(x.device), **options)
        return Attribution(maps.detach().float().cpu().numpy(), targets, self.name, options, extras)

    def checked(self, options: dict[str, Any]) -> dict[str, Any]:
        """Every option the method will run with (the defaults, updated by ``options``), each checked against its
        bound: ``UnknownOptionError`` for a name it does not take, ``AttributionError`` for a value out of range.
        Nothing runs, so a caller can check options before it starts work."""
        defaults = self.defaults()
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise UnknownOptionError(
                f"unknown option(s) {', '.join(unknown)} for {self.name}; options: {', '.join(defaults) or 'none'}"
            )
        options = {**defaults, **options}
        self.check_options(options)
        return options

    def check_options(self, options: dict[str, Any]) -> None:
        """Raise ``AttributionError`` for an option value out of its stated range, before any image is touched
        (``options`` holds every option, defaults included). Methods with options override this."""
        return

    @abstractmethod
    def _compute(
        self, x: torch.Tensor, target: torch.Tensor, **options: Any
    ) -> tuple[torch.Tensor, Mapping[str, Any] | MethodExtras]:
        """N×H×W maps of ``x`` (float N×3×H×W in [0, 1]) for the int64 ``target`` classes, and the extras.

        Subclasses declare their options as keyword-only parameters with defaults.
        """


#: every registered method by name, in the order the modules register them (the order the pages list them in)
METHODS: dict[str, type[AttributionMethod]] = {}

Method = TypeVar("Method", bound=type[AttributionMethod])


def register_method(method: Method) -> Method:
    """Class decorator that makes ``method`` available by its ``name`` (``attribute``, ``get_method``, the pages);
    a second method of the same name raises ``DuplicateNameError``."""
    if method.name in METHODS:
        raise DuplicateNameError(
            f"attribution method {method.name!r} is already registered ({METHODS[method.name].__qualname__})"
        )
    METHODS[method.name] = method
    return method
