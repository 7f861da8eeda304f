"""The sweeps shipped with the app, in ``shiftlab/_store/``, and the one command that (re)makes them.

    python -m shiftlab.sweep.ship                  # every store (resumes; --fresh starts over)
    python -m shiftlab.sweep.ship --add-method integrated_gradients --option n_steps=16   # another method

``sample``: the embedded CIFAR-10 sample (500 images) × every CIFAR-10 model
and variant with weights × the 19 corruptions × severities 1-5, seed 0
(predictions and scores). ``attributions``: the ``curated_images`` ×
every ResNet-20 variant × ``ATTRIBUTION_SHIFTS`` at severity 3, with the maps
of ``ATTRIBUTION_METHODS``; ``--add-method`` adds another
method's maps to it (only the new partitions are computed). ``ood`` and
``ood_drift``: what the OOD page shows for the sample — every CIFAR-10 model
on the sample and on each of ``OOD_SETS`` at severity 5 (predictions and
scores of the 500 images), and the drift of ``OOD_METHODS``' maps from each of
the first ``OOD_DRIFT_IMAGES`` images to the OOD image that replaced it (the page's
settings: ``shiftlab.app.ood`` and the options of ``shiftlab.app.explain``;
the page reads a store only when they match). ``faithfulness``: what the
Trust page opens on — the faithfulness records of ``trust_images()`` × every
ResNet-20 variant × ``ATTRIBUTION_SHIFTS`` at severity 3 for ``TRUST_METHODS``,
and in its ``cascades`` folder each method's randomisation cascade on the
first ``SANITY_IMAGES`` of them (the page reads them only for its default
settings). All are made on the CPU, so a test can recompute records on any
machine and find the same bytes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from shiftlab.attribution import get_method
from shiftlab.data import load_dataset
from shiftlab.inference import predict_logits
from shiftlab.metrics.randomisation import randomisation_check
from shiftlab.models import list_variants, load_model
from shiftlab.sweep.lookup import SHIPPED_WEIGHTS, Request, StoredCascades, full_options
from shiftlab.sweep.run import parse_options, sweep
from shiftlab.trust import DEFAULT_COUNT, SANITY_IMAGES, Cascade, trust_indices

STORE = Path(__file__).resolve().parents[1] / "_store"
SAMPLE = "cifar10-sample"
#: the two classes the CIFAR-10 models confuse most: their second image joins the first image of every class
CONFUSED = ("cat", "dog")
#: the guided tour's image (the app computes its preset from the sample store; a test checks they agree)
TOUR_IMAGE = 204
ATTRIBUTION_SHIFTS = ("gaussian_noise", "fog", "contrast", "rotate")
ATTRIBUTION_SEVERITY = "3"
#: the methods whose maps the attribution store holds, each with the options the pages run it with at 32 px, its
#: ``interactive_options`` (``shiftlab.app.explain.method_options``; a page reads the store only when they match):
#: WCAM (390 runs at its converging defaults, 57 minutes on 2 shared CPU cores) and Compare's three defaults
ATTRIBUTION_METHODS = {method: dict(get_method(method).interactive_options)
                       for method in ("gradcam", "wcam", "saliency", "integrated_gradients")}
#: the OOD sets the page offers on every machine (the embedded CIFAR-100 sample and the synthetic sets, the same
#: images everywhere), its severity (every image replaced), the images whose maps it compares, the methods (with the
#: pages' options, as ``ATTRIBUTION_METHODS``). The sets read from $SHIFTLAB_DATA (ood_cifar100, ood_svhn) are left
#: out: a store cannot tell whether a user's file holds the images in the order it was made with (shared/data's
#: CIFAR-100 is a permutation of the canonical order), so the page computes them
OOD_SETS = ("ood_cifar100_sample", "ood_gaussian", "ood_uniform", "ood_blobs")
OOD_SEVERITY = "5"
OOD_DRIFT_IMAGES = 50
OOD_METHODS = {method: ATTRIBUTION_METHODS[method] for method in ("saliency", "gradcam", "integrated_gradients")}
#: the methods the Trust page measures (with the pages' options, as ``ATTRIBUTION_METHODS``), and the folder of the
#: faithfulness store that holds their randomisation cascades
TRUST_METHODS = {method: ATTRIBUTION_METHODS[method] for method in ("saliency", "gradcam", "integrated_gradients")}
CASCADES = "cascades"


def shipped_store(name: str = "sample") -> Path:
    """The folder of a shipped sweep: ``sample`` (predictions) or ``attributions`` (maps)."""
    return STORE / name


def curated_images() -> list[int]:
    """Indices in the CIFAR-10 sample: the first image of each class, the second of each ``CONFUSED`` class and
    the tour's image."""
    sample = load_dataset(SAMPLE)
    first = sample.first_per_class(1).tolist()
    second = [int(np.flatnonzero(sample.labels == sample.classes.index(name))[1]) for name in CONFUSED]
    return first + second + [TOUR_IMAGE]


