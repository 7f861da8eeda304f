"""Train a CIFAR-10 classifier of the zoo and write its checkpoint and model card.

    shiftlab train --model resnet20/baseline --data-root ../shared/data
    shiftlab train --model resnet20/baseline --resume    # after a kill
    shiftlab train --model resnet20/baseline --publish   # and update the shipped zoo

Runs on CUDA when there is one (``--device auto``). Everything a run writes
goes into its run folder (``runs/train/<arch>/<variant>``, or ``--run-dir``):
the state of the last finished epoch, then the weights and model card
(``<variant>.safetensors`` and ``<variant>.json``). The shipped zoo
(``checkpoints/``) changes only with ``--publish``, which is refused when the
run's figures were measured on other data than the full test set of a card
that holds full-test-set figures, and, where the zoo already holds the
variant's weights, unless ``--overwrite`` is given (see ``shiftlab.zoo.publish``).
Every flag is checked against its range before any data is read (see
``shiftlab.training.config``).

The state of the last finished epoch is one file replaced atomically (see
``shiftlab.training.state``). ``--resume`` continues from it and gives the
same weights an uninterrupted run would, because every epoch reseeds torch's
generator from (seed, epoch); it is refused when the run folder holds nothing
to resume, and starting without it is refused when the folder already holds a run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from shiftlab.checkpoint import check_output_folder, load_strict, read_tensors
from shiftlab.cli import model_name
from shiftlab.data import ImageDataset, fingerprint, load_dataset
from shiftlab.device import device_name, resolve_device
from shiftlab.models import ModelCard, build_model, get_spec, save_checkpoint
from shiftlab.models.training_record import EpochRecord, Recipe
from shiftlab.training.config import TrainConfig
from shiftlab.training.optimizer import epoch_seed, learning_rate, make_optimizer
from shiftlab.training.state import STATE_FILE, RunProgress, git_commit, save_state, start_or_resume
from shiftlab.training.variants import TrainingVariant, list_training_variants, make_variant, variant_class
from shiftlab.zoo.evaluate import evaluate_clean
from shiftlab.zoo.publish import check_publishable, publish_run


def _autocast_factory(device: torch.device, precision: str):
    if precision == "bf16-autocast":
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


@dataclass
class TrainingRun:
    """What every epoch of one run works on: the model, its optimiser and variant, the data and the recipe."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    variant: TrainingVariant
    images: torch.Tensor  # uint8 N×3×H×W
    labels: torch.Tensor
    recipe: Recipe
    device: torch.device

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.labels) / self.recipe.batch_size)

    def learning_rate(self, epoch: int, step: int) -> float:
        """The schedule's value at ``step`` of ``epoch`` (warm-up, then cosine over the whole run)."""
        per_epoch = self.steps_per_epoch
        return learning_rate(epoch * per_epoch + step, per_epoch * self.recipe.epochs,
                             per_epoch * self.recipe.warmup_epochs, self.recipe.lr)

    def run_epoch(self, epoch: int, show: bool) -> EpochRecord:
        """One pass over a fresh permutation; returns mean loss, train accuracy, images/s, seconds and the device.

        The device is recorded per epoch because a resumed run may continue on other hardware.
        """
        model, optimizer, variant, batch_size = self.model, self.optimizer, self.variant, self.recipe.batch_size
        model.train()
        order = torch.randperm(len(self.labels))
        total_loss, correct, seen, start = 0.0, 0, 0, time.perf_counter()
        bar = tqdm(range(0, len(order), batch_size), desc=f"epoch {epoch + 1}/{self.recipe.epochs}", disable=not show,
                   mininterval=1.0 if sys.stderr.isatty() else 30.0, leave=False)
        for step, begin in enumerate(bar):
            idx = order[begin : begin + batch_size]
            x = variant.augment(self.images[idx]).to(self.device)
            y = self.labels[idx].to(self.device)
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate(epoch, step)
            out = variant.train_step(model, optimizer, x, y)
            total_loss += out.loss.item() * len(idx)
            correct += int((out.logits.argmax(1) == y).sum())
            seen += len(idx)
            rate = seen / (time.perf_counter() - start)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}", img_s=f"{rate:.0f}",
                            refresh=False)
        seconds = time.perf_counter() - start
        return EpochRecord(round(total_loss / seen, 5), round(correct / seen, 5), optimizer.param_groups[0]["lr"],
                           round(seen / seconds, 1), round(seconds, 1), device_name(self.device))


