"""Writing a sweep folder: each partition appears whole or not at all, so a killed sweep resumes where it stopped.

A partition's files are written into a hidden staging folder beside the
store and moved into place with one ``rename`` (atomic on a POSIX file
system). A partition counts as done only when its files read back with the
number of records the plan gives it (``check_partition``): a file deleted,
emptied or truncated since is redone on resume, not trusted.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shiftlab.sweep.plan import Partition, SweepPlan

STAGING = ".staging"
FILE_NAME = "part-0.parquet"
#: zstd keeps the shipped store small and reads fast; row groups of this many rows let DuckDB skip what a query
#: filters out
COMPRESSION = "zstd"
ROW_GROUP = 100_000


def staging_dir(root: Path) -> Path:
    """A fresh staging folder under ``root`` for one writer."""
    path = Path(root) / STAGING / uuid.uuid4().hex
    path.mkdir(parents=True)
    return path


def clear_staging(root: Path) -> None:
    """Remove what killed writers left in the staging area (unfinished partitions, redone on resume)."""
    shutil.rmtree(Path(root) / STAGING, ignore_errors=True)


def expected_rows(plan: SweepPlan, partition: Partition) -> int:
    """The number of records ``partition`` holds when complete."""
    return len(plan.conditions(partition.shift)) * plan.data.n


def check_partition(folder: Path, expected: int) -> tuple[list[str], str | None]:
    """(Parquet files of a partition folder, the problem with it or None): missing, empty, unreadable, or holding
    another number of records than ``expected`` (only the files' footers are read)."""
    if not folder.is_dir():
        return [], f"{folder}: missing (the sweep has not finished it, or it was deleted; rerun the sweep to resume)"
    found = sorted(folder.glob("*.parquet"))
    files = [str(f) for f in found]
    if not files:
        return [], f"{folder}: no Parquet file in the partition folder"
    rows = 0
    for file in found:
        if not file.is_file():  # a FIFO or a folder named like a file would hang or fail the reader
            return files, f"{file}: not a regular file"
        try:
            rows += pq.read_metadata(file).num_rows
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... on a damaged file
            return files, f"{file}: corrupt Parquet file ({exc})"
    if rows != expected:
        return files, (f"{folder}: holds {rows} records, the sweep's plan gives it {expected} (a file was truncated "
                       "or removed; rerun the sweep to redo it)")
    return files, None


def is_done(root: Path, plan: SweepPlan, partition: Partition) -> bool:
    """Whether ``partition`` is in ``root`` whole: its files read back with the records the plan gives it."""
    return check_partition(partition.path(root), expected_rows(plan, partition))[1] is None


def pending(root: Path, plan: SweepPlan) -> list[Partition]:
    """The plan's partitions that the sweep folder does not hold whole yet."""
    return [p for p in plan.partitions() if not is_done(root, plan, p)]


def commit(staged: Path, root: Path, partition: Partition) -> None:
    """Move the staged folder of ``partition`` into place in one rename (a broken folder there is moved aside first)."""
    final = partition.path(root)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() or final.is_symlink():
        aside = Path(root) / STAGING / f"replaced-{uuid.uuid4().hex}"
        os.replace(final, aside)
        shutil.rmtree(aside, ignore_errors=True)
    os.replace(staged, final)


def write_partition(root: Path, partition: Partition, table: pa.Table) -> None:
    """Write ``table`` as ``partition``'s Parquet file, atomically."""
    staged = staging_dir(root)
    pq.write_table(table, staged / FILE_NAME, compression=COMPRESSION, row_group_size=ROW_GROUP)
    commit(staged, root, partition)
