"""Train a CIFAR-10 classifier of the zoo and write its checkpoint and model card.

    shiftlab train --arch resnet20 --variant baseline --data-root ../shared/data
    shiftlab train --arch resnet20 --variant baseline --resume    # after a kill
    shiftlab train --arch resnet20 --variant baseline --publish   # and update the shipped zoo

Runs on CUDA when there is one (``--device auto``). Everything a run writes
goes into its run folder (``runs/train/<arch>/<variant>``, or ``--run-dir``):
the state of the last finished epoch, then the weights and model card
(``<variant>.safetensors`` and ``<variant>.json``). The shipped zoo
(``checkpoints/``) changes only with ``--publish``, which is refused when the
run's figures were measured on other data than the full test set of a card
that holds full-test-set figures, and, where the zoo already holds the
variant's weights, unless ``--overwrite`` is given (see ``shiftlab.zoo.publish``).
Every flag is checked against its range (``RECIPE_BOUNDS``, ``SEED_RANGE``)
before any data is read.

The state is one safetensors file (weights, optimiser tensors and, in its
metadata, the progress JSON) replaced atomically, so a kill leaves the
previous epoch's state or the new one, never a mix. ``--resume`` continues
from it and gives the same weights an uninterrupted run would, because every
epoch reseeds torch's generator from (seed, epoch); it is refused when the run
folder holds nothing to resume, and starting without it is refused when the
folder already holds a run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from shiftlab.checkpoint import check_output_folder, file_sha256, load_strict, read_tensors, write_atomically
from shiftlab.data import fingerprint, load_dataset
from shiftlab.device import device_name, resolve_device
from shiftlab.errors import CheckpointError, ParameterError, RunStateError, UnknownOptionError
from shiftlab.models import ModelCard, build_model, card_path, get_spec, read_card, save_checkpoint
from shiftlab.training.variants import TrainingVariant, list_training_variants, make_variant, variant_class
from shiftlab.zoo.evaluate import evaluate_clean
from shiftlab.zoo.publish import check_publishable, publish_run

REPO_ROOT = Path(__file__).resolve().parents[2]
#: the file of a run folder that holds the resumable state
STATE_FILE = "state.safetensors"

#: default recipe per model family; command-line flags override single fields
RECIPES: dict[str, dict] = {
    "cnn": {
        "epochs": 50,
        "batch_size": 128,
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 5e-4,
        "warmup_epochs": 1,
        "schedule": "linear warmup then cosine to 0, per step",
        "label_smoothing": 0.0,
        "randaugment": None,
        "grad_clip": None,
        "precision": "bf16-autocast",
    },
    "vit": {
        "epochs": 60,
        "batch_size": 128,
        "optimizer": "adamw",
        "lr": 1e-3,
        "betas": [0.9, 0.999],
        "weight_decay": 0.05,
        "warmup_epochs": 5,
        "schedule": "linear warmup then cosine to 0, per step",
        "label_smoothing": 0.1,
        "randaugment": [2, 7],
        "grad_clip": 1.0,
        "precision": "bf16-autocast",
    },
}


#: the range of each recipe field a flag may set: (lowest, highest, which end is excluded: "", "low" or "high")
RECIPE_BOUNDS: dict[str, tuple[float, float, str]] = {
    "epochs": (1, 1000, ""), "batch_size": (1, 4096, ""), "lr": (0.0, 10.0, "low"),
    "weight_decay": (0.0, 1.0, ""), "warmup_epochs": (0, 1000, ""), "label_smoothing": (0.0, 1.0, "high"),
}
#: the precisions a recipe may name: bf16 autocast (the zoo's recipes; emulated, about ten times slower, on CPUs
#: without native bf16) or plain float32
PRECISIONS = ("bf16-autocast", "float32")
#: the seeds a run takes (what torch, numpy and the app's links accept alike)
SEED_RANGE = (0, 2**31 - 1)


def check_recipe_value(name: str, value: object) -> None:
    """Refuse a recipe ``value`` outside ``RECIPE_BOUNDS[name]`` (or of the wrong type), naming the flag and the range."""
    low, high, excluded = RECIPE_BOUNDS[name]
    integer = isinstance(low, int)
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or not low <= value <= high \
            or value == {"low": low, "high": high}.get(excluded):
        bound = {"low": f"above {low}, at most {high}", "high": f"from {low} to below {high}"}.get(
            excluded, f"from {low} to {high}")
        raise ParameterError(f"--{name.replace('_', '-')} must be {'a whole number' if integer else 'a number'} "
                             f"{bound}, got {value!r:.40}")


@dataclass
class TrainConfig:
    """Everything a training run depends on (the recipe fields are merged into the family's defaults)."""

    arch: str = "resnet20"
    variant: str = "baseline"
    seed: int = 0
    device: str = "auto"
    data: str = "cifar10"
    eval_data: str = "cifar10"
    data_root: str | None = None
    limit: int | None = None
    run_dir: str | None = None
    resume: bool = False
    publish: bool = False
    stop_after: int | None = None
    progress: bool = True
    init: str | None = None
    overrides: dict = field(default_factory=dict)
    overwrite: bool = False

    def recipe(self) -> dict:
        """The family's recipe with the overrides, every field and flag checked first (see ``check``)."""
        variant = variant_class(self.variant)
        base = {**RECIPES[get_spec(self.arch).family], "variant_params": dict(variant.defaults)}
        if not variant.uses_randaugment:
            base["randaugment"] = None  # the card must not claim an augmentation the variant does not apply
        unknown = set(self.overrides) - set(base)
        if unknown:
            raise UnknownOptionError(f"unknown recipe fields {sorted(unknown)}; known: {sorted(base)}")
        recipe = {**base, **self.overrides, "seed": self.seed}
        self.check(recipe)
        if self.init:
            recipe["init"] = init_record(self.init)
        return recipe

    def check(self, recipe: dict) -> None:
        """Refuse, before any work, a seed, recipe value, ``stop_after`` or ``init`` file out of its range."""
        spec = get_spec(self.arch)
        if spec.dataset != "cifar10":
            raise ParameterError(f"shiftlab train trains the CIFAR-10 zoo; {spec.arch} is a model of {spec.dataset} "
                                 "(its weights come from elsewhere: see `shiftlab zoo`)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not SEED_RANGE[0] <= self.seed <= SEED_RANGE[1]:
            raise ParameterError(f"--seed must be a whole number from {SEED_RANGE[0]} to {SEED_RANGE[1]}, got {self.seed!r:.40}")
        for name in self.overrides.keys() & RECIPE_BOUNDS.keys():
            check_recipe_value(name, recipe[name])
        if recipe["precision"] not in PRECISIONS:
            raise ParameterError(f"precision must be one of {', '.join(PRECISIONS)}, got {recipe['precision']!r:.40}")
        if self.stop_after is not None and (isinstance(self.stop_after, bool) or not isinstance(self.stop_after, int)
                                            or self.stop_after < 1):
            raise ParameterError(f"--stop-after must be a whole number of epochs >= 1, got {self.stop_after!r:.40}")
        if self.init is not None and not Path(self.init).is_file():
            raise CheckpointError(f"--init {self.init}: not a file (give the weights file to start from)")

    def run_path(self) -> Path:
        """The run folder: ``--run-dir``, or ``runs/train/<arch>/<variant>`` under the current directory."""
        return Path(self.run_dir) if self.run_dir else Path("runs") / "train" / self.arch / self.variant


def init_record(path: str | Path) -> dict:
    """What a fine-tuning run started from: the file's name and SHA-256, and, when a model card sits beside
    it, that run's arch, variant, epochs, device, commit and clean accuracy (so the lineage stays readable)."""
    record = {"checkpoint": Path(path).name, "sha256": file_sha256(path)}
    card_file = card_path(Path(path))
    if card_file.is_file():
        record["from_card"] = read_card(card_file).lineage()
    return record


def make_optimizer(model: nn.Module, recipe: dict) -> torch.optim.Optimizer:
    """SGD or AdamW; weight decay only on weight matrices and kernels, not on biases and norms."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": recipe["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
    if recipe["optimizer"] == "sgd":
        return torch.optim.SGD(groups, lr=recipe["lr"], momentum=recipe["momentum"], nesterov=recipe["nesterov"])
    if recipe["optimizer"] == "adamw":
        return torch.optim.AdamW(groups, lr=recipe["lr"], betas=tuple(recipe["betas"]))
    raise UnknownOptionError(f"unknown optimizer {recipe['optimizer']!r}")


def learning_rate(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    """Linear warm-up from 0 to ``peak``, then cosine decay to 0."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(1.0, progress)))


def epoch_seed(seed: int, epoch: int) -> int:
    """The generator seed of one epoch: resuming at ``epoch`` reproduces the uninterrupted run."""
    return seed * 1_000_003 + epoch


def save_state(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer, progress: dict) -> None:
    """Write the resumable state without pickle as one file, atomically: weights and optimiser tensors, and the
    progress JSON in the file's metadata, so the tensors and the epoch count always belong together."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for idx, slots in optimizer.state_dict()["state"].items():
        tensors.update({f"optim.{idx}.{name}": t.detach().cpu().contiguous() for name, t in slots.items()})
    write_atomically(run_dir / STATE_FILE, lambda tmp: save_file(tensors, str(tmp), metadata={"progress": json.dumps(progress)}))


def read_state(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(progress, tensors) of a state file; ``RunStateError`` naming the file when it is corrupt or not a state."""
    try:
        with safe_open(str(path), "pt") as state:
            progress = json.loads((state.metadata() or {})["progress"])
            tensors = {key: state.get_tensor(key) for key in state.keys()}
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise RunStateError(f"{path} is not a readable training state ({type(exc).__name__}: {exc}); "
                            "delete the run folder to start over") from exc
    if not isinstance(progress, dict) or not isinstance(progress.get("epochs_done"), int) or "recipe" not in progress:
        raise RunStateError(f"{path} holds no valid progress record; delete the run folder to start over")
    return progress, tensors


def load_state(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer, recipe: dict) -> dict:
    """Restore a saved state into ``model`` and ``optimizer``; the recipe must be the one saved."""
    path = run_dir / STATE_FILE
    progress, tensors = read_state(path)
    if progress["recipe"] != recipe:
        raise ParameterError(f"{run_dir} was trained with a different recipe: {progress['recipe']} (now {recipe})")
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
        optim_state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, idx, name = key.split(".", 2)
                optim_state.setdefault(int(idx), {})[name] = value
        optimizer.load_state_dict({"state": optim_state, "param_groups": optimizer.state_dict()["param_groups"]})
    except (RuntimeError, ValueError, KeyError) as exc:
        raise RunStateError(f"{path} does not fit this model and optimiser: {exc}") from exc
    return progress


def start_or_resume(config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer, recipe: dict) -> dict:
    """The progress to continue from: a fresh one, or with ``resume`` the saved one (refused when there is none,
    and a fresh start is refused when the run folder already holds a run)."""
    run_dir = config.run_path()
    state = run_dir / STATE_FILE
    if config.resume:
        if not state.is_file():
            raise RunStateError(f"nothing to resume: {state} does not exist. Start the run without --resume "
                                "(or point --run-dir at the folder of the run to continue)")
        progress = load_state(run_dir, model, optimizer, recipe)
        print(f"resuming {config.arch}/{config.variant} from epoch {progress['epochs_done'] + 1} of "
              f"{recipe['epochs']} ({state})", file=sys.stderr)
        return progress
    if state.is_file():
        raise RunStateError(f"{run_dir} already holds a run ({state}): continue it with --resume, "
                            "or choose another --run-dir")
    return {"recipe": recipe, "epochs_done": 0, "history": [], "train_seconds": 0.0, "git_commit": git_commit()}


def git_commit() -> str:
    """HEAD's hash, with ``+dirty`` when the working tree has changes; ``unknown`` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "shiftlab"], cwd=REPO_ROOT, capture_output=True, text=True)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


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
    recipe: dict
    device: torch.device

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.labels) / self.recipe["batch_size"])

    def learning_rate(self, epoch: int, step: int) -> float:
        """The schedule's value at ``step`` of ``epoch`` (warm-up, then cosine over the whole run)."""
        per_epoch = self.steps_per_epoch
        return learning_rate(epoch * per_epoch + step, per_epoch * self.recipe["epochs"],
                             per_epoch * self.recipe["warmup_epochs"], self.recipe["lr"])

    def run_epoch(self, epoch: int, show: bool) -> dict:
        """One pass over a fresh permutation; returns mean loss, train accuracy, images/s, seconds and the device.

        The device is recorded per epoch because a resumed run may continue on other hardware.
        """
        model, optimizer, variant, batch_size = self.model, self.optimizer, self.variant, self.recipe["batch_size"]
        model.train()
        order = torch.randperm(len(self.labels))
        total_loss, correct, seen, start = 0.0, 0, 0, time.perf_counter()
        bar = tqdm(range(0, len(order), batch_size), desc=f"epoch {epoch + 1}/{self.recipe['epochs']}", disable=not show,
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
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}", img_s=f"{rate:.0f}", refresh=False)
        seconds = time.perf_counter() - start
        return {"loss": round(total_loss / seen, 5), "train_accuracy": round(correct / seen, 5),
                "lr_end": optimizer.param_groups[0]["lr"], "images_per_s": round(seen / seconds, 1),
                "seconds": round(seconds, 1), "device": device_name(self.device)}


def train(config: TrainConfig) -> Path:
    """Run (or resume) training, then evaluate and write ``<run folder>/<variant>.safetensors`` and its card;
    with ``publish``, copy them into the zoo too. Returns where the weights went."""
    recipe = config.recipe()
    check_output_folder(config.run_path(), "--run-dir")
    device = resolve_device(config.device)
    train_set = load_dataset(config.data, "train" if config.data == "cifar10" else "test", config.data_root, config.limit)
    eval_set = load_dataset(config.eval_data, "test", config.data_root)  # a missing test set stops the run now, not at the end
    if config.publish:
        check_publishable(config.arch, config.variant, {"clean": fingerprint(eval_set)}, weights=True,
                          overwrite=config.overwrite)

    torch.manual_seed(config.seed)
    model = build_model(config.arch)
    if config.init:
        load_strict(model.net, read_tensors(config.init), source=config.init)
    model = model.to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, recipe)
    run = TrainingRun(model, optimizer, make_variant(config.variant, recipe, _autocast_factory(device, recipe["precision"])),
                      torch.from_numpy(train_set.images).permute(0, 3, 1, 2).contiguous(),
                      torch.from_numpy(train_set.labels), recipe, device)

    run_dir = config.run_path()
    progress = start_or_resume(config, model, optimizer, recipe)
    for epoch in range(progress["epochs_done"], recipe["epochs"]):
        if config.stop_after is not None and epoch >= config.stop_after:
            return run_dir
        torch.manual_seed(epoch_seed(config.seed, epoch))
        run.variant.start_epoch()
        stats = run.run_epoch(epoch, config.progress)
        progress["history"].append(stats)
        progress["epochs_done"] = epoch + 1
        progress["train_seconds"] += stats["seconds"]
        save_state(run_dir, model, optimizer, progress)
        print(json.dumps({"epoch": epoch + 1, **stats}), file=sys.stderr, flush=True)

    weights = _finish(config, model, recipe, progress, train_set, eval_set, device)
    return publish_run(weights, config.overwrite) if config.publish else weights


def _finish(config: TrainConfig, model: nn.Module, recipe: dict, progress: dict, train_set, eval_set, device) -> Path:
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
        recipe={**recipe, "variant": variant_class(config.variant).description,
                "device": device_name(device),
                "torch_threads": torch.get_num_threads(),
                "wall_time_s": round(progress["train_seconds"], 1), "epochs_done": progress["epochs_done"]},
        data={"train": fingerprint(train_set).to_dict()},
        git_commit=progress.get("git_commit") or git_commit(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        history=progress["history"],
    )
    card.record("clean", evaluate_clean(model, eval_set))
    return save_checkpoint(model.net, card, config.run_path() / config.variant)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``shiftlab train`` flags to ``parser``."""
    parser.add_argument("--arch", default="resnet20")
    parser.add_argument("--variant", default="baseline", choices=list_training_variants())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    parser.add_argument("--data", default="cifar10", help="training set: cifar10 or cifar10-sample (tests)")
    parser.add_argument("--eval-data", default="cifar10", help="test set written into the card")
    parser.add_argument("--data-root", default=None, help="dataset folder (default: $SHIFTLAB_DATA)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--run-dir", default=None, help="state, weights and card of the run; default: runs/train/<arch>/<variant>")
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
    return TrainConfig(args.arch, args.variant, args.seed, args.device, args.data, args.eval_data, args.data_root,
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
