"""The sidebar choice of where a page's figures come from: computed here, or a sweep folder (Streamlit).

Kept apart from ``shiftlab.app.ui`` so that only the pages that read sweeps
(Calibration, Cases, Robustness) pay for importing DuckDB.
"""

from __future__ import annotations

import streamlit as st

from shiftlab.app import text
from shiftlab.app.sweeps import SHIPPED_DATA, covers_curves, open_store, shipped
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
