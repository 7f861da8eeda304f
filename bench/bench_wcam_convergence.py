"""How fast WCAM converges per forward pass, and whether its convergence figure can be trusted.

    python -m bench.bench_wcam_convergence [--data /work/shared/data] [--cache /tmp/wcam_convergence]
        [--configs main reference grid16] [--record-only]

Every image of a fixed random sample of the CIFAR-10 test set (seed 13, not the
first images) is explained by resnet20/baseline under two Sobol seeds (1 and
2), with designs of up to ``n_max`` points; the full logits of every perturbed
image are recorded once (cached as npz), so that every output explained
(probability, logit, log-probability, log-odds), every design size (a prefix
of the largest design is exactly a smaller run) and every estimator are
compared on the same forward passes. For each they report, per image, the
seed-to-seed correlation of the Sobol index maps (wavelet domain) and of the
spatial maps, the total-variation distance of the spectral profiles (share per
level), and what the convergence figure of seed 1 alone predicted, with the
share of images where its verdict (stable / noisy) matches the measured pair.
Configs: ``main`` (default perturbation, grid 8, 32 images, up to 256 points),
``reference`` (the paper's perturbation, 8 of those images, up to 64),
``grid16`` (grid 16 at 32 px, 8 images, up to 16) and ``held_out`` (16 other
images, up to 256: a check of the stop rule and verdict chosen on ``main``). Run configs in separate
processes with --record-only to use two cores, then once more to print.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from shiftlab.attribution.base import AttributionError, prepare_images, resolve_target
from shiftlab.attribution.sobol import jansen_total_order
from shiftlab.attribution.wavelets import project_to_image, spectral_profile, wavedec
from shiftlab.attribution.wcam import (
    OUTPUTS,
    STABLE_CORRELATION,
    STABLE_DISTANCE,
    STOP_MARGIN,
    VERDICT_MARGIN,
    WCAM,
    DesignRun,
    cells_to_dyadic,
    convergence,
    explained_output,
)
from shiftlab.data import load_dataset
from shiftlab.models import LoadedModel, load_model

LEVELS = 3
SEEDS = (1, 2)


@dataclass(frozen=True)
class Config:
    perturbation: str
    grid: int
    n_images: int
    n_max: int
    held_out: bool = False  # other images than main's: a check of the stop and verdict rules chosen on main
    outputs: tuple[str, ...] = ("probability", "log_odds")  # the explained outputs its table rows compare


CONFIGS = {
    "main": Config("normalized", 8, 32, 256, outputs=OUTPUTS),
    "reference": Config("reference", 8, 8, 64),
    "grid16": Config("normalized", 16, 8, 16),
    "held_out": Config("normalized", 8, 16, 256, held_out=True, outputs=("log_odds",)),
}


class Recorder(DesignRun):
    """A WCAM design run that records the full logits of every perturbed image."""

    def explain(self, logits: torch.Tensor, image: int) -> torch.Tensor:
        return logits.float()


def sample_indices(n: int, held_out: bool = False) -> np.ndarray:
    """n CIFAR-10 test indices drawn at random (seed 13), so not the first images of the set; ``held_out``: n
    others (seed 14), none of the 32 of seed 13."""
    main = np.sort(np.random.default_rng(13).choice(10_000, size=32, replace=False))
    if not held_out:
        return main[:n]
    return np.sort(np.random.default_rng(14).choice(np.setdiff1d(np.arange(10_000), main), size=n, replace=False))


def record(loaded: LoadedModel, images: np.ndarray, config: Config, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits (images × seeds × points [start, n_max) × (grid² + 2) × classes) and the explained (predicted) classes."""
    x = prepare_images(images, loaded)
    reference = config.perturbation == "reference"
    with torch.inference_mode():
        target = torch.from_numpy(resolve_target(loaded, x, None))
        coefficients = wavedec(x if reference else loaded.model.normalize(x), LEVELS)
    settings = {"grid_size": config.grid, "output": "logit", "approximation": not reference}
    logits = []
    for seed in SEEDS:
        run = Recorder(WCAM(loaded), loaded.model.inference_net(), coefficients, target, LEVELS, config.perturbation,
                       seed, settings, 256, None)
        logits.append([run.run_points(i, start, config.n_max) for i in range(len(x))])
    return np.stack(logits, 1), target.numpy()


