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
from captum.attr import LayerActivation, LayerGradCam, LayerGradientXActivation
from torch import nn
from torchvision.models import ResNet

from shiftlab.attribution.base import AttributionError, AttributionMethod, upsample
from shiftlab.models.cifar_resnet import CifarResNet
from shiftlab.models.vit import ViTNet


def default_layer(net: nn.Module) -> str:
    """The module (dotted name inside the ``Classifier``) whose output Grad-CAM explains, per architecture."""
    if isinstance(net, ViTNet):
        # the input of the last block: its patch tokens still feed the class token through attention
        # (the last block's own patch outputs do not reach the classifier, so their gradient is zero)
        return f"net.hf.vit.layers.{len(net.hf.vit.layers) - 1}.layernorm_before"
    if isinstance(net, CifarResNet):
        return "net.layer3"
    if isinstance(net, ResNet):
        return "net.layer4"
    if hasattr(net, "_conv_head") and hasattr(net, "_bn1"):
        return "net._bn1"  # EfficientNet(-Lite): batch norm after the 1×1 conv head, the last spatial stage
    raise AttributionError(f"no default Grad-CAM layer for {type(net).__name__}; pass layer='<module name>'")


def tokens_to_grid(tokens: torch.Tensor, grid: int) -> torch.Tensor:
    """N×(1+grid²)×C tokens (class token first) -> N×C×grid×grid patch features."""
    patches = tokens[:, 1:]
    if patches.shape[1] != grid * grid:
        raise AttributionError(f"expected 1 + {grid}×{grid} tokens, got {tokens.shape[1]}")
    return patches.transpose(1, 2).reshape(len(tokens), -1, grid, grid)


class GradCAM(AttributionMethod):
    """ReLU of the layer's channels weighted by their spatially averaged gradients, upsampled bilinearly.

    Option: ``layer``, the dotted module name inside the ``Classifier`` (default
    per architecture: ``net.layer3`` for CIFAR ResNets, ``net.layer4`` for
    ResNet-50, ``net._bn1`` for EfficientNet-Lite0, the last block's
    ``layernorm_before`` for the ViT). Extras: ``coarse`` (the N×h×w map
    before upsampling) and ``layer``.
    """

    name = "gradcam"

    def _compute(self, x: torch.Tensor, target: torch.Tensor, *, layer: str | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        layer = layer or default_layer(self.model.net)
        try:
            module = self.model.get_submodule(layer)
        except AttributeError:
            raise AttributionError(f"the model has no module {layer!r}") from None
        coarse = self._token_cam(x, target, module) if self.family == "vit" else self._conv_cam(x, target, module)
        return upsample(coarse, tuple(x.shape[-2:])), {"coarse": coarse.detach().cpu().numpy(), "layer": layer}

    def _conv_cam(self, x: torch.Tensor, target: torch.Tensor, module: nn.Module) -> torch.Tensor:
        return LayerGradCam(self.model, module).attribute(x, target=target, relu_attributions=True)[:, 0]

    def _token_cam(self, x: torch.Tensor, target: torch.Tensor, module: nn.Module) -> torch.Tensor:
        grid = self.model.net.grid_size
        gradients = LayerGradientXActivation(self.model, module, multiply_by_inputs=False).attribute(x, target=target)
        activations = LayerActivation(self.model, module).attribute(x)
        weights = tokens_to_grid(gradients, grid).mean((2, 3), keepdim=True)
        return torch.relu((weights * tokens_to_grid(activations, grid)).sum(1))
