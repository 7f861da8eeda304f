"""Severity tables of the corruptions: CIFAR-10-C values for small images, ImageNet-C values for large ones.

Sources (read for their numbers only):

* ``CIFAR``: hendrycks/robustness, ``ImageNet-C/create_c/make_cifar_c.py``
  (commit ca360085d57889288c4143fddd8a707bbcae01bd), the script that made CIFAR-10-C
  from 32×32 images.
* ``IMAGENET``: hendrycks/robustness, ``ImageNet-C/create_c/make_imagenet_c.py``
  (commit e0377d46411fa30c01a9559017bdb6a5f78d4abf), the script that made
  ImageNet-C from 224×224 centre crops. The imagecorruptions package uses the same
  numbers.

Which table an image gets (``table_for``): the CIFAR table when its shorter side
is below 85 px (about the geometric mean of 32 and 224), the ImageNet table
otherwise. Values in pixels (blur radii and sigmas, glass-blur displacement,
motion-blur length) are used as they are at every size; ``elastic_transform``
scales its pixel values by ``shorter side / size``, as both scripts define them
relative to the image size; zoom, pixelate, fog and frost are relative by
construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CIFAR_SOURCE = "hendrycks/robustness ImageNet-C/create_c/make_cifar_c.py @ ca36008"
IMAGENET_SOURCE = "hendrycks/robustness ImageNet-C/create_c/make_imagenet_c.py @ e0377d4"

#: shorter side (px) from which on the ImageNet-C table is used
IMAGENET_FROM = 85

Table = dict[str, tuple[dict[str, Any], ...]]


def table_for(height: int, width: int) -> str:
    """``"cifar"`` or ``"imagenet"``: the table an image of this size gets (see the module docstring)."""
    return "cifar" if min(height, width) < IMAGENET_FROM else "imagenet"


def _rows(names: str, rows: list) -> tuple[dict[str, Any], ...]:
    """One dict per severity from a list of 5 rows (a row is a value or a tuple of values)."""
    keys = names.split()
    assert len(rows) == 5
    return tuple(dict(zip(keys, row if isinstance(row, tuple) else (row,))) for row in rows)


def _zooms(*ranges: tuple[float, float]) -> list[tuple[float, ...]]:
    """Zoom factors ``np.arange(1, stop, step)`` as the scripts compute them (float round-off included:
    ``np.arange(1, 1.06, 0.01)`` ends at 1.06)."""
    return [(tuple(round(float(z), 4) for z in np.arange(1, stop, step)),) for stop, step in ranges]


CIFAR: Table = {
    "gaussian_noise": _rows("sigma", [0.04, 0.06, 0.08, 0.09, 0.10]),
    "shot_noise": _rows("rate", [500, 250, 100, 75, 50]),
    "impulse_noise": _rows("amount", [0.01, 0.02, 0.03, 0.05, 0.07]),
    "speckle_noise": _rows("sigma", [0.06, 0.1, 0.12, 0.16, 0.2]),
    "defocus_blur": _rows("radius alias_sigma", [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)]),
    "glass_blur": _rows(
        "sigma max_delta iterations", [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)]
    ),
    "motion_blur": _rows("radius sigma", [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)]),
    "zoom_blur": _rows("zooms", _zooms((1.06, 0.01), (1.11, 0.01), (1.16, 0.01), (1.21, 0.01), (1.26, 0.01))),
    "gaussian_blur": _rows("sigma", [0.4, 0.6, 0.7, 0.8, 1]),
    "snow": _rows(
        "mean std zoom threshold radius sigma blend",
        [
            (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
            (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
            (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
            (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
            (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
        ],
    ),
    "frost": _rows(
        "image_weight frost_weight texture_scale",
        [(1, 0.2, 0.2), (1, 0.3, 0.2), (0.9, 0.4, 0.2), (0.85, 0.4, 0.2), (0.75, 0.45, 0.2)],
    ),
    "fog": _rows("amount decay", [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)]),
    "spatter": _rows(
        "mean std sigma threshold intensity mud",
        [
            (0.62, 0.1, 0.7, 0.7, 0.5, 0),
            (0.65, 0.1, 0.8, 0.7, 0.5, 0),
            (0.65, 0.3, 1, 0.69, 0.5, 0),
            (0.65, 0.1, 0.7, 0.69, 0.6, 1),
            (0.65, 0.1, 0.5, 0.68, 0.6, 1),
        ],
    ),
    "brightness": _rows("delta", [0.05, 0.1, 0.15, 0.2, 0.3]),
    "contrast": _rows("factor", [0.75, 0.5, 0.4, 0.3, 0.15]),
    "saturate": _rows("scale shift", [(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)]),
    "elastic_transform": _rows(
        "alpha sigma affine size",
        [(32 * a, 32 * s, 32 * f, 32) for a, s, f in [(0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06),
                                                       (0.1, 0.04, 0.05), (0.1, 0.03, 0.03)]],
    ),
    "pixelate": _rows("factor", [0.95, 0.9, 0.85, 0.75, 0.65]),
    "jpeg_compression": _rows("quality", [80, 65, 58, 50, 40]),
}

IMAGENET: Table = {
    "gaussian_noise": _rows("sigma", [0.08, 0.12, 0.18, 0.26, 0.38]),
    "shot_noise": _rows("rate", [60, 25, 12, 5, 3]),
    "impulse_noise": _rows("amount", [0.03, 0.06, 0.09, 0.17, 0.27]),
    "speckle_noise": _rows("sigma", [0.15, 0.2, 0.35, 0.45, 0.6]),
    "defocus_blur": _rows("radius alias_sigma", [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)]),
    "glass_blur": _rows(
        "sigma max_delta iterations", [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)]
    ),
    "motion_blur": _rows("radius sigma", [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)]),
    "zoom_blur": _rows("zooms", _zooms((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03))),
    "gaussian_blur": _rows("sigma", [1, 2, 3, 4, 6]),
    "snow": _rows(
        "mean std zoom threshold radius sigma blend",
        [
            (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
            (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
            (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
            (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
            (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
        ],
    ),
    "frost": _rows(
        "image_weight frost_weight texture_scale",
        [(1, 0.4, 1), (0.8, 0.6, 1), (0.7, 0.7, 1), (0.65, 0.7, 1), (0.6, 0.75, 1)],
    ),
    "fog": _rows("amount decay", [(1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)]),
    "spatter": _rows(
        "mean std sigma threshold intensity mud",
        [
            (0.65, 0.3, 4, 0.69, 0.6, 0),
            (0.65, 0.3, 3, 0.68, 0.6, 0),
            (0.65, 0.3, 2, 0.68, 0.5, 0),
            (0.65, 0.3, 1, 0.65, 1.5, 1),
            (0.67, 0.4, 1, 0.65, 1.5, 1),
        ],
    ),
    "brightness": _rows("delta", [0.1, 0.2, 0.3, 0.4, 0.5]),
    "contrast": _rows("factor", [0.4, 0.3, 0.2, 0.1, 0.05]),
    "saturate": _rows("scale shift", [(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)]),
    # the script writes these as multiples of 244 ("should have been 224, but ultimately nothing is incorrect")
    "elastic_transform": _rows(
        "alpha sigma affine size",
        [(round(244 * a, 4), round(244 * s, 4), round(244 * f, 4), 224) for a, s, f in [
            (2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02), (0.12, 0.01, 0.02)]],
    ),
    "pixelate": _rows("factor", [0.6, 0.5, 0.4, 0.3, 0.25]),
    "jpeg_compression": _rows("quality", [25, 18, 15, 10, 7]),
}


def severity_table(name: str) -> dict[int, dict[str, dict[str, Any]]]:
    """``{severity: {"cifar": values, "imagenet": values}}`` for corruption ``name``."""
    return {s: {"cifar": CIFAR[name][s - 1], "imagenet": IMAGENET[name][s - 1]} for s in range(1, 6)}
