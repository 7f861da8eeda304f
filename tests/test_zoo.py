"""The README's model table is the one the model cards produce."""

from __future__ import annotations

import pytest

from shiftlab.models import ModelCard
from shiftlab.models.training_record import EpochRecord, Lineage, Recipe, TrainingStart
from shiftlab.zoo.tables import (
    README,
    corruption_frame,
    readme_tables,
    readme_with_table,
    zoo_rows,
    zoo_targets,
)


@pytest.mark.parametrize("marker", ["zoo-table", "targets-table"])
def test_readme_tables_match_the_cards(marker):
    text = README.read_text()
    assert readme_with_table(text, readme_tables()[marker], marker) == text, "run: shiftlab zoo --write-readme"


def test_every_shipped_robust_variant_is_judged_on_measured_figures():
    rows = zoo_targets()
    judged = {(r.model, r.variant) for r in rows}
    assert ("resnet20", "augmix") in judged and ("vit_tiny", "fast_adv") in judged
    assert all(r.measured is not None and r.met in (True, False) for r in rows)


def test_every_shipped_cifar_model_has_a_row_with_figures():
    rows = [r for r in zoo_rows() if r.dataset == "cifar10"]
    assert rows and all(r.accuracy is not None for r in rows)


def test_missing_markers_are_an_error():
    with pytest.raises(ValueError, match="zoo-table"):
        readme_with_table("no table here", "| x |")
    with pytest.raises(ValueError, match="targets-table"):
        readme_with_table("<!-- zoo-table -->\n<!-- /zoo-table -->", "| x |", "targets-table")


def devices(history: list[EpochRecord], recipe: Recipe) -> str | None:
    return ModelCard("resnet20", "x", history=history, recipe=recipe).training_devices()


def start(recipe: Recipe) -> str:
    return ModelCard("resnet20", "x", recipe=recipe).start()


def test_a_run_resumed_on_other_hardware_names_both_devices():
    history = [EpochRecord(device="cpu")] * 2 + [EpochRecord(device="NVIDIA H100")]
    assert devices(history, Recipe(device="NVIDIA H100")) == "cpu (2 ep.) + NVIDIA H100 (1 ep.)"
    assert devices([EpochRecord(device="cpu")], Recipe()) == "cpu"
    assert devices([EpochRecord(loss=1.0)], Recipe(device="cpu")) == "cpu"


def test_shipped_fine_tuned_and_scratch_runs_are_told_apart():
    starts = {r.start for r in zoo_rows() if r.dataset == "cifar10"}
    assert starts and all(s == "scratch" or s.startswith("fine-tuned from ") for s in starts)


def test_corruption_frame_averages_to_the_cards_corruption_accuracy():
    frame = corruption_frame()
    rows = {(r.model, r.variant): r for r in zoo_rows() if r.corruption_accuracy is not None}
    assert rows and set(rows) == set(zip(frame["model"], frame["variant"]))
    for (model, variant), row in rows.items():
        mine = frame[(frame["model"] == model) & (frame["variant"] == variant)]
        assert mine["accuracy"][mine["severity"] > 0].mean() == pytest.approx(row.corruption_accuracy)
        assert (mine["accuracy"][mine["severity"] == 0] == row.accuracy).all()
        assert mine["corruption"].nunique() == 15 and sorted(mine["severity"].unique()) == [0, 1, 2, 3, 4, 5]


def test_origin_is_the_start_in_a_few_words():
    parent = Lineage("resnet20", "baseline", epochs=50, device="cpu")
    assert ModelCard("resnet20", "x").origin() == "scratch"
    assert ModelCard("resnet20", "x", recipe=Recipe(init=TrainingStart("a.safetensors", "0" * 64))).origin() == (
        "fine-tuned from a.safetensors")
    card = ModelCard("resnet20", "x", recipe=Recipe(init=TrainingStart("a.safetensors", "0" * 64, parent)))
    assert card.origin() == "fine-tuned from resnet20/baseline"


def test_start_names_the_weights_a_fine_tuning_began_from():
    assert start(Recipe()) == "scratch"
    assert start(Recipe(init=TrainingStart("a.safetensors", "0" * 64))) == "fine-tuned from a.safetensors"
    parent = Lineage("resnet20", "pgd_adv", epochs=25, device="cpu")
    assert start(Recipe(init=TrainingStart("a.safetensors", "0" * 64, parent))) == (
        "fine-tuned from a.safetensors (resnet20/pgd_adv, 25 epochs on cpu)")
