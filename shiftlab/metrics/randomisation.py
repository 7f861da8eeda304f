"""The model-randomisation sanity check (Adebayo et al. 2018): does the map change when the weights stop
meaning anything?

The network's layers with weights are re-initialised one more at a time from the top (the classifier) down,
cascading, and the map is recomputed after each stage. A method whose maps keep their shape on a network with
random weights explains the image, not the model. Similarity to the trained model's map is measured per image
and stage by the Spearman rank correlation of the maps' absolute values (the paper's main measure: which pixels
matter, either sign) and by SSIM (``shiftlab.metrics.drift``).

A method passes when, with every layer randomised, the mean Spearman correlation over the images falls below
``PASS_THRESHOLD`` = 0.5: the trained map then shares less than a quarter (0.5²) of its rank variance with a map
of meaningless weights. The paper's failing methods (guided backpropagation) stay near 1 through the cascade,
while gradients fall towards 0; 0.5 sits between the two, and a test checks a linear model's exact gradient
passes while a map that ignores the weights fails.

Layers are re-initialised with their own ``reset_parameters`` (PyTorch's default initialisation, as the paper's
"re-initialise"), seeded per stage; the model given is not changed (a copy is randomised).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from shiftlab.attribution import attribute
from shiftlab.errors import ParameterError
from shiftlab.metrics.drift import spearman, ssim
from shiftlab.models import LoadedModel

PASS_THRESHOLD = 0.5
MAX_STAGES = 512
#: held while a stage is seeded and re-initialised: the app's sessions run on threads of one process, and another
#: session drawing from torch's global generator meanwhile would change this cascade's weights
_GLOBAL_RNG = threading.Lock()


@dataclass(frozen=True)
class RandomisationCheck:
    """The cascade for one method on N images.

    ``layers[k]`` is the layer re-initialised at stage k (stages cumulate, top layer first); ``maps`` holds the
    trained model's maps (N×H×W) in ``original`` and stage k's in ``maps[k]`` (stages×N×H×W); ``spearman`` and
    ``ssim`` are N×stages similarities to the trained model's maps (NaN where a map is constant).
    """

    method: str
    layers: tuple[str, ...]
    original: np.ndarray
    maps: np.ndarray
    spearman: np.ndarray
    ssim: np.ndarray
    threshold: float = PASS_THRESHOLD

    @property
    def final_spearman(self) -> float:
        """Mean over the images of the Spearman correlation once every layer is randomised (NaNs left out)."""
        return float(np.nanmean(self.spearman[:, -1])) if np.isfinite(self.spearman[:, -1]).any() else float("nan")

    @property
    def passed(self) -> bool:
        """True when the maps of the fully randomised network no longer rank pixels like the trained one's."""
        return bool(self.final_spearman < self.threshold)


def randomisable_layers(model: nn.Module) -> list[str]:
    """Names of the modules whose own weights can be re-initialised, from the top (last defined) down."""
    names = [name for name, module in model.named_modules()
             if hasattr(module, "reset_parameters") and any(True for _ in module.parameters(recurse=False))]
    return names[::-1]


def _similarities(original: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman of the absolute maps and SSIM, per image, between the trained and the randomised maps."""
    rank = [spearman(np.abs(a), np.abs(b)) for a, b in zip(original, maps)]
    structure = [ssim(a, b) for a, b in zip(original, maps)]
    return np.asarray(rank), np.asarray(structure)


def randomisation_check(loaded: LoadedModel, images: np.ndarray, method: str, target: int | np.ndarray | None = None,
                        *, seed: int = 0, max_stages: int | None = None, **options: Any) -> RandomisationCheck:
    """Maps of ``method`` as ``loaded``'s layers are randomised top down, and their similarity to the trained maps.

    ``target`` is fixed from the trained model (None: its predicted classes), so every stage explains the same
    classes. ``max_stages`` stops the cascade early (None: every layer with weights). ``options`` go to the method.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
        raise ParameterError(f"seed must be an integer from 0 to {2**31 - 1}, got {seed!r}")
    trained = attribute(loaded, images, method, target, **options)
    randomised = replace(loaded, model=loaded.model.copy())
    layers = randomisable_layers(randomised.model)
    if max_stages is not None:
        if (isinstance(max_stages, bool) or not isinstance(max_stages, (int, np.integer))
                or not 1 <= max_stages <= MAX_STAGES):
            raise ParameterError(f"max_stages must be an integer from 1 to {MAX_STAGES}, got {max_stages!r}")
        layers = layers[:max_stages]
    modules = dict(randomised.model.named_modules())
    stage_maps, rank, structure = [], [], []
    for stage, name in enumerate(layers):
        with _GLOBAL_RNG, torch.random.fork_rng():  # reset_parameters draws from torch's global generator
            torch.manual_seed(seed + stage)
            modules[name].reset_parameters()
        maps = attribute(randomised, images, method, trained.target, **options).maps
        stage_maps.append(maps)
        similarity = _similarities(trained.maps, maps)
        rank.append(similarity[0])
        structure.append(similarity[1])
    return RandomisationCheck(method, tuple(layers), trained.maps, np.stack(stage_maps),
                              np.stack(rank, axis=1), np.stack(structure, axis=1))
