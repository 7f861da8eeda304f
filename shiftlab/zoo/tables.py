"""The model zoo as table rows: what is shipped and the figures measured for it (``shiftlab zoo``).

The README's model table and the app's landing page both come from here, so
every number they show is read from a model card written by the evaluation
code, never typed. One broken entry (a corrupt card, a dangling link, a card
beside other weights than those its figures were measured with) is listed
with its reason (``zoo_problems``) and leaves the others shown; the README's
tables are written only from a whole, healthy zoo.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shiftlab.checkpoint import write_atomically
from shiftlab.errors import PublishError, ShiftlabError
from shiftlab.models import ModelCard, ModelSpec, checkpoint_root, get_spec, list_models, list_variants, zoo_card
from shiftlab.models.cards import WEIGHTS_CHANGED
from shiftlab.zoo.targets import TargetRow, markdown_targets, target_rows


@dataclass(frozen=True)
class ZooEntry:
    """One variant found in the zoo: its card, or ``problem`` saying why its figures cannot be shown."""

    spec: ModelSpec
    variant: str
    card: ModelCard | None
    problem: str | None = None


def zoo_entries() -> list[ZooEntry]:
    """Every variant available here, each with its card bound to its weights, or with the reason it is broken
    (an unreadable folder, card or weights, a card of another variant, figures of other weights)."""
    entries = []
    for arch in list_models():
        spec = get_spec(arch)
        try:
            variants = list_variants(arch)
        except (ShiftlabError, OSError) as exc:
            entries.append(ZooEntry(spec, "*", None, f"the folder {spec.variant_dir()} is unreadable: {exc}"))
            continue
        entries.extend(_entry(spec, variant) for variant in variants)
    return entries


def _entry(spec: ModelSpec, variant: str) -> ZooEntry:
    try:
        card = zoo_card(spec.arch, variant)
    except (ShiftlabError, OSError) as exc:
        return ZooEntry(spec, variant, None, f"broken: {exc}")
    return ZooEntry(spec, variant, card, WEIGHTS_CHANGED if card.weights_changed else None)


def _zoo_cards() -> Iterator[tuple[ModelSpec, ModelCard]]:
    """(spec, card) for every healthy variant available here; a bare card (no figures) where the weights have none."""
    return ((entry.spec, entry.card) for entry in zoo_entries() if entry.problem is None)


def zoo_problems() -> list[tuple[str, str, str]]:
    """(arch, variant, reason) of every zoo entry whose figures cannot be shown (see ``zoo_entries``)."""
    return [(entry.spec.arch, entry.variant, entry.problem) for entry in zoo_entries() if entry.problem is not None]


@dataclass(frozen=True)
class ZooRow:
    """One (arch, variant) of the zoo: what it is, its card's test-set figures (None where not measured), the
    test set they were measured on, and how it was trained."""

    model: str
    variant: str
    dataset: str
    description: str
    accuracy: float | None
    macro_f1: float | None
    ece: float | None
    nll: float | None
    corruption_accuracy: float | None
    pgd20_accuracy: float | None
    test_set: str | None
    epochs: int | None
    train_hours: float | None
    device: str | None
    start: str
    origin: str
    parameters: int | None


#: the columns of a zoo row, in order
ROW_COLUMNS = tuple(f.name for f in dataclasses.fields(ZooRow))


def zoo_rows() -> list[ZooRow]:
    """One row per healthy (arch, variant) available here, with its card's test-set figures where there are any."""
    return [_row(spec, card) for spec, card in _zoo_cards()]


def zoo_targets() -> list[TargetRow]:
    """Each shipped robust variant's targets with the figures its card holds (see ``shiftlab.zoo.targets``)."""
    return target_rows(card for _, card in _zoo_cards())


def corruption_frame() -> pd.DataFrame:
    """Accuracy per (model, variant, corruption, severity) from the cards' corruption suites, long form.

    Severity 0 is the clean test-set accuracy, repeated for every corruption so
    that each curve starts from it. Models without a measured suite are left out.
    """
    records = []
    for _, card in _zoo_cards():
        suite = card.suite("corruptions")
        if suite is None or not suite.per_corruption:
            continue
        for corruption, accuracies in suite.per_corruption.items():
            records.append((card.arch, card.variant, corruption, 0, card.figure("accuracy")))
            records.extend((card.arch, card.variant, corruption, s, a) for s, a in zip(suite.severities, accuracies))
    return pd.DataFrame(records, columns=["model", "variant", "corruption", "severity", "accuracy"])


