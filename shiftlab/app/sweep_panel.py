"""Where a page's figures come from (Streamlit): the sidebar choice between computed here and a sweep folder
(Calibration, Cases, Robustness), and the shipped attribution store behind each explained pair (Compare,
Variants, Spectral).

Kept apart from ``shiftlab.app.ui`` so that only the pages that read sweeps pay for importing DuckDB.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from shiftlab.app import text, ui
from shiftlab.app.explain import PairExplanation
from shiftlab.app.gallery import Picture
from shiftlab.app.stored import stored_pair
from shiftlab.app.sweeps import SHIPPED_DATA, covers_curves, open_store, shipped
from shiftlab.app.view import ImageRef, View
from shiftlab.errors import ShiftlabError
from shiftlab.sweep.results import SweepResults
from shiftlab.sweep.ship import shipped_store

LIVE, SWEEP = "computed here", "a sweep folder"
#: session-state key of the stores this session opened (one DuckDB connection per session: they are not shared)
STORES_KEY = "sweep_stores"


def session_store(path: str) -> SweepResults:
    """The sweep at ``path``, opened once per browser session."""
    stores = st.session_state.setdefault(STORES_KEY, {})
    if path not in stores:
        stores[path] = open_store(path) if path != "shipped" else shipped()
    return stores[path]


def pick_results() -> SweepResults | None:
    """Sidebar: figures computed here (None) or read from a sweep folder (the opened store)."""
    source = st.sidebar.radio("Figures from", (LIVE, SWEEP), key="results_from", help=text.SWEEP_HELP)
    if source == LIVE:
        return None
    path = st.sidebar.text_input("Sweep folder", value=str(shipped_store("sample")), key="sweep_path",
                                 help="a folder written by `shiftlab sweep --out FOLDER`")
    try:
        store = session_store(path)
    except ShiftlabError as exc:
        st.error(str(exc))
        st.stop()
    for partition, problem in list(store.problems.items())[:3]:
        st.sidebar.warning(f"{partition.model}/{partition.variant}/{partition.shift}: {problem}")
    return store


def shipped_if_covering(dataset: str, arch: str, variants: list[str], shift: str, seed: int) -> SweepResults | None:
    """The shipped sweep when it holds every variant × severity of this view (the live figures are then read)."""
    if dataset != SHIPPED_DATA:
        return None
    store = session_store("shipped")
    return store if covers_curves(store, dataset, arch, variants, shift, seed) else None


@st.cache_data(show_spinner=False, max_entries=256)
def _stored_pair(arch: str, variant: str, ref: ImageRef | None, pair: np.ndarray, shift: str, severity: int, seed: int,
                 method: str, options: dict) -> PairExplanation | None:
    """``stored_pair`` from the shipped attribution store, looked up once per view (DuckDB queries skipped on reruns)."""
    store = session_store(str(shipped_store("attributions")))
    return stored_pair(store, ui.cached_model(arch, variant), arch, variant, ref, pair, shift, severity, seed, method,
                       options)


def pair_explanation(view: View, variant: str, picture: Picture, pair: np.ndarray, method: str, same_target: bool,
                     options: dict) -> PairExplanation:
    """``method`` on the view's (source, shifted) ``pair``: read from the shipped attribution store when it holds
    it (``shiftlab.app.stored``), computed live otherwise (WCAM with its progress bar)."""
    if same_target:
        stored = _stored_pair(view.arch, variant, picture.ref, pair, view.shift, view.severity, view.seed, method,
                              options)
        if stored is not None:
            return stored
    return ui.cached_explanation(view.arch, variant, pair, method, same_target, options, ui.wcam_run(method))
