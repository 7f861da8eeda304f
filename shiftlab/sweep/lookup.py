"""A view's results looked up in a sweep store by content, else computed: one test of what a store holds.

A figure is determined by content: the model's weights (the SHA-256 of the
file ``load_model`` reads, not the model's name: another zoo's
``resnet20/baseline`` is other weights), the images (a dataset's first ``n``,
or one image of a chosen set), the shift's name, severity and seed, and for
an explanation the method and every option it runs with. A ``Request`` says
all that; ``StoredSweep.holds`` is the one test of whether a store has it
(each store declares the weights it was made with: ``SHIPPED_WEIGHTS`` for
the shipped ones), and ``answer`` reads the stored result when it does and
computes it otherwise. The numbers are the same either way (the sweep ran
the same calls on the same pixels; tests/test_stored.py, test_pages.py).

The Trust page reads two stores: the faithfulness records of a set of images
(``stored_faithfulness``, only for the settings the sweep measures with,
``TrustSettings()``), and the randomisation cascades, one safetensors file
per model, variant and method holding the request it answers
(``write_cascade``, ``stored_cascade``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file
from scipy.special import softmax

from shiftlab.attribution import Attribution, get_method
from shiftlab.checkpoint import file_sha256, write_atomically
from shiftlab.errors import ShiftlabError, SweepStoreError
from shiftlab.models import get_spec
from shiftlab.models.cards import LEGACY_WEIGHTS_SHA256
from shiftlab.sweep.plan import SOURCE, SweepPlan
from shiftlab.sweep.records import drift_measures
from shiftlab.sweep.results import SweepResults, stack_maps
from shiftlab.trust import AREAS, Cascade, TrustSettings, road_columns

T = TypeVar("T")

#: the weights the shipped stores were made with: the checkout's zoo, (arch, variant) -> SHA-256 of the file
SHIPPED_WEIGHTS: dict[tuple[str, str], str] = {
    (arch, variant): sha for (arch, variant, _), sha in LEGACY_WEIGHTS_SHA256.items()
}


@lru_cache(maxsize=256)
def _file_digest(path: str, stamp: tuple[int, int, int]) -> str:
    """``file_sha256`` once per file version (inode, size, modification time): pages ask on every rerun."""
    return file_sha256(path)


def weights_sha256(arch: str, variant: str) -> str | None:
    """SHA-256 of the weights file ``load_model(arch, variant)`` reads; None when there is none."""
    try:
        path = get_spec(arch).find_weights(variant)
        info = path.stat()
    except (ShiftlabError, OSError):
        return None
    return _file_digest(str(path), (info.st_ino, info.st_size, info.st_mtime_ns))


@dataclass(frozen=True)
class Request:
    """What a result is of, by content.

    ``weights``: (variant, SHA-256 of its weights) of each variant of ``arch``
    the result reads; ``conditions``: the (shift, severity) pairs it reads,
    the clean images (``source``, 0) included; the images are the first
    ``first`` of ``data`` (None: all of them) swept with ``seed`` alone, or,
    with ``image``, that image of a chosen set with its maps stored, or, with
    ``images``, exactly that chosen set in that order (a method's maps of a set
    are computed in one batch); ``method`` and ``options``: the attribution it
    reads (None: predictions only), and ``product`` what is read of it
    (``attributions`` or ``faithfulness``).
    """

    arch: str
    weights: tuple[tuple[str, str | None], ...]
    data: str
    seed: int
    conditions: tuple[tuple[str, int], ...]
    first: int | None = None
    image: int | None = None
    method: str | None = None
    options: Mapping[str, Any] | None = None
    images: tuple[int, ...] | None = None
    product: str = "attributions"

    @classmethod
    def of(cls, arch: str, variants: list[str] | tuple[str, ...], data: str, seed: int,
           conditions: tuple[tuple[str, int], ...], **images_and_method: Any) -> Request:
        """The request of ``arch``'s ``variants``, each variant's weights digested (``weights_sha256``)."""
        weights = tuple((variant, weights_sha256(arch, variant)) for variant in variants)
        return cls(arch, weights, data, seed, ((SOURCE, 0), *conditions), **images_and_method)


def full_options(method: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Every option ``method`` runs with when given ``options``: its defaults, then ``options``, its run controls
    left out (as ``shiftlab.app.explain.method_options`` lists a page's)."""
    method_class = get_method(method)
    return {k: v for k, v in {**method_class.defaults(), **options}.items() if k not in method_class.run_controls}