def _row(spec: ModelSpec, card: ModelCard) -> ZooRow:
    reference = card.reference_data("clean")
    return ZooRow(card.arch, card.variant, spec.dataset, spec.description, **dataclasses.asdict(card.figures()),
                  test_set=reference.name if reference else None, epochs=card.epochs_done, train_hours=card.train_hours,
                  device=card.training_devices(), start=card.start(), origin=card.origin(), parameters=card.parameters)


def _percent(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.2f}%"


def markdown_table(rows: list[ZooRow]) -> str:
    """The measured rows as a Markdown table (accuracies in %, ECE and NLL to 4 decimals)."""
    header = ("| model | variant | test set | accuracy | macro-F1 | ECE (15 bins) | NLL | corruption accuracy "
              "(15 × 5) | PGD-20 accuracy (ε 8/255) | epochs | start | train time (h) | device |")
    lines = [header, "|---" * (header.count("|") - 1) + "|"]
    for r in rows:
        if r.accuracy is None:
            continue
        lines.append(
            f"| {r.model} | {r.variant} | {r.test_set} | {_percent(r.accuracy)} | {r.macro_f1:.4f} | "
            f"{r.ece:.4f} | {r.nll:.4f} | {_percent(r.corruption_accuracy)} | {_percent(r.pgd20_accuracy)} | "
            f"{r.epochs} | {r.start} | {r.train_hours} | {r.device} |"
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


def readme_rows(text: str, marker: str = "zoo-table") -> set[tuple[str, str]]:
    """(model, variant) of each row of README's ``marker`` table."""
    block = re.search(rf"<!-- {marker} -->\n(.*?)<!-- /{marker} -->", text, re.DOTALL)
    cells = (line.split("|") for line in (block.group(1) if block else "").splitlines()[2:])
    return {(c[1].strip(), c[2].strip()) for c in cells if len(c) > 3}


def check_whole_zoo(text: str, rows: list[ZooRow]) -> None:
    """Refuse to write README's tables (``PublishError``) from a zoo with a broken entry, with no measured model,
    or without a model the README lists: the tables would lose rows because a folder is missing, not because
    the models went away."""
    where = f"README not written: the zoo at {checkpoint_root()}"
    problems = zoo_problems()
    if problems:
        raise PublishError(f"{where} has {len(problems)} broken entries ("
                           + "; ".join(f"{arch}/{variant}: {why}" for arch, variant, why in problems[:3]) + ")")
    measured = {(r.model, r.variant) for r in rows if r.accuracy is not None}
    if not measured:
        raise PublishError(f"{where} has no measured model (is SHIFTLAB_CHECKPOINTS right?)")
    missing = sorted(readme_rows(text) - measured)
    if missing:
        raise PublishError(f"{where} lacks {len(missing)} models the README lists ("
                           + ", ".join(f"{m}/{v}" for m, v in missing[:5]) + "); writing would drop their rows")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``shiftlab zoo`` flags to ``parser``."""
    parser.add_argument("--write-readme", action="store_true",
                        help=f"put the tables into {README} (refused from a zoo with broken or missing entries)")


def run(args: argparse.Namespace) -> None:
    """Print the tables, or with ``--write-readme`` put them into README.md (atomically, from a whole zoo only);
    when printing, each zoo entry left out of the tables is named on stderr with its reason."""
    tables = readme_tables()
    if args.write_readme:
        text = README.read_text()
        check_whole_zoo(text, zoo_rows())
        for marker, table in tables.items():
            text = readme_with_table(text, table, marker)
        write_atomically(README, lambda tmp: tmp.write_text(text))
    else:
        for arch, variant, why in zoo_problems():
            print(f"shiftlab zoo: left out {arch}/{variant}: {' '.join(why.splitlines())}", file=sys.stderr)
    print("\n\n".join(tables.values()))
