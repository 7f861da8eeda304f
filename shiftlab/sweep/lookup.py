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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, TypeVar

import numpy as np
from scipy.special import softmax

from shiftlab.attribution import Attribution, get_method
from shiftlab.checkpoint import file_sha256
from shiftlab.errors import ShiftlabError
from shiftlab.models import get_spec
from shiftlab.models.cards import LEGACY_WEIGHTS_SHA256
from shiftlab.sweep.plan import SOURCE, SweepPlan
from shiftlab.sweep.records import drift_measures
from shiftlab.sweep.results import SweepResults, stack_maps

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
    with ``image``, that image of a chosen set with its maps stored; ``method``
    and ``options``: the attribution it reads (None: predictions only).
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

    @classmethod
    def of(cls, arch: str, variants: list[str] | tuple[str, ...], data: str, seed: int,
           conditions: tuple[tuple[str, int], ...], **images_and_method: Any) -> Request:
        """The request of ``arch``'s ``variants``, each variant's weights digested (``weights_sha256``)."""
        weights = tuple((variant, weights_sha256(arch, variant)) for variant in variants)
        return cls(arch, weights, data, seed, ((SOURCE, 0), *conditions), **images_and_method)


def stored_options(plan: SweepPlan, method: str) -> dict[str, Any]:
    """Every option ``method`` ran with in the sweep of ``plan``: its defaults, then the sweep's own, its run
    controls left out (as ``shiftlab.app.explain.method_options`` lists a page's)."""
    method_class = get_method(method)
    options = {**method_class.defaults(), **plan.method_options.get(method, {})}
    return {k: v for k, v in options.items() if k not in method_class.run_controls}


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
                and all(self.store.covers(request.arch, variant, shift, severity, request.method)
                        for variant, _ in request.weights for shift, severity in request.conditions))

    @staticmethod
    def _same_images(plan: SweepPlan, request: Request) -> bool:
        data = plan.data
        if data.name != request.data:
            return False
        if request.image is not None:
            return (data.indices is not None and request.image in data.indices and request.seed in plan.seeds
                    and plan.store_maps)
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
