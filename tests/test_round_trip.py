"""The committed model cards and shipped sweep plans read and write back to the same bytes, so that the typed
forms the code works with never change a file on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shiftlab.models.cards import ModelCard, read_card, write_card
from shiftlab.sweep.plan import MANIFEST, read_plan, write_plan

REPO = Path(__file__).resolve().parents[1]
CARDS = sorted((REPO / "checkpoints").glob("*/*/*.json"))
STORES = sorted(path.parent for path in (REPO / "shiftlab" / "_store").glob(f"*/{MANIFEST}"))


def test_there_are_cards_and_stores_to_check():
    assert len(CARDS) >= 9 and len(STORES) >= 4


@pytest.mark.parametrize("path", CARDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_committed_card_round_trips_to_the_same_bytes(path, tmp_path):
    card = read_card(path)
    write_card(card, tmp_path / path.name)
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()
    assert ModelCard.from_dict(json.loads(path.read_text())).to_dict() == card.to_dict()


@pytest.mark.parametrize("root", STORES, ids=lambda p: p.name)
def test_a_shipped_sweep_plan_round_trips_to_the_same_bytes(root, tmp_path):
    write_plan(tmp_path, read_plan(root))
    assert (tmp_path / MANIFEST).read_bytes() == (root / MANIFEST).read_bytes()
