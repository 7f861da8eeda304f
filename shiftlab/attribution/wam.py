"""WAM, the wavelet attribution method (Kasmi et al., ICML 2025, "One wave to explain them all"):
gradients of the target logit taken with respect to the image's Haar coefficients, smoothed as in
SmoothGrad (Smilkov et al. 2017). A fast, gradient-based counterpart to WCAM with the same outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from shiftlab.attribution.base import AttributionMethod, check_int, check_real, register_method
from shiftlab.attribution.wavelets import check_levels, project_to_image, spectral_profile, wavedec, waverec

#: the most noisy copies of an image, the largest noise (fraction of the value range) and the most images a pass
MAX_SAMPLES = 1024
MAX_NOISE = 10.0
MAX_BATCH = 16384


@register_method
class WAM(AttributionMethod):
    """|channel-mean of d logit_target / d coefficient|, averaged over noisy copies of the image.

    Options: ``levels`` (Haar levels, default 3; the image side must be divisible by 2**levels),
    ``n_samples`` (noisy copies, an integer from 1 to ``MAX_SAMPLES`` = 1024, default 25), ``noise`` (noise
    standard deviation as a fraction of each image's value range in the network's input space, from 0 to
    ``MAX_NOISE`` = 10, default 0.25 as in the paper; ``n_samples=1, noise=0`` gives the plain wavelet
    gradient), ``seed`` (an integer from 0 to 2**64 - 1, torch's seed range) and ``batch_size`` (most noisy
    images per backward pass, from 1 to ``MAX_BATCH`` = 16384: the copies are batched, 25 passes of one image
    would be slower). Same outputs as WCAM: ``maps`` is the importance projected to
    image space; extras ``wavelet_map``, ``spectral_levels``, ``spectral_subbands``.
    """

    name = "wam"
    title = "WAM (wavelet gradients)"
    description = (
        "The gradient of the class score with respect to the wavelet coefficients, averaged over noisy copies of "
        "the image (Kasmi et al. 2025), shown here back in pixel space."
    )
    many_passes = True

    @classmethod
    def passes(cls, options: Mapping[str, Any]) -> int:
        """One forward and backward pass per noisy copy."""
        return int(options["n_samples"])

    def check_options(self, options: dict[str, Any]) -> None:
        check_levels(self.loaded.input_size, options["levels"])
        check_int("n_samples", options["n_samples"], 1, MAX_SAMPLES)
        check_real("noise", options["noise"], 0.0, MAX_NOISE)
        check_int("seed", options["seed"], 0, 2**64 - 1)
        check_int("batch_size", options["batch_size"], 1, MAX_BATCH)

    def _compute(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        *,
        levels: int = 3,
        n_samples: int = 25,
        noise: float = 0.25,
        seed: int = 0,
        batch_size: int = 64,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        z = self.model.normalize(x)
        spread = noise * (z.amax((1, 2, 3)) - z.amin((1, 2, 3))).view(-1, 1, 1, 1)
        generator = torch.Generator().manual_seed(seed)  # drawn on the CPU: same seed, same noise on any device
        wavelet_map = torch.zeros_like(z[:, 0])
        per_batch = max(1, batch_size // len(z))  # noisy copies of every image per backward pass
        for first in range(0, n_samples, per_batch):
            copies = min(per_batch, n_samples - first)
            draws = torch.randn((copies, *z.shape), generator=generator).to(z.device)
            noisy = (z + spread * draws).flatten(0, 1)
            gradients = self._coefficient_gradients(noisy, target.repeat(copies), levels)
            wavelet_map += gradients.mean(1).abs().view(copies, *wavelet_map.shape).sum(0)
        wavelet_map = (wavelet_map / n_samples).cpu()
        per_level, per_subband = spectral_profile(wavelet_map, levels)
        extras = {
            "wavelet_map": wavelet_map.numpy(),
            "spectral_levels": per_level.numpy(),
            "spectral_subbands": per_subband.numpy(),
        }
        return project_to_image(wavelet_map, levels), extras

    def _coefficient_gradients(self, z: torch.Tensor, target: torch.Tensor, levels: int) -> torch.Tensor:
        """N×3×S×S gradient of the target logits with respect to the dyadic coefficients of ``z``."""
        with torch.enable_grad():
            coefficients = wavedec(z, levels).requires_grad_()
            logits = self.model.net(waverec(coefficients, levels))
            (gradient,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), coefficients)
        return gradient