def cached(loaded: LoadedModel, data: Path, cache: Path, name: str) -> tuple[np.ndarray, np.ndarray, float, int]:
    """The recorded logits of a config (recorded now unless cached), the targets, seconds per forward pass and
    the torch threads they were recorded on."""
    path, config = cache / f"{name}.npz", CONFIGS[name]
    saved = dict(np.load(path)) if path.exists() else {"logits": np.empty((0, 0, 0)), "per_pass": 0.0}
    done = saved["logits"].shape[2]
    if done < config.n_max:  # record the missing points only: a design's prefix is the smaller design
        images = load_dataset("cifar10", root=data).images[sample_indices(config.n_images, config.held_out)]
        start = time.perf_counter()
        logits, saved["target"] = record(loaded, images, config, done)
        saved["per_pass"] = (time.perf_counter() - start) / logits[..., 0].size
        saved["threads"] = torch.get_num_threads()
        saved["logits"] = np.concatenate([saved["logits"], logits], 2) if done else logits
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, **saved)
    return saved["logits"], saved["target"], float(saved["per_pass"]), int(saved.get("threads", 1))


def outputs_of(logits: np.ndarray, target: int, output: str) -> np.ndarray:
    """n × (dim + 2) explained outputs from n × (dim + 2) × K logits."""
    flat = torch.from_numpy(logits.reshape(-1, logits.shape[-1]))
    return explained_output(flat, int(target), output).numpy().reshape(logits.shape[:2])


def sobol_2007(outputs: np.ndarray) -> np.ndarray:
    """Another total-order estimator on the same design (Sobol 2007 / Saltelli 2010): mean f(a)(f(a) - f(c_i)) / Var."""
    return (outputs[:, :1] * (outputs[:, :1] - outputs[:, 2:])).mean(0).clip(0) / np.var(outputs[:, :2], ddof=1)


