"""What a model card records of the run that trained its weights: the recipe, where it started, each epoch.

``shiftlab.training`` trains with a ``Recipe`` and writes it, completed with the run's facts (``variant``,
``device``, ``torch_threads``, ``wall_time_s``, ``epochs_done``), into the card as ``recipe``; a fine-tuning
run's recipe names the weights it started from (``init``, a ``TrainingStart``) and, when those weights had a
card, that run's ``Lineage``. The card's ``history`` holds one ``EpochRecord`` per epoch. Every field is
optional: cards written by earlier versions of the code hold fewer of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shiftlab.models.card_record import CardRecord


@dataclass(frozen=True)
class Lineage(CardRecord):
    """What a fine-tuning run records of the card of the weights it starts from."""

    STATED = ("epochs", "device", "git_commit", "accuracy")

    arch: str
    variant: str
    epochs: int | None = None
    device: str | None = None
    git_commit: str | None = None
    accuracy: float | None = None


@dataclass(frozen=True)
class TrainingStart(CardRecord):
    """The weights a fine-tuning run started from: the file's name and SHA-256, and the lineage of its card."""

    checkpoint: str
    sha256: str
    from_card: Lineage | None = None


@dataclass(frozen=True)
class Recipe(CardRecord):
    """A training recipe: the optimiser, schedule and augmentation settings, the seed, where the run started and,
    once it has run, the facts of the run. Fields in the order cards hold them."""

    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    momentum: float | None = None
    nesterov: bool | None = None
    betas: list[float] | None = None
    weight_decay: float | None = None
    warmup_epochs: int | None = None
    schedule: str | None = None
    label_smoothing: float | None = None
    randaugment: list[int] | None = None  # RandAugment's (number of ops, magnitude); None: not applied
    grad_clip: float | None = None  # gradient-norm clipping; None: none
    precision: str | None = None
    variant_params: dict[str, Any] | None = None  # the training variant's own parameters, by name
    seed: int | None = None
    init: TrainingStart | None = None
    #: the run's facts, recorded once it has run: the variant in words, the hardware, threads, time, epochs
    variant: str | None = None
    device: str | None = None
    torch_threads: int | None = None
    wall_time_s: float | None = None
    epochs_done: int | None = None


@dataclass(frozen=True)
class EpochRecord(CardRecord):
    """One epoch of a training run: mean loss, train accuracy, the learning rate at its end, throughput, time and
    the device it ran on (recorded per epoch: a resumed run may continue on other hardware)."""

    loss: float | None = None
    train_accuracy: float | None = None
    lr_end: float | None = None
    images_per_s: float | None = None
    seconds: float | None = None
    device: str | None = None
