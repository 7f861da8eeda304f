"""Sweep models × shifts × severities × seeds over a dataset into a Parquet store that resumes where it stopped.

    shiftlab sweep --models 'resnet20/*' 'vit_tiny/baseline' --shifts corruptions edits \\
        --severities 1-5 --data cifar10:test [--limit N] [--attribution gradcam] [--store-maps] --out runs/NAME

One record per (model, variant, shift, severity, seed, image): label, prediction,
top-1 confidence, true-class probability, correct, and the MSP, max-logit and
energy OOD scores; the clean images are the shift ``source`` at severity 0.
``--attribution METHOD`` adds the drift of the method's map against the clean
image's (top-10 % IoU, Spearman, Pearson, SSIM), ``--store-maps`` the maps
(float16). Running the same command again skips the finished partitions;
running it with more models, shifts or another ``--attribution`` into the same
folder adds them. ``shiftlab.sweep.results.open(OUT)`` queries the store.
``--engine ray`` runs on Ray Data (``pip install shiftlab[ray]``), on the
cluster at ``--ray-address`` or on a local Ray instance.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from shiftlab.attribution import get_method
from shiftlab.errors import ParameterError, UnknownOptionError, UnsupportedMethodError
from shiftlab.models import get_spec
from shiftlab.sweep import swept as swept_images
from shiftlab.sweep.plan import (
    SweepPlan,
    expand_models,
    expand_shifts,
    model_dataset,
    parse_data,
    parse_severities,
    read_plan,
    write_plan,
)
from shiftlab.sweep.store import clear_staging, pending

ENGINES = ("local", "ray")


def check_methods(models: Sequence[tuple[str, str]], methods: Sequence[str]) -> None:
    """Every attribution method exists and applies to every model (refused before any work, not midway)."""
    for method in methods:
        families = get_method(method).families
        for arch, variant in models:
            if get_spec(arch).family not in families:
                raise UnsupportedMethodError(f"{method} does not apply to {arch}/{variant} (a {get_spec(arch).family})")


def sweep(
    out: str | os.PathLike,
    models: Sequence[str],
    shifts: Sequence[str],
    severities: str = "1-5",
    data: str = "cifar10:test",
    *,
    limit: int | None = None,
    indices: Sequence[int] | None = None,
    seeds: Sequence[int] = (0,),
    methods: Sequence[str] = (),
    method_options: dict | None = None,
    store_maps: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    data_root: str | os.PathLike | None = None,
    progress: bool = True,
) -> SweepPlan:
    """Run (or resume, or extend) the sweep into folder ``out`` and return its plan as saved in ``out/sweep.json``.

    ``models`` are ``arch/variant`` glob patterns, ``shifts`` shift names or
    the groups ``corruptions`` and ``edits``, ``data`` is ``name[:split]``;
    ``limit`` keeps the first images, ``indices`` picks images (positions in
    the swept set decide the shifts' random draws, as in one ``apply`` call).
    ``method_options`` maps a method to the options ``attribute`` gets.
    """
    if engine not in ENGINES:
        raise UnknownOptionError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    root = Path(out)
    name, split = parse_data(data)
    images, described = swept_images.load(name, split, limit, None if indices is None else list(indices), data_root)
    plan = SweepPlan(expand_models(list(models), model_dataset(name)), expand_shifts(list(shifts)),
                     parse_severities(severities), tuple(int(s) for s in seeds), described, tuple(methods), store_maps,
                     {m: dict(method_options[m]) for m in methods if m in (method_options or {})})
    check_methods(plan.models, plan.methods)
    existing = read_plan(root)
    plan = existing.merged(plan) if existing else plan
    write_plan(root, plan)
    clear_staging(root)
    options = {"address": ray_address} if engine == "ray" else {}
    module = importlib.import_module(f"shiftlab.sweep.engines.{engine}")
    module.run(root, plan, images, device=device, batch_size=batch_size, progress=progress, **options)
    clear_staging(root)
    return plan


def parse_options(pairs: Sequence[str]) -> dict:
    """``["grid_size=8", "levels=3"]`` -> ``{"grid_size": 8, "levels": 3}`` (values read as JSON, else text)."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ParameterError(f"attribution options are KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``shiftlab sweep`` flags to ``parser``."""
    parser.add_argument("--models", nargs="+", required=True, help="arch/variant glob patterns, e.g. 'resnet20/*'")
    parser.add_argument("--shifts", nargs="+", required=True, help="shift names, or the groups corruptions and edits")
    parser.add_argument("--severities", default="1-5", help="e.g. 1-5, 3 or 1,3,5 (default 1-5)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="shift seeds (default 0, as evaluate)")
    parser.add_argument("--data", default="cifar10:test", help="dataset[:split] (default cifar10:test)")
    parser.add_argument("--data-root", default=None, help="folder with the datasets (default: $SHIFTLAB_DATA)")
    parser.add_argument("--limit", type=int, default=None, help="sweep only the first N images")
    parser.add_argument("--attribution", nargs="+", default=[], metavar="METHOD",
                        help="attribution method(s) whose drift against the clean image to record, e.g. gradcam")
    parser.add_argument("--attribution-option", nargs="+", default=[], metavar="KEY=VALUE",
                        help="an option of the attribution method(s), VALUE read as JSON (e.g. grid_size=8)")
    parser.add_argument("--store-maps", action="store_true", help="also keep the attribution maps (float16)")
    parser.add_argument("--out", required=True, help="the sweep folder (created, resumed or extended)")
    parser.add_argument("--engine", choices=ENGINES, default="local")
    parser.add_argument("--ray-address", default=None, help="Ray cluster to join (default: start a local one)")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda[:N]")
    parser.add_argument("--batch-size", type=int, default=None, help="inference batch size (default: chosen)")


def run(args: argparse.Namespace) -> None:
    """Run the sweep with the parsed flags and say what the folder holds."""
    plan = sweep(args.out, args.models, args.shifts, args.severities, args.data, limit=args.limit, seeds=args.seeds,
                 methods=args.attribution, method_options={m: parse_options(args.attribution_option)
                                                           for m in args.attribution},
                 store_maps=args.store_maps, engine=args.engine,
                 ray_address=args.ray_address, device=args.device, batch_size=args.batch_size,
                 data_root=args.data_root)
    left = pending(Path(args.out), plan)
    print(f"{args.out}: {len(plan.partitions()) - len(left)} of {len(plan.partitions())} partitions done; "
          f"query it with shiftlab.sweep.results.open({str(args.out)!r})")
