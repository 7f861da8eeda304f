"""Training variants: a pluggable augmentation plus a training step.

A variant turns a uint8 batch into an optimiser update. ``baseline`` is random
crop + flip (and RandAugment when the recipe asks for it) with cross-entropy.
The robust variants change the augmentation (AugMix, PixMix) or the inputs
the loss sees (adversarial training). Each variant carries its parameters as
``defaults``; they are stored in the recipe under ``variant_params`` and so in
the model card. Every variant's name belongs to the vocabulary of
``shiftlab.models.variants``, which says what weights trained that way are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from shiftlab.adversarial import fgsm_random_start, pgd
from shiftlab.errors import DuplicateNameError, UnknownVariantError
from shiftlab.models.training_record import Recipe
from shiftlab.models.variants import get_variant
from shiftlab.training.augment import rand_augment, random_crop_flip, random_op_chain, to_unit_float
from shiftlab.training.fractals import mixing_set


@dataclass
class StepOutput:
    """What one training step reports: the loss minimised and logits on the batch the labels refer to."""

    loss: torch.Tensor
    logits: torch.Tensor


class TrainingVariant:
    """Standard training: crop + flip (+ RandAugment), cross-entropy, one optimiser step per batch."""

    name = "baseline"
    description = "random crop (pad 4) + horizontal flip, cross-entropy"
    defaults: dict = {}
    #: whether ``augment`` applies the recipe's RandAugment; variants with their own augmentation do not
    uses_randaugment = True

    def __init__(self, recipe: Recipe, autocast: Callable = contextlib.nullcontext):
        self.recipe = recipe
        self.params = {**self.defaults, **(recipe.variant_params or {})}
        self.autocast = autocast
        self.label_smoothing = float(recipe.label_smoothing or 0.0)
        ra = recipe.randaugment
        self.rand_augment = rand_augment(*ra) if ra else None

    def start_epoch(self) -> None:
        """Reset any state carried between batches (called before every epoch, so resume is exact)."""

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 N×3×H×W -> augmented float images in [0, 1]."""
        images = random_crop_flip(images)
        if self.rand_augment is not None:
            images = self.rand_augment(images)
        return to_unit_float(images)

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepOutput:
        """Cross-entropy on the batch."""
        with self.autocast():
            logits = model(x)
        return StepOutput(F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing), logits.detach())

    def train_step(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
    ) -> StepOutput:
        """One optimiser update from the batch."""
        out = self.loss(model, x, y)
        self._update(model, optimizer, out.loss)
        return out

    def _update(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.recipe.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), self.recipe.grad_clip)
        optimizer.step()


_VARIANTS: dict[str, type[TrainingVariant]] = {}


def register_training_variant(cls: type[TrainingVariant]) -> type[TrainingVariant]:
    """Class decorator that makes a variant available to ``shiftlab.training.train`` by its ``name``.

    The name must be one of the variant vocabulary (``shiftlab.models.variants``: ``UnknownVariantError``
    otherwise), where what weights trained so are is described; a name registered twice is a ``DuplicateNameError``.
    """
    if get_variant(cls.name).name != cls.name:
        raise UnknownVariantError(f"training variant {cls.name!r} is an alias of {get_variant(cls.name).name!r}")
    if cls.name in _VARIANTS:
        raise DuplicateNameError(
            f"training variant {cls.name!r} is already registered ({_VARIANTS[cls.name].__name__})"
        )
    _VARIANTS[cls.name] = cls
    return cls


register_training_variant(TrainingVariant)


def list_training_variants() -> list[str]:
    """Names accepted by ``--variant``."""
    return list(_VARIANTS)


def variant_class(name: str) -> type[TrainingVariant]:
    """The class registered as ``name``."""
    if name not in _VARIANTS:
        raise UnknownVariantError(f"unknown training variant {name!r}; known: {', '.join(_VARIANTS)}")
    return _VARIANTS[name]


def make_variant(name: str, recipe: Recipe, autocast: Callable = contextlib.nullcontext) -> TrainingVariant:
    """Instantiate the variant called ``name`` for ``recipe``."""
    return variant_class(name)(recipe, autocast)