def summary(indices: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sobol cells, spatial map and share per level of one estimate."""
    dyadic = cells_to_dyadic(torch.from_numpy(indices.astype(np.float32))[None], size)
    return indices, project_to_image(dyadic, LEVELS)[0].numpy().ravel(), spectral_profile(dyadic, LEVELS)[0][0].numpy()


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0


def pair_metrics(first: np.ndarray, second: np.ndarray, size: int, estimator=jansen_total_order) -> tuple[float, ...]:
    """Seed-to-seed (cells correlation, spatial correlation, profile distance), seed 1's predicted figure and
    verdict."""
    try:
        one, two = summary(estimator(first), size), summary(estimator(second), size)
        figure = convergence(first, jansen_total_order(first), size, LEVELS, SEEDS[0])
    except AttributionError:  # the output did not vary (saturated probability)
        return (np.nan,) * 6
    distance = 0.5 * np.abs(one[2] - two[2]).sum()
    return (correlation(one[0], two[0]), correlation(one[1], two[1]), distance, figure.map_agreement,
            figure.profile_distance, float(figure.stable))


def adaptive(outputs: np.ndarray, size: int, start: int, cap: int, margin: float = STOP_MARGIN) -> np.ndarray:
    """The design prefix an adaptive run (doubling from ``start`` while noisy, up to ``cap``) ends with.

    It stops when the predicted distance is under ``margin`` times its threshold and the predicted
    correlation as far above 1 - margin · (1 - threshold) (WCAM's rule: ``STOP_MARGIN``).
    """
    n = start
    while n < cap:
        if convergence(outputs[:n], jansen_total_order(outputs[:n]), size, LEVELS, SEEDS[0]).passes(margin):
            break
        n *= 2
    return outputs[:n]


def row(label: str, passes: float, metrics: np.ndarray) -> str:
    """One markdown table row from per-image metrics (images × 6)."""
    corr, spatial, distance, predicted, predicted_distance, verdict = metrics.T
    measured_ok = (corr >= STABLE_CORRELATION) & (distance <= STABLE_DISTANCE)
    predicted_ok = verdict == 1
    agree = np.mean(measured_ok == predicted_ok)
    return (
        f"| {label} | {passes:.0f} | {np.nanmedian(corr):.2f} | {np.nanmedian(spatial):.2f} "
        f"| {np.nanmedian(distance):.3f} / {np.nanmax(distance):.2f} | {np.nanmedian(predicted):.2f} "
        f"| {np.nanmedian(predicted_distance):.3f} | {predicted_ok.sum()}/{len(corr)} | {agree:.0%} "
        f"| {(~measured_ok & ~predicted_ok).sum()}/{(~measured_ok).sum()} | {np.isnan(corr).sum()} |"
    )


HEADER = (
    "| setting | forward passes per image | map correlation, median | spatial map correlation, median "
    "| profile distance, median / max | predicted correlation, median | predicted distance, median "
    "| verdict stable | verdict matches the pair | pairs missing a target flagged noisy | undefined |"
    "\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def study(name: str, logits: np.ndarray, target: np.ndarray) -> list[str]:
    """Table rows for every output and design size of one config, then adaptive runs and the other estimator."""
    config = CONFIGS[name]
    dim = config.grid**2 + 2
    lines = []
    sizes = [n for n in (8, 16, 32, 64, 128, 256) if n <= config.n_max]
    for output in config.outputs:
        explained = [[outputs_of(s, t, output) for s in image] for image, t in zip(logits, target)]
        for n in sizes:
            metrics = np.array([pair_metrics(a[:n], b[:n], 32) for a, b in explained])
            lines.append(row(f"{name}, {output}, {n} designs", n * dim, metrics))
        if config.n_max >= 64:
            starts, caps = ((16, 32), (64,)) if config.n_max == 64 else ((32,), (128, 256))
            runs = [(start, cap, STOP_MARGIN) for start in starts for cap in caps]
            if output == "log_odds" and config.n_max == 256:  # other stop rules: optional stopping stops on luck
                runs += [(32, 256, margin) for margin in (1.0, 0.85, 0.7)]
            for start, cap, margin in runs:
                ends = [[adaptive(s, 32, start, cap, margin) for s in image] for image in explained]
                passes = np.mean([len(s) * dim for image in ends for s in image])
                metrics = np.array([pair_metrics(a, b, 32) for a, b in ends])
                other_rule = f", stop at {margin:.0%} of the thresholds" if margin != STOP_MARGIN else ""
                lines.append(row(f"{name}, {output}, adaptive {start}→{cap}{other_rule}", passes, metrics))
        if name == "main" and output in ("log_odds", "probability"):
            for n in sizes[-1:]:
                metrics = np.array([pair_metrics(a[:n], b[:n], 32, sobol_2007) for a, b in explained])
                lines.append(row(f"{name}, {output}, {n} designs, Sobol-2007 estimator", n * dim, metrics))
    return lines


def rounded(shares: np.ndarray) -> str:
    return " / ".join(f"{v:.2f}" for v in shares)


def compare_maps(main: np.ndarray, main_target: np.ndarray, reference: np.ndarray, n: int) -> list[str]:
    """Default (log-odds) against reference (probability) perturbation at n designs, seed 1, on the same images."""
    lines = [
        "| image | map correlation (spatial) | detail levels, default | detail levels, reference |",
        "|---|---|---|---|",
    ]
    for i, (a, r) in enumerate(zip(main[: len(reference)], reference)):
        try:
            ours = summary(jansen_total_order(outputs_of(a[0, :n], main_target[i], "log_odds")), 32)
            theirs = summary(jansen_total_order(outputs_of(r[0, :n], main_target[i], "probability")), 32)
        except AttributionError:
            lines.append(f"| {i} | undefined (saturated probability) | | |")
            continue
        detail = ours[2][1:] / ours[2][1:].sum()
        lines.append(
            f"| {i} | {correlation(ours[1], theirs[1]):.2f} | {rounded(detail)} | {rounded(theirs[2][1:])} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/wcam_convergence"))
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--record-only", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    loaded = load_model("resnet20", "baseline", device="cpu")
    recorded = {name: cached(loaded, args.data, args.cache, name) for name in args.configs}
    if args.record_only:
        return
    print(f"resnet20/baseline, 32 px, levels {LEVELS}, seeds {SEEDS}, "
          f"CIFAR-10 test images {sample_indices(32).tolist()}"
          f"; held out: {sample_indices(CONFIGS['held_out'].n_images, True).tolist()}")
    print(f"stop rule: {STOP_MARGIN:.0%} of the thresholds; verdict: {VERDICT_MARGIN:.0%}")
    print(f"targets: map correlation >= {STABLE_CORRELATION}, profile distance <= {STABLE_DISTANCE}\n")
    print(HEADER)
    for name, (logits, target, per_pass, threads) in recorded.items():
        print("\n".join(study(name, logits, target)))
        print(f"<!-- {name}: {per_pass * 1e3:.2f} ms per forward pass while recording ({threads} torch threads, "
              "shared machine) -->")
    if {"main", "reference"} <= set(recorded):
        print("\nDefault (log-odds, normalised space) against reference (probability, pixel space, min-max), "
              "64 designs, seed 1:\n")
        print("\n".join(compare_maps(recorded["main"][0], recorded["main"][1], recorded["reference"][0], 64)))


if __name__ == "__main__":
    main()
