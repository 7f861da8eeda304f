"""The Ray engine: the same sweep on Ray Data, on a Ray cluster (``--ray-address``) or a local Ray instance.

The pending work units become a Ray dataset; ``map_batches`` runs them on an
actor pool of ``SweepActor`` (a stateful class: each actor loads the images
once and caches its models and clean attributions, as the local engine does),
one GPU per actor where the cluster has GPUs; ``write_parquet`` writes the
records partitioned by model, variant and shift into a staging folder, and
each finished partition is then moved into the sweep folder in one rename, as
the local engine does. Needs Ray (``pip install shiftlab[ray]``); the models'
weights must be where ``shiftlab.models`` finds them on every node. Each actor
registers the models file this process uses (its resolved path, passed to the
actor: a worker's working directory and environment are not this process's, so
``$SHIFTLAB_MODELS`` or ``./shiftlab-models.toml`` alone would not find it), so
that a user's models and image folders (``--ood-folder``) are known there too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from shiftlab.errors import ModelsFileError, ParameterError
from shiftlab.models import forget_models_file, models_file_problem, use_models_file
from shiftlab.models.user import models_file_in_use
from shiftlab.sweep.plan import PRODUCTS, Partition, SweepPlan, Unit
from shiftlab.sweep.store import commit, pending, staging_dir
from shiftlab.sweep.swept import Swept
from shiftlab.sweep.worker import SweepWorker, chunk_size

#: the columns of the work list besides a unit's severity, seed, start and stop
PARTITION_COLUMNS = ("product", "model", "variant", "shift", "method")


def _ray():
    try:
        import ray
    except ImportError:
        raise ParameterError("--engine ray needs Ray: pip install 'shiftlab[ray]'") from None
    return ray


class SweepActor:
    """A Ray actor computing work units: ``__call__`` takes a batch of work-list rows, returns their records."""

    def __init__(self, plan: SweepPlan, swept_ref: list, device: str, batch_size: int | None, threads: int,
                 models_file: str | None):
        torch.set_num_threads(threads)
        _use_models_file(models_file)
        swept = _ray().get(swept_ref[0])
        self.worker = SweepWorker(plan, swept.images, swept.labels, swept.index, device, batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        tables = []
        for i in range(len(batch["severity"])):
            method = batch["method"][i] or None
            partition = Partition(*(str(batch[c][i]) for c in PARTITION_COLUMNS[:4]), method)
            unit = Unit(partition, *(int(batch[c][i]) for c in ("severity", "seed", "start", "stop")))
            table = self.worker.compute(unit)
            names = ("method", "model", "variant", "shift") if method else ("model", "variant", "shift")
            for name in names:
                table = table.append_column(name, pa.array([getattr(partition, name)] * len(table), pa.string()))
            tables.append(table)
        return pa.concat_tables(tables)


def _use_models_file(path: str | None) -> None:
    """Register the driver's models file (``path``; None: none) in this worker, replacing what its import found;
    a file this node cannot read is the driver's error, named (the driver read it)."""
    if path is None:
        forget_models_file()
    elif use_models_file(path) is None:
        raise ModelsFileError(f"a Ray worker cannot use the models file this sweep uses: {models_file_problem()}")


def _work_list(plan: SweepPlan, partitions: list[Partition], n_images: int, chunk: int) -> list[dict]:
    return [{**{c: getattr(u.partition, c) or "" for c in PARTITION_COLUMNS},
             "severity": u.severity, "seed": u.seed, "start": u.start, "stop": u.stop}
            for p in partitions for u in plan.units(p, n_images, chunk)]


def run(root: Path, plan: SweepPlan, swept: Swept, device: str = "auto", batch_size: int | None = None,
        progress: bool = True, address: str | None = None) -> None:
    """Compute the pending partitions of ``plan`` on Ray and move each into ``root`` once written.

    Joins the cluster at ``address``, or starts a local Ray instance (shut down
    afterwards) when Ray is not running yet; a Ray session the caller started
    is used as it is.
    """
    ray = _ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        ray.data.DataContext.get_current().enable_progress_bars = progress
        todo = pending(root, plan)
        swept_ref = [ray.put(swept)]
        for product in ("predictions", *PRODUCTS):
            partitions = [p for p in todo if p.product == product]
            if partitions:
                _run_product(ray, root, plan, swept, swept_ref, partitions, device, batch_size)
    finally:
        if started:
            ray.shutdown()


def _run_product(ray, root: Path, plan: SweepPlan, swept: Swept, swept_ref: list, partitions: list[Partition],
                 device: str, batch_size: int | None) -> None:
    """One Ray Data pipeline for the partitions of one product (predictions, attributions or faithfulness: each has
    its own schema)."""
    gpus = int(ray.cluster_resources().get("GPU", 0)) if device != "cpu" else 0
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    rows = _work_list(plan, partitions, len(swept.index), chunk_size(swept.images))
    # a fixed pool, one actor per CPU (or GPU) from the start: a pool growing from one actor left a core idle
    # while the second loaded its model (1.9x the local engine's time on 2 CPUs)
    pool = ray.data.ActorPoolStrategy(size=gpus or cpus)
    actor = {"num_gpus": 1} if gpus else {"num_cpus": 1}
    records = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        SweepActor, batch_size=1, batch_format="numpy",
        fn_constructor_kwargs={"plan": plan, "swept_ref": swept_ref, "device": "cuda" if gpus else "cpu",
                               "batch_size": batch_size, "threads": 1 if not gpus else os.cpu_count() or 1,
                               "models_file": models_file_in_use()},
        compute=pool, **actor)
    staged = staging_dir(root)
    columns = ["model", "variant", "shift"] if partitions[0].method is None else ["method", "model", "variant", "shift"]
    # the writes take no CPU slot: the actors hold them all, and writing is I/O
    records.write_parquet(str(staged / partitions[0].product), partition_cols=columns, compression="zstd",
                          ray_remote_args={"num_cpus": 0})
    for partition in partitions:
        commit(partition.path(staged), root, partition)
