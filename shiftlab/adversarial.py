"""L-infinity adversarial examples in [0, 1] image space: PGD and FGSM with a random start.

Models take [0, 1] images (normalisation is inside the wrapper), so ε and the
step sizes are in pixel units / 255 exactly as the papers state them. Attacks
differentiate with respect to the perturbation only (``torch.autograd.grad``),
so they never touch the model's parameter gradients.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shiftlab.argcheck import real, whole
from shiftlab.errors import MetricInputError
from shiftlab.inference import check_images, model_device, to_tensor

NoAutocast = contextlib.nullcontext
#: the most PGD steps ``robust_accuracy`` takes (each is a forward and a backward pass over every image)
MAX_STEPS = 1000


def _checked_labels(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``labels`` as int64 if they are one class index of ``model`` per image (at least one image)."""
    check_images(images)
    labels = np.asarray(labels)
    if len(images) == 0 or labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise MetricInputError(f"labels must be one integer class index per image ({len(images)} images, "
                               f"at least one), got {labels.dtype} of shape {labels.shape}")
    with torch.no_grad():
        n_classes = model(to_tensor(images[:1], model_device(model))).shape[1]
    if labels.min() < 0 or labels.max() >= n_classes:
        raise MetricInputError(f"labels must lie in [0, {n_classes}), got values in [{labels.min()}, {labels.max()}]")
    return labels.astype(np.int64)


def _input_gradient(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, autocast: Callable
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the mean cross-entropy with respect to ``x`` (and the loss)."""
    x = x.detach().requires_grad_(True)
    with autocast():
        loss = F.cross_entropy(model(x).float(), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad, loss.detach()


def _uniform_start(x: torch.Tensor, eps: float, generator: torch.Generator | None) -> torch.Tensor:
    noise = torch.rand(x.shape, generator=generator, device="cpu").to(x.device)
    return (noise * 2 - 1) * eps


def _project(x_clean: torch.Tensor, x_adv: torch.Tensor, eps: float) -> torch.Tensor:
    """Back into the ε-ball around ``x_clean`` and into [0, 1]."""
    return torch.min(torch.max(x_adv, x_clean - eps), x_clean + eps).clamp_(0.0, 1.0)


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float = 8 / 255,
    step_size: float = 2 / 255,
    steps: int = 10,
    random_start: bool = True,
    autocast: Callable = NoAutocast,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Projected gradient ascent on the cross-entropy (Madry et al. 2018); returns x + δ with ‖δ‖∞ ≤ ε."""
    x = x.detach()
    x_adv = _project(x, x + _uniform_start(x, eps, generator), eps) if random_start else x.clone()
    for _ in range(steps):
        grad, _ = _input_gradient(model, x_adv, y, autocast)
        x_adv = _project(x, x_adv + step_size * grad.sign(), eps)
    return x_adv.detach()


def fgsm_random_start(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float = 8 / 255,
    step_size: float = 10 / 255,
    autocast: Callable = NoAutocast,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One signed-gradient step from a uniform random start (Wong et al. 2020, step 1.25 ε by default)."""
    return pgd(model, x, y, eps, step_size, steps=1, random_start=True, autocast=autocast, generator=generator)


def robust_accuracy(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    eps: float = 8 / 255,
    step_size: float = 2 / 255,
    steps: int = 20,
    batch_size: int = 250,
    seed: int = 0,
) -> float:
    """Accuracy under a PGD-``steps`` attack with a seeded random start, model in eval mode, float32.

    ``eps`` and ``step_size`` lie in [0, 1] (pixel units / 255), ``steps`` is an integer from 0 to ``MAX_STEPS``,
    ``batch_size`` one >= 1 and ``seed`` one from 0 to 2**64 - 1 (torch's seeds); ``labels`` are one class
    index per image: anything else is a typed error before the attack starts.
    """
    eps, step_size = real("eps", eps, 0, 1), real("step_size", step_size, 0, 1)
    steps, batch_size = whole("steps", steps, 0, MAX_STEPS), whole("batch_size", batch_size, 1)
    seed = whole("seed", seed, 0, 2**64 - 1)
    was_training = model.training
    model.eval()
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    correct = 0
    try:
        labels = _checked_labels(model, images, labels)  # in eval mode: its one forward pass leaves batch norms alone
        for start in range(0, len(images), batch_size):
            x = to_tensor(images[start : start + batch_size], device)
            y = torch.as_tensor(labels[start : start + batch_size], device=device)
            x_adv = pgd(model, x, y, eps, step_size, steps, generator=generator)
            with torch.no_grad():
                correct += int((model(x_adv).argmax(1) == y).sum())
    finally:
        model.train(was_training)
    return correct / len(images)
