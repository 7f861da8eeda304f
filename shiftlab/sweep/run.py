"""Sweep models × shifts × severities × seeds over a dataset into a Parquet store that resumes where it stopped.

    shiftlab sweep --models 'resnet20/*' 'vit_tiny/baseline' --shifts corruptions edits \\
        --severities 1-5 --data cifar10:test [--limit N] [--attribution gradcam] [--store-maps] \\
        [--products attributions faithfulness] --out runs/NAME

One record per (model, variant, shift, severity, seed, image): label, prediction,
top-1 confidence, true-class probability, correct, and the MSP, max-logit and
energy OOD scores; the clean images are the shift ``source`` at severity 0.
``--attribution METHOD`` adds the drift of the method's map against the clean
image's (top-10 % IoU, Spearman, Pearson, SSIM), ``--store-maps`` the maps
(float16). ``--products`` says what is recorded per method: ``attributions``
(the default) and/or ``faithfulness``, each image's deletion and insertion
areas, their random-order references and ROAD's MoRF and LeRF probabilities
(``shiftlab.metrics.faithfulness`` at its defaults; ``--methods`` is another
name for ``--attribution``). Running the same command again skips the finished partitions;
running it with more models, shifts or another ``--attribution`` into the same
folder adds them (a folder's methods and products join: each method gets each
product). ``shiftlab.sweep.results.open(OUT)`` queries the store.
``--ood-folder NAME`` adds an image folder of the models file (``[datasets.NAME]``)
as an OOD set: the shift ``ood_folder_NAME`` replaces a fraction severity/5 of
the images by the folder's (all of them at severity 5), and the command ends
by printing how well each model's scores tell them from the clean images
(AUROC). ``--engine ray`` runs on Ray Data (``pip install shiftlab[ray]``), on the
cluster at ``--ray-address`` or on a local Ray instance; its workers register
the models file this process uses.

The whole plan is checked before anything is written (``shiftlab.sweep.checks``):
seeds distinct and from 0 to 2**31-1, severities from 1 to 5, attribution
options known, bounded and tried on one image, the output folder new, empty
or a sweep folder and writable. One sweep writes a folder at a time (a lock
file names it, ``shiftlab.sweep.lock``). List flags take words or comma
lists (``--models resnet20/baseline,resnet20/augmix``), as the app's URL.
Ctrl-C stops with one line saying which partitions were kept (``interrupted``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from shiftlab.attribution import attribute, get_method
from shiftlab.device import resolve_device
from shiftlab.errors import (
    AttributionError,
    ParameterError,
    ShiftlabError,
    UnknownOptionError,
    UnsupportedMethodError,
)
from shiftlab.metrics import OOD_SCORES
from shiftlab.models import get_spec, load_model
from shiftlab.shifts.ood import folder_shift_name
from shiftlab.sweep import swept as swept_images
from shiftlab.sweep.checks import (
    MAX_BATCH,
    MAX_IMAGES,
    MAX_OPTION_INT,
    MAX_WORD,
    OPTION_COMMA,
    check_flag,
    check_indices,
    check_method_options,
    check_out,
    count,
    parse_seeds,
    words,
)
from shiftlab.sweep.lock import SweepLock
from shiftlab.sweep.plan import (
    DEFAULT_PRODUCTS,
    PRODUCTS,
    SweepPlan,
    check_seeds,
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


def check_options(methods: Sequence[str], method_options: dict | None) -> dict:
    """The options of each method (``check_method_options``); options of a method the sweep does not run are refused."""
    method_options = {} if method_options is None else method_options
    if not isinstance(method_options, dict):
        raise ParameterError(f"method_options maps methods to their options, got {method_options!r:.100}")
    stray = [m for m in method_options if m not in methods]
    if stray:
        raise ParameterError(f"options given for {stray[0]!r}, which is not among the sweep's methods "
                             f"({', '.join(methods) or 'none'}): add it to --attribution")
    return {m: check_method_options(m, method_options[m]) for m in methods if m in method_options}


def check_products(products: str | Sequence[str] | None, methods: Sequence[str]) -> tuple[str, ...]:
    """What to record per method, in ``PRODUCTS`` order: ``DEFAULT_PRODUCTS`` for None; ``predictions`` may be
    named (it is always recorded). A product unknown, or named without methods to apply it to, or methods given
    with no product to record them, is refused."""
    if products is None:
        return DEFAULT_PRODUCTS
    named = words(products, "products")
    unknown = [p for p in named if p not in ("predictions", *PRODUCTS)]
    if unknown:
        raise UnknownOptionError(f"unknown product {unknown[0]!r}; known: predictions (always recorded), "
                                 f"{', '.join(PRODUCTS)}")
    chosen = tuple(p for p in PRODUCTS if p in named)
    if chosen and not methods:
        raise ParameterError(f"--products {' '.join(chosen)} is recorded per attribution method: add --methods METHOD")
    if methods and not chosen:
        raise ParameterError(f"the methods {', '.join(methods)} are given but no product records them: add "
                             f"--products {' or '.join(PRODUCTS)}")
    return chosen or DEFAULT_PRODUCTS


def try_options(plan: SweepPlan, swept: swept_images.Swept, device: str, methods: Sequence[str]) -> None:
    """Run each of ``methods`` with its options on one image with one model of each architecture, so that a value
    the method refuses (a layer that does not exist, a grid that does not divide the image) stops the sweep before
    anything is written, not midway; any failure is an ``AttributionError`` naming the method and options."""
    for method in methods:
        options = plan.method_options.get(method, {})
        for arch in dict.fromkeys(a for a, _ in plan.models):
            variant = next(v for a, v in plan.models if a == arch)
            try:
                attribute(load_model(arch, variant, device=device), swept.images[:1], method, **options)
            except ShiftlabError:
                raise
            except Exception as exc:  # a method's own code may fail on a value its checks let through
                raise AttributionError(f"{method} with options {options} fails on {arch}: {exc}") from None


def plan_sweep(root: Path, models: str | Sequence[str], shifts: str | Sequence[str],
               severities: str | int | Sequence[int], data: str, limit: int | None, indices: Sequence[int] | None,
               seeds: Sequence[int], methods: str | Sequence[str], method_options: dict | None, store_maps: bool,
               data_root: str | os.PathLike | None, products: str | Sequence[str] | None = None,
               ) -> tuple[SweepPlan, swept_images.Swept, list[str]]:
    """The checked plan (merged with the folder's), the swept images, and the methods whose options are new to
    the folder; every argument is checked before the images are loaded."""
    if not isinstance(data, str) or not 0 < len(data) <= MAX_WORD:
        raise ParameterError(f"data is a dataset name[:split], got {data!r:.100}")
    name, split = parse_data(data)
    methods = words(methods, "methods")
    options, recorded = check_options(methods, method_options), check_products(products, methods)
    patterns, shift_words = words(models, "models"), words(shifts, "shifts")
    if not patterns or not shift_words:
        raise ParameterError(f"a sweep needs at least one model and one shift, got models {models!r:.80} and "
                             f"shifts {shifts!r:.80}")
    plan_models, plan_shifts = expand_models(patterns, model_dataset(name)), expand_shifts(shift_words)
    checked = (parse_severities(severities), check_seeds(seeds))
    check_methods(plan_models, methods)
    limit, indices = count("limit", limit, MAX_IMAGES), check_indices(indices)
    existing = read_plan(root) if root.is_dir() else None
    images, described = swept_images.load(name, split, limit, indices, data_root)
    plan = SweepPlan(plan_models, plan_shifts, *checked, described, tuple(methods), store_maps, options, recorded)
    new = [m for m in options if options[m] and (existing is None or m not in existing.methods)]
    return (existing.merged(plan) if existing else plan), images, new


def sweep(
    out: str | os.PathLike,
    models: str | Sequence[str],
    shifts: str | Sequence[str],
    severities: str | int | Sequence[int] = "1-5",
    data: str = "cifar10:test",
    *,
    limit: int | None = None,
    indices: Sequence[int] | None = None,
    seeds: Sequence[int] = (0,),
    methods: str | Sequence[str] = (),
    method_options: dict | None = None,
    store_maps: bool = False,
    products: str | Sequence[str] | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    data_root: str | os.PathLike | None = None,
    progress: bool = True,
) -> SweepPlan:
    """Run (or resume, or extend) the sweep into folder ``out`` and return its plan as saved in ``out/sweep.json``.

    ``models`` are ``arch/variant`` glob patterns, ``shifts`` shift names or
    the groups ``corruptions`` and ``edits`` (a list, or a comma list), ``data``
    is ``name[:split]``; ``limit`` keeps the first images, ``indices`` picks
    images (positions in the swept set decide the shifts' random draws, as in
    one ``apply`` call). ``method_options`` maps a method to the options
    ``attribute`` gets; ``products`` is what is recorded per method (``PRODUCTS``,
    default ``attributions``). Everything is checked before anything is written; the
    folder is locked while the sweep writes it.
    """
    if engine not in ENGINES:
        raise UnknownOptionError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    root = check_out(out)
    store_maps, progress = check_flag("store_maps", store_maps), check_flag("progress", progress)
    batch_size, resolved = count("batch_size", batch_size, MAX_BATCH), str(resolve_device(device))
    plan, images, new = plan_sweep(root, models, shifts, severities, data, limit, indices, seeds, methods,
                                   method_options, store_maps, data_root, products)
    try_options(plan, images, resolved, new)
    with SweepLock(root):
        existing = read_plan(root)  # as it is now that no one else writes the folder
        plan = existing.merged(plan) if existing else plan
        write_plan(root, plan)
        options = {"address": ray_address} if engine == "ray" else {}
        module = importlib.import_module(f"shiftlab.sweep.engines.{engine}")
        try:
            clear_staging(root)
            module.run(root, plan, images, device=device, batch_size=batch_size, progress=progress, **options)
        finally:  # a partition being written when the sweep stopped (Ctrl-C, an error) is not left half-written
            clear_staging(root)
    return plan


def parse_options(pairs: Sequence[str]) -> dict:
    """``["grid_size=8", "levels=3"]`` or ``["grid_size=8,levels=3"]`` -> ``{"grid_size": 8, "levels": 3}``
    (values read as JSON, else text; a comma starts a new pair only where ``KEY=`` follows it, so ``[1,2]`` stays)."""
    options: dict = {}
    for pair in words(pairs, "attribution options", dedupe=False, comma=OPTION_COMMA):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ParameterError(f"attribution options are KEY=VALUE, got {pair!r}")
        if key in options:
            raise ParameterError(f"attribution option {key} is given twice")
        try:
            options[key] = json.loads(value)
        except ValueError:  # not JSON: the text itself
            options[key] = value
    return options


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``shiftlab sweep`` flags to ``parser``."""
    parser.add_argument("--models", nargs="+", required=True,
                        help="arch/variant glob patterns, e.g. 'resnet20/*' "
                             "(words or a comma list, as every list flag)")
    parser.add_argument("--shifts", nargs="+", default=[], help="shift names, or the groups corruptions and edits")
    parser.add_argument("--ood-folder", nargs="+", default=[], metavar="DATASET",
                        help="image folder(s) of the models file ([datasets.DATASET]) to use as OOD sets: the shift "
                             "ood_folder_DATASET replaces a fraction severity/5 of the images by the folder's "
                             "(--severities 5: all of them); the AUROC of each model's OOD scores is printed")
    parser.add_argument("--severities", default="1-5", help="e.g. 1-5, 3 or 1,3,5, from 1 to 5 (default 1-5)")
    parser.add_argument("--seeds", nargs="+", default=["0"],
                        help="distinct shift seeds from 0 to 2147483647 (default 0, as evaluate)")
    parser.add_argument("--data", default="cifar10:test", help="dataset[:split] (default cifar10:test)")
    parser.add_argument("--data-root", default=None, help="folder with the datasets (default: $SHIFTLAB_DATA)")
    parser.add_argument("--limit", type=int, default=None, help=f"sweep only the first N images (1 to {MAX_IMAGES})")
    parser.add_argument("--attribution", "--methods", nargs="+", default=[], metavar="METHOD",
                        help="attribution method(s) whose drift against the clean image (or faithfulness) to record, "
                             "e.g. gradcam")
    parser.add_argument("--products", nargs="+", default=None, metavar="PRODUCT",
                        help=f"what to record per method: {', '.join(PRODUCTS)} (default attributions; predictions "
                             "are always recorded); faithfulness: deletion/insertion areas, their random-order "
                             "references and ROAD, per image")
    parser.add_argument("--attribution-option", nargs="+", default=[], metavar="KEY=VALUE",
                        help="an option of the attribution method(s), VALUE read as JSON (e.g. grid_size=8): a number "
                             f"within ±{MAX_OPTION_INT} (a seed up to 2147483647), a text, true, false or null; "
                             "tried on one image before the sweep starts")
    parser.add_argument("--store-maps", action="store_true", help="also keep the attribution maps (float16)")
    parser.add_argument("--out", required=True, help="the sweep folder (created, resumed or extended)")
    parser.add_argument("--engine", choices=ENGINES, default="local")
    parser.add_argument("--ray-address", default=None, help="Ray cluster to join (default: start a local one)")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda[:N]")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"inference batch size, 1 to {MAX_BATCH} (default: chosen)")


def run(args: argparse.Namespace) -> None:
    """Run the sweep with the parsed flags and say what the folder holds."""
    methods = words(args.attribution, "--attribution")
    options = parse_options(args.attribution_option)
    if options and not methods:
        raise ParameterError("--attribution-option needs the method(s) it is for: add --attribution METHOD")
    if not args.shifts and not args.ood_folder:
        raise ParameterError("name what to sweep: --shifts (shift names or groups) and/or --ood-folder (image folders)")
    ood_shifts = [folder_shift_name(folder) for folder in words(args.ood_folder, "--ood-folder")]
    shifts = [*words(args.shifts, "--shifts"), *ood_shifts]
    plan = sweep(args.out, args.models, shifts, args.severities, args.data, limit=args.limit,
                 seeds=parse_seeds(args.seeds), methods=methods, method_options={m: options for m in methods},
                 store_maps=args.store_maps, products=args.products, engine=args.engine,
                 ray_address=args.ray_address, device=args.device,
                 batch_size=args.batch_size, data_root=args.data_root)
    print(f"{args.out}: {kept(Path(args.out), plan)}; query it with shiftlab.sweep.results.open({str(args.out)!r})")
    if ood_shifts:
        print(ood_summary(Path(args.out), ood_shifts))


def ood_summary(root: Path, shifts: Sequence[str]) -> str:
    """The AUROC of telling ``shifts``' images from the clean ones by each OOD score, per model, variant, shift and
    severity, as a table (``SweepResults.ood_auroc``)."""
    from shiftlab.sweep import results  # DuckDB: imported only by the sweeps that print OOD figures

    with results.open(root) as opened:
        frames = [opened.ood_auroc(score, shift=list(shifts)).rename(columns={"auroc": f"AUROC {score}"})
                  for score in OOD_SCORES]
    keys = ["model", "variant", "shift", "severity", "n_in", "n_out"]
    table = frames[0]
    for frame in frames[1:]:
        table = table.merge(frame, on=keys)
    return table.to_string(index=False, float_format=lambda value: f"{value:.3f}")


def interrupted(args: argparse.Namespace) -> str:
    """What a sweep stopped by Ctrl-C kept, for ``shiftlab.cli``'s one line: the partitions written whole."""
    return f"{args.out}: {kept(Path(args.out))}, each whole; run the same command to resume"


def kept(root: Path, plan: SweepPlan | None = None) -> str:
    """``N of M partitions done`` in sweep folder ``root`` (whole partitions only), or ``nothing written``."""
    try:
        plan = plan or read_plan(root)
    except ShiftlabError:
        plan = None
    if plan is None:
        return "nothing written"
    return f"{len(plan.partitions()) - len(pending(root, plan))} of {len(plan.partitions())} partitions done"
