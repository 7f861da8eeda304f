"""Attribution maps read from a sweep store (the shipped ``attributions`` store by default) as the pages' results.

A page explaining a (source, shifted) pair asks ``stored_pair`` first: when the
store holds both images' maps for this model, image, shift, severity, seed,
method and exactly these options, the result comes from there (WCAM in
milliseconds instead of seconds); otherwise the page computes it live. Either
way it is the same ``PairExplanation``: the sweep ran the same ``attribute``
call on the same pixels (the image shifted from its index in the dataset), so
the drift, the spectral profile and the convergence figure are the live run's
numbers, and the maps are equal up to their float16 storage. What a stored
result lacks is WCAM's raw design outputs: "refine" then starts a new run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import softmax

from shiftlab.app.explain import PairExplanation
from shiftlab.app.sweeps import stored_options
from shiftlab.app.view import ImageRef
from shiftlab.attribution import Attribution, get_method
from shiftlab.inference import predict_logits
from shiftlab.models import LoadedModel
from shiftlab.sweep.plan import SOURCE
from shiftlab.sweep.records import DRIFT_COLUMNS
from shiftlab.sweep.results import SweepResults, stack_maps


def holds(store: SweepResults, arch: str, variant: str, ref: ImageRef | None, shift: str, severity: int, seed: int,
          method: str, options: dict[str, Any]) -> bool:
    """Whether the store has both maps of this pair, computed with ``options``."""
    data = store.plan.data
    return (
        ref is not None and ref.source == data.name and data.indices is not None
        and ref.index in data.indices and seed in store.plan.seeds and store.plan.store_maps
        and method in store.plan.methods and stored_options(store, method) == options
        and store.covers(arch, variant, SOURCE, 0, method) and store.covers(arch, variant, shift, severity, method)
    )


def same_predictions(store: SweepResults, arch: str, variant: str, image: int, shift: str, severity: int, seed: int,
                     logits: np.ndarray) -> bool:
    """Whether the sweep's predictions of this (source, shifted) pair are ``logits``' (2×K), to float32 rounding:
    the model has the sweep's weights and the pair the sweep's pixels (not, say, a retrained checkpoint)."""
    frame = store.sql(f"SELECT shift = '{SOURCE}' AS is_source, prediction, confidence FROM predictions "
                      f"WHERE image = {int(image)} AND (shift = '{SOURCE}' OR (severity = {int(severity)} "
                      f"AND seed = {int(seed)})) ORDER BY is_source DESC", model=arch, variant=variant, shift=shift)
    probabilities = softmax(logits.astype(np.float64), axis=1)
    return (len(frame) == 2 and frame["prediction"].tolist() == probabilities.argmax(1).tolist()
            and np.allclose(frame["confidence"], probabilities.max(1), rtol=0, atol=1e-5))


def stored_pair(store: SweepResults, loaded: LoadedModel, arch: str, variant: str, ref: ImageRef | None,
                pair: np.ndarray, shift: str, severity: int, seed: int, method: str,
                options: dict[str, Any]) -> PairExplanation | None:
    """The ``explain_pair`` result of ``pair`` (source, shifted; both explained for the source's class) read
    from ``store``, or None when the store does not hold it."""
    if not holds(store, arch, variant, ref, shift, severity, seed, method, options):
        return None
    source = store.maps(arch, variant, SOURCE, 0, method, images=[ref.index])
    shifted = store.maps(arch, variant, shift, severity, method, seed, images=[ref.index])
    logits = predict_logits(loaded.model, pair)
    if len(source) != 1 or len(shifted) != 1 or not same_predictions(store, arch, variant, ref.index, shift,
                                                                     severity, seed, logits):
        return None
    target = int(logits[0].argmax())
    details = [source["details"][0], shifted["details"][0]]
    extras = get_method(method).stored_extras({name: np.stack([d[name] for d in details]) for name in details[0]})
    attribution = Attribution(np.concatenate([stack_maps(source), stack_maps(shifted)]),
                              np.array([target, target]), method, options, extras)
    drift = {measure: float(shifted[column][0]) for column, measure in DRIFT_COLUMNS.items()}
    return PairExplanation(logits, attribution, drift)
