"""What each guided-tour step's page shows of the tour's view: the values its sentences name (Streamlit caches).

Every value comes from the calls the page itself makes — the same cached
model, image, search, split and store — and is formatted as the page shows
it, so a tour sentence says what is on the page; tests/test_tour.py opens
each step and compares the two. A value the page does not show for this view
(no label, no kept version, nothing stored) is None, and the sentence naming
it is left out (``pages.TourStop.text``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shiftlab.app import calibration, sweep_panel, text
from shiftlab.app.caches import (
    cached_dataset,
    cached_model,
    cached_triptych,
    dataset_sizes,
    shift_comparison,
    wcam_cost,
)
from shiftlab.app.cases import OUTCOME_COLOURS
from shiftlab.app.compare import PairPrediction
from shiftlab.app.experiment import predict
from shiftlab.app.explain import image_pair, method_options
from shiftlab.app.gallery import Picture, picture
from shiftlab.app.sidebar import variants_of, view_label
from shiftlab.app.triptych import SEEDS
from shiftlab.app.trust import PERTURBATION_METHODS
from shiftlab.app.view import SAMPLE, View
from shiftlab.errors import ShiftlabError
from shiftlab.models import LoadedModel
from shiftlab.shifts import SEVERITIES, get_shift

Facts = dict[str, object]


def _model_and_picture(view: View) -> tuple[LoadedModel, Picture]:
    """The view's model and image, as the page's ``view_model`` and ``view_picture`` load them (no upload)."""
    loaded = cached_model(view.arch, view.variant)
    return loaded, picture(view.image, cached_dataset, loaded.input_size)


def _pair(view: View, loaded: LoadedModel, shown: Picture) -> np.ndarray:
    """The view's (source, shifted) pair at the model's input size, as every pair page makes it."""
    return image_pair(shown.pixels, view.shift, view.severity, view.seed, loaded.input_size, shown.offset)


def _outcome(logits: np.ndarray, classes: list[str], label: int | None) -> str:
    """The outcome key (``cases.outcome``) of a (source, shifted) pair of logits."""
    return PairPrediction(logits, classes).outcome(label)


def compare_facts(view: View) -> Facts:
    """Compare: the image, what the view's model says before and after, its outcome, the method rows."""
    loaded, shown = _model_and_picture(view)
    prediction = PairPrediction(predict(loaded, _pair(view, loaded, shown)), loaded.classes)
    before, after = prediction.predicted
    outcome = prediction.outcome(view_label(shown, loaded))
    return {"image": str(view.image), "shift": view.shift, "severity": view.severity, "model": view.model,
            "before": before, "after": after, "outcome": text.OUTCOME_WORDS[outcome],
            "rows": len(view.methods), "methods": ", ".join(view.methods)}


def variants_facts(view: View) -> Facts:
    """Variants: how many variants, the baseline's outcome, which are right after the shift (or, without a label,
    how many keep their prediction)."""
    loaded, shown = _model_and_picture(view)
    pair, label = _pair(view, loaded, shown), view_label(shown, loaded)
    variants = variants_of(view.arch)
    outcomes = {v: _outcome(predict(cached_model(view.arch, v), pair), loaded.classes, label) for v in variants}
    right = [v for v, key in outcomes.items() if OUTCOME_COLOURS[key] == "green"]
    labelled = label is not None
    return {"n": len(variants), "arch": view.arch, "shift": view.shift,
            "baseline_outcome": text.OUTCOME_WORDS[outcomes["baseline"]] if "baseline" in outcomes else None,
            "right": len(right) if labelled else None,
            "right_names": (", ".join(right) or "none") if labelled else None,
            "kept": None if labelled else sum(key == "kept" for key in outcomes.values())}


