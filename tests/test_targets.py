"""Robustness targets worked by hand on made-up cards."""

from __future__ import annotations

import dataclasses

import pytest

from shiftlab.data import Fingerprint
from shiftlab.models import ModelCard
from shiftlab.models.measurements import REFERENCE_SHA256, CleanFigures, CorruptionFigures, PgdFigures, SuiteResult
from shiftlab.zoo.targets import TARGETS, markdown_targets, target_rows, verdict

# the reference test set's content: headline figures are those measured on it
TEST_SET = Fingerprint("cifar10", "test", 10000, 10000, REFERENCE_SHA256["cifar10/test"])
PGD_SET = dataclasses.replace(TEST_SET, n=1000, sha256=REFERENCE_SHA256["cifar10/test (1000 of 10000)"])


def _card(arch: str, variant: str, accuracy=None, corruption=None, pgd=None) -> ModelCard:
    card = ModelCard(arch, variant, dataset="cifar10")
    for value, figures, data in [(accuracy, CleanFigures, TEST_SET), (corruption, CorruptionFigures, TEST_SET),
                                 (pgd, PgdFigures, PGD_SET)]:
        if value is not None:
            card.record(SuiteResult(data, figures(value)))
    return card


CARDS = [
    _card("net", "baseline", accuracy=0.90, corruption=0.70, pgd=0.0),
    _card("net", "augmix", accuracy=0.885, corruption=0.76),  # +6 corruption points, 1.5 clean points lost
    _card("net", "pixmix", accuracy=0.87, corruption=0.74),  # +4 points, 3 points lost: both missed
    _card("net", "fast_adv", accuracy=0.6973, pgd=0.36),  # PGD met, clean 0.27 points short
    _card("net", "free_adv", accuracy=0.75),  # PGD not measured
]


def _by_key(rows):
    return {(r.variant, r.target): r for r in rows}


def test_augmentation_targets_are_measured_against_the_same_architectures_baseline():
    rows = _by_key(target_rows(CARDS))
    gain, lost = (t.label for t in TARGETS["augmix"])
    assert rows["augmix", gain].measured == pytest.approx(6.0) and rows["augmix", gain].met is True
    assert rows["augmix", lost].measured == pytest.approx(1.5) and rows["augmix", lost].met is True
    assert rows["pixmix", gain].measured == pytest.approx(4.0) and rows["pixmix", gain].met is False
    assert rows["pixmix", lost].measured == pytest.approx(3.0) and rows["pixmix", lost].met is False


def test_adversarial_targets_are_floors():
    rows = _by_key(target_rows(CARDS))
    pgd, clean = (t.label for t in TARGETS["fast_adv"])
    assert rows["fast_adv", pgd].measured == pytest.approx(36.0) and rows["fast_adv", pgd].met is True
    assert rows["fast_adv", clean].measured == pytest.approx(69.73) and rows["fast_adv", clean].met is False
    assert rows["fast_adv", clean].condition == "≥ 70"


def test_unmeasured_figures_are_neither_met_nor_missed():
    rows = _by_key(target_rows(CARDS))
    pgd = TARGETS["free_adv"][0].label
    assert rows["free_adv", pgd].measured is None and rows["free_adv", pgd].met is None
    no_baseline = target_rows([_card("other", "augmix", accuracy=0.9, corruption=0.8)])
    assert all(r.met is None for r in no_baseline)


def test_baselines_and_unknown_variants_have_no_targets():
    rows = target_rows([_card("net", "baseline", 0.9, 0.7), _card("net", "mystery", 0.9, 0.7)])
    assert rows == []


def test_markdown_marks_misses_and_gaps():
    table = markdown_targets(target_rows(CARDS))
    assert "| net | fast_adv | clean accuracy (%) | ≥ 70 | 69.73 | **no** |" in table
    assert "| net | free_adv | PGD-20 accuracy, ε 8/255 (%) | ≥ 35 | not measured | – |" in table
    assert len(table.splitlines()) == 2 + 2 * 4


def test_verdicts_in_words():
    assert [verdict(True), verdict(False), verdict(None)] == ["yes", "no", "not measured"]
