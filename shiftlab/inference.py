"""Batched inference on uint8 image arrays, on whatever device the model lives on."""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import softmax
from torch import nn

from shiftlab.errors import ImageInputError


def check_images(images: np.ndarray) -> np.ndarray:
    """Validate an N×H×W×3 uint8 RGB batch; ``ImageInputError`` says what is wrong."""
    if not isinstance(images, np.ndarray):
        raise ImageInputError(f"images must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ImageInputError(f"images must be uint8 in [0, 255], got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ImageInputError(f"images must be N×H×W×3 RGB, got shape {images.shape}")
    return images


def to_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 N×H×W×3 -> float32 N×3×H×W in [0, 1] on ``device``."""
    batch = torch.from_numpy(np.ascontiguousarray(check_images(images))).to(device)
    return batch.permute(0, 3, 1, 2).float().div_(255.0)


def model_device(model: nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a parameterless module)."""
    return next(model.parameters(), torch.empty(0)).device


@torch.inference_mode()
def predict_logits(model: nn.Module, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Logits (N×K float32 numpy) of ``model`` on uint8 images, in batches, in eval mode."""
    check_images(images)
    was_training = model.training
    model.eval()
    device = model_device(model)
    try:
        chunks = [model(to_tensor(images[i : i + batch_size], device)).float().cpu() for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, 0), np.float32)


def top_k(logits: np.ndarray, classes: list[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of one logit vector, with their softmax probabilities."""
    probs = softmax(np.asarray(logits, dtype=np.float64).reshape(-1))
    order = np.argsort(-probs, kind="stable")[:k]
    return [(classes[i], float(probs[i])) for i in order]
