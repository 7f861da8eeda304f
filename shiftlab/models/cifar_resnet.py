"""The CIFAR ResNets of He et al. 2016 (section 4.2): ResNet-20/32/44/56/110.

Three stages of 16, 32 and 64 channels with n basic blocks each (depth = 6n + 2)
and the parameter-free "option A" shortcut: when a block halves the resolution
and doubles the width, the identity path is subsampled and zero-padded with the
new channels. ResNet-20 has 0.27 M parameters, as in the paper's table 6.
ResNet-20, -32 and -56 are registered as ``resnet20``, ``resnet32`` and
``resnet56``, each with the weights of every variant shiftlab trains.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from shiftlab.dataset_files import CIFAR10_CLASSES
from shiftlab.errors import ParameterError
from shiftlab.models.classifier import AttributionHooks
from shiftlab.models.registry import NUM_CLASSES_BOUNDS, ModelSpec, register_model, trained_weights

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: stride-2 subsampling plus zero channels."""

    def __init__(self, extra_channels: int):
        super().__init__()
        self.extra_channels = extra_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::2, ::2]
        half = self.extra_channels // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm and a residual connection."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        needs_projection = stride != 1 or in_channels != out_channels
        self.shortcut = ZeroPadShortcut(out_channels - in_channels) if needs_projection else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet for 32×32 inputs; ``depth`` must be 6n + 2."""

    def __init__(self, depth: int = 20, num_classes: int = 10):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ParameterError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110), got {depth}")
        blocks_per_stage = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = self._stage(16, 16, blocks_per_stage, stride=1)
        self.layer2 = self._stage(16, 32, blocks_per_stage, stride=2)
        self.layer3 = self._stage(32, 64, blocks_per_stage, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        self._init_weights()

    @staticmethod
    def _stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
        layers = [BasicBlock(in_channels, out_channels, stride)]
        layers += [BasicBlock(out_channels, out_channels, 1) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out" if isinstance(m, nn.Conv2d) else "fan_in")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def cifar_resnet_spec(depth: int, marker: str | None = None) -> ModelSpec:
    """The registry entry of the CIFAR ResNet of ``depth`` layers (``marker``: its mark on the zoo's scatter plots)."""
    return ModelSpec(
        arch=f"resnet{depth}",
        dataset="cifar10",
        build=CifarResNet,
        config={"depth": depth, "num_classes": 10},
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
        input_size=32,
        classes=lambda: list(CIFAR10_CLASSES),
        description=f"CIFAR ResNet-{depth} (He et al. 2016, option A shortcuts)",
        # one WCAM design point at 32 px a batch: 0.8 ms per image on one thread from 33 to 128 images
        hooks=lambda config: AttributionHooks(gradcam_layer="net.layer3", cpu_batch_size=66, batch_invariant=True),
        weights=trained_weights(f"resnet{depth}"),
        bounds={"depth": (8, 110), **NUM_CLASSES_BOUNDS},
        marker=marker,
    )


register_model(cifar_resnet_spec(20, marker="circle"))
register_model(cifar_resnet_spec(32))
register_model(cifar_resnet_spec(56))
