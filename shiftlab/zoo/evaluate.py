"""Measure a model of the zoo and record the figures in a model card.

    shiftlab evaluate --model resnet20/baseline --suite clean corruptions pgd
    shiftlab evaluate --model resnet20/baseline --publish   # update the shipped card
    shiftlab evaluate --model pets/augmix --data pets-photos  # a models file's model on its image folder

``clean``: accuracy, macro-F1, ECE (15 bins) and NLL on the test set.
``corruptions``: accuracy under each of the 15 benchmark corruptions at
severities 1-5 (shiftlab's own suite, seed 0) and their mean. ``pgd``:
accuracy under PGD-20 (L∞ ε 8/255, step 2/255, random start) on the first
1,000 test images. Each suite is recorded in the card under the data it was
measured on (``measurements``). By default the updated card is written into a
run folder (``runs/evaluate/<arch>/<variant>.json``) and the zoo is left
alone; ``--publish`` records the figures in the shipped card instead, and is
refused for figures measured on other data than the full test set when the
card holds full-test-set figures, and always for data named like the test set
whose content is not the test set's. Each suite's figures name the SHA-256 of
the weights they were measured with. A model is measured only on a test set
of its own classes and image size (an ImageNet model's accuracy on CIFAR
labels would be a meaningless 0). Every figure the README and the app show
comes from here, never typed by hand.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from torch import nn

from shiftlab.adversarial import robust_accuracy
from shiftlab.checkpoint import check_output_folder
from shiftlab.cli import model_name
from shiftlab.data import ImageDataset, fingerprint, load_dataset
from shiftlab.errors import ParameterError, UnknownOptionError
from shiftlab.inference import predict_logits
from shiftlab.metrics import accuracy, classification_report
from shiftlab.models import ModelSpec, get_spec, load_model, resolve_variant, write_card, zoo_card
from shiftlab.models.measurements import (
    REFERENCE_IMAGES,
    SUITES,
    CleanFigures,
    CorruptionFigures,
    PgdFigures,
    SuiteResult,
    data_key,
)
from shiftlab.shifts import SEVERITIES, apply
from shiftlab.shifts.corruptions import BENCHMARK
from shiftlab.zoo.publish import check_publishable, publish_results


def evaluate_clean(model: nn.Module, dataset: ImageDataset, batch_size: int = 500) -> SuiteResult:
    """Accuracy, macro-F1, ECE (15 bins) and NLL of ``model`` on ``dataset``, with the dataset's fingerprint."""
    start = time.perf_counter()
    logits = predict_logits(model, dataset.images, batch_size)
    report = classification_report(dataset.labels, logits)
    figures = CleanFigures(**report, seconds=round(time.perf_counter() - start, 2))
    return SuiteResult(fingerprint(dataset), figures)


def evaluate_corruptions(model: nn.Module, dataset: ImageDataset, corruptions: tuple[str, ...] = BENCHMARK,
                         seed: int = 0, batch_size: int = 500, log=None) -> SuiteResult:
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
    figures = CorruptionFigures(mean, per_corruption, list(SEVERITIES), seed, round(time.perf_counter() - start, 1))
    return SuiteResult(fingerprint(dataset), figures)


def evaluate_pgd(model: nn.Module, dataset: ImageDataset, n: int = REFERENCE_IMAGES["pgd"], eps: float = 8 / 255,
                 step_size: float = 2 / 255, steps: int = 20, seed: int = 0) -> SuiteResult:
    """Robust accuracy under PGD on the first ``n`` images of ``dataset``."""
    start = time.perf_counter()
    subset = dataset.subset(np.arange(min(n, len(dataset))))  # the first n, as suite_data takes them
    acc = robust_accuracy(model, subset.images, subset.labels, eps, step_size, steps, seed=seed)
    figures = PgdFigures(acc, eps, step_size, steps, True, seed, round(time.perf_counter() - start, 1))
    return SuiteResult(fingerprint(subset), figures)


def suite_data(suite: str, test_set: ImageDataset) -> ImageDataset:
    """The images ``suite`` runs on: the test set, or for PGD its first ``REFERENCE_IMAGES['pgd']``."""
    n = REFERENCE_IMAGES[suite]
    return test_set if n is None else test_set.subset(np.arange(min(n, len(test_set))))


