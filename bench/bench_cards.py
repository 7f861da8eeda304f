"""The shipped cards' clean figures reproduced on the whole CIFAR-10 test set, timed.

    python -m bench.bench_cards [--all] [--root ../shared/data] [--json bench/results/cards_cpu.json]

Evaluates the first shipped variant of each CIFAR architecture (``--all``: every shipped variant) on the
10,000 test images and checks its card: the test set's SHA-256, accuracy within 2e-4 (two images), ECE within
1e-3. These evaluations were the test suite's (the ViT's alone took 24 s on 2 cores);
``tests/test_models.py`` now checks the test set's SHA-256 and guards the rest with the two lines printed per
model, to paste into that file:

* ``CHECKED_CARDS`` — the SHA-256 of the variant's weights file and its card's clean figures, so that a
  changed weights file or card is noticed without evaluating it;
* ``SUBSET_FIGURES`` — accuracy and ECE on the first ``SUBSET`` test images (the suite recomputes them in
  about a tenth of the time), so that a change of the model's code or of the evaluation is noticed too.

Exits with status 1 when a card does not match its evaluation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from shiftlab.data import ImageDataset, load_dataset
from shiftlab.models import LoadedModel, get_spec, list_models, list_variants, load_model
from shiftlab.models.measurements import SuiteResult
from shiftlab.zoo.evaluate import evaluate_clean

#: test images the suite evaluates a model on instead of the whole test set
SUBSET = 1000
#: where the development datasets are when neither --root nor $SHIFTLAB_DATA says
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def weights_and_figures_digest(loaded: LoadedModel) -> str:
    """sha256 of a variant's weights file and its card's clean-test figures and data."""
    digest = hashlib.sha256(get_spec(loaded.arch).find_weights(loaded.variant).read_bytes())
    figures = {"clean": loaded.card.suite("clean").to_json(), "data": loaded.card.reference_data("clean").to_dict()}
    digest.update(json.dumps(figures, sort_keys=True).encode())
    return digest.hexdigest()


def subset_figures(loaded: LoadedModel, test_set: ImageDataset) -> dict[str, float]:
    """Accuracy and ECE of ``loaded`` on the first ``SUBSET`` images of the test set."""
    fresh = evaluate_clean(loaded.model, test_set.subset(np.arange(SUBSET))).figures
    return {"accuracy": fresh.accuracy, "ece": round(fresh.ece, 6)}


def card_problems(loaded: LoadedModel, fresh: SuiteResult) -> list[str]:
    """How the card's clean figures differ from ``fresh`` (an evaluation on the whole test set); empty if none."""
    recorded, measured, problems = loaded.card.suite("clean"), fresh.figures, []
    if loaded.card.reference_data("clean").sha256 != fresh.data.sha256:
        problems.append("the card's test set is not this one")
    if abs(recorded.accuracy - measured.accuracy) > 2e-4:
        problems.append(f"accuracy {recorded.accuracy} on the card, {measured.accuracy} evaluated")
    if abs(recorded.ece - measured.ece) > 1e-3:
        problems.append(f"ECE {recorded.ece} on the card, {measured.ece} evaluated")
    return problems


def reproduce(arch: str, variant: str, test_set: ImageDataset) -> dict:
    """Evaluate ``arch/variant`` on the whole test set: seconds, problems with its card, and the suite's guards."""
    loaded = load_model(arch, variant, device="cpu")
    start = time.perf_counter()
    fresh = evaluate_clean(loaded.model, test_set)
    return {"model": f"{arch}/{variant}", "seconds": round(time.perf_counter() - start, 1),
            "problems": card_problems(loaded, fresh), "digest": weights_and_figures_digest(loaded),
            "subset": subset_figures(loaded, test_set)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="every shipped variant, not the first of each architecture")
    parser.add_argument("--root", type=Path, default=os.environ.get("SHIFTLAB_DATA") or SHARED_DATA)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    test_set = load_dataset("cifar10", "test", root=args.root)
    archs = [a for a in list_models() if get_spec(a).dataset == "cifar10" and list_variants(a)]
    models = [(a, v) for a in archs for v in (list_variants(a) if args.all else list_variants(a)[:1])]
    results = [reproduce(arch, variant, test_set) for arch, variant in models]
    for result in results:
        arch, variant = result["model"].split("/")
        print(f"{result['model']}: {result['seconds']} s, " + ("; ".join(result["problems"]) or "the card holds"))
        print(f'    CHECKED_CARDS: ("{arch}", "{variant}"): "{result["digest"]}",')
        print(f'    SUBSET_FIGURES: ("{arch}", "{variant}"): {result["subset"]},')
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    raise SystemExit(1 if any(r["problems"] for r in results) else 0)


if __name__ == "__main__":
    main()
