"""Updating the shipped zoo (``checkpoints/``): the one explicit act that writes there.

``shiftlab train`` and ``shiftlab evaluate`` write into a run folder; with
``--publish`` they hand their result to this module, which copies it into the
zoo. A card's headline figures are those measured on its reference data (the
whole test set, recognised by its content, see ``shiftlab.models.cards``), so
publishing refuses to replace them with figures measured on another dataset or
on a subset, and refuses outright data named like the test set whose content
is another: such figures stay in the run folder. Publishing weights over
weights the zoo already holds needs ``overwrite``; the replaced weights'
figures that were not measured again then stay in the card, tied to the old
file's SHA-256, so they are never shown as the new weights' figures. The
commands check all this before they train or measure (``check_publishable``),
so a refused publish costs no work. Weights and card are each replaced
atomically (a reader sees the old file or the new one).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from shiftlab.checkpoint import file_sha256, write_atomically
from shiftlab.data import Fingerprint
from shiftlab.errors import PublishError
from shiftlab.models import ModelCard, card_path, get_spec, read_card, resolve_variant, write_card, zoo_card
from shiftlab.models.measurements import SuiteResult, data_key, impostor, is_reference
from shiftlab.models.registry import check_card_names


def zoo_weights(arch: str, variant: str) -> Path:
    """Where the zoo keeps ``arch/variant``'s weights (names checked against the registry before they become a
    path); for a user's model, the file its models file names (its card goes beside it, never into the zoo)."""
    spec = get_spec(arch)
    if spec.external:
        return spec.find_weights(variant)
    return spec.variant_dir() / f"{resolve_variant(variant)}.safetensors"


def check_replaces(current: ModelCard | None, suite: str, data: Fingerprint, where: Path) -> None:
    """Refuse ``suite`` figures measured on ``data`` when ``data`` is named like a reference data set but holds
    other content, or when ``current`` holds that suite on its reference data and ``data`` is not that
    reference data (another dataset, or a subset)."""
    why = impostor(data)
    if why is not None:
        raise PublishError(f"{where} was not changed: {why}. Figures on other data stay in the run folder "
                           "(run without --publish), under their own key")
    if current is None or is_reference(data, suite, current.dataset):
        return
    held = current.reference_key(suite)
    if held is not None:
        raise PublishError(
            f"{where} holds {suite} figures measured on {held}; the new ones were measured on {data_key(data)}, "
            f"so they would replace full-test-set figures with figures on other data. To publish, measure on {held} "
            f"(--data or --eval-data {current.dataset}, no --limit); otherwise keep the result in its run folder."
        )


def _zoo_card(arch: str, variant: str) -> tuple[Path, ModelCard | None]:
    """The path of the zoo card of ``arch/variant`` and the card, None when there is none yet."""
    path = card_path(zoo_weights(arch, variant))
    return path, read_card(path) if path.is_file() else None


def check_publishable(arch: str, variant: str, data: dict[str, Fingerprint], weights: bool = False,
                      overwrite: bool = False) -> None:
    """Refuse, before any work is done, to publish suites measured on ``data`` (suite -> data fingerprint)
    when they may not replace the figures of the zoo card of ``arch/variant`` (see ``check_replaces``), and,
    for new ``weights``, to replace weights the zoo holds unless ``overwrite``."""
    path, current = _zoo_card(arch, variant)
    for suite, fingerprint in data.items():
        check_replaces(current, suite, fingerprint, path)
    if weights:
        check_overwrite(zoo_weights(arch, variant), overwrite)


def check_overwrite(target: Path, overwrite: bool) -> None:
    """Refuse to replace the zoo's weights file ``target`` unless ``overwrite`` says to."""
    if target.exists() and not overwrite:
        raise PublishError(f"{target} already holds weights: publishing would replace them. "
                           "Pass --overwrite to replace them (their figures stay in the card, tied to the old "
                           "weights), or publish under another --run-dir only")


def publish_run(weights: Path, overwrite: bool = False) -> Path:
    """Copy a training run's weights and card into the zoo; returns the zoo's weights path.

    The card must name a registered arch and the variant its file is named
    after; when the zoo already holds figures on the reference data, the run's
    figures must be measured there too, and weights already there are replaced
    only with ``overwrite``. Figures of the replaced weights that the run did not
    measure again (corruptions, PGD) stay in the card, tied to the old weights'
    SHA-256, so no page shows them as the new weights' figures.
    """
    card = read_card(card_path(weights))
    check_card_names(card, card.arch, Path(weights))
    target = zoo_weights(card.arch, card.variant)
    _, current = _zoo_card(card.arch, card.variant)
    for key, suite in card.measured():
        check_replaces(current, suite, card.data_of(key), card_path(target))
    check_overwrite(target, overwrite)
    if current is not None and target.is_file():
        keep_replaced_figures(card, current, file_sha256(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, lambda tmp: shutil.copyfile(weights, tmp))
    write_card(card, card_path(target))
    return target


def keep_replaced_figures(card: ModelCard, replaced: ModelCard, old_sha256: str) -> None:
    """Copy into ``card`` the suites of the ``replaced`` card it does not measure again, each tied to the weights
    it was measured with (``old_sha256`` where the old card did not record it)."""
    for key, suite in replaced.measured():
        old = replaced.measurements[key]
        figures = old.suite(suite)
        entry = card.measurements.setdefault(key, old.bare())
        if entry.suite(suite) is None and entry.data == old.data:
            entry.put(dataclasses.replace(figures, weights_sha256=replaced.measured_with(figures) or old_sha256))


def publish_results(arch: str, variant: str, results: list[SuiteResult]) -> Path:
    """Record evaluation ``results`` (each suite's figures with the fingerprint of their data) in the zoo card of
    ``arch/variant``; returns the card's path. Refused as a whole if any result may not replace the card's figures."""
    card_file, card = _zoo_card(arch, variant)
    if card is None and get_spec(arch).external:
        card = zoo_card(arch, variant)  # a user's model gets its first card beside its weights
    if card is None:
        raise PublishError(f"{card_file} does not exist: publish the weights first (shiftlab train ... --publish)")
    for result in results:
        check_replaces(card, result.suite, result.data, card_file)
    for result in results:
        card.record(result)
    write_card(card, card_file)
    return card_file
