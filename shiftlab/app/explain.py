"""Explaining one image before and after a shift: attribution maps for both and how far they drifted.

``explain_pair`` runs one attribution method on a (source, shifted) pair in a
single batch and compares the two maps with every drift measure of
``shiftlab.metrics``. By default both maps explain the same class, the one
predicted on the source image, so a difference between them comes from the
shift and not from a change of class.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from shiftlab.app.experiment import LARGE_INPUT_SIDE, model_inputs
from shiftlab.attribution import Attribution, attribute, get_method
from shiftlab.attribution.wcam import MAX_DESIGN
from shiftlab.estimates import QUICK_SECONDS
from shiftlab.inference import predict_logits, top_k
from shiftlab.metrics import drift_report
from shiftlab.models import LoadedModel
from shiftlab.shifts import apply

#: the most designs per image WCAM runs: the Spectral page offers no refinement past it
MAX_WCAM_DESIGN = MAX_DESIGN

#: the top-k % of pixels compared by the IoU drift measure
DRIFT_TOP_K = 10.0


def method_options(method: str, input_size: int = 32, **overrides: Any) -> dict[str, Any]:
    """Every option ``method`` will run with on a model of this input size: its defaults, its
    ``interactive_options``, its ``large_input_options`` above ``LARGE_INPUT_SIDE``, then ``overrides``; its run
    controls (``run_controls``) left out. WCAM keeps its converging defaults at 32 px and gets a coarse grid above."""
    method_class = get_method(method)
    large = method_class.large_input_options if input_size > LARGE_INPUT_SIDE else {}
    options = {**method_class.defaults(), **method_class.interactive_options, **large, **overrides}
    return {k: v for k, v in options.items() if k not in method_class.run_controls}


def refined(options: dict[str, Any], designs_done: int) -> dict[str, Any]:
    """WCAM options for "refine": twice the designs already run, no further adaptive doubling (the page offers it
    below ``MAX_WCAM_DESIGN`` only)."""
    return {**options, "nb_design": 2 * designs_done, "max_design": 2 * designs_done}


def options_text(options: dict[str, Any]) -> str:
    """The options a method runs with, as one line ("Options: n_steps=50, …"; None shows as the method's default)."""
    if not options:
        return "No options."
    return "Options: " + ", ".join(f"{k}={'default' if v is None else v}" for k, v in options.items())


def slow_warning(method: str, seconds: float) -> str | None:
    """What to tell the user before running ``method`` on a pair when its maps will take ``seconds`` here now
    (``shiftlab.estimates``), or None when that is quick (``QUICK_SECONDS``)."""
    if seconds <= QUICK_SECONDS:
        return None
    return (f"{get_method(method).title} runs the model many times per image: about {seconds:.0f} s for this pair "
            "on this server now.")


def prediction_text(logits: np.ndarray, classes: list[str], k: int = 3) -> str:
    """Markdown of the ``k`` most probable classes of one logit vector, the first in bold:
    "**cat** 81% · dog 9% · …"."""
    ranking = top_k(logits, classes, k)
    return " · ".join(f"**{name}** {p:.0%}" if i == 0 else f"{name} {p:.0%}" for i, (name, p) in enumerate(ranking))


def image_pair(image: np.ndarray, shift: str, severity: int, seed: int, size: int, offset: int = 0) -> np.ndarray:
    """uint8 2×size×size×3: the image and its shifted copy, each resized to the model.

    The shift runs at the image's own resolution, as in ``shiftlab.app.experiment``,
    from position ``offset`` of its random stream (``Picture.offset``).
    """
    shifted = apply(shift, image[None], severity, seed, offset=offset)
    return model_inputs(np.stack([image, shifted[0]]), size)


@dataclass(frozen=True)
class PairExplanation:
    """Logits (2×K), attribution (maps 2×H×W, extras batched) and drift of a (source, shifted) pair."""

    logits: np.ndarray
    attribution: Attribution
    drift: dict[str, float]


def explain_pair(
    loaded: LoadedModel, pair: np.ndarray, method: str, same_target: bool = True, **options: Any
) -> PairExplanation:
    """Attribute both images of ``pair`` with ``method`` and measure the drift between the two maps.

    ``same_target`` explains the source image's predicted class in both;
    otherwise each image's own predicted class is explained.
    """
    logits = predict_logits(loaded.model, pair)
    target = int(logits[0].argmax()) if same_target else None
    attribution = attribute(loaded, pair, method, target=target, **options)
    # the run's controls (a progress callback, a resumed result) are not options of the map: the app caches
    # (pickles) the rest
    controls = get_method(method).run_controls
    attribution = replace(attribution, options={k: v for k, v in attribution.options.items() if k not in controls})
    report = drift_report(attribution.maps[:1], attribution.maps[1:], k=DRIFT_TOP_K)
    return PairExplanation(logits, attribution, {name: float(values[0]) for name, values in report.items()})
