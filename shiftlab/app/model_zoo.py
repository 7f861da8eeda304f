"""The zoo as the pages show it: the measured table, the targets per architecture, the corruption figures.

Every figure comes from the model cards through ``shiftlab.zoo.tables``; this
module only shapes it for the Home and Robustness pages (percentages, the
columns that fit a page, the verdicts in words). A broken zoo entry, or one
whose weights changed since its figures were measured, is left out of the
tables and listed by ``problems`` with its reason, so one bad file never takes
a page down; an empty zoo gives empty tables with the usual columns.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from shiftlab.zoo.tables import ROW_COLUMNS, corruption_frame, zoo_problems, zoo_rows, zoo_targets
from shiftlab.zoo.targets import TARGET_COLUMNS, verdict

#: figures shown in percent on the pages, two decimals like the README
PERCENT_COLUMNS = ("accuracy", "corruption_accuracy", "pgd20_accuracy")


def measured_table() -> pd.DataFrame:
    """One row per measured model: accuracies in percent, calibration figures, epochs and where training started."""
    rows = all_rows()
    measured = rows[rows["accuracy"].notna()].copy()
    for column in PERCENT_COLUMNS:
        measured[column] = measured[column] * 100
    return measured[["model", "variant", *PERCENT_COLUMNS[:1], "macro_f1", "ece", "nll", *PERCENT_COLUMNS[1:],
                     "epochs", "origin"]].reset_index(drop=True)


def unmeasured() -> list[tuple[str, str, str]]:
    """(model, variant, description) of the models available here without test-set figures (ImageNet ones)."""
    rows = all_rows()
    return [(r.model, r.variant, r.description) for r in rows[rows["accuracy"].isna()].itertuples()]


def all_rows() -> pd.DataFrame:
    """Every healthy zoo row, measured or not (for the Robustness scatter plots)."""
    return pd.DataFrame([dataclasses.asdict(row) for row in zoo_rows()], columns=list(ROW_COLUMNS))


def problems() -> list[tuple[str, str, str]]:
    """(model, variant, reason) of each zoo entry whose figures are not shown: broken, or weights changed since
    its figures were measured. The reason holds outside text (file names, card fields): show it escaped."""
    return zoo_problems()


def corruptions() -> pd.DataFrame:
    """Accuracy per (model, variant, corruption, severity) from the cards; severity 0 is clean."""
    return corruption_frame()


def targets_of(model: str) -> pd.DataFrame:
    """The targets of ``model``'s robust variants with the measured figure and the verdict in words."""
    targets = pd.DataFrame([dataclasses.asdict(row) for row in zoo_targets()], columns=list(TARGET_COLUMNS))
    targets = targets[targets["model"] == model].drop(columns="model")
    return targets.assign(met=targets["met"].map(verdict))
