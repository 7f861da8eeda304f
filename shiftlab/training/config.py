"""What a training run depends on: the family's default recipe, the flags that change it, and their ranges.

``TrainConfig`` holds a run's settings; ``TrainConfig.recipe()`` merges its
recipe flags into the model family's default ``Recipe`` (``RECIPES``) and
checks every flag against its range (``RECIPE_BOUNDS``, ``SEED_RANGE``,
``PRECISIONS``) before any data is read. A fine-tuning run's recipe names the
weights it starts from (``start_record``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from shiftlab.checkpoint import file_sha256
from shiftlab.errors import CheckpointError, ParameterError, UnknownOptionError
from shiftlab.models import card_path, get_spec, read_card
from shiftlab.models.training_record import Recipe, TrainingStart
from shiftlab.training.variants import variant_class

#: default recipe per model family, as a card holds it (``null``: no RandAugment, no clipping); flags override
#: single fields
RECIPES: dict[str, Recipe] = {
    "cnn": Recipe.from_json({
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
    }, "RECIPES['cnn']"),
    "vit": Recipe.from_json({
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
    }, "RECIPES['vit']"),
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
    """Refuse a recipe ``value`` outside ``RECIPE_BOUNDS[name]`` (or of the wrong type), naming the flag and the
    range."""
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
    #: recipe fields set by flags, by name (``--lr 0.05`` -> ``{"lr": 0.05}``)
    overrides: dict[str, object] = field(default_factory=dict)
    overwrite: bool = False

    def recipe(self) -> Recipe:
        """The family's recipe with the overrides, every field and flag checked first (see ``check``)."""
        variant = variant_class(self.variant)
        base = dataclasses.replace(RECIPES[get_spec(self.arch).family], variant_params=dict(variant.defaults))
        if not variant.uses_randaugment:
            base = dataclasses.replace(base, randaugment=None)  # the card must not claim an augmentation not applied
        known = base.to_json()
        unknown = set(self.overrides) - set(known)
        if unknown:
            raise UnknownOptionError(f"unknown recipe fields {sorted(unknown)}; known: {sorted(known)}")
        recipe = dataclasses.replace(base, **self.overrides, seed=self.seed)
        self.check(recipe)
        if self.init:
            recipe = dataclasses.replace(recipe, init=start_record(self.init))
        return recipe

    def check(self, recipe: Recipe) -> None:
        """Refuse, before any work, a seed, recipe value, ``stop_after`` or ``init`` file out of its range."""
        spec = get_spec(self.arch)
        if spec.dataset != "cifar10":
            raise ParameterError(f"shiftlab train trains the CIFAR-10 zoo; {spec.arch} is a model of {spec.dataset} "
                                 "(its weights come from elsewhere: see `shiftlab zoo`)")
        if (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                or not SEED_RANGE[0] <= self.seed <= SEED_RANGE[1]):
            raise ParameterError(
                f"--seed must be a whole number from {SEED_RANGE[0]} to {SEED_RANGE[1]}, got {self.seed!r:.40}"
            )
        for name in self.overrides.keys() & RECIPE_BOUNDS.keys():
            check_recipe_value(name, getattr(recipe, name))
        if recipe.precision not in PRECISIONS:
            raise ParameterError(f"precision must be one of {', '.join(PRECISIONS)}, got {recipe.precision!r:.40}")
        if self.stop_after is not None and (isinstance(self.stop_after, bool) or not isinstance(self.stop_after, int)
                                            or self.stop_after < 1):
            raise ParameterError(f"--stop-after must be a whole number of epochs >= 1, got {self.stop_after!r:.40}")
        if self.init is not None and not Path(self.init).is_file():
            raise CheckpointError(f"--init {self.init}: not a file (give the weights file to start from)")

    def run_path(self) -> Path:
        """The run folder: ``--run-dir``, or ``runs/train/<arch>/<variant>`` under the current directory."""
        return Path(self.run_dir) if self.run_dir else Path("runs") / "train" / self.arch / self.variant


def start_record(path: str | Path) -> TrainingStart:
    """What a fine-tuning run started from: the file's name and SHA-256, and, when a model card sits beside
    it, that run's arch, variant, epochs, device, commit and clean accuracy (so the lineage stays readable)."""
    card_file = card_path(Path(path))
    lineage = read_card(card_file).lineage() if card_file.is_file() else None
    return TrainingStart(Path(path).name, file_sha256(path), lineage)
