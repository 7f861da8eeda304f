"""Writing a sweep folder: each partition appears whole or not at all, so a killed sweep resumes where it stopped.

A partition's files are written into a hidden staging folder beside the
store and moved into place with one ``rename`` (atomic on a POSIX file
system). A partition folder that exists is therefore finished; resuming
skips it, and a kill loses at most the partitions being written.
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
#: zstd keeps the shipped store small and reads fast; row groups of this many rows let DuckDB skip what a query filters out
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


def is_done(root: Path, partition: Partition) -> bool:
    return partition.path(root).is_dir()


def pending(root: Path, plan: SweepPlan) -> list[Partition]:
    """The plan's partitions that the sweep folder does not hold yet."""
    return [p for p in plan.partitions() if not is_done(root, p)]


def commit(staged: Path, root: Path, partition: Partition) -> None:
    """Move the staged folder of ``partition`` into place in one rename."""
    final = partition.path(root)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, final)


def write_partition(root: Path, partition: Partition, table: pa.Table) -> None:
    """Write ``table`` as ``partition``'s Parquet file, atomically."""
    staged = staging_dir(root)
    pq.write_table(table, staged / FILE_NAME, compression=COMPRESSION, row_group_size=ROW_GROUP)
    commit(staged, root, partition)