def jensen_shannon(logits: list[torch.Tensor]) -> torch.Tensor:
    """Mean KL divergence of each softmax to their mixture (AugMix's consistency term), ≥ 0."""
    probs = [F.softmax(z.float(), dim=1) for z in logits]
    log_mixture = torch.clamp(torch.stack(probs).mean(0), 1e-7, 1.0).log()
    return sum(F.kl_div(log_mixture, p, reduction="batchmean") for p in probs) / len(probs)


@register_training_variant
class AugMix(TrainingVariant):
    """AugMix (Hendrycks et al. 2020): mixtures of augmentation chains + Jensen-Shannon consistency.

    Each image gets ``width`` chains of 1-3 random operations (none of them
    photometric, so none overlaps a test corruption), mixed with Dirichlet
    weights and blended with the original by a Beta draw. The loss is the
    cross-entropy on the clean view plus ``jsd_weight`` times the JS divergence
    among the clean view and two AugMix views.
    """

    name = "augmix"
    description = "AugMix: width 3, depth 1-3, severity 3, Dirichlet(1)/Beta(1,1) mixing, JSD weight 12"
    defaults = {"width": 3, "max_depth": 3, "severity": 3, "alpha": 1.0, "jsd_weight": 12.0}
    uses_randaugment = False

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """Returns the clean view and two AugMix views stacked along a new leading axis (3×N×3×H×W)."""
        base = random_crop_flip(images)
        return torch.stack([to_unit_float(base), self._augmix(base), self._augmix(base)])

    def _augmix(self, images: torch.Tensor) -> torch.Tensor:
        p = self.params
        n = len(images)
        weights = torch.distributions.Dirichlet(torch.full((p["width"],), p["alpha"])).sample((n,))
        blend = torch.distributions.Beta(p["alpha"], p["alpha"]).sample((n, 1, 1, 1))
        mix = torch.zeros(images.shape, dtype=torch.float32)
        for chain in range(p["width"]):
            depth = int(torch.randint(1, p["max_depth"] + 1, ()))
            mix += weights[:, chain].view(n, 1, 1, 1) * to_unit_float(random_op_chain(images, p["severity"], depth))
        return (1 - blend) * to_unit_float(images) + blend * mix

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepOutput:
        n = x.shape[1]
        with self.autocast():
            logits = model(x.flatten(0, 1)).float()
        clean, aug1, aug2 = logits[:n], logits[n : 2 * n], logits[2 * n :]
        jsd = jensen_shannon([clean, aug1, aug2])
        loss = F.cross_entropy(clean, y, label_smoothing=self.label_smoothing) + self.params["jsd_weight"] * jsd
        return StepOutput(loss, clean.detach())


