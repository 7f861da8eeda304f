"""Shift experiments: one model's predictions on a set of images before and after a shift.

The pages compare two conditions, *source* (the images as they are) and
*shifted* (after ``shiftlab.shifts.apply``), on the same images in the same
order. Everything they show — accuracy, ECE, reliability bins, which images
flipped, an accuracy-vs-severity curve, OOD detection figures — is computed
here from the two sets of logits, so the pages only lay it out.

Reference labels: when the model predicts the dataset's own classes (a
CIFAR-10 model on CIFAR-10) the reference is the dataset's labels. When it
does not (ImageNet EfficientNet-Lite0 on CIFAR-10) no label can score it, so
the reference is the model's own prediction on the unshifted image and
"accuracy" becomes *agreement*: the share of images whose prediction the
shift left unchanged. ``ShiftComparison.labelled`` says which one applies.

Shifts run at the images' own resolution (the CIFAR-10-C parameters for
32-px CIFAR images, as CIFAR-10-C itself was made); the result is then
resized to the model's input size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shiftlab import metrics
from shiftlab.data import ImageDataset
from shiftlab.images import fit_to_model
from shiftlab.inference import predict_logits
from shiftlab.models import LoadedModel
from shiftlab.shifts import SEVERITIES, get_shift

#: models with a larger input side than this are slow on a CPU (EfficientNet-Lite0 at 224 px) ...
LARGE_INPUT_SIDE = 64
#: ... so their experiments use only the first this-many images of each class
LARGE_INPUT_PER_CLASS = 5
#: ... and run in batches of this many images
LARGE_INPUT_BATCH = 16
#: bins of the reliability diagrams and of the ECE (the metrics package's default)
N_BINS = 15


def evaluation_set(dataset: ImageDataset, input_size: int) -> ImageDataset:
    """The images an experiment runs on: all of them, or the first few per class for a large-input model.

    A 224-px model costs about 50 times a 32-px one per image; a few images per
    class keep a page interactive on a CPU.
    """
    if input_size <= LARGE_INPUT_SIDE:
        return dataset
    return dataset.subset(dataset.first_per_class(LARGE_INPUT_PER_CLASS))


def model_inputs(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 N×H×W×3 images resized (shorter side, centre crop) to the model's size×size; unchanged if already so."""
    if images.shape[1:3] == (size, size):
        return images
    return np.stack([fit_to_model(image, size) for image in images])


def predict(loaded: LoadedModel, images: np.ndarray) -> np.ndarray:
    """Logits (N×K) of ``loaded`` on uint8 images of any size (resized to its input first).

    A large-input model runs ``LARGE_INPUT_BATCH`` images at a time: 500 images at 224 px would hold
    about half a gigabyte of activations at once.
    """
    batch = LARGE_INPUT_BATCH if loaded.input_size > LARGE_INPUT_SIDE else 500
    return predict_logits(loaded.model, model_inputs(images, loaded.input_size), batch)


def labels_apply(model_classes: list[str], dataset_classes: list[str]) -> bool:
    """Whether the dataset's labels can score the model: both name the same classes in the same order."""
    return list(model_classes) == list(dataset_classes)


def metric_name(labelled: bool) -> str:
    """What the pages call the share of correct images: accuracy, or agreement (with the unshifted prediction)."""
    return "accuracy" if labelled else "agreement"


@dataclass(frozen=True)
class Predictions:
    """One condition's logits, scored against the reference labels."""

    logits: np.ndarray
    reference: np.ndarray

    @property
    def probabilities(self) -> np.ndarray:
        """Softmax of the logits (N×K)."""
        return metrics.probabilities(self.logits)

    @property
    def predicted(self) -> np.ndarray:
        """Arg-max class per image."""
        return self.logits.argmax(1)

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the predicted class per image."""
        return self.probabilities.max(1)

    @property
    def reference_probability(self) -> np.ndarray:
        """Probability the model gives the reference class of each image."""
        return self.probabilities[np.arange(len(self.reference)), self.reference]

    @property
    def correct(self) -> np.ndarray:
        """Whether each prediction is the reference class."""
        return self.predicted == self.reference


@dataclass(frozen=True)
class ShiftComparison:
    """The same images under two conditions; ``labelled`` is False when the reference is the source prediction."""

    source: Predictions
    shifted: Predictions
    labelled: bool

    @property
    def correct_to_wrong(self) -> np.ndarray:
        """Images right before the shift and wrong after it."""
        return self.source.correct & ~self.shifted.correct

    @property
    def wrong_to_correct(self) -> np.ndarray:
        """Images wrong before the shift and right after it."""
        return ~self.source.correct & self.shifted.correct


def reference_labels(labels: np.ndarray, labelled: bool, logits_source: np.ndarray) -> np.ndarray:
    """The dataset labels when they apply, else the model's predictions on the source images."""
    return np.asarray(labels, np.int64) if labelled else logits_source.argmax(1)


def compare(labels: np.ndarray, labelled: bool, logits_source: np.ndarray,
            logits_shifted: np.ndarray) -> ShiftComparison:
    """Score source and shifted logits of the same images against the same reference."""
    reference = reference_labels(labels, labelled, logits_source)
    return ShiftComparison(Predictions(logits_source, reference), Predictions(logits_shifted, reference), labelled)


def format_value(value: Any) -> str:
    """A shift parameter as short text: floats to 4 significant digits, sequences element by element."""
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    if isinstance(value, (tuple, list, np.ndarray)):
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    return str(value)


def severity_table(shift: str, height: int, width: int) -> pd.DataFrame:
    """The parameters ``shift`` uses at each severity on height×width images (one row per severity)."""
    record = get_shift(shift)
    rows = [
        {"severity": severity, **{k: format_value(v) for k, v in record.params_for(severity, height, width).items()}}
        for severity in SEVERITIES
    ]
    return pd.DataFrame(rows).set_index("severity")