def triptych_facts(view: View) -> Facts:
    """Triptych: the versions tried, how many keep the prediction, the severity, seed and outcome of the kept and
    the flipped version shown, and their common severity when only the seed tells them apart."""
    loaded, shown = _model_and_picture(view)
    found = cached_triptych(view.arch, view.variant, shown.pixels, view.shift, shown.offset)
    label = view_label(shown, loaded)
    source_class = int(found.source_logits.argmax())
    random = get_shift(view.shift).random
    facts: Facts = {"tried": len(found.candidates), "shift": view.shift, "model": view.model,
                    "kept": sum(int(c.logits.argmax()) == source_class for c in found.candidates),
                    "grid": f"severities {min(SEVERITIES)}-{max(SEVERITIES)}"
                            + (f", seeds {min(SEEDS)}-{max(SEEDS)}" if random else "")}
    for name, pick in (("kept", found.kept), ("flipped", found.flipped)):
        if pick is not None:
            facts |= {f"{name}_severity": pick.severity, f"{name}_seed": pick.seed,
                      f"{name}_outcome": text.OUTCOME_WORDS[_outcome(np.stack([found.source_logits, pick.logits]),
                                                                     loaded.classes, label)]}
    if found.kept and found.flipped and found.kept.severity == found.flipped.severity and random:
        facts["both_severity"] = found.kept.severity
    return facts


def calibration_facts(view: View) -> Facts:
    """Calibration (figures computed here, on the view's image set): the split, accuracy and ECE source → shifted
    as the page's figures show them (or, without a label, the agreement), and the images of the curves."""
    loaded = cached_model(view.arch, view.variant)
    dataset = view.image.source if view.image.source in dataset_sizes() else SAMPLE  # the page's default set
    comparison = shift_comparison(loaded, dataset, view.shift, view.severity, view.seed)
    parts = calibration.split(len(comparison.source.logits))
    source, shifted = comparison.source.logits[parts.evaluated], comparison.shifted.logits[parts.evaluated]
    facts: Facts = {"evaluated": f"{len(parts.evaluated):,}", "held_out": f"{len(parts.held_out):,}",
                    "model": view.model, "shift": view.shift, "severity": view.severity, "arch": view.arch,
                    "curve_images": f"{len(comparison.source.logits):,}"}
    if not comparison.labelled:
        return facts | {"agreement": f"{float((source.argmax(1) == shifted.argmax(1)).mean()):.1%}"}
    reference = comparison.source.reference[parts.evaluated]
    before, after = calibration.figures(reference, source), calibration.figures(reference, shifted)
    return facts | {"accuracy": f"{before['accuracy']:.3f} → {after['accuracy']:.3f}",
                    "ece": f"{before['ece']:.3f} → {after['ece']:.3f}", "bins": calibration.N_BINS}


def spectral_facts(view: View) -> Facts:
    """Spectral profile: WCAM's levels and, when the shipped store holds the view, the share of importance in the
    coarse approximation and the finest level before and after; else the label of the button that computes it."""
    loaded, shown = _model_and_picture(view)
    options = method_options("wcam", loaded.input_size)
    facts: Facts = {"levels": options["levels"], "model": view.model, "shift": view.shift, "severity": view.severity}
    stored = sweep_panel.stored_explanation(view, view.variant, shown, _pair(view, loaded, shown), "wcam", options)
    if stored is None:
        return facts | {"run_label": text.WCAM_RUN.format(seconds=wcam_cost(view.arch, view.variant, options).seconds)}
    levels = stored.attribution.extras.spectral_levels
    return facts | {"approx_before": f"{levels[0, 0]:.0%}", "finest_before": f"{levels[0, -1]:.0%}",
                    "approx_after": f"{levels[1, 0]:.0%}", "finest_after": f"{levels[1, -1]:.0%}"}


def trust_facts(view: View) -> Facts:
    """Trust: the methods the page measures (the view's, less the perturbation methods) and the shift."""
    methods = [m for m in view.methods if m not in PERTURBATION_METHODS]
    return {"methods": ", ".join(methods) or None, "shift": view.shift, "severity": view.severity}


#: page name -> what its tour sentences name; a stop whose sentences name nothing needs no entry
FACTS: dict[str, Callable[[View], Facts]] = {
    "compare": compare_facts, "variants": variants_facts, "triptych": triptych_facts,
    "calibration": calibration_facts, "spectral": spectral_facts, "trust": trust_facts,
}


def facts(page: str, view: View) -> Facts:
    """What page ``page`` shows of ``view`` for its tour sentences; none (only the sentences that name nothing are
    said) when the view cannot be shown (its page then says why)."""
    try:
        return FACTS[page](view) if page in FACTS else {}
    except ShiftlabError:
        return {}
