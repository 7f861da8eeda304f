"""Benchmark ``shiftlab sweep``: overhead over plain inference, the full corruption sweep, Ray against local.

    SHIFTLAB_DATA=/work/shared/data python -m bench.bench_sweep [--threads 2] [--limit 2000] [--ray] [--device cpu]

1. *Cheap shifts*: images/s of plain batched inference (``predict_logits``
   at the batch size the sweep picks) on ``--limit`` CIFAR-10 test images,
   against a sweep of brightness and contrast at severities 1-5 on them
   (records/s, Parquet writes included). The target is 80 %.
2. *Full corruption sweep*: resnet20/baseline × the 19 corruptions × 5
   severities on the first ``--limit`` images, extrapolated to the 10,000 of
   the test set (``--limit 10000`` measures it all). Target: 30 min on 2 cores.
3. ``--ray``: the sweep of 2. on 3 corruptions, local engine against Ray on a
   local 2-CPU Ray instance (its start-up timed apart). Target: within 1.5×.

Each sweep writes into a fresh temporary folder. Timings on a shared machine
measure the neighbours too: they are pessimistic.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from shiftlab.data import load_dataset
from shiftlab.inference import predict_logits
from shiftlab.models import load_model
from shiftlab.shifts import list_shifts
from shiftlab.sweep.run import sweep
from shiftlab.sweep.worker import auto_batch_size

MODEL = "resnet20/baseline"


def timed_sweep(shifts: list[str], limit: int, device: str, **options) -> tuple[float, int]:
    """(seconds, records) of a fresh sweep of MODEL over ``shifts`` at severities 1-5 on ``limit`` test images."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        sweep(Path(folder) / "run", [MODEL], shifts, "1-5", "cifar10:test", limit=limit, device=device,
              progress=False, **options)
        seconds = time.perf_counter() - start
    return seconds, limit * (1 + 5 * len(shifts))


def cheap_shifts(limit: int, device: str) -> None:
    images = load_dataset("cifar10", limit=limit).images
    loaded = load_model(*MODEL.split("/"), device=device)
    batch = auto_batch_size(loaded)
    predict_logits(loaded.model, images[:batch], batch)
    start = time.perf_counter()
    predict_logits(loaded.model, images, batch)
    plain = limit / (time.perf_counter() - start)
    seconds, records = timed_sweep(["brightness", "contrast"], limit, device)
    print(f"plain inference, batch {batch}: {plain:,.0f} img/s; sweep of brightness + contrast: "
          f"{records / seconds:,.0f} records/s = {records / seconds / plain:.0%} of plain")


def full_sweep(limit: int, device: str) -> None:
    shifts = list_shifts(kind="corruption")
    seconds, records = timed_sweep(shifts, limit, device)
    full = seconds * 10_000 / limit
    print(f"19 corruptions × 5 severities on {limit:,} images: {seconds:,.0f} s ({records / seconds:,.0f} records/s); "
          f"the 10,000 test images: {full / 60:,.1f} min{' (extrapolated)' if limit < 10_000 else ''}")


def ray_against_local(limit: int) -> None:
    import ray

    shifts = ["gaussian_noise", "fog", "contrast"]
    local, _ = timed_sweep(shifts, limit, "cpu")
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             logging_level="ERROR")
    started = time.perf_counter() - start
    try:
        on_ray, _ = timed_sweep(shifts, limit, "cpu", engine="ray")
    finally:
        ray.shutdown()
    print(f"{', '.join(shifts)} × 5 severities on {limit:,} images: local {local:,.1f} s, Ray {on_ray:,.1f} s "
          f"({on_ray / local:.2f}×; Ray's start-up {started:,.1f} s not counted)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--limit", type=int, default=2000, help="test images (10000: all, nothing extrapolated)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--ray", action="store_true", help="also time the Ray engine on a local 2-CPU instance")
    parser.add_argument("--skip-full", action="store_true", help="leave out the full corruption sweep")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{MODEL} on {args.device}, {torch.get_num_threads()} torch threads")
    cheap_shifts(args.limit, args.device)
    if not args.skip_full:
        full_sweep(args.limit, args.device)
    if args.ray:
        ray_against_local(args.limit)


if __name__ == "__main__":
    main()
