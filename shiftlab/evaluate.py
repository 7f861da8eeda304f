"""Measure a classifier and record the figures in its model card.

    python -m shiftlab.evaluate --arch resnet20 --variant baseline

computes accuracy, macro-F1, ECE (15 bins) and NLL on the full CIFAR-10 test
set and writes them under ``metrics`` in the card beside the weights. Every
figure the README and the app show comes from here, never typed by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np
from torch import nn

from shiftlab.checkpoint import read_card, write_card
from shiftlab.data import ImageDataset, load_dataset
from shiftlab.inference import predict_logits
from shiftlab.metrics import classification_report
from shiftlab.models import get_spec, load_model


def fingerprint(dataset: ImageDataset) -> dict:
    """Name, size and a SHA-256 over pixels and labels: identifies exactly which images were used."""
    digest = hashlib.sha256(np.ascontiguousarray(dataset.images).tobytes())
    digest.update(np.ascontiguousarray(dataset.labels).tobytes())
    return {"name": dataset.name, "split": dataset.split, "n": len(dataset), "sha256": digest.hexdigest()}


def evaluate_clean(model: nn.Module, dataset: ImageDataset, batch_size: int = 500) -> dict:
    """Accuracy, macro-F1, ECE (15 bins) and NLL of ``model`` on ``dataset``, with the dataset's fingerprint."""
    start = time.perf_counter()
    logits = predict_logits(model, dataset.images, batch_size)
    report = classification_report(dataset.labels, logits)
    report["dataset"] = fingerprint(dataset)
    report["seconds"] = round(time.perf_counter() - start, 2)
    return report


def update_card_metrics(arch: str, variant: str, data: str = "cifar10", root: str | None = None, device: str = "auto") -> dict:
    """Evaluate ``arch/variant`` on ``data``'s test split and store the figures in its card."""
    loaded = load_model(arch, variant, device=device)
    metrics = evaluate_clean(loaded.model, load_dataset(data, "test", root=root))
    card_path = get_spec(arch).find_weights(variant).with_suffix(".json")
    card = read_card(card_path)
    card["metrics"] = {**card.get("metrics", {}), **metrics}
    write_card(card, card_path)
    return card["metrics"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True)
    parser.add_argument("--variant", default="baseline")
    parser.add_argument("--data", default="cifar10", help="test set: cifar10 (full) or cifar10-sample")
    parser.add_argument("--data-root", default=None, help="folder with the datasets (default: $SHIFTLAB_DATA)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    metrics = update_card_metrics(args.arch, args.variant, args.data, args.data_root, args.device)
    print({k: v for k, v in metrics.items() if k != "dataset"})


if __name__ == "__main__":
    main()