def stored_options(plan: SweepPlan, method: str) -> dict[str, Any]:
    """Every option ``method`` ran with in the sweep of ``plan`` (``full_options``)."""
    return full_options(method, plan.method_options.get(method, {}))


class StoredSweep:
    """A sweep store (opened when first needed) and the weights it was made with, (arch, variant) -> SHA-256."""

    def __init__(self, open_store: Callable[[], SweepResults], weights: Mapping[tuple[str, str], str]):
        self._open, self.weights = open_store, weights

    @cached_property
    def store(self) -> SweepResults:
        return self._open()

    def holds(self, request: Request) -> bool:
        """Whether the store has ``request``'s result: made with the same weights, on the same images and seed,
        with the same method and options, and every partition it reads whole."""
        if not all(sha is not None and self.weights.get((request.arch, v)) == sha for v, sha in request.weights):
            return False
        plan = self.store.plan
        return (self._same_images(plan, request) and self._same_method(plan, request)
                and all(self.store.covers(request.arch, variant, shift, severity, request.method, request.product)
                        for variant, _ in request.weights for shift, severity in request.conditions))

    @staticmethod
    def _same_images(plan: SweepPlan, request: Request) -> bool:
        data = plan.data
        if data.name != request.data:
            return False
        if request.image is not None:
            return (data.indices is not None and request.image in data.indices and request.seed in plan.seeds
                    and plan.store_maps)
        if request.images is not None:
            return data.indices == list(request.images) and request.seed in plan.seeds
        return plan.seeds == (request.seed,) and data.limit == request.first and data.indices is None

    @staticmethod
    def _same_method(plan: SweepPlan, request: Request) -> bool:
        method = request.method
        return method is None or (method in plan.methods and stored_options(plan, method) == request.options)


def answer(stored: StoredSweep | None, request: Request, read: Callable[[StoredSweep], T | None],
           compute: Callable[[], T]) -> T:
    """``request``'s result: ``read`` from ``stored`` when it holds it (and ``read`` finds it), else ``compute()``."""
    if stored is not None and stored.holds(request):
        found = read(stored)
        if found is not None:
            return found
    return compute()


def same_predictions(store: SweepResults, request: Request, logits: np.ndarray) -> bool:
    """Whether the sweep's predictions of ``request``'s (source, shifted) pair are ``logits``' (2×K), to float32
    rounding: the pair has the sweep's pixels (not, say, an image edited since)."""
    (variant, _), (shift, severity) = request.weights[0], request.conditions[-1]
    frame = store.sql(f"SELECT shift = '{SOURCE}' AS is_source, prediction, confidence FROM predictions "
                      f"WHERE image = {int(request.image)} AND (shift = '{SOURCE}' OR (severity = {int(severity)} "
                      f"AND seed = {int(request.seed)})) ORDER BY is_source DESC", model=request.arch,
                      variant=variant, shift=shift)
    probabilities = softmax(logits.astype(np.float64), axis=1)
    return (len(frame) == 2 and frame["prediction"].tolist() == probabilities.argmax(1).tolist()
            and np.allclose(frame["confidence"], probabilities.max(1), rtol=0, atol=1e-5))


def stored_pair(stored: StoredSweep, request: Request,
                logits: np.ndarray) -> tuple[Attribution, dict[str, float]] | None:
    """The attribution of ``request``'s (source, shifted) pair, both explained for the source's predicted class,
    and the drift between the two maps, read from a store that holds it (``StoredSweep.holds``); None when the
    store's predictions of the pair are not ``logits``' (2×K)."""
    store, arch, method, image = stored.store, request.arch, request.method, request.image
    (variant, _), (shift, severity) = request.weights[0], request.conditions[-1]
    source = store.maps(arch, variant, SOURCE, 0, method, images=[image])
    shifted = store.maps(arch, variant, shift, severity, method, request.seed, images=[image])
    if len(source) != 1 or len(shifted) != 1 or not same_predictions(store, request, logits):
        return None
    target = int(logits[0].argmax())
    details = [source["details"][0], shifted["details"][0]]
    extras = get_method(method).stored_extras({name: np.stack([d[name] for d in details]) for name in details[0]})
    attribution = Attribution(np.concatenate([stack_maps(source), stack_maps(shifted)]), np.array([target, target]),
                              method, dict(request.options or {}), extras)
    return attribution, {measure.name: float(shifted[measure.column][0]) for measure in drift_measures()}


#: the settings the sweep's faithfulness product measures with (``shiftlab.sweep.worker`` calls the metrics at their
#: defaults, which ``TrustSettings()`` are): a store is read for these settings only
SWEPT_SETTINGS = TrustSettings()


