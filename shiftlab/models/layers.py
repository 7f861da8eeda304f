"""Finding the layer Grad-CAM explains in a network nobody described: the last spatial map before the pooling.

A user's model (torchvision, timm, Hugging Face) comes without the hand-named
``gradcam_layer`` the zoo's specs carry. ``find_gradcam_layer`` traces one
forward pass and returns the module that produced the network's last 4-D
spatial map — N×C×H×W, square like the input, more than one pixel, not
made by a pooling layer — which only the head follows (at most
``MAX_HEAD_LAYERS`` layers with weights: a ViT's patch embedding is such a
map, but a dozen blocks follow it, so a ViT has no such layer). Several nested
modules return that same tensor (ResNet's ``layer4``, its last block, the
block's final ReLU); the one that began earliest — the outermost — is named,
as a person would name it.

Written by hand: captum and pytorch-grad-cam take the layer as an argument and
neither library finds it.
"""

from __future__ import annotations

import torch
from torch import nn

from shiftlab.errors import UnsupportedMethodError

#: the most layers with weights that may run after the explained map: VGG's head has 3 (Linear, ReLU, Dropout ×2,
#: Linear), ConvNeXt's 2 (LayerNorm, Linear); a ViT runs ~50 after its patch embedding
MAX_HEAD_LAYERS = 4
_POOLING = (nn.modules.pooling._AvgPoolNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd,
            nn.modules.pooling._AdaptiveMaxPoolNd)


def find_gradcam_layer(net: nn.Module, input_size: int) -> str:
    """The dotted name, inside ``net``, of the module whose output is the last spatial feature map.

    ``net`` takes N×3×side×side images; one forward pass of a grey image of
    side ``input_size`` is traced without gradients. ``UnsupportedMethodError``
    when no module returns such a map (a token model such as a ViT): Grad-CAM
    has no spatial layer to explain there.
    """
    trace = _Trace(net)
    with torch.no_grad(), trace:
        net.eval()(torch.full((1, 3, input_size, input_size), 0.5, device=_device_of(net)))
    last = trace.spatial[-1] if trace.spatial else None
    if last is None or trace.weighted_after(last) > MAX_HEAD_LAYERS:
        raise UnsupportedMethodError("no layer of this network returns a spatial map that only the classifier head "
                                     "follows (a token model?): name one with gradcam_layer, or use another method")
    producers = {name for name, output in trace.outputs if output is last}
    return next(name for name in trace.started if name in producers)


class _Trace:
    """Forward hooks on every sub-module of ``net``, recording, in order, which modules started, which finished
    (and their outputs), and the spatial maps produced; removed on exit."""

    def __init__(self, net: nn.Module):
        self.modules = {name: module for name, module in net.named_modules() if name}
        self.started: list[str] = []
        self.outputs: list[tuple[str, object]] = []
        self.spatial: list[torch.Tensor] = []
        self._handles: list = []

    def __enter__(self) -> _Trace:
        for name, module in self.modules.items():
            self._handles += [module.register_forward_pre_hook(lambda m, args, name=name: self.started.append(name)),
                              module.register_forward_hook(lambda m, args, out, name=name: self._finished(name, out))]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    def _finished(self, name: str, output: object) -> None:
        self.outputs.append((name, output))
        is_map = (isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[2] == output.shape[3] > 1)
        if is_map and not isinstance(self.modules[name], _POOLING):
            self.spatial.append(output)

    def weighted_after(self, tensor: torch.Tensor) -> int:
        """How many leaf modules with weights finished after the last one that returned ``tensor``."""
        last = max(i for i, (_, output) in enumerate(self.outputs) if output is tensor)
        return sum(1 for name, _ in self.outputs[last + 1:] if _has_own_weights(self.modules[name]))


def _has_own_weights(module: nn.Module) -> bool:
    return next(module.parameters(recurse=False), None) is not None


def _device_of(net: nn.Module) -> torch.device:
    parameter = next(net.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
