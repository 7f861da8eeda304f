"""Shared fixtures: where the development datasets are, and small models for fast tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``$SHIFTLAB_DATA`` or the ``shared/data`` folder beside the checkout, if either exists."""
    for candidate in (os.environ.get("SHIFTLAB_DATA"), REPO.parent / "shared" / "data"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The development datasets; tests that need them skip where they are absent (a fresh clone)."""
    root = shared_data_dir()
    if root is None:
        pytest.skip("needs ../shared/data or $SHIFTLAB_DATA (the full datasets), absent here")
    return root
