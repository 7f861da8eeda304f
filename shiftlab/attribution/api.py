"""Looking methods up by name in the registry (``base.METHODS``) and the one-call entry point ``attribute``."""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftlab.attribution.base import METHODS, Attribution, AttributionMethod, UnsupportedMethodError
from shiftlab.models import AttributionHooks, LoadedModel


def get_method(name: str) -> type[AttributionMethod]:
    """The method class registered as ``name``; ``UnsupportedMethodError`` lists the known names."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise UnsupportedMethodError(f"unknown attribution method {name!r}; known: {', '.join(METHODS)}") from None


def list_methods(loaded: LoadedModel | None = None) -> list[str]:
    """Every method name, or only those that apply to ``loaded``'s model (``AttributionMethod.unavailable``)."""
    return list(METHODS) if loaded is None else applicable_methods(loaded.arch, loaded.hooks)


def applicable_methods(arch: str, hooks: AttributionHooks) -> list[str]:
    """The methods that can explain the model ``arch`` whose spec declares ``hooks``, before any weights load."""
    return [name for name, method in METHODS.items() if method.unavailable(arch, hooks) is None]


def checked_options(loaded: LoadedModel, method: str, **options: Any) -> dict[str, Any]:
    """Every option ``attribute(loaded, images, method, **options)`` would run with, each checked against the
    bound its method's docstring states (typed errors as ``attribute`` raises them); nothing runs."""
    return get_method(method)(loaded).checked(options)


def attribute(
    loaded: LoadedModel,
    images: np.ndarray,
    method: str,
    target: int | np.ndarray | list[int] | None = None,
    **options: Any,
) -> Attribution:
    """Attribution maps of uint8 N×H×W×3 ``images`` (at the model's input size) by the named method.

    ``target=None`` explains the predicted class; an int or one int per image
    explains that class. ``options`` are the method's own (see each class).
    """
    return get_method(method)(loaded).attribute(images, target, **options)
