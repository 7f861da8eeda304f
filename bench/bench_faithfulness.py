"""Benchmark the faithfulness measures on a CPU: deletion/insertion of a source and a shifted image, the cascade.

    python -m bench.bench_faithfulness [--arch resnet20] [--variant baseline] [--threads 2] [--repeat 5]

1. Deletion and insertion at 20 steps (blur baseline) for saliency, Grad-CAM and Integrated Gradients (16 steps,
   the app's) on one sample image and its fog-3 copy, the random reference (3 draws) computed once per image and
   shared by the methods, as the Trust page does: the maps are computed first and not timed (target 0.3 s). Then
   the same with the two images in one call and one reference for the pair, as Compare does.
2. ROAD (MoRF and LeRF at 10, 30, 50, 70, 90 %) of the same maps.
3. The model-randomisation cascade of saliency on one image, every layer with weights (target 5 s for ResNet-20).

Each figure is the median (and the fastest) of ``--repeat`` runs after one warm-up; timings taken beside other jobs
are pessimistic.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from shiftlab.app.explain import method_options
from shiftlab.attribution import attribute
from shiftlab.data import load_dataset
from shiftlab.metrics.faithfulness import deletion_insertion, random_reference, road
from shiftlab.metrics.randomisation import randomisable_layers, randomisation_check
from shiftlab.models import load_model
from shiftlab.shifts import apply

METHODS = ("saliency", "gradcam", "integrated_gradients")


def timed(work: Callable[[], object], repeat: int) -> str:
    """The median and the fastest of ``repeat`` timed runs of ``work``, after one untimed run."""
    work()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return f"{statistics.median(times):.3f} s median, {min(times):.3f} s fastest of {repeat}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="resnet20")
    parser.add_argument("--variant", default="baseline")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    loaded = load_model(args.arch, args.variant)
    source = load_dataset("cifar10-sample").images[:1]
    pairs = [source, apply("fog", source, 3, 0)]
    target = attribute(loaded, source, "saliency").target
    maps = {m: [attribute(loaded, p, m, target, **method_options(m, 32)).maps for p in pairs] for m in METHODS}

    def curves() -> None:
        for i, pixels in enumerate(pairs):
            reference = random_reference(loaded, pixels, target)
            for method in METHODS:
                deletion_insertion(loaded, pixels, maps[method][i], target, reference=reference)

    both = np.concatenate(pairs)
    pair_maps = {m: np.concatenate(maps[m]) for m in METHODS}

    def pair_curves() -> None:
        reference = random_reference(loaded, both, [target[0]] * 2)
        for method in METHODS:
            deletion_insertion(loaded, both, pair_maps[method], [target[0]] * 2, reference=reference)

    def removal() -> None:
        for i, pixels in enumerate(pairs):
            for method in METHODS:
                road(loaded, pixels, maps[method][i], target, percentages=(10, 30, 50, 70, 90))

    print(f"{loaded.name} on {args.threads} CPU threads, {torch.get_num_threads()} used by torch")
    print(f"deletion + insertion, 20 steps, 3 methods x source and shifted (a reference per image, as Trust): "
          f"{timed(curves, args.repeat)} (target 0.3 s)")
    print(f"the same, the pair in one call (one reference, as Compare): {timed(pair_curves, args.repeat)}")
    print(f"ROAD, 5 shares, MoRF and LeRF, 3 methods x source and shifted: {timed(removal, args.repeat)}")
    cascade = timed(lambda: randomisation_check(loaded, source, "saliency", target), max(1, args.repeat // 2))
    print(f"randomisation cascade, saliency, {len(randomisable_layers(loaded.model))} stages, 1 image: "
          f"{cascade} (target 5 s)")


if __name__ == "__main__":
    main()
