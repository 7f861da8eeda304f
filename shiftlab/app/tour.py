"""The guided tour: a preset view where robust training visibly matters, and the steps through the pages.

The preset is computed, not chosen by hand: among the embedded sample's
images and a few common corruptions at severity 3, the image where the
baseline is right before the shift and wrong after it while the AugMix
variant stays right, with the largest fall of the baseline's confidence in
the true class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from shiftlab.metrics import probabilities

#: corruptions tried for the preset, and their severity
TOUR_SHIFTS = ("fog", "contrast", "gaussian_noise", "motion_blur", "frost")
TOUR_SEVERITY = 3


@dataclass(frozen=True)
class Step:
    """One stop of the tour: the page (its file under ``app_pages/``) and what to say there."""

    page: str
    title: str
    text: str


@dataclass(frozen=True)
class Preset:
    """The tour's view: an image index of the sample and a shift at ``TOUR_SEVERITY``."""

    index: int
    shift: str
    drop: float


def find_preset(labels: np.ndarray, clean: Mapping[str, np.ndarray],
                shifted: Mapping[str, Mapping[str, np.ndarray]]) -> Preset | None:
    """The (image, shift) where the baseline flips from right to wrong and AugMix stays right, largest drop first.

    ``clean[variant]`` are the variant's logits on the images, ``shifted[shift][variant]``
    on the shifted images. None when no image qualifies.
    """
    best = None
    rows = np.arange(len(labels))
    for shift, logits in shifted.items():
        baseline_right = clean["baseline"].argmax(1) == labels
        flipped = logits["baseline"].argmax(1) != labels
        robust = (clean["augmix"].argmax(1) == labels) & (logits["augmix"].argmax(1) == labels)
        drop = probabilities(clean["baseline"])[rows, labels] - probabilities(logits["baseline"])[rows, labels]
        candidates = np.flatnonzero(baseline_right & flipped & robust)
        if len(candidates):
            index = int(candidates[np.argmax(drop[candidates])])
            if best is None or drop[index] > best.drop:
                best = Preset(index, shift, float(drop[index]))
    return best


STEPS = (
    Step("compare", "1 · One image, before and after",
         "The same photo, clean and corrupted. The standard model (baseline) was right on the clean image and is "
         "wrong on the corrupted one. Each row is an explanation method: bright pixels are the ones the prediction "
         "leans on. Look at how the evidence moves when the image changes."),
    Step("variants", "2 · Does robust training help?",
         "The same corrupted image through every training variant. The baseline flips; the variants trained with "
         "data augmentation (AugMix, PixMix) or adversarially may keep the right answer — and their evidence often "
         "sits on the object rather than on the corruption."),
    Step("triptych", "3 · The edge of robustness",
         "The app tried every strength and random seed of the corruption: on the left the clean image, in the "
         "middle the strongest version the model still gets right, on the right the mildest one it gets wrong."),
    Step("calibration", "4 · Is its confidence honest?",
         "Over 500 images: how accuracy falls and how confidence does not fall with it. Bars below the diagonal "
         "mean the model is more confident than it is right; the curves at the bottom compare every variant."),
    Step("spectral", "5 · Coarse shape or fine texture?",
         "WCAM splits the image into scales, from coarse layout to fine texture, and measures which ones the "
         "prediction depends on. Corruptions such as noise destroy fine detail first: a model that relies on it "
         "breaks first."),
    Step("trust", "6 · Can the maps be trusted?",
         "Pixels are removed in the order each method ranks them: a map that points at what the model uses takes "
         "the class's probability down sooner than a random order. The table ranks the methods on the corrupted "
         "images; below, the check that a map changes when the model's weights are randomised."),
)
