"""The resumable state of a training run: one safetensors file in the run folder, replaced after every epoch.

The file holds the weights, the optimiser's tensors and, in its metadata, the
run's progress (``RunProgress``: recipe, epochs done and their records, time,
commit) as JSON. It is written without pickle and atomically, so a kill leaves
the previous epoch's state or the new one, never a mix, and the tensors and the
epoch count always belong together. ``start_or_resume`` continues from it with
``--resume``, and refuses a resume with nothing to continue or a fresh start over
a run folder that holds a run.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from shiftlab.checkpoint import write_atomically
from shiftlab.errors import ModelCardError, ParameterError, RunStateError
from shiftlab.models.card_record import CardRecord
from shiftlab.models.training_record import EpochRecord, Recipe
from shiftlab.training.config import TrainConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
#: the file of a run folder that holds the resumable state
STATE_FILE = "state.safetensors"


@dataclass(frozen=True)
class RunProgress(CardRecord):
    """Where a run stands: its recipe, the epochs finished with one record each, the training time so far and the
    commit the run started at."""

    recipe: Recipe
    epochs_done: int
    history: list[EpochRecord] = field(default_factory=list)
    train_seconds: float = 0.0
    git_commit: str | None = None

    def after(self, epoch: EpochRecord) -> RunProgress:
        """The progress once ``epoch`` has finished."""
        return dataclasses.replace(self, epochs_done=self.epochs_done + 1, history=[*self.history, epoch],
                                   train_seconds=self.train_seconds + epoch.seconds)


def save_state(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer, progress: RunProgress) -> None:
    """Write the resumable state without pickle as one file, atomically: weights and optimiser tensors, and the
    progress JSON in the file's metadata, so the tensors and the epoch count always belong together."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for idx, slots in optimizer.state_dict()["state"].items():
        tensors.update({f"optim.{idx}.{name}": t.detach().cpu().contiguous() for name, t in slots.items()})
    metadata = {"progress": json.dumps(progress.to_json())}
    write_atomically(run_dir / STATE_FILE, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def read_state(path: Path) -> tuple[RunProgress, dict[str, torch.Tensor]]:
    """(progress, tensors) of a state file; ``RunStateError`` naming the file when it is corrupt or not a state."""
    try:
        with safe_open(str(path), "pt") as state:
            progress = json.loads((state.metadata() or {})["progress"])
            tensors = {key: state.get_tensor(key) for key in state.keys()}
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise RunStateError(f"{path} is not a readable training state ({type(exc).__name__}: {exc}); "
                            "delete the run folder to start over") from exc
    try:
        return RunProgress.from_json(progress, "progress"), tensors
    except ModelCardError as exc:
        raise RunStateError(
            f"{path} holds no valid progress record ({exc}); delete the run folder to start over"
        ) from exc


def load_state(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer, recipe: Recipe) -> RunProgress:
    """Restore a saved state into ``model`` and ``optimizer``; the recipe must be the one saved."""
    path = run_dir / STATE_FILE
    progress, tensors = read_state(path)
    if progress.recipe != recipe:
        raise ParameterError(f"{run_dir} was trained with a different recipe: {progress.recipe.to_json()} "
                             f"(now {recipe.to_json()})")
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


def start_or_resume(config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
                    recipe: Recipe) -> RunProgress:
    """The progress to continue from: a fresh one, or with ``resume`` the saved one (refused when there is none,
    and a fresh start is refused when the run folder already holds a run)."""
    run_dir = config.run_path()
    state = run_dir / STATE_FILE
    if config.resume:
        if not state.is_file():
            raise RunStateError(f"nothing to resume: {state} does not exist. Start the run without --resume "
                                "(or point --run-dir at the folder of the run to continue)")
        progress = load_state(run_dir, model, optimizer, recipe)
        print(f"resuming {config.arch}/{config.variant} from epoch {progress.epochs_done + 1} of "
              f"{recipe.epochs} ({state})", file=sys.stderr)
        return progress
    if state.is_file():
        raise RunStateError(f"{run_dir} already holds a run ({state}): continue it with --resume, "
                            "or choose another --run-dir")
    return RunProgress(recipe, 0, git_commit=git_commit())


def git_commit() -> str:
    """HEAD's hash, with ``+dirty`` when the working tree has changes; ``unknown`` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "shiftlab"], cwd=REPO_ROOT, capture_output=True,
                               text=True)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