def train(config: TrainConfig) -> Path:
    """Run (or resume) training, then evaluate and write ``<run folder>/<variant>.safetensors`` and its card;
    with ``publish``, copy them into the zoo too. Returns where the weights went."""
    recipe = config.recipe()
    check_output_folder(config.run_path(), "--run-dir")
    device = resolve_device(config.device)
    train_split = "train" if config.data == "cifar10" else "test"
    train_set = load_dataset(config.data, train_split, config.data_root, config.limit)
    # a missing test set stops the run now, not at the end
    eval_set = load_dataset(config.eval_data, "test", config.data_root)
    if config.publish:
        check_publishable(config.arch, config.variant, {"clean": fingerprint(eval_set)}, weights=True,
                          overwrite=config.overwrite)

    torch.manual_seed(config.seed)
    model = build_model(config.arch)
    if config.init:
        load_strict(model.net, read_tensors(config.init), source=config.init)
    model = model.to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, recipe)
    variant = make_variant(config.variant, recipe, _autocast_factory(device, recipe.precision))
    run = TrainingRun(model, optimizer, variant, torch.from_numpy(train_set.images).permute(0, 3, 1, 2).contiguous(),
                      torch.from_numpy(train_set.labels), recipe, device)

    run_dir = config.run_path()
    progress = start_or_resume(config, model, optimizer, recipe)
    for epoch in range(progress.epochs_done, recipe.epochs):
        if config.stop_after is not None and epoch >= config.stop_after:
            return run_dir
        torch.manual_seed(epoch_seed(config.seed, epoch))
        run.variant.start_epoch()
        stats = run.run_epoch(epoch, config.progress)
        progress = progress.after(stats)
        save_state(run_dir, model, optimizer, progress)
        print(json.dumps({"epoch": epoch + 1, **stats.to_json()}), file=sys.stderr, flush=True)

    weights = _finish(config, model, recipe, progress, train_set, eval_set, device)
    return publish_run(weights, config.overwrite) if config.publish else weights


def _finish(config: TrainConfig, model: nn.Module, recipe: Recipe, progress: RunProgress, train_set: ImageDataset,
            eval_set: ImageDataset, device: torch.device) -> Path:
    """Evaluate on the test set and write the checkpoint with its model card into the run folder."""
    model = model.to(memory_format=torch.contiguous_format).eval()
    spec = get_spec(config.arch)
    card = ModelCard(
        arch=config.arch,
        variant=config.variant,
        dataset="cifar10",
        description=spec.description,
        config=spec.config,
        classes=spec.classes(),
        input_size=spec.input_size,
        normalization={"mean": list(spec.mean), "std": list(spec.std)},
        parameters=sum(p.numel() for p in model.parameters()),
        recipe=dataclasses.replace(recipe, variant=variant_class(config.variant).description,
                                   device=device_name(device), torch_threads=torch.get_num_threads(),
                                   wall_time_s=round(progress.train_seconds, 1), epochs_done=progress.epochs_done),
        data={"train": fingerprint(train_set).to_dict()},
        git_commit=progress.git_commit or git_commit(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        history=progress.history,
    )
    card.record(evaluate_clean(model, eval_set))
    return save_checkpoint(model.net, card, config.run_path() / config.variant)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``shiftlab train`` flags to ``parser``."""
    parser.add_argument("--model", default=("resnet20", "baseline"), type=model_name, metavar="ARCH/VARIANT",
                        help="a CIFAR-10 architecture of the zoo and the training variant to train it with "
                             f"({', '.join(list_training_variants())}); default resnet20/baseline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    parser.add_argument("--data", default="cifar10", help="training set: cifar10 or cifar10-sample (tests)")
    parser.add_argument("--eval-data", default="cifar10", help="test set written into the card")
    parser.add_argument("--data-root", default=None, help="dataset folder (default: $SHIFTLAB_DATA)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--run-dir", default=None,
                        help="state, weights and card of the run; default: runs/train/<arch>/<variant>")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's last epoch")
    parser.add_argument("--publish", action="store_true",
                        help="copy the result into the shipped zoo (refused for figures not on the full test set)")
    parser.add_argument("--overwrite", action="store_true",
                        help="with --publish: replace weights the zoo already holds (their figures stay, tied to them)")
    parser.add_argument("--stop-after", type=int, default=None, help="stop (resumably) after this many epochs (>= 1)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--init", default=None, help="start from these weights (fine-tuning); recorded in the card")
    for name, kind in [("epochs", int), ("batch-size", int), ("lr", float), ("weight-decay", float),
                       ("warmup-epochs", int), ("label-smoothing", float)]:
        parser.add_argument(f"--{name}", type=kind, default=None)


def config_from(args: argparse.Namespace) -> TrainConfig:
    """Parsed flags -> ``TrainConfig``; recipe flags left unset keep the family defaults."""
    recipe_keys = ["epochs", "batch_size", "lr", "weight_decay", "warmup_epochs", "label_smoothing"]
    overrides = {k: getattr(args, k) for k in recipe_keys if getattr(args, k) is not None}
    return TrainConfig(*args.model, args.seed, args.device, args.data, args.eval_data, args.data_root,
                       args.limit, args.run_dir, args.resume, args.publish, args.stop_after, not args.no_progress,
                       args.init, overrides, args.overwrite)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Command-line flags -> ``TrainConfig``."""
    parser = argparse.ArgumentParser(prog="shiftlab train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    return config_from(parser.parse_args(argv))


def run(args: argparse.Namespace) -> None:
    """Train with the parsed flags and say where the weights went."""
    print(f"wrote {train(config_from(args))}")


def interrupted(args: argparse.Namespace) -> str:
    """What an interrupted ``shiftlab train`` leaves: the state of the last finished epoch, or nothing."""
    state = config_from(args).run_path() / STATE_FILE
    if state.is_file():
        return f"kept {state} (the last finished epoch); continue with --resume"
    return "kept nothing: no epoch had finished"


def main(argv: list[str] | None = None) -> None:
    print(f"wrote {train(parse_args(argv))}")


if __name__ == "__main__":
    main()
