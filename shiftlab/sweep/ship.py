"""The sweeps shipped with the app, in ``shiftlab/_store/``, and the one command that (re)makes them.

    python -m shiftlab.sweep.ship                  # both stores (resumes; --fresh starts over)
    python -m shiftlab.sweep.ship --add-method wcam --option levels=3 grid_size=8

``sample``: the embedded CIFAR-10 sample (500 images) × every CIFAR-10 model
and variant with weights × the 19 corruptions × severities 1-5, seed 0
(predictions and scores). ``attributions``: the curated ``CURATED`` images ×
every ResNet-20 variant × ``ATTRIBUTION_SHIFTS`` at severity 3, with gradcam
maps; ``--add-method`` adds another method's maps to it (only the new
partitions are computed). Both are made on the CPU, so a test can recompute
records on any machine and find the same bytes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from shiftlab.data import load_dataset
from shiftlab.sweep.run import parse_options, sweep

STORE = Path(__file__).resolve().parents[1] / "_store"
SAMPLE = "cifar10-sample"
#: the two classes the CIFAR-10 models confuse most: their second image joins the first image of every class
CONFUSED = ("cat", "dog")
ATTRIBUTION_SHIFTS = ("gaussian_noise", "fog", "contrast", "rotate")
ATTRIBUTION_SEVERITY = "3"


def shipped_store(name: str = "sample") -> Path:
    """The folder of a shipped sweep: ``sample`` (predictions) or ``attributions`` (maps)."""
    return STORE / name


def curated_images() -> list[int]:
    """Indices in the CIFAR-10 sample: the first image of each class, then the second of each ``CONFUSED`` class."""
    sample = load_dataset(SAMPLE)
    first = sample.first_per_class(1).tolist()
    second = [int(np.flatnonzero(sample.labels == sample.classes.index(name))[1]) for name in CONFUSED]
    return first + second


def make_sample(progress: bool = True) -> None:
    sweep(shipped_store("sample"), ["*/*"], ["corruptions"], "1-5", SAMPLE, device="cpu", progress=progress)


def make_attributions(method: str = "gradcam", options: dict | None = None, progress: bool = True) -> None:
    sweep(shipped_store("attributions"), ["resnet20/*"], list(ATTRIBUTION_SHIFTS), ATTRIBUTION_SEVERITY, SAMPLE,
          indices=curated_images(), methods=[method], method_options={method: options or {}}, store_maps=True,
          device="cpu", progress=progress)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shiftlab.sweep.ship", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("sample", "attributions"), default=None, help="make one store only")
    parser.add_argument("--fresh", action="store_true", help="delete the store(s) first instead of resuming")
    parser.add_argument("--add-method", default=None, metavar="METHOD", help="add METHOD's maps to the attributions")
    parser.add_argument("--option", nargs="+", default=[], metavar="KEY=VALUE", help="options of --add-method")
    args = parser.parse_args(argv)
    if args.add_method:
        make_attributions(args.add_method, parse_options(args.option))
        return
    for name, make in (("sample", make_sample), ("attributions", make_attributions)):
        if args.only in (None, name):
            if args.fresh:
                shutil.rmtree(shipped_store(name), ignore_errors=True)
            make()


if __name__ == "__main__":
    main()
