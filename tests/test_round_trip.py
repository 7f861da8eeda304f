"""The committed model cards and shipped sweep plans read and write back to the same bytes, so that the typed
forms the code works with never change a file on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shiftlab.errors import ModelCardError
from shiftlab.models.cards import ModelCard, read_card, write_card
from shiftlab.models.measurements import SUITE_FIGURES, Measurement
from shiftlab.models.training_record import EpochRecord, Lineage, Recipe, TrainingStart
from shiftlab.sweep.plan import MANIFEST, read_plan, write_plan

REPO = Path(__file__).resolve().parents[1]
CARDS = sorted((REPO / "checkpoints").glob("*/*/*.json"))
#: the example models' cards: written by a later version (a fingerprint's keys in another order, digests recorded)
EXAMPLE_CARDS = sorted((REPO / "examples" / "weights").glob("*.json"))
STORES = sorted(path.parent for path in (REPO / "shiftlab" / "_store").glob(f"*/{MANIFEST}"))


def test_there_are_cards_and_stores_to_check():
    assert len(CARDS) >= 9 and len(STORES) >= 4


@pytest.mark.parametrize("path", CARDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_committed_card_round_trips_to_the_same_bytes(path, tmp_path):
    card = read_card(path)
    write_card(card, tmp_path / path.name)
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()
    assert ModelCard.from_dict(json.loads(path.read_text())).to_dict() == card.to_dict()


def ordered(value) -> str:
    """JSON text, key order included (dict equality ignores it; a card's bytes do not)."""
    return json.dumps(value)


@pytest.mark.parametrize("path", CARDS + EXAMPLE_CARDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_cards_typed_parts_are_typed_and_write_back_what_was_read(path, tmp_path):
    data = json.loads(path.read_text())
    card = read_card(path)
    assert isinstance(card.recipe, Recipe) and all(isinstance(epoch, EpochRecord) for epoch in card.history)
    assert ordered(card.recipe.to_json()) == ordered(data.get("recipe", {}))
    assert ordered([epoch.to_json() for epoch in card.history]) == ordered(data.get("history", []))
    for key, entry in data["measurements"].items():
        measurement = card.measurements[key]
        assert isinstance(measurement, Measurement) and measurement.data == card.data_of(key)
        assert ordered(measurement.to_json()) == ordered(entry)
        for suite in measurement.suites():
            assert isinstance(measurement.suite(suite), SUITE_FIGURES[suite])
    write_card(card, tmp_path / path.name)
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_a_fine_tuned_cards_start_and_lineage_are_typed():
    start = read_card(REPO / "checkpoints" / "cifar10" / "resnet20" / "pixmix.json").recipe.init
    assert isinstance(start, TrainingStart) and len(start.sha256) == 64
    assert start.from_card == Lineage("resnet20", "baseline", 50, "cpu", start.from_card.git_commit, 0.9103)


def test_a_record_made_in_code_writes_its_fields_in_declaration_order():
    recipe = Recipe(seed=0, lr=0.1, epochs=3)
    assert list(recipe.to_json()) == ["epochs", "lr", "seed"], "None fields left out, the rest in card order"
    assert Lineage("a", "b").to_json() == {"arch": "a", "variant": "b", "epochs": None, "device": None,
                                           "git_commit": None, "accuracy": None}, "a lineage states what it lacks"
    read = Recipe.from_json({"seed": 1, "randaugment": None}, "recipe")
    assert list(read.to_json()) == ["seed", "randaugment"] and read.to_json()["randaugment"] is None


@pytest.mark.parametrize("recipe, message", [
    ({"lr": "fast"}, r"recipe\.lr must be a number or null, got 'fast'"),
    ({"epochs": 2.5}, r"recipe\.epochs must be a whole number or null"),
    ({"nesterov": 1}, r"recipe\.nesterov must be true or false or null"),
    ({"betas": [0.9, "x"]}, r"recipe\.betas must be a list or null"),
    ({"momentumm": 0.9}, r"recipe has unknown fields \['momentumm'\]"),
    ({"init": {"sha256": "0" * 64}}, r"recipe\.init has no 'checkpoint' field"),
    ({"init": {"checkpoint": "a", "sha256": "0" * 64, "from_card": []}}, r"recipe\.init\.from_card must be an object"),
], ids=["text lr", "fractional epochs", "number as flag", "text in betas", "unknown field", "start without file",
        "lineage a list"])
def test_a_recipe_of_the_wrong_shape_is_refused_by_field(recipe, message):
    with pytest.raises(ModelCardError, match=message):
        ModelCard.from_dict({"arch": "resnet20", "variant": "x", "recipe": recipe}, where="card")


def test_history_and_figures_of_the_wrong_shape_are_refused_by_field():
    with pytest.raises(ModelCardError, match=r"history\[1\]\.loss must be a number or null"):
        ModelCard.from_dict({"arch": "resnet20", "variant": "x", "history": [{"loss": 1}, {"loss": "low"}]})
    data = {"name": "cifar10", "split": "test", "n": 10, "of": 10, "sha256": "0" * 64}
    for figures, message in [({"accuracy": "high"}, r"\.clean\.accuracy must be a number or null"),
                             ({"accuracy": 0.5, "top5": 0.9}, r"\.clean has unknown fields \['top5'\]")]:
        with pytest.raises(ModelCardError, match=message):
            ModelCard.from_dict({"arch": "resnet20", "variant": "x", "measurements": {
                "cifar10/test [content 000000000000]": {"data": data, "clean": figures}}})


@pytest.mark.parametrize("root", STORES, ids=lambda p: p.name)
def test_a_shipped_sweep_plan_round_trips_to_the_same_bytes(root, tmp_path):
    write_plan(tmp_path, read_plan(root))
    assert (tmp_path / MANIFEST).read_bytes() == (root / MANIFEST).read_bytes()
