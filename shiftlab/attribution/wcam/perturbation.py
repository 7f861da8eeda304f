"""How one design row perturbs an image: a mask over the wavelet coefficients, the inverse transform, the
output explained.

Two perturbations:

- ``"normalized"`` (default): the coefficients are those of the image in the
  network's normalised input space, a mask value of 0 shrinks a coefficient
  to that of the flat image of the normalisation mean colour (the zero of that
  space), and the perturbed image goes to the network as it is.
- ``"reference"``: as the published code (gabrielkasmi/spectral-attribution)
  does it: coefficients of the pixel image, the approximation band removed
  from every mask, each perturbed image min-max rescaled over its three
  channels and truncated to 8 bits before normalisation, and the probability
  of the target explained. The rescaling couples every coefficient through one
  global contrast stretch, so a mask changes the image's contrast, not only
  the masked content.

All masks of a batch are applied and inverted at once in torch on the model's
device. Class indices are int64 (no uint8 wrap-around above class 255).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from shiftlab.attribution.wavelets import waverec

#: the most values (cells × pixels × 3) of the cell images a run keeps per image to perturb by matrix products
#: (``cell_images``): every grid at 32 px; at 224 px the inverse transform is used (grid 32: 154 M values)
CELL_IMAGE_VALUES = 1 << 22


def grid_masks(rows: torch.Tensor, size: int, levels: int, approximation: bool) -> torch.Tensor:
    """B × grid² design rows -> B×S×S masks over the dyadic array (each grid cell a constant block).

    With ``approximation=False`` the approximation band is zeroed in every mask.
    """
    grid = int(round(rows.shape[1] ** 0.5))
    cell = size // grid
    masks = rows.view(-1, grid, grid).repeat_interleave(cell, 1).repeat_interleave(cell, 2)
    if not approximation:
        corner = size >> levels
        masks[:, :corner, :corner] = 0.0
    return masks

def explained_output(logits: torch.Tensor, target: int, output: str) -> torch.Tensor:
    """float64 output explained for each row of B × K ``logits``: one of ``OUTPUTS``.

    probability p_t saturates at 1 for a confident model, so its variance over
    masks, the denominator of every Sobol index, becomes tiny and noisy; the
    log-odds log(p_t / (1 - p_t)) = l_t - logsumexp_{k≠t} l_k is the same
    ranking of images without that ceiling.
    """
    logits = logits.double()
    if output == "probability":
        return torch.softmax(logits, 1)[:, target]
    if output == "logit":
        return logits[:, target]
    if output == "log_probability":
        return torch.log_softmax(logits, 1)[:, target]
    others = torch.cat([logits[:, :target], logits[:, target + 1 :]], 1)
    return logits[:, target] - torch.logsumexp(others, 1)

def min_max_uint8(images: torch.Tensor) -> torch.Tensor:
    """Each B×3×S×S image min-max rescaled over all its values to [0, 1], then truncated to 8 bits.

    The reference code's ``(NormalizeData(x) * 255).astype(np.uint8)``; a flat
    image (max = min), where it divides by zero, becomes black here.
    """
    low = images.amin((1, 2, 3), keepdim=True)
    spread = (images.amax((1, 2, 3), keepdim=True) - low).clamp_min(torch.finfo(images.dtype).tiny)
    return torch.floor((images - low) / spread * 255) / 255

def perturb(
    coefficients: torch.Tensor,
    rows: torch.Tensor,
    levels: int,
    approximation: bool,
    normalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
    cells: torch.Tensor | None = None,
) -> torch.Tensor:
    """The network inputs (B×3×S×S) of one image's 3×S×S dyadic ``coefficients`` masked by B design ``rows``.

    Without ``normalize`` the coefficients are already in the network's input
    space and the inverse transform goes to the network as it is; with it (the
    reference perturbation) they are pixel coefficients, and each perturbed
    image is min-max rescaled and truncated to 8 bits before ``normalize``.
    With ``cells`` (``cell_images`` of these coefficients) the inverse
    transforms are one matrix product: the same images up to float rounding.
    """
    if cells is None:
        masks = grid_masks(rows, coefficients.shape[-1], levels, approximation)
        images = waverec(coefficients[None] * masks[:, None], levels)
    else:
        images = (rows.to(cells.dtype) @ cells.flatten(1)).view(-1, *cells.shape[1:])
    return images if normalize is None else normalize(min_max_uint8(images))

def cell_images(coefficients: torch.Tensor, grid: int, levels: int, approximation: bool) -> torch.Tensor | None:
    """grid² × 3×S×S: the inverse transform of ``coefficients`` (3×S×S dyadic) kept on one grid cell each, or
    None when they would hold more than ``CELL_IMAGE_VALUES`` values.

    The inverse wavelet transform is linear, so an image perturbed by design
    row r is the sum over cells of r_k times cell image k: a batch's inverse
    transforms become one matrix product, far cheaper than ptwt's transposed
    convolutions (measured: docs/wcam.md#measured-constants).
    """
    size = coefficients.shape[-1]
    if grid * grid * coefficients.numel() > CELL_IMAGE_VALUES:
        return None
    one_hot = torch.eye(grid * grid, dtype=coefficients.dtype, device=coefficients.device)
    return waverec(coefficients[None] * grid_masks(one_hot, size, levels, approximation)[:, None], levels)

def rescaler(model: torch.nn.Module, perturbation: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """What ``perturb`` maps pixel images into the network's input space with: the model's normalisation for
    the reference perturbation (it perturbs pixels), None for the default (it perturbs the network's inputs)."""
    return model.normalize if perturbation == "reference" else None

def perturbed_logits(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The network's logits of a batch of perturbed images."""
    # channels-last takes oneDNN's faster convolution path on CPU, same values
    # (measured: docs/wcam.md#measured-constants)
    return net(images.contiguous(memory_format=torch.channels_last))
