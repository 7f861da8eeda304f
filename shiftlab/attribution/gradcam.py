"""Grad-CAM (Selvaraju et al. 2017) on the last convolutional stage, or on a ViT's patch tokens.

CNNs go through captum's ``LayerGradCam``. For a ViT the layer output is a
token sequence N×T×C, which ``LayerGradCam`` would average over the wrong
axis, so captum gives the layer's gradients (``LayerGradientXActivation``
with ``multiply_by_inputs=False``) and activations (``LayerActivation``) and
the Grad-CAM weighting is done here on the patch grid.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from shiftlab.argcheck import shown
from shiftlab.attribution.base import AttributionError, AttributionMethod, register_method, upsample
from shiftlab.models import AttributionHooks


def tokens_to_grid(tokens: torch.Tensor, grid: int) -> torch.Tensor:
    """N×(1+grid²)×C tokens (class token first) -> N×C×grid×grid patch features."""
    patches = tokens[:, 1:]
    if patches.shape[1] != grid * grid:
        raise AttributionError(f"expected 1 + {grid}×{grid} tokens, got {tokens.shape[1]}")
    return patches.transpose(1, 2).reshape(len(tokens), -1, grid, grid)


@register_method
class GradCAM(AttributionMethod):
    """ReLU of the layer's channels weighted by their spatially averaged gradients, upsampled bilinearly.

    Option: ``layer``, the dotted module name inside the ``Classifier``
    (default: the one the model's spec declares, ``loaded.hooks.gradcam_layer``).
    A token model (``loaded.hooks.token_grid`` set) is weighted on its patch
    grid. Extras: ``coarse`` (the N×h×w map before upsampling) and ``layer``.
    """

    name = "gradcam"
    title = "Grad-CAM"
    description = (
        "Where the last convolutional stage (for a ViT: the last block's patch tokens) looks: its feature maps "
        "weighted by their average gradient for the class, kept where positive and upsampled (Selvaraju et al. "
        "2017). Coarse but stable."
    )

    @classmethod
    def unavailable(cls, arch: str, hooks: AttributionHooks) -> str | None:
        if hooks.gradcam_layer is None:
            return (f"needs a spatial layer before the classifier, and {arch} has none that could be found: name "
                    "one with gradcam_layer in the models file")
        return super().unavailable(arch, hooks)

    def check_options(self, options: dict[str, Any]) -> None:
        layer = options["layer"]
        if layer is not None and not isinstance(layer, str):
            raise AttributionError(f"layer must be a module name (text) or None, got {shown(layer)}")

    def _compute(
        self, x: torch.Tensor, target: torch.Tensor, *, layer: str | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        layer = layer or self.hooks.gradcam_layer
        # captum hooks the layer: on a lent copy, since the sessions of one server share a cached model and every
        # forward pass through a hooked layer, another session's too, would feed this session's hook
        with self.model.lent_copy() as model:
            try:
                module = model.get_submodule(layer)
            except (AttributeError, TypeError):
                raise AttributionError(f"the model has no module {layer!r}") from None
            self.layer_name = layer
            cam = self._token_cam if self.hooks.token_grid else self._conv_cam
            coarse = cam(model, x, target, module)
        return upsample(coarse, tuple(x.shape[-2:])), {"coarse": coarse.detach().cpu().numpy(), "layer": layer}

    def _conv_cam(self, model: nn.Module, x: torch.Tensor, target: torch.Tensor, module: nn.Module) -> torch.Tensor:
        from captum.attr import LayerGradCam  # here: importing captum costs ~0.6 s

        cam = LayerGradCam(model, module).attribute(x, target=target, relu_attributions=True)
        if cam.ndim != 4:
            raise AttributionError(
                f"layer {self.layer_name!r} outputs a {cam.ndim}-D tensor, not a spatial N×C×H×W feature map; choose a "
                f"convolutional layer (this model's default is {self.hooks.gradcam_layer!r})"
            )
        return cam[:, 0]

    def _token_cam(self, model: nn.Module, x: torch.Tensor, target: torch.Tensor, module: nn.Module) -> torch.Tensor:
        from captum.attr import LayerActivation, LayerGradientXActivation  # here: captum costs ~0.6 s

        grid = self.hooks.token_grid
        gradients = LayerGradientXActivation(model, module, multiply_by_inputs=False).attribute(x, target=target)
        activations = LayerActivation(model, module).attribute(x)
        weights = tokens_to_grid(gradients, grid).mean((2, 3), keepdim=True)
        return torch.relu((weights * tokens_to_grid(activations, grid)).sum(1))