@register_training_variant
class PixMix(TrainingVariant):
    """PixMix (Hendrycks et al. 2022): mix with augmented copies and procedural fractals (shiftlab.training.fractals).

    Start from the image or an augmented copy; then for 0..k rounds, combine
    with either another augmented copy or a fractal picture by an additive or
    multiplicative mix whose weights (a, b) are drawn as in the paper, with
    strength ``beta``. Decisions are drawn per image.
    """

    name = "pixmix"
    description = "PixMix: k 4, beta 3, augmentation severity 3, 256 procedural IFS fractals as mixing set"
    defaults = {"k": 4, "beta": 3.0, "severity": 3, "fractals": 256, "fractal_seed": 0}
    uses_randaugment = False

    def __init__(self, recipe: Recipe, autocast: Callable = contextlib.nullcontext):
        super().__init__(recipe, autocast)
        pictures = mixing_set(self.params["fractals"], 32, self.params["fractal_seed"])
        self.pictures = torch.from_numpy(pictures).permute(0, 3, 1, 2).float() / 255

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        base = random_crop_flip(images)
        n, p = len(base), self.params
        mixed = self._maybe_augmented(base, torch.rand(n) < 0.5)
        rounds = torch.randint(0, p["k"] + 1, (n,))
        for r in range(p["k"]):
            other = self._maybe_augmented(base, torch.ones(n, dtype=torch.bool))
            fractal = self.pictures[torch.randint(len(self.pictures), (n,))]
            other = torch.where((torch.rand(n) < 0.5).view(n, 1, 1, 1), other, fractal)
            combined = torch.where((torch.rand(n) < 0.5).view(n, 1, 1, 1),
                                   self._add(mixed, other), self._multiply(mixed, other))
            mixed = torch.where((r < rounds).view(n, 1, 1, 1), combined.clamp(0, 1), mixed)
        return mixed

    def _maybe_augmented(self, images: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        depth = int(torch.randint(1, 4, ()))
        augmented = to_unit_float(random_op_chain(images, self.params["severity"], depth))
        return torch.where(which.view(-1, 1, 1, 1), augmented, to_unit_float(images))

    def _mix_weights(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The paper's (a, b): (Beta(β,1), Beta(1,β)) or (1 + Beta(1,β), -Beta(1,β)), half the time each."""
        beta = self.params["beta"]
        first = torch.rand(n) < 0.5
        b_draw = torch.distributions.Beta(1.0, beta).sample((n,))
        a = torch.where(first, torch.distributions.Beta(beta, 1.0).sample((n,)), 1 + b_draw)
        b = torch.where(first, torch.distributions.Beta(1.0, beta).sample((n,)), -b_draw)
        return a.view(n, 1, 1, 1), b.view(n, 1, 1, 1)

    def _add(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        a, b = self._mix_weights(len(x))
        return (a * (2 * x - 1) + b * (2 * other - 1) + 1) / 2

    def _multiply(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        a, b = self._mix_weights(len(x))
        return ((2 * x) ** a * (2 * other).clamp_min(1e-37) ** b) / 2


class AdversarialVariant(TrainingVariant):
    """Shared parts of the adversarial variants: crop + flip, ε in [0, 1] pixel units."""

    defaults = {"eps": 8 / 255}
    uses_randaugment = False

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        return to_unit_float(random_crop_flip(images))

    def _adversarial_loss(self, model: nn.Module, x_adv: torch.Tensor, y: torch.Tensor) -> StepOutput:
        return TrainingVariant.loss(self, model, x_adv, y)


@register_training_variant
class PGDAdversarial(AdversarialVariant):
    """PGD adversarial training (Madry et al. 2018): train on PGD examples, L∞ ε 8/255, step 2/255, 7 steps."""

    name = "pgd_adv"
    description = "PGD-7 adversarial training, L-inf eps 8/255, step 2/255, random start"
    defaults = {"eps": 8 / 255, "step_size": 2 / 255, "steps": 7}

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepOutput:
        p = self.params
        x_adv = pgd(model, x, y, p["eps"], p["step_size"], p["steps"], autocast=self.autocast)
        return self._adversarial_loss(model, x_adv, y)


@register_training_variant
class FastAdversarial(AdversarialVariant):
    """Fast-AT (Wong et al. 2020): FGSM from a uniform random start with step 1.25 ε."""

    name = "fast_adv"
    description = "FGSM with random start (Fast-AT), L-inf eps 8/255, step 10/255"
    defaults = {"eps": 8 / 255, "step_size": 10 / 255}

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepOutput:
        x_adv = fgsm_random_start(model, x, y, self.params["eps"], self.params["step_size"], autocast=self.autocast)
        return self._adversarial_loss(model, x_adv, y)


@register_training_variant
class FreeAdversarial(AdversarialVariant):
    """Free-AT (Shafahi et al. 2019): replay each batch m times, reusing one backward pass for both updates.

    Every replay takes the gradient of the loss at x + δ with respect to the
    weights (an optimiser step) and to δ (an ascent step of size ε, then
    projection). δ is carried from batch to batch within an epoch.
    """

    name = "free_adv"
    description = "free adversarial training, m = 4 replays, L-inf eps 8/255"
    defaults = {"eps": 8 / 255, "replays": 4}

    def start_epoch(self) -> None:
        self.delta: torch.Tensor | None = None

    def train_step(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
    ) -> StepOutput:
        eps = self.params["eps"]
        delta = self._delta_like(x)
        for _ in range(self.params["replays"]):
            delta.requires_grad_(True)
            out = self._adversarial_loss(model, (x + delta).clamp(0, 1), y)
            self._update(model, optimizer, out.loss)
            delta = (delta.detach() + eps * delta.grad.sign()).clamp(-eps, eps)
        self.delta = delta
        return out

    def _delta_like(self, x: torch.Tensor) -> torch.Tensor:
        previous = getattr(self, "delta", None)
        if previous is None or previous.shape[1:] != x.shape[1:]:
            return torch.zeros_like(x)
        delta = torch.zeros_like(x)
        k = min(len(x), len(previous))
        delta[:k] = previous[:k]
        return delta
