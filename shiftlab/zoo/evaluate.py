"""Measure a classifier and record the figures in its model card.

    shiftlab evaluate --arch resnet20 --variant baseline --suite clean corruptions pgd

``clean``: accuracy, macro-F1, ECE (15 bins) and NLL on the full CIFAR-10 test
set, under ``metrics``. ``corruptions``: accuracy under each of the 15
benchmark corruptions at severities 1-5 (shiftlab's own suite, seed 0) and
their mean, under ``robustness.corruptions`` and ``metrics.corruption_accuracy``.
``pgd``: accuracy under PGD-20 (L∞ ε 8/255, step 2/255, random start) on the
first 1,000 test images, under ``robustness.pgd`` and ``metrics.pgd20_accuracy``.
Every figure the README and the app show comes from here, never typed by hand.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from torch import nn

from shiftlab.adversarial import robust_accuracy
from shiftlab.data import ImageDataset, fingerprint, load_dataset
from shiftlab.errors import UnknownOptionError
from shiftlab.inference import predict_logits
from shiftlab.metrics import accuracy, classification_report
from shiftlab.models import card_path, get_spec, load_model, read_card, write_card
from shiftlab.shifts import SEVERITIES, apply
from shiftlab.shifts.corruptions import BENCHMARK

SUITES = ("clean", "corruptions", "pgd")


def evaluate_clean(model: nn.Module, dataset: ImageDataset, batch_size: int = 500) -> dict:
    """Accuracy, macro-F1, ECE (15 bins) and NLL of ``model`` on ``dataset``, with the dataset's fingerprint."""
    start = time.perf_counter()
    logits = predict_logits(model, dataset.images, batch_size)
    report = classification_report(dataset.labels, logits)
    report["dataset"] = fingerprint(dataset)
    report["seconds"] = round(time.perf_counter() - start, 2)
    return report


def evaluate_corruptions(model: nn.Module, dataset: ImageDataset, corruptions: tuple[str, ...] = BENCHMARK,
                         seed: int = 0, batch_size: int = 500, log=None) -> dict:
    """Accuracy under each corruption at severities 1-5 and the mean over all of them."""
    start = time.perf_counter()
    per_corruption = {}
    for name in corruptions:
        per_corruption[name] = [
            accuracy(dataset.labels, predict_logits(model, apply(name, dataset.images, severity, seed), batch_size))
            for severity in SEVERITIES
        ]
        if log:
            log(f"{name}: {[round(a, 4) for a in per_corruption[name]]}")
    mean = float(np.mean([a for accs in per_corruption.values() for a in accs]))
    return {"mean_accuracy": mean, "per_corruption": per_corruption, "severities": list(SEVERITIES), "seed": seed,
            "dataset": fingerprint(dataset), "seconds": round(time.perf_counter() - start, 1)}


def evaluate_pgd(model: nn.Module, dataset: ImageDataset, n: int = 1000, eps: float = 8 / 255,
                 step_size: float = 2 / 255, steps: int = 20, seed: int = 0) -> dict:
    """Robust accuracy under PGD on the first ``n`` images of ``dataset``."""
    start = time.perf_counter()
    subset = dataset.subset(np.arange(min(n, len(dataset))))
    acc = robust_accuracy(model, subset.images, subset.labels, eps, step_size, steps, seed=seed)
    return {"accuracy": acc, "eps": eps, "step_size": step_size, "steps": steps, "random_start": True, "seed": seed,
            "dataset": fingerprint(subset), "seconds": round(time.perf_counter() - start, 1)}


def update_card(arch: str, variant: str, suites: tuple[str, ...] = ("clean",), data: str = "cifar10",
                root: str | None = None, device: str = "auto", log=print) -> dict:
    """Evaluate ``arch/variant`` on ``data``'s test split with the chosen suites and store the figures in its card."""
    unknown = set(suites) - set(SUITES)
    if unknown:
        raise UnknownOptionError(f"unknown evaluation suites {sorted(unknown)}; known: {', '.join(SUITES)}")
    loaded = load_model(arch, variant, device=device)
    test_set = load_dataset(data, "test", root=root)
    card_file = card_path(get_spec(arch).find_weights(variant))
    card = read_card(card_file)
    metrics, robustness = card.metrics, card.robustness
    if "clean" in suites:
        metrics.update(evaluate_clean(loaded.model, test_set))
    if "corruptions" in suites:
        robustness["corruptions"] = evaluate_corruptions(loaded.model, test_set, log=log)
        metrics["corruption_accuracy"] = robustness["corruptions"]["mean_accuracy"]
    if "pgd" in suites:
        robustness["pgd"] = evaluate_pgd(loaded.model, test_set)
        metrics["pgd20_accuracy"] = robustness["pgd"]["accuracy"]
    write_card(card, card_file)
    return metrics


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``shiftlab evaluate`` flags to ``parser``."""
    parser.add_argument("--arch", required=True)
    parser.add_argument("--variant", default="baseline")
    parser.add_argument("--data", default="cifar10", help="test set: cifar10 (full) or cifar10-sample")
    parser.add_argument("--data-root", default=None, help="folder with the datasets (default: $SHIFTLAB_DATA)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--suite", nargs="+", default=list(SUITES), choices=SUITES, help="what to measure (default: all)")


def run(args: argparse.Namespace) -> None:
    """Measure with the parsed flags and print the card's figures."""
    metrics = update_card(args.arch, args.variant, tuple(args.suite), args.data, args.data_root, args.device)
    print({k: v for k, v in metrics.items() if k != "dataset"})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="shiftlab evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