def make_sample(progress: bool = True) -> None:
    sweep(shipped_store("sample"), ["*/*"], ["corruptions"], "1-5", SAMPLE, device="cpu", progress=progress)


def add_method(method: str, options: dict | None = None, progress: bool = True) -> None:
    """Add ``method``'s maps (run with ``options``) to the attribution store; only its partitions are computed."""
    sweep(shipped_store("attributions"), ["resnet20/*"], list(ATTRIBUTION_SHIFTS), ATTRIBUTION_SEVERITY, SAMPLE,
          indices=curated_images(), methods=[method], method_options={method: options or {}}, store_maps=True,
          device="cpu", progress=progress)


def make_attributions(progress: bool = True) -> None:
    """The attribution store: every method of ``ATTRIBUTION_METHODS`` with its options."""
    for method, options in ATTRIBUTION_METHODS.items():
        add_method(method, options, progress=progress)


def trust_images() -> list[int]:
    """The Trust page's default images: the sample's first ``DEFAULT_COUNT`` round the classes."""
    return trust_indices(load_dataset(SAMPLE).labels, DEFAULT_COUNT).tolist()


def cascade_request(variant: str, method: str, images: list[int]) -> Request:
    """The request of a ResNet-20 variant's randomisation cascade of ``method`` on the sample's ``images``, seed 0,
    with the page's options."""
    return Request.of("resnet20", [variant], SAMPLE, 0, (), images=tuple(images), method=method,
                      options=full_options(method, TRUST_METHODS[method]))


def make_cascades(progress: bool = True) -> None:
    """Each ResNet-20 variant's cascade of each of ``TRUST_METHODS`` on the first ``SANITY_IMAGES`` Trust images,
    for the classes predicted on the set (as the page does); a cascade already stored is kept."""
    store, images = StoredCascades(shipped_store("faithfulness") / CASCADES, SHIPPED_WEIGHTS), trust_images()
    pixels = load_dataset(SAMPLE).images[images]
    for variant in list_variants("resnet20"):
        loaded = load_model("resnet20", variant, device="cpu")
        target = predict_logits(loaded.model, pixels).argmax(1)[:SANITY_IMAGES]
        for method in TRUST_METHODS:
            request = cascade_request(variant, method, images[:SANITY_IMAGES])
            if store.read(request, target) is None:
                check = randomisation_check(loaded, pixels[:SANITY_IMAGES], method, target, **request.options)
                store.write(request, Cascade.of(check), target)
            if progress:
                print(f"cascade resnet20/{variant} {method}: stored", flush=True)


def make_faithfulness(progress: bool = True) -> None:
    """The Trust page's stores: faithfulness records, then the cascades."""
    sweep(shipped_store("faithfulness"), ["resnet20/*"], list(ATTRIBUTION_SHIFTS), ATTRIBUTION_SEVERITY, SAMPLE,
          indices=trust_images(), methods=list(TRUST_METHODS), method_options=TRUST_METHODS,
          products=["faithfulness"], device="cpu", progress=progress)
    make_cascades(progress)


def make_ood(progress: bool = True) -> None:
    sweep(shipped_store("ood"), ["*/*"], list(OOD_SETS), OOD_SEVERITY, SAMPLE, device="cpu", progress=progress)
    sweep(shipped_store("ood_drift"), ["*/*"], list(OOD_SETS), OOD_SEVERITY, SAMPLE, limit=OOD_DRIFT_IMAGES,
          methods=list(OOD_METHODS), method_options=OOD_METHODS, device="cpu", progress=progress)


STORES = {"sample": make_sample, "attributions": make_attributions, "ood": make_ood, "faithfulness": make_faithfulness}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shiftlab.sweep.ship", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=tuple(STORES), default=None, help="make one store only")
    parser.add_argument("--fresh", action="store_true", help="delete the store(s) first instead of resuming")
    parser.add_argument("--add-method", default=None, metavar="METHOD", help="add METHOD's maps to the attributions")
    parser.add_argument("--option", nargs="+", default=[], metavar="KEY=VALUE", help="options of --add-method")
    args = parser.parse_args(argv)
    if args.add_method:
        add_method(args.add_method, parse_options(args.option))
        return
    for name, make in STORES.items():
        if args.only in (None, name):
            if args.fresh:
                shutil.rmtree(shipped_store(name), ignore_errors=True)
                if name == "ood":
                    shutil.rmtree(shipped_store("ood_drift"), ignore_errors=True)
            make()


if __name__ == "__main__":
    main()
