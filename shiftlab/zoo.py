"""The model zoo as table rows: what is shipped and the figures measured for it.

The README's model table and the app's landing page both come from here, so
every number they show is read from a model card written by the evaluation
code, never typed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from shiftlab.checkpoint import read_card
from shiftlab.errors import CheckpointError
from shiftlab.models import ModelSpec, card_path, get_spec, list_models, list_variants
from shiftlab.targets import markdown_targets, target_rows

CARD_FIGURES = ("accuracy", "macro_f1", "ece", "nll", "corruption_accuracy", "pgd20_accuracy")


def _zoo_cards() -> Iterator[tuple[str, str, ModelSpec, dict]]:
    """(arch, variant, spec, card) for every variant available here; the card is empty when there is none."""
    for arch in list_models():
        spec = get_spec(arch)
        for variant in list_variants(arch):
            yield arch, variant, spec, _card(spec, variant)


def zoo_rows() -> list[dict]:
    """One row per (arch, variant) available here, with its card's test-set figures where there are any."""
    return [_row(arch, variant, spec, card) for arch, variant, spec, card in _zoo_cards()]


def zoo_targets() -> list[dict]:
    """Each shipped robust variant's targets with the figures its card holds (see ``shiftlab.targets``)."""
    return target_rows((arch, variant, card) for arch, variant, _, card in _zoo_cards())


def _card(spec: ModelSpec, variant: str) -> dict:
    """The model card beside a variant's weights; empty when there is none or it cannot be read."""
    card_file = card_path(spec.find_weights(variant))
    try:
        return read_card(card_file) if card_file.is_file() else {}
    except CheckpointError:
        return {}


def corruption_frame() -> pd.DataFrame:
    """Accuracy per (model, variant, corruption, severity) from the cards' corruption suites, long form.

    Severity 0 is the clean test-set accuracy, repeated for every corruption so
    that each curve starts from it. Models without a measured suite are left out.
    """
    records = []
    for arch, variant, _, card in _zoo_cards():
        suite = card.get("robustness", {}).get("corruptions")
        if not suite:
            continue
        for corruption, accuracies in suite["per_corruption"].items():
            records.append((arch, variant, corruption, 0, card["metrics"]["accuracy"]))
            records.extend((arch, variant, corruption, s, a) for s, a in zip(suite["severities"], accuracies))
    return pd.DataFrame(records, columns=["model", "variant", "corruption", "severity", "accuracy"])


def _row(arch: str, variant: str, spec: ModelSpec, card: dict) -> dict:
    row = {"model": arch, "variant": variant, "dataset": spec.dataset, "description": spec.description}
    metrics = card.get("metrics", {})
    row.update({k: metrics.get(k) for k in CARD_FIGURES})
    row["test set"] = metrics.get("dataset", {}).get("name")
    recipe = card.get("recipe", {})
    row["epochs"] = recipe.get("epochs_done")
    row["train hours"] = round(recipe["wall_time_s"] / 3600, 2) if "wall_time_s" in recipe else None
    row["device"] = _devices(card)
    row["start"] = _start(recipe)
    row["parameters"] = card.get("parameters")
    return row


def _start(recipe: dict) -> str:
    """"scratch", or which weights a fine-tuning run started from (with their run's epochs and device when known)."""
    init = recipe.get("init")
    if not init:
        return "scratch"
    parent = init.get("from_card")
    origin = f" ({parent['arch']}/{parent['variant']}, {parent['epochs']} epochs on {parent['device']})" if parent else ""
    return f"fine-tuned from {init['checkpoint']}{origin}"


def _devices(card: dict) -> str | None:
    """The hardware a run trained on: the per-epoch record when there is one (a resumed run may have moved)."""
    per_epoch = [epoch["device"] for epoch in card.get("history", []) if "device" in epoch]
    if not per_epoch:
        return card.get("recipe", {}).get("device")
    counts = {name: per_epoch.count(name) for name in dict.fromkeys(per_epoch)}
    return " + ".join(f"{name} ({n} ep.)" for name, n in counts.items()) if len(counts) > 1 else per_epoch[0]


def _percent(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.2f}%"


def markdown_table(rows: list[dict]) -> str:
    """The measured rows as a Markdown table (accuracies in %, ECE and NLL to 4 decimals)."""
    header = ("| model | variant | test set | accuracy | macro-F1 | ECE (15 bins) | NLL | corruption accuracy "
              "(15 × 5) | PGD-20 accuracy (ε 8/255) | epochs | start | train time (h) | device |")
    lines = [header, "|---" * (header.count("|") - 1) + "|"]
    for r in rows:
        if r["accuracy"] is None:
            continue
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['test set']} | {_percent(r['accuracy'])} | {r['macro_f1']:.4f} | "
            f"{r['ece']:.4f} | {r['nll']:.4f} | {_percent(r['corruption_accuracy'])} | {_percent(r['pgd20_accuracy'])} | "
            f"{r['epochs']} | {r['start']} | {r['train hours']} | {r['device']} |"
        )
    return "\n".join(lines)


README = Path(__file__).resolve().parents[1] / "README.md"


def readme_with_table(text: str, table: str, marker: str = "zoo-table") -> str:
    """``text`` with the block between the ``<!-- marker -->`` and ``<!-- /marker -->`` lines replaced by ``table``."""
    block = re.compile(rf"(<!-- {marker} -->\n).*?(<!-- /{marker} -->)", re.DOTALL)
    if not block.search(text):
        raise ValueError(f"README has no <!-- {marker} --> ... <!-- /{marker} --> block")
    return block.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text)


def readme_tables() -> dict[str, str]:
    """The README blocks this module owns, by marker: the model table and the robustness targets."""
    return {"zoo-table": markdown_table(zoo_rows()), "targets-table": markdown_targets(zoo_targets())}


def main(argv: list[str]) -> None:
    """Print the tables, or with ``--write-readme`` put them into README.md."""
    tables = readme_tables()
    if "--write-readme" in argv:
        text = README.read_text()
        for marker, table in tables.items():
            text = readme_with_table(text, table, marker)
        README.write_text(text)
    print("\n\n".join(tables.values()))


if __name__ == "__main__":
    main(sys.argv[1:])
