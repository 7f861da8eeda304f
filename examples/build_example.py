"""Build the example that ships in ``examples/``: a 3-class MobileNetV3-Small trained twice, and a folder of photos.

    SHIFTLAB_DATA=path/to/data python examples/build_example.py

The model takes 128-px images: a user's model at a size above the zoo's 32 px, small enough to train in
minutes on a CPU. It is trained from scratch on CIFAR-10's cats, dogs and deer (their 15,000 training
images, upsampled from 32 px), once with random crops and flips (``baseline``) and once with torchvision's
AugMix added (``augmix``), each batch norm's statistics recalibrated on clean images at the end. The
photos are the first ``PHOTOS_PER_CLASS`` test images of each class, one sub-folder per class. Both
variants are then evaluated on the photos (clean and the 15 corruptions) and their cards written beside
their weights, as ``shiftlab evaluate --publish`` does. Seeded and single-threaded, so a rerun writes the
same weights; a variant whose weights exist is not trained again.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from safetensors.torch import save_file
from torchvision.transforms import v2

from shiftlab.data import load_dataset
from shiftlab.models import use_models_file
from shiftlab.training.augment import InGroups, random_crop_flip
from shiftlab.zoo.evaluate import measure
from shiftlab.zoo.publish import publish_results

HERE = Path(__file__).resolve().parent
CLASSES = ["cat", "dog", "deer"]
VARIANTS = ("baseline", "augmix")
#: training images per class (CIFAR-10 has 5,000: every one)
PER_CLASS = 5000
PHOTOS_PER_CLASS = 12
INPUT_SIZE = 128
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
EPOCHS, BATCH, PEAK_LR, WEIGHT_DECAY = 4, 50, 0.05, 5e-4
#: batches whose statistics the batch norms are recalibrated on after training
CALIBRATION_BATCHES = 20


def cifar_subset(split: str, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_class`` images of each of ``CLASSES`` in ``split``, labelled 0..2 in ``CLASSES`` order."""
    data = load_dataset("cifar10", split)
    picked = [np.flatnonzero(data.labels == data.classes.index(name))[:per_class] for name in CLASSES]
    index = np.concatenate(picked)
    labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(picked)])
    return data.images[index], labels


def train_variant(variant: str, images: np.ndarray, labels: np.ndarray) -> dict[str, torch.Tensor]:
    """A MobileNetV3-Small trained on the 32-px ``images``, each batch upsampled to ``INPUT_SIZE``."""
    torch.manual_seed(0)
    net = torchvision.models.mobilenet_v3_small(weights=None, num_classes=len(CLASSES))
    for norm in batch_norms(net):
        norm.momentum = 0.1  # torchvision's 0.01 leaves the running statistics near their start after a few epochs
    optimizer = torch.optim.SGD(net.parameters(), lr=PEAK_LR, momentum=0.9, weight_decay=WEIGHT_DECAY, nesterov=True)
    augmix = InGroups(v2.AugMix(), group_size=5) if variant == "augmix" else None
    pixels, targets = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)
    steps = EPOCHS * math.ceil(len(targets) / BATCH)
    net.train()
    for step in range(steps):
        if step % math.ceil(len(targets) / BATCH) == 0:
            order = torch.randperm(len(targets))
        batch = order[(step * BATCH) % len(targets):][:BATCH]
        x = random_crop_flip(pixels[batch])
        for group in optimizer.param_groups:
            group["lr"] = PEAK_LR * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = F.cross_entropy(net(model_input(augmix(x) if augmix is not None else x)), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 20 == 0:
            print(f"{variant} step {step}/{steps} loss {loss.item():.3f}", flush=True)
    recalibrate(net, pixels)
    return {k: v.contiguous() for k, v in net.state_dict().items()}


def model_input(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 N×3×32×32 -> the normalised N×3×INPUT_SIZE×INPUT_SIZE input."""
    x = F.interpolate(pixels.float() / 255, size=INPUT_SIZE, mode="bilinear", align_corners=False)
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def batch_norms(net: torch.nn.Module) -> list[torch.nn.BatchNorm2d]:
    return [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]


@torch.no_grad()
def recalibrate(net: torch.nn.Module, pixels: torch.Tensor) -> None:
    """Set every batch norm's running statistics to their average over ``CALIBRATION_BATCHES`` clean batches of
    the final weights (what eval mode uses), instead of a moving average over weights that kept changing."""
    for norm in batch_norms(net):
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average
    shuffled = pixels[torch.randperm(len(pixels), generator=torch.Generator().manual_seed(1))]  # every class
    for i in range(CALIBRATION_BATCHES):
        net(model_input(shuffled[i * BATCH:(i + 1) * BATCH]))
    net.eval()


def write_photos(images: np.ndarray, labels: np.ndarray) -> None:
    for i, (image, label) in enumerate(zip(images, labels)):
        path = HERE / "photos" / CLASSES[label] / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)


def publish_cards() -> None:
    """Evaluate both variants on the photos and write their cards beside their weights."""
    use_models_file(HERE / "shiftlab-models.toml")
    for variant in VARIANTS:
        results = measure("pets", variant, ("clean", "corruptions"), data="pets-photos", log=None)
        print(f"{variant}: clean accuracy {results['clean']['accuracy']:.3f} -> "
              f"{publish_results('pets', variant, results)}")


def main() -> None:
    torch.set_num_threads(1)
    write_photos(*cifar_subset("test", PHOTOS_PER_CLASS))
    images, labels = cifar_subset("train", PER_CLASS)
    for variant in VARIANTS:
        path = HERE / "weights" / f"{variant}.safetensors"
        if path.exists():
            continue
        start = time.perf_counter()
        state = train_variant(variant, images, labels)
        path.parent.mkdir(exist_ok=True)
        save_file(state, str(path))
        print(f"{variant}: {time.perf_counter() - start:.0f} s -> {path}", file=sys.stderr)
    publish_cards()


if __name__ == "__main__":
    main()