def measure(arch: str, variant: str, suites: tuple[str, ...] = ("clean",), data: str = "cifar10",
            root: str | None = None, limit: int | None = None, device: str = "auto", log=print,
            publish: bool = False) -> list[SuiteResult]:
    """Evaluate the zoo's ``arch/variant`` on ``data``'s test split (its first ``limit`` images) with the chosen
    suites, in ``SUITES`` order; each result holds the fingerprint of the data it ran on and the SHA-256 of the
    weights (``weights_sha256``). The names, the data and its fit to the model are checked first, and with ``publish``
    whether the results may go into the zoo card (``PublishError``), all before the model is loaded."""
    unknown = set(suites) - set(SUITES)
    if unknown or not suites:
        raise UnknownOptionError(f"unknown evaluation suites {sorted(unknown)}; known: {', '.join(SUITES)}")
    spec = get_spec(arch)
    resolve_variant(variant)
    test_set = load_dataset(data, "test", root=root, limit=limit)
    check_fits(spec, test_set)
    if publish:
        check_publishable(arch, variant, {suite: fingerprint(suite_data(suite, test_set)) for suite in suites})
    loaded = load_model(arch, variant, device=device)
    runs = {"clean": lambda: evaluate_clean(loaded.model, test_set),
            "corruptions": lambda: evaluate_corruptions(loaded.model, test_set, log=log),
            "pgd": lambda: evaluate_pgd(loaded.model, test_set)}
    return [runs[suite]().with_weights(loaded.card.weights_sha256) for suite in SUITES if suite in suites]


def check_fits(spec: ModelSpec, test_set: ImageDataset) -> None:
    """Refuse a test set whose classes or image size are not the model's: its labels would be scored against
    another label set (an ImageNet model on CIFAR-10 scores a meaningless 0) or its images resized unseen."""
    classes = spec.classes()
    if test_set.classes != classes:
        raise ParameterError(
            f"{spec.arch} predicts {spec.dataset}'s {len(classes)} classes; "
            f"{test_set.name} holds {len(test_set.classes)} other classes ({', '.join(test_set.classes[:3])}, …), "
            "so its accuracy would mean nothing. "
            f"Evaluate {spec.arch} on a test set of {spec.dataset}")
    size = tuple(test_set.images.shape[1:3])
    if size != (spec.input_size, spec.input_size):
        raise ParameterError(f"{test_set.name} test images here are {size[1]}×{size[0]} px; {spec.arch} takes "
                             f"{spec.input_size}×{spec.input_size}: not the test set the model was made for")


def run_folder(arch: str, run_dir: str | Path | None) -> Path:
    """Where ``write_evaluation`` writes: ``run_dir``, or ``runs/evaluate/<arch>`` (the arch a registered name)."""
    return Path(run_dir) if run_dir else Path("runs") / "evaluate" / get_spec(arch).arch


def write_evaluation(arch: str, variant: str, results: list[SuiteResult], run_dir: str | Path | None = None) -> Path:
    """The zoo card of ``arch/variant`` with ``results`` recorded, written into the run folder (the zoo is not
    touched) as ``<variant>.json``: the card's names follow the name rules, so the file stays in the folder."""
    card = zoo_card(arch, variant)
    for result in results:
        card.record(result)
    folder = run_folder(card.arch, run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{card.variant}.json"
    write_card(card, path)
    return path


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``shiftlab evaluate`` flags to ``parser``."""
    parser.add_argument("--model", required=True, type=model_name, metavar="ARCH/VARIANT",
                        help="the model to measure, e.g. resnet20/augmix (a models file's too: pets/baseline)")
    parser.add_argument("--data", default="cifar10", help="test set: cifar10 (full) or cifar10-sample")
    parser.add_argument("--data-root", default=None, help="folder with the datasets (default: $SHIFTLAB_DATA)")
    parser.add_argument("--limit", type=int, default=None, help="measure on the first N test images only")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--suite", nargs="+", default=list(SUITES), choices=SUITES,
                        help="what to measure (default: all)")
    parser.add_argument("--run-dir", default=None, help="where the updated card goes; default: runs/evaluate/<arch>")
    parser.add_argument("--publish", action="store_true",
                        help="record the figures in the shipped card (refused for figures not on the full test set)")


def run(args: argparse.Namespace) -> None:
    """Measure with the parsed flags, write the card (run folder, or the zoo with --publish) and print the figures."""
    arch, variant = args.model
    if not args.publish:
        check_output_folder(run_folder(arch, args.run_dir), "--run-dir")
    results = measure(arch, variant, tuple(args.suite), args.data, args.data_root, args.limit, args.device,
                      publish=args.publish)
    if args.publish:
        path = publish_results(arch, variant, results)
    else:
        path = write_evaluation(arch, variant, results, args.run_dir)
    for result in results:
        figures = {k: v for k, v in result.figures.to_json().items()
                   if not isinstance(v, dict | list) and k != "weights_sha256"}
        print(f"{result.suite} on {data_key(result.data)}: {figures}")
    print(f"wrote {path}")


def interrupted(args: argparse.Namespace) -> str:
    """What an interrupted ``shiftlab evaluate`` leaves: nothing, since the card is written once, at the end."""
    return "kept nothing: the card is written only once every suite is measured"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="shiftlab evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
