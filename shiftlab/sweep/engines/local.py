"""The local engine: the plan's pending partitions one after the other in this process, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from shiftlab.sweep.plan import SweepPlan
from shiftlab.sweep.store import pending, write_partition
from shiftlab.sweep.swept import Swept
from shiftlab.sweep.worker import SweepWorker, chunk_size


def run(root: Path, plan: SweepPlan, swept: Swept, device: str = "auto", batch_size: int | None = None,
        progress: bool = True) -> None:
    """Compute and write every partition of ``plan`` that ``root`` does not hold yet.

    The bar counts images (one per record) and shows images/s and the time left.
    """
    worker = SweepWorker(plan, swept.images, swept.labels, swept.index, device, batch_size)
    chunk = chunk_size(swept.images)
    todo = pending(root, plan)
    total = sum(len(plan.conditions(p.shift)) for p in todo) * len(swept.index)
    with tqdm(total=total, unit="img", desc="sweep", disable=not progress, smoothing=0.05) as bar:
        for partition in todo:
            bar.set_postfix_str(f"{partition.product} {partition.model}/{partition.variant} {partition.shift}")
            tables = []
            for unit in plan.units(partition, len(swept.index), chunk):
                tables.append(worker.compute(unit))
                bar.update(unit.size)
            write_partition(root, partition, pa.concat_tables(tables))
