"""Gradient saliency (Simonyan et al. 2014), through captum's ``Saliency``."""

from __future__ import annotations

from typing import Any

import torch

from shiftlab.attribution.base import AttributionMethod, register_method


@register_method
class Saliency(AttributionMethod):
    """|d logit_target / d pixel|, maximised over the colour channels as in the paper.

    No options, no extras. Fast (one backward pass) but noisy.
    """

    name = "saliency"
    title = "Saliency (gradient magnitude)"
    description = (
        "How strongly each pixel's smallest change moves the class score: the absolute gradient of the logit with "
        "respect to the pixels (Simonyan et al. 2014). Fast and sharp, but noisy."
    )

    def _compute(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        from captum.attr import Saliency as CaptumSaliency  # here: importing captum costs ~0.6 s

        gradients = CaptumSaliency(self.model).attribute(x.requires_grad_(), target=target, abs=True)
        return gradients.amax(1), {}
