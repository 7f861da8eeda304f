"""The model zoo as table rows: what is shipped and the figures measured for it (``shiftlab zoo``).

The README's model table and the app's landing page both come from here, so
every number they show is read from a model card written by the evaluation
code, never typed.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from shiftlab.models import ModelCard, ModelSpec, card_path, get_spec, list_models, list_variants, read_card
from shiftlab.zoo.targets import markdown_targets, target_rows


def _zoo_cards() -> Iterator[tuple[ModelSpec, ModelCard]]:
    """(spec, card) for every variant available here; a bare card (no figures) where the weights have none."""
    for arch in list_models():
        spec = get_spec(arch)
        for variant in list_variants(arch):
            yield spec, _card(spec, variant)


def zoo_rows() -> list[dict]:
    """One row per (arch, variant) available here, with its card's test-set figures where there are any."""
    return [_row(spec, card) for spec, card in _zoo_cards()]


def zoo_targets() -> list[dict]:
    """Each shipped robust variant's targets with the figures its card holds (see ``shiftlab.zoo.targets``)."""
    return target_rows(card for _, card in _zoo_cards())


def _card(spec: ModelSpec, variant: str) -> ModelCard:
    """The model card beside a variant's weights (a broken one raises ``ModelCardError``); bare when there is none."""
    card_file = card_path(spec.find_weights(variant))
    return read_card(card_file) if card_file.is_file() else ModelCard(spec.arch, variant, dataset=spec.dataset)


def corruption_frame() -> pd.DataFrame:
    """Accuracy per (model, variant, corruption, severity) from the cards' corruption suites, long form.

    Severity 0 is the clean test-set accuracy, repeated for every corruption so
    that each curve starts from it. Models without a measured suite are left out.
    """
    records = []
    for _, card in _zoo_cards():
        suite = card.suite("corruptions")
        if not suite:
            continue
        for corruption, accuracies in suite["per_corruption"].items():
            records.append((card.arch, card.variant, corruption, 0, card.figure("accuracy")))
            records.extend((card.arch, card.variant, corruption, s, a) for s, a in zip(suite["severities"], accuracies))
    return pd.DataFrame(records, columns=["model", "variant", "corruption", "severity", "accuracy"])


def _row(spec: ModelSpec, card: ModelCard) -> dict:
    row = {"model": card.arch, "variant": card.variant, "dataset": spec.dataset, "description": spec.description}
    row.update(card.figures())
    row["test set"] = (card.reference_data("clean") or {}).get("name")
    row["epochs"] = card.epochs_done
    row["train hours"] = card.train_hours
    row["device"] = card.training_devices()
    row["start"] = card.start()
    row["origin"] = card.origin()
    row["parameters"] = card.parameters
    return row


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


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_with_table(text: str, table: str, marker: str = "zoo-table") -> str:
    """``text`` with the block between the ``<!-- marker -->`` and ``<!-- /marker -->`` lines replaced by ``table``."""
    block = re.compile(rf"(<!-- {marker} -->\n).*?(<!-- /{marker} -->)", re.DOTALL)
    if not block.search(text):
        raise ValueError(f"README has no <!-- {marker} --> ... <!-- /{marker} --> block")
    return block.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text)


def readme_tables() -> dict[str, str]:
    """The README blocks this module owns, by marker: the model table and the robustness targets."""
    return {"zoo-table": markdown_table(zoo_rows()), "targets-table": markdown_targets(zoo_targets())}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``shiftlab zoo`` flags to ``parser``."""
    parser.add_argument("--write-readme", action="store_true", help=f"put the tables into {README}")


def run(args: argparse.Namespace) -> None:
    """Print the tables, or with ``--write-readme`` put them into README.md."""
    tables = readme_tables()
    if args.write_readme:
        text = README.read_text()
        for marker, table in tables.items():
            text = readme_with_table(text, table, marker)
        README.write_text(text)
    print("\n\n".join(tables.values()))
