"""What a WCAM returns besides its maps, typed: the wavelet map, the spectral profile, the convergence figure,
and what a refinement reuses.

Every array is batched over the images (one row per image). A result read
back from a sweep store (``from_arrays``) holds the per-image arrays only:
its ``design_outputs``, ``image_digest`` and ``settings`` are None, so it
cannot be resumed (``resumable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shiftlab.attribution.base import MethodExtras
from shiftlab.attribution.wcam.convergence import verdict_words


@dataclass(frozen=True)
class WCAMExtras(MethodExtras):
    """A WCAM's figures: see ``WCAM`` for what each means.

    ``wavelet_map`` (N×S×S), ``sobol_indices`` and ``sobol_std`` (N×grid×grid),
    ``spectral_levels`` and ``spectral_levels_std`` (N×(levels+1)),
    ``spectral_subbands`` and ``spectral_subbands_std`` (N×levels×3),
    ``map_agreement``, ``profile_distance``, ``stable``, ``nb_design`` and
    ``forward_passes`` (N each); ``design_outputs`` (N float64 n × (grid² + 2)
    arrays), ``image_digest`` (N strings) and ``settings`` (the resolved
    grid_size, output, approximation) for a computed result.
    """

    wavelet_map: np.ndarray
    sobol_indices: np.ndarray
    spectral_levels: np.ndarray
    spectral_subbands: np.ndarray
    map_agreement: np.ndarray
    profile_distance: np.ndarray
    stable: np.ndarray
    spectral_levels_std: np.ndarray
    spectral_subbands_std: np.ndarray
    sobol_std: np.ndarray
    nb_design: np.ndarray
    forward_passes: np.ndarray
    design_outputs: list[np.ndarray] | None = None
    image_digest: list[str] | None = None
    settings: dict[str, Any] | None = None

    @property
    def verdict(self) -> list[str]:
        """"stable" or "noisy" for each image (``verdict_words`` of ``stable``)."""
        return verdict_words(self.stable)

    @property
    def resumable(self) -> bool:
        """Whether a refinement can reuse this result's design points (a stored result cannot)."""
        return self.design_outputs is not None

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> WCAMExtras:
        """The extras of a result read back from a sweep store: its per-image arrays, by field name."""
        return cls(**arrays)
