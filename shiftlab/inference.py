"""Batched inference on uint8 image arrays, on whatever device the model lives on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.special import softmax
from torch import nn

from shiftlab.argcheck import whole
from shiftlab.errors import ImageInputError, MetricInputError, ParameterError
from shiftlab.folders import FolderImages
from shiftlab.metrics._checks import numeric
from shiftlab.models.classifier import LoadedModel


def check_images(images: np.ndarray) -> np.ndarray:
    """Validate an N×H×W×3 uint8 RGB batch with sides of at least one pixel; ``ImageInputError`` says what is wrong.
    An image folder's ``FolderImages`` passes as it is: sliced batch by batch, it is decoded a batch at a time."""
    if not isinstance(images, np.ndarray | FolderImages):
        raise ImageInputError(f"images must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ImageInputError(f"images must be uint8 in [0, 255], got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ImageInputError(f"images must be N×H×W×3 RGB, got shape {images.shape}")
    if min(images.shape[1:3]) < 1:
        raise ImageInputError(f"images must be at least 1×1 pixels, got {images.shape[1]}×{images.shape[2]}")
    return images


def to_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 N×H×W×3 -> float32 N×3×H×W in [0, 1] on ``device``."""
    batch = torch.from_numpy(np.ascontiguousarray(check_images(images))).to(device)
    return batch.permute(0, 3, 1, 2).float().div_(255.0)


def model_device(model: nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a parameterless module)."""
    return next(model.parameters(), torch.empty(0)).device


def _module(model: nn.Module | LoadedModel, images: np.ndarray) -> nn.Module:
    """The module to run: ``model`` itself, or a ``LoadedModel``'s once ``images`` are checked to be its input size."""
    if isinstance(model, LoadedModel):
        size = model.input_size
        if images.shape[1:3] != (size, size):
            raise ImageInputError(f"{model.arch} takes {size}×{size} images, got {images.shape[1]}×{images.shape[2]}; "
                                  "resize them first (shiftlab.images.fit_to_model)")
        return model.model
    if not isinstance(model, nn.Module):
        raise ParameterError(f"model must be a torch module or a LoadedModel, got {type(model).__name__}")
    return model


@torch.inference_mode()
def predict_logits(model: nn.Module | LoadedModel, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Logits (N×K float32 numpy) of ``model`` on uint8 images, ``batch_size`` (an integer >= 1) at a time, in
    eval mode.

    A ``LoadedModel`` has the images' size checked against its input size first; a module that cannot take
    the images (a ViT fed another size) raises ``ImageInputError`` with the module's own words.
    """
    check_images(images)
    net = _module(model, images)
    batch_size = whole("batch_size", batch_size, 1)
    was_training = net.training
    net.eval()
    device = model_device(net)
    try:
        chunks = [_first_batch(net, images[:batch_size], device)] if len(images) else []
        chunks += [net(to_tensor(images[i : i + batch_size], device)).float().cpu()
                   for i in range(batch_size, len(images), batch_size)]
    finally:
        net.train(was_training)
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, 0), np.float32)


def _first_batch(net: nn.Module, images: np.ndarray, device: torch.device) -> torch.Tensor:
    """The first batch's logits; a module refusing the images' size or shape is an ``ImageInputError``."""
    try:
        return net(to_tensor(images, device)).float().cpu()
    except torch.OutOfMemoryError:
        raise
    except (RuntimeError, ValueError) as exc:
        raise ImageInputError(f"the model cannot take {images.shape[1]}×{images.shape[2]} images: {exc}") from exc


def top_k(logits: np.ndarray, classes: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of one logit vector (K or 1×K finite numbers, one name per class), with
    their softmax probabilities; ``k`` is an integer >= 1, and one above K gives all K classes."""
    vector = numeric(logits, "logits")
    vector = vector[0] if vector.ndim == 2 and len(vector) == 1 else vector
    if vector.ndim != 1 or not len(vector) or not np.isfinite(vector).all():
        raise MetricInputError(f"logits must be one vector of K finite numbers, got shape {vector.shape}")
    if not isinstance(classes, Sequence | np.ndarray) or len(classes) != len(vector):
        count = len(classes) if isinstance(classes, Sequence | np.ndarray) else type(classes).__name__
        raise MetricInputError(f"classes must name each of the {len(vector)} logits, got {count}")
    k = whole("k", k, 1)
    probs = softmax(vector)
    order = np.argsort(-probs, kind="stable")[:k]
    return [(classes[i], float(probs[i])) for i in order]