def stored_faithfulness(stored: StoredSweep, requests: Sequence[Request],
                        settings: TrustSettings) -> pd.DataFrame | None:
    """The faithfulness records of ``requests`` (one per method, each of a chosen set of ``images`` and one shifted
    condition) as ``shiftlab.trust.TrustReport.records`` holds them, ``image`` the position in the set; None unless
    ``settings`` are ``SWEPT_SETTINGS`` and ``stored`` holds every request whole."""
    if not requests:
        return None
    first = requests[0]
    (variant, _), (shift, severity) = first.weights[0], first.conditions[-1]
    try:  # a store that does not open or read (deleted, damaged) holds nothing: the page computes
        if settings != SWEPT_SETTINGS or not all(stored.holds(request) for request in requests):
            return None
        frame = stored.store.faithfulness(first.arch, variant, shift, severity, [r.method for r in requests])
    except SweepStoreError:
        return None
    frame = frame[(frame["shift"] == SOURCE) | (frame["seed"] == first.seed)]
    position = {image: i for i, image in enumerate(first.images)}
    records = pd.DataFrame({"image": frame["image"].map(position), "method": frame["method"],
                            "condition": np.where(frame["shift"] == SOURCE, "source", "shifted"),
                            "target": frame["target"].astype(np.int64),
                            **{name: frame[name].astype(np.float64) for name in
                               [*AREAS, *road_columns(settings.road_percentages)]}})
    if len(records) != 2 * len(first.images) * len(requests) or records["image"].isna().any():
        return None
    order = {request.method: i for i, request in enumerate(requests)}
    records = records.assign(m=records["method"].map(order), c=(records["condition"] == "shifted"))
    return records.sort_values(["m", "c", "image"]).drop(columns=["m", "c"]).reset_index(drop=True)


def _cascade_request(request: Request) -> dict[str, Any]:
    """What a stored cascade answers, as its file holds it (JSON's types): model weights (by digest), images, seed,
    method and every option."""
    return json.loads(json.dumps({"arch": request.arch, "weights": request.weights, "data": request.data,
                                  "images": request.images or (), "seed": request.seed, "method": request.method,
                                  "options": dict(request.options or {})}))


class StoredCascades:
    """A folder of randomisation cascades, one safetensors file per model, variant and method (``write``), and the
    weights they were made with, (arch, variant) -> SHA-256: a file is read only for its own request."""

    def __init__(self, folder: str | os.PathLike, weights: Mapping[tuple[str, str], str]):
        self.folder, self.weights = Path(folder), weights

    def path(self, request: Request) -> Path | None:
        """The file of ``request``'s cascade; None when its weights are not the store's (their names are zoo names)."""
        (variant, sha), = request.weights
        if sha is None or self.weights.get((request.arch, variant)) != sha:
            return None
        return self.folder / f"{request.arch}-{variant}-{request.method}.safetensors"

    def write(self, request: Request, cascade: Cascade, target: np.ndarray) -> None:
        """Store ``cascade`` of ``request``'s images explained for ``target`` (maps as float16, as the attribution
        store keeps them), atomically."""
        path = self.path(request)
        if path is None:
            raise SweepStoreError(f"{request.arch}/{request.weights[0][0]}: not the weights this store was made with")
        tensors = {"spearman": np.asarray(cascade.spearman, np.float64), "ssim": np.asarray(cascade.ssim, np.float64),
                   "maps": np.asarray(cascade.maps, np.float16), "target": np.asarray(target, np.int64)}
        # one metadata entry, its keys sorted: safetensors writes several in hash order, which changes run to run
        metadata = {"cascade": json.dumps({"request": _cascade_request(request), "layers": cascade.layers,
                                           "stages": cascade.stages, "threshold": float(cascade.threshold)},
                                          sort_keys=True)}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))

    def read(self, request: Request, target: np.ndarray) -> Cascade | None:
        """``request``'s stored cascade when it was made for the same request and ``target``; else None."""
        path = self.path(request)
        if path is None or not path.is_file():
            return None
        try:
            with safe_open(str(path), "np") as file:
                about = json.loads((file.metadata() or {}).get("cascade", "{}"))
                tensors = {name: file.get_tensor(name) for name in file.keys()}
        except (OSError, SafetensorError, ValueError):
            return None
        if not isinstance(about, dict) or about.get("request") != _cascade_request(request) \
                or not np.array_equal(tensors.get("target"), target):
            return None
        return Cascade(request.method, tuple(about["layers"]), tensors["spearman"], tensors["ssim"],
                       tuple(about["stages"]), tensors["maps"].astype(np.float32), about["threshold"])
