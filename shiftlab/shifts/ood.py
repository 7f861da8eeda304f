"""Dataset (out-of-distribution) shifts: images replaced by images of another dataset.

How a batch maps to OOD images: position ``i`` of a batch is replaced when a
seeded uniform draw ``u_i`` is below ``severity / 5``, so severity is the
expected fraction of the batch that is OOD (20 %, 40 %, ... 100 % at severity 5)
and a position replaced at one severity is replaced at every higher one. A
replaced position gets image ``k_i`` of the OOD set (``k_i`` a seeded uniform
draw, with replacement), resized to the batch's image size (bilinear,
antialiased). Positions kept are returned unchanged, so ``(out != images)``
shows which ones were replaced. Both draws come from (seed, shift, position).

Sets: the CIFAR-100 test set (near OOD for CIFAR-10) and the SVHN test set
(far OOD), both read with ``shiftlab.data.load_dataset`` from the
``SHIFTLAB_DATA`` folder (DatasetNotFoundError where absent); the CIFAR-100
sample embedded in the package (always there); and three synthetic far-OOD
sets of 10,000 32×32 images each, image ``k`` generated from a fixed seed and
``k``, so the same on every machine: Gaussian noise (N(0.5, 0.25²) per channel
value, clipped), uniform noise (U(0, 1) per channel value) and blobs (after the
"Blobs" of Hendrycks et al. 2019, Outlier Exposure: Bernoulli(0.7) values
blurred with a Gaussian of sigma 1.5 px per channel, values below 0.75 set to 0).

Each image folder registered as a dataset (a models file's ``[datasets.<name>]``,
``shiftlab.folders``) is an OOD set too: the shift ``ood_folder_<name>``
(``folder_shift_name``) replaces images by the folder's, labelled or not, the
same way. Those shifts exist while their folder is registered (``folder_shifts``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from shiftlab.data import load_dataset
from shiftlab.errors import DatasetFormatError, DatasetNotFoundError, UnknownDatasetError
from shiftlab.folders import FolderDataset, folder_datasets
from shiftlab.shifts.filters import gaussian_blur
from shiftlab.shifts.resample import resize
from shiftlab.shifts.shift import Context, Shift, freeze

SYNTHETIC_SIZE = 10_000
#: the family, and the start of the name, of the shift an image folder gives (no built-in shift's name starts so)
FOLDER_FAMILY, FOLDER_PREFIX = "folder_ood", "ood_folder_"
_SYNTHETIC_SEED = 31337
_SIDE = 32


def _gaussian_image(g: np.random.Generator) -> np.ndarray:
    return np.clip(g.normal(0.5, 0.25, (3, _SIDE, _SIDE)), 0, 1)


def _uniform_image(g: np.random.Generator) -> np.ndarray:
    return g.random((3, _SIDE, _SIDE))


def _blob_image(g: np.random.Generator) -> np.ndarray:
    seeds = torch.from_numpy(g.binomial(1, 0.7, (1, 3, _SIDE, _SIDE)).astype(np.float32))
    blurred = gaussian_blur(seeds, 1.5)[0].numpy()
    return np.where(blurred < 0.75, 0.0, blurred)


_SYNTHETIC: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "gaussian": _gaussian_image,
    "uniform": _uniform_image,
    "blobs": _blob_image,
}


def synthetic_images(kind: str, indices: np.ndarray) -> np.ndarray:
    """Images ``indices`` of synthetic set ``kind`` as float N×3×32×32 in [0, 1]; image k is the same everywhere."""
    key = list(_SYNTHETIC).index(kind)
    return np.stack([_SYNTHETIC[kind](np.random.default_rng([_SYNTHETIC_SEED, key, int(k)])) for k in indices])


@lru_cache(maxsize=4)
def _dataset_images(name: str, data_env: str | None, folder: FolderDataset | None) -> np.ndarray:
    """uint8 images of a real OOD set (cached per value of SHIFTLAB_DATA, and per folder a name is registered to)."""
    return load_dataset(name, "test").images


def dataset_images(name: str) -> np.ndarray:
    """The images of real OOD set ``name`` (``cifar100``, ``svhn``, ``cifar100-sample``, a registered image
    folder: decoded when a replacement needs them); DatasetNotFoundError if absent, DatasetFormatError if
    unreadable or empty."""
    return _dataset_images(name, os.environ.get("SHIFTLAB_DATA"), folder_datasets().get(name))


def _source(source: str) -> tuple[int, Callable[[np.ndarray], np.ndarray]]:
    """(size of the set, function from indices to float N×3×h×w images)."""
    if source in _SYNTHETIC:
        return SYNTHETIC_SIZE, lambda idx: synthetic_images(source, idx)
    images = dataset_images(source)
    return len(images), lambda idx: images[idx].transpose(0, 3, 1, 2) / 255.0


def _replace(source: str) -> Callable[[torch.Tensor, Mapping[str, Any], Context], torch.Tensor]:
    def shift(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
        size, fetch = _source(source)
        replaced = ctx.values(lambda g, i: g.random(), part=0) < p["fraction"]
        if not replaced.any():
            return x
        picks = ctx.values(lambda g, i: g.integers(size), part=1)[replaced]
        ood = torch.from_numpy(fetch(picks).astype(np.float32)).to(x.device)
        out = x.clone()
        out[torch.from_numpy(replaced).to(x.device)] = resize(ood, *x.shape[-2:])
        return out

    return shift


def unavailable_reason(name: str) -> str | None:
    """Why dataset shift ``name``'s images cannot be had here (file absent, or unreadable: named), None when
    they can."""
    source = _SPECS[name][0] if name in _SPECS else name.removeprefix(FOLDER_PREFIX)
    if source in _SYNTHETIC:
        return None
    try:
        dataset_images(source)
    except (DatasetNotFoundError, DatasetFormatError) as exc:
        return str(exc)
    return None


def available(name: str) -> bool:
    """Whether dataset shift ``name``'s images can be had here (the real sets need SHIFTLAB_DATA and a readable
    file)."""
    return unavailable_reason(name) is None


#: shift name -> (source, family, set description)
_SPECS: dict[str, tuple[str, str, str]] = {
    "ood_cifar100": ("cifar100", "near_ood", "the CIFAR-100 test set (needs SHIFTLAB_DATA)"),
    "ood_cifar100_sample": ("cifar100-sample", "near_ood", "the CIFAR-100 sample embedded in shiftlab"),
    "ood_svhn": ("svhn", "far_ood", "the SVHN test set (needs SHIFTLAB_DATA)"),
    "ood_gaussian": ("gaussian", "far_ood", "synthetic Gaussian-noise images"),
    "ood_uniform": ("uniform", "far_ood", "synthetic uniform-noise images"),
    "ood_blobs": ("blobs", "far_ood", "synthetic blob images (Outlier Exposure's Blobs)"),
}



def _dataset_shift(name: str, source: str, family: str, what: str) -> Shift:
    return Shift(
        name=name,
        kind="dataset",
        family=family,
        description=f"A seeded fraction (severity/5) of the images replaced by {what}.",
        params=freeze({s: {"fraction": s / 5, "source": source} for s in range(1, 6)}),
        function=_replace(source),
        random=True,
    )


SHIFTS: tuple[Shift, ...] = tuple(_dataset_shift(name, *spec) for name, spec in _SPECS.items())


def folder_shift_name(folder: str) -> str:
    """The name of the shift replacing images by registered image folder ``folder``'s (``ood_folder_<folder>``);
    a folder that is not registered is an ``UnknownDatasetError`` naming those that are."""
    if folder not in folder_datasets():
        registered = ", ".join(folder_datasets()) or "none (name them in a models file's [datasets.<name>])"
        raise UnknownDatasetError(
            f"no image folder {folder!r:.80} is registered as a dataset; registered: {registered}"
        )
    return FOLDER_PREFIX + folder


@lru_cache(maxsize=64)
def _folder_shift(folder: str) -> Shift:
    return _dataset_shift(FOLDER_PREFIX + folder, folder, FOLDER_FAMILY, f"the images of the folder {folder!r}")


def folder_shifts() -> tuple[Shift, ...]:
    """The shifts of the image folders registered now, one per folder (they come and go with the models file)."""
    return tuple(_folder_shift(folder) for folder in folder_datasets())
