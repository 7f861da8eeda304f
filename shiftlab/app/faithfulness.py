"""Does each map on Compare point at what the model uses? Deletion and insertion of the (source, shifted) pair.

Every method's maps of the pair are measured by ``shiftlab.metrics.faithfulness.deletion_insertion`` with the
Trust page's settings (``shiftlab.trust.TrustSettings``: 20 steps, blur baseline, the map's absolute value, three
seeded random orders), for the class each map explains. The random-order reference depends on the pair and the
class, not on the map, so one serves every method of the view.

A view's measure estimated at ``QUICK_SECONDS`` or less here now (the zoo's 32-px networks, a small network of
the user's, on a quiet server) is computed at once and cached: a warm refresh reads it, without estimating again.
A longer one runs in the server's job queue, as every long computation of the app does; above ``ASK_SECONDS`` (a
224-px network: tens of seconds) it first says its cost and waits for the user's click, as the Trust page does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from shiftlab.app import text
from shiftlab.app.caches import as_a_job_runs, cached_model, content_key, is_kept, pace_book, quick_or_queued
from shiftlab.app.charts import deletion_insertion_chart
from shiftlab.app.explain import PairExplanation
from shiftlab.errors import ShiftlabError
from shiftlab.estimates import QUICK_SECONDS, forward_seconds
from shiftlab.jobs import Job, JobCancelled
from shiftlab.metrics.faithfulness import DeletionInsertion, RandomReference, deletion_insertion, random_reference
from shiftlab.models import LoadedModel
from shiftlab.trust import CONDITIONS, TrustSettings

SETTINGS = TrustSettings(road_percentages=None)
#: a measure estimated above this many seconds here now waits for the user's click (the Trust page's bar)
ASK_SECONDS = 5.0
#: session-state key of how each view's measure runs (at once, or in the job queue once asked), with its estimate
PLANS_KEY = "faithfulness_plans"
#: the most views whose plan a session remembers (the oldest forgotten first)
MAX_PLANS = 64


def model_passes(methods: int, settings: TrustSettings = SETTINGS) -> int:
    """Images the model runs to measure ``methods`` maps of a pair: each random order's and each map's deletion
    and insertion curves, ``steps`` + 1 images each, for both images (at most: a curve's ends run once where the
    network allows it)."""
    return len(CONDITIONS) * 2 * (settings.draws + methods) * (settings.steps + 1)


def _reference(loaded: LoadedModel, pair: np.ndarray, target: np.ndarray) -> RandomReference:
    s = SETTINGS
    return random_reference(loaded, pair, target, steps=s.steps, baseline=s.baseline, draws=s.draws, seed=s.seed)


def _curves(loaded: LoadedModel, pair: np.ndarray, maps: np.ndarray, target: np.ndarray,
            reference: RandomReference) -> DeletionInsertion:
    s = SETTINGS
    return deletion_insertion(loaded, pair, maps, target, steps=s.steps, baseline=s.baseline, order=s.order,
                              seed=s.seed, reference=reference)


@st.cache_data(show_spinner=False, max_entries=64)
def pair_reference(arch: str, variant: str, pair: np.ndarray, target: np.ndarray) -> RandomReference:
    """The random-order curves of ``pair`` (uint8 2×S×S×3, the model's size) for ``target`` (one class per image)."""
    return _reference(cached_model(arch, variant), pair, target)


@st.cache_data(show_spinner=False, max_entries=256)
def pair_curves(arch: str, variant: str, pair: np.ndarray, maps: np.ndarray, target: np.ndarray) -> DeletionInsertion:
    """Deletion and insertion of ``maps`` (2×S×S) on ``pair`` for ``target``, with the view's random reference."""
    return _curves(cached_model(arch, variant), pair, maps, target, pair_reference(arch, variant, pair, target))


def _work(loaded: LoadedModel, pair: np.ndarray,
          explained: dict[str, tuple[np.ndarray, np.ndarray]]) -> Callable[[Job], dict[str, DeletionInsertion]]:
    """The measure as a job: each method's curves (the reference of its explained classes computed once),
    reporting each method done."""
    def work(job: Job) -> dict[str, DeletionInsertion]:
        references, measured = {}, {}
        for method, (maps, target) in explained.items():
            job.report(len(measured), len(explained))
            reference = references.setdefault(tuple(target.tolist()), _reference(loaded, pair, target))
            measured[method] = _curves(loaded, pair, maps, target, reference)
        return measured

    return work


def _plan(key: tuple, loaded: LoadedModel, methods: int) -> tuple[bool, float] | None:
    """(whether the measure runs at once, its estimate) for this view, decided once per session: None while a
    long one waits for the user's click (its cost and the button drawn)."""
    plans = st.session_state.setdefault(PLANS_KEY, {})
    if key not in plans:
        seconds = as_a_job_runs(lambda: forward_seconds(pace_book(), loaded, model_passes(methods)))
        asks = seconds > ASK_SECONDS and not is_kept(key)
        if asks:
            st.caption(text.FAITHFULNESS_COST.format(passes=model_passes(methods), seconds=seconds))
            if not st.button(text.FAITHFULNESS_RUN.format(seconds=seconds), key="faithfulness_run"):
                return None
        plans[key] = (seconds <= QUICK_SECONDS, seconds)
        while len(plans) > MAX_PLANS:
            plans.pop(next(iter(plans)))
        if asks:
            st.rerun()  # drawn again without the button, the measure under way
    return plans[key]


def measure(arch: str, variant: str, pair: np.ndarray,
            results: dict[str, PairExplanation]) -> dict[str, DeletionInsertion]:
    """Each method's curves on the pair, for the classes its maps explain, by method: at once when quick, else once
    the user asks, in the job queue; empty while not asked, or with a note when the measure could not run (the
    maps stay on the page). A map with a NaN or an infinite value has no order: it is left out."""
    explained = {method: (result.attribution.maps, result.attribution.target) for method, result in results.items()
                 if np.isfinite(result.attribution.maps).all()}
    if not explained:
        return {}
    key = ("faithfulness", arch, variant, content_key(pair),
           tuple((method, content_key(maps), tuple(target.tolist())) for method, (maps, target) in explained.items()))
    loaded = cached_model(arch, variant)
    if (plan := _plan(key, loaded, len(explained))) is None:
        return {}
    at_once, seconds = plan

    def quick() -> dict[str, DeletionInsertion]:
        return {method: pair_curves(arch, variant, pair, maps, target) for method, (maps, target) in explained.items()}

    try:
        return quick() if at_once else quick_or_queued(key, lambda: seconds, quick, _work(loaded, pair, explained),
                                                       text.FAITHFULNESS_JOB, "methods")
    except (ShiftlabError, JobCancelled) as problem:
        st.warning(text.FAITHFULNESS_FAILED.format(problem=text.plain(str(problem))))
        return {}


def change(values: np.ndarray) -> str:
    """Source → shifted, three decimals, kept on one line (no-break spaces)."""
    return f"{values[0]:.3f}\u00a0→\u00a0{values[1]:.3f}"


def show_figures(curves: DeletionInsertion | None, method: str) -> bool:
    """The row's deletion and insertion areas, source → shifted, each with the random order's under it, and the
    switch for its curves (off by default: nothing is drawn on a refresh with them off), whether on; None (a map
    left out of the measure): the areas are undefined."""
    if curves is None:
        st.markdown("Deletion and insertion: **undefined**", help=text.FAITHFULNESS_UNDEFINED)
        return False
    for name, (areas, random), meaning in (
            ("Deletion area", (curves.deletion_auc, curves.random_deletion_auc), text.DELETION_HELP),
            ("Insertion area", (curves.insertion_auc, curves.random_insertion_auc), text.INSERTION_HELP)):
        st.markdown(f"{name}: **{change(areas)}**  \n:gray[random order: {change(random)}]", help=meaning)
    return st.toggle(text.CURVES_TOGGLE, key=f"curves_{method}", help=text.CURVES_HELP)


def curves_frame(curves: DeletionInsertion) -> pd.DataFrame:
    """One row per curve point: curve (deletion, insertion), condition, order (map, random), share perturbed and
    the probability of the explained class."""
    rows = []
    for curve in ("deletion", "insertion"):
        for order, source in (("map", curves), ("random", curves.reference)):
            for condition, values in zip(CONDITIONS, getattr(source, curve)):
                rows += [{"curve": curve, "condition": condition, "order": order, "fraction": float(f),
                          "probability": float(p)} for f, p in zip(curves.fractions, values)]
    return pd.DataFrame(rows)


def show_curves(curves: DeletionInsertion) -> None:
    """The row's deletion and insertion curves, with how to read them."""
    st.altair_chart(deletion_insertion_chart(curves_frame(curves)), width="content")
    st.caption(text.FAITHFULNESS_READ)
