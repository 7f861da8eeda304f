"""The images a view can point at: the embedded CIFAR-10 sample, the full test set, a few photographs.

A CIFAR image keeps its 32-px resolution (shifts then run with the CIFAR-10-C
parameters, as CIFAR-10-C itself was made); a photograph is first fitted to
the model's input size, so that an ImageNet model sees it at 224 px and the
shift runs with the ImageNet-C parameters.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import skimage.data
from PIL import Image

from shiftlab.app.text import plain
from shiftlab.app.view import PHOTO, PHOTOS, ImageRef
from shiftlab.data import ImageDataset
from shiftlab.images import fit_to_model


@dataclass(frozen=True)
class Picture:
    """One image of a view: pixels (uint8 H×W×3), its dataset label (None for a photo or an upload), a caption
    (Markdown, any outside text in it escaped), and the reference it was loaded from (None for an upload)."""

    pixels: np.ndarray
    label: str | None
    caption: str
    ref: ImageRef | None = None

    @property
    def offset(self) -> int:
        """The image's index in its dataset (0 for a photo or an upload): where a random shift's stream starts,
        so a dataset image gets here the shifted pixels a whole-set evaluation or a sweep gives it."""
        return self.ref.index if self.ref is not None and self.ref.source != PHOTO else 0


def frame_count(data: bytes) -> int:
    """How many frames an image file holds (1 for a still image, or for bytes that are no image at all)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return getattr(img, "n_frames", 1)
    except (OSError, ValueError, Image.DecompressionBombError):
        return 1  # load_image gives the diagnosis


def photo(name: str) -> np.ndarray:
    """A photograph shipped by scikit-image (no download): ``coffee``, ``cat``, ``rocket``, ``astronaut``."""
    return getattr(skimage.data, PHOTOS[name])()


def picture(ref: ImageRef, datasets: Callable[[str], ImageDataset], input_size: int) -> Picture:
    """The pixels, label and caption of ``ref``; ``datasets(name)`` loads a dataset source."""
    if ref.source == PHOTO:
        return Picture(fit_to_model(photo(ref.key), input_size), None, f"photo: {ref.key}", ref)
    data = datasets(ref.source)
    label = data.classes[data.labels[ref.index]]
    return Picture(data.images[ref.index], label, f"{ref} · label {plain(label)}", ref)
