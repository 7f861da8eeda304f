"""Benchmark WCAM's speed: seconds per image at the defaults, the forward passes' share, the cost estimate, WAM.

    python -m bench.bench_wcam [--arch resnet20] [--images 4] [--threads 2] [--nb-design N] [--max-design N]
        [--grid-size G] [--perturbation P] [--batch-size B] [--device cpu|cuda] [--untrained]

Explains CIFAR-10 sample images (upscaled by pixel repetition for 224-px
models) with ``attribute(..., "wcam")`` at the defaults, or the options given.
The network WCAM runs (the model's ``inference_net``) is wrapped in a timer, so each run reports the share of its time
spent in the model's forward passes (the rest is masks, inverse wavelet
transforms, the estimator and the convergence bootstrap; on a GPU the timer
waits for the device, so the share stays honest; on a CPU, where batches run
side by side on one-thread workers, it is the workers' forward seconds over
their wall-clock seconds). Before each run
``estimate_cost`` says what it expects, so its honesty is measured too. Then
WAM at its defaults. Timings taken beside other jobs are pessimistic. Uses the
trained checkpoint when there is one (or with ``--untrained``, where the
weights are not at hand: at a fixed number of designs the cost does not depend
on them), otherwise a seeded untrained network. The paper's settings at 224 px
are ``--grid-size 28 --nb-design 8 --max-design 8``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn

from shiftlab.attribution import attribute, estimate_cost
from shiftlab.data import load_dataset
from shiftlab.errors import CheckpointError
from shiftlab.models import LoadedModel, load_model


class Timed(nn.Module):
    """The network, counting the seconds spent in its forward passes."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.seconds = net, 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        synchronize(x.device)
        start = time.perf_counter()
        out = self.net(x)
        synchronize(x.device)
        self.seconds += time.perf_counter() - start
        return out


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work, so that a wall-clock timer measures it (nothing to wait for on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load(arch: str, device: str, untrained: bool) -> LoadedModel:
    """The baseline checkpoint of ``arch`` on ``device``, or a seeded untrained network (asked for, or not
    trained yet)."""
    if not untrained:
        try:
            return load_model(arch, device=device)
        except CheckpointError:
            print(f"note: no checkpoint for {arch}")
    print(f"note: {arch} is a seeded untrained network")
    return load_model(arch, None, device=device)


def test_images(size: int, n: int) -> np.ndarray:
    """The first n CIFAR-10 sample images (n×size×size×3), upscaled by pixel repetition for larger models."""
    images = load_dataset("cifar10-sample").images[:n]
    factor = size // images.shape[1]
    return images.repeat(factor, axis=1).repeat(factor, axis=2)


def timed_wcam(loaded: LoadedModel, image: np.ndarray, options: dict) -> tuple[float, float, dict]:
    """Seconds of one WCAM call, seconds of its forward passes (summed over the workers), and its extras."""
    timer = Timed(loaded.model.inference_net())
    loaded.model.inference_net = lambda: timer  # what WCAM runs its perturbed images through
    try:
        start = time.perf_counter()
        result = attribute(loaded, image, "wcam", **options)
        return time.perf_counter() - start, timer.seconds, result.extras
    finally:
        del loaded.model.inference_net


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="resnet20")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target is 2 cores)")
    parser.add_argument("--nb-design", type=int)
    parser.add_argument("--max-design", type=int)
    parser.add_argument("--grid-size", type=int)
    parser.add_argument("--perturbation")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--untrained", action="store_true", help="time a seeded untrained network")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    chosen = {"nb_design": args.nb_design, "max_design": args.max_design, "grid_size": args.grid_size,
              "perturbation": args.perturbation, "batch_size": args.batch_size}
    options = {k: v for k, v in chosen.items() if v}

    loaded = load(args.arch, args.device, args.untrained)
    images = test_images(loaded.input_size, args.images)
    attribute(loaded, images[:1], "wcam", **{**options, "nb_design": 2, "max_design": 2})  # warm-up
    print(f"{args.arch}, {loaded.input_size} px, on {loaded.device}, {torch.get_num_threads()} threads, "
          f"options {options or 'defaults'}")
    print("| image | designs | forward passes | verdict | seconds | estimated (least–most) | forward share |")
    print("|---|---|---|---|---|---|---|")
    seconds = []
    workers = torch.get_num_threads() if loaded.device.type == "cpu" else 1  # as wcam.ordered_map runs them
    for i, image in enumerate(images):
        cost = estimate_cost(loaded, 1, **options)
        total, forward, extras = timed_wcam(loaded, image[None], options)
        seconds.append(total)
        print(f"| {i} | {extras.nb_design[0]} | {extras.forward_passes[0]} | {extras.verdict[0]} | {total:.2f} "
              f"| {cost.seconds:.1f}–{cost.max_seconds:.1f} | {forward / (total * workers):.0%} |")
    print(f"WCAM: median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s per image")
    attribute(loaded, images[:1], "wam")
    wam = []
    for image in images:
        start = time.perf_counter()
        attribute(loaded, image[None], "wam")
        wam.append(time.perf_counter() - start)
    print(f"WAM (defaults): median {statistics.median(wam):.3f} s, max {max(wam):.3f} s per image")


if __name__ == "__main__":
    main()
