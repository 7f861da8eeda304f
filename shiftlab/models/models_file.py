"""A user's models file: their own classifiers, their checkpoints as variants, their image folders as datasets.

The file is TOML, found at ``$SHIFTLAB_MODELS``, else ``shiftlab-models.toml``
in the working directory (``models_file_path``)::

    [models.pets]                       # the architecture name (arch=pets in URLs)
    source = "torchvision:resnet18"     # torchvision:<name> | timm:<name> | hf:<folder saved with save_pretrained>
    classes = ["cat", "dog", "fox"]     # or classes_file = "classes.txt"; an hf source reads its config
    input_size = 224                    # the side the model takes
    mean = [0.485, 0.456, 0.406]        # the normalisation, applied inside the wrapper
    std = [0.229, 0.224, 0.225]
    gradcam_layer = "layer4"            # optional: found by tracing one forward pass when absent

    [models.pets.variants]              # each checkpoint is a variant
    baseline = "weights/pets_v1.pth"

    [datasets.pets-photos]
    folder = "photos"                   # class sub-folders, or a flat folder + labels = "labels.csv", or no labels

Paths are relative to the file. ``read_models_file`` checks everything that
can be checked without building a network — names, types, ranges, that each
file and folder exists — and raises ``ModelsFileError`` naming the file, the
entry and what to change. The result is typed (``ModelsFile``, ``UserModel``,
``UserDataset``); ``shiftlab.models.user`` turns its models into registry specs.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from shiftlab.errors import ModelsFileError
from shiftlab.folders import CLASS_NAME
from shiftlab.models.cards import NAME_PATTERN
from shiftlab.models.sources import Source, hf_classes, parse_source

MODELS_ENV_VAR = "SHIFTLAB_MODELS"
DEFAULT_NAME = "shiftlab-models.toml"
#: the largest models file read (a file of a hundred models is a few kB)
MAX_FILE_BYTES = 1_000_000
#: the input sides a user's model may declare
INPUT_SIDES = (8, 1024)
#: the class counts a user's model may declare (as the zoo's configs)
CLASS_COUNTS = (2, 1000)
MODEL_KEYS = {"source", "classes", "classes_file", "input_size", "mean", "std", "gradcam_layer", "variants"}
DATASET_KEYS = {"folder", "labels"}
#: the variant an hf source gets when the models file names none: the weights saved beside its config
HF_DEFAULT_VARIANT = "baseline"
HF_WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class UserModel:
    """One ``[models.<arch>]`` entry, checked: its network's source and everything the wrapper needs."""

    arch: str
    source: Source
    classes: tuple[str, ...]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    gradcam_layer: str | None
    variants: tuple[tuple[str, Path], ...]  # (variant name, weights file), in the file's order
    models_file: Path


@dataclass(frozen=True)
class UserDataset:
    """One ``[datasets.<name>]`` entry: an image folder and, optionally, a CSV of labels."""

    name: str
    folder: Path
    labels: Path | None


@dataclass(frozen=True)
class ModelsFile:
    """A whole models file, checked."""

    path: Path
    models: tuple[UserModel, ...]
    datasets: tuple[UserDataset, ...]


def models_file_path() -> Path | None:
    """``$SHIFTLAB_MODELS`` when set (it must exist), else ``./shiftlab-models.toml`` when present, else None."""
    env = os.environ.get(MODELS_ENV_VAR)
    if env:
        return Path(env)
    local = Path.cwd() / DEFAULT_NAME
    return local if local.is_file() else None


def read_models_file(path: str | os.PathLike) -> ModelsFile:
    """Parse and check the models file at ``path`` (see the module's docstring); ``ModelsFileError`` otherwise."""
    path = Path(path).resolve()
    table = _toml(path)
    unknown = sorted(set(table) - {"models", "datasets"})
    if unknown:
        raise ModelsFileError(f"{path}: unknown sections {unknown}; a models file has [models.<name>] and "
                              "[datasets.<name>]")
    models = tuple(_model(path, name, entry) for name, entry in _entries(path, table, "models"))
    datasets = tuple(_dataset(path, name, entry) for name, entry in _entries(path, table, "datasets"))
    return ModelsFile(path, models, datasets)


def _toml(path: Path) -> dict:
    try:
        if not path.is_file():
            raise ModelsFileError(f"{path}: no such models file (set ${MODELS_ENV_VAR} to an existing file)")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ModelsFileError(f"{path}: a models file holds at most {MAX_FILE_BYTES:,} bytes")
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ModelsFileError(f"{path}: not valid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ModelsFileError(f"{path}: cannot be read: {error}") from None


def _entries(path: Path, table: dict, section: str) -> list[tuple[str, dict]]:
    """The ``[section.<name>]`` entries, each name checked, each a table."""
    entries = table.get(section, {})
    if not isinstance(entries, dict):
        raise ModelsFileError(f"{path}: {section} must be a table of [{section}.<name>] entries")
    for name, entry in entries.items():
        if not NAME_PATTERN.fullmatch(name):
            raise ModelsFileError(f"{path}: [{section}.{name!r:.70}]: names are letters, digits, '_' and '-' (at most "
                                  "64, starting with a letter or digit)")
        if not isinstance(entry, dict):
            raise ModelsFileError(f"{path}: [{section}.{name}] must be a table")
    return list(entries.items())


def _model(path: Path, arch: str, entry: dict) -> UserModel:
    where = f"{path} [models.{arch}]"
    _known_keys(where, entry, MODEL_KEYS)
    source = parse_source(entry.get("source"), path.parent, where)
    classes = _classes(where, path.parent, entry, source)
    return UserModel(
        arch=arch, source=source, classes=classes,
        input_size=_whole(where, "input_size", entry.get("input_size"), *INPUT_SIDES),
        mean=_triple(where, "mean", entry.get("mean"), low=-10.0),
        std=_triple(where, "std", entry.get("std"), low=0.0),
        gradcam_layer=_optional_text(where, "gradcam_layer", entry.get("gradcam_layer")),
        variants=_variants(where, path.parent, entry.get("variants"), source),
        models_file=path,
    )


def _known_keys(where: str, entry: dict, known: set[str]) -> None:
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ModelsFileError(f"{where}: unknown keys {unknown}; the keys are {', '.join(sorted(known))}")


def _classes(where: str, base: Path, entry: dict, source: Source) -> tuple[str, ...]:
    """The class names, from ``classes``, ``classes_file`` or (hf) the config; 2 to 1000 distinct names."""
    if "classes" in entry and "classes_file" in entry:
        raise ModelsFileError(f"{where}: give classes or classes_file, not both")
    if "classes_file" in entry:
        names = _lines(where, _existing(where, "classes_file", base, entry["classes_file"]))
    elif "classes" in entry:
        names = entry["classes"]
    elif source.kind == "hf":
        names = hf_classes(source, where)
    else:
        raise ModelsFileError(f"{where}: name the classes: classes = [\"cat\", \"dog\", …] or classes_file = \"…\"")
    if not isinstance(names, list) or not all(isinstance(n, str) and CLASS_NAME.fullmatch(n) for n in names):
        raise ModelsFileError(f"{where}: classes must be a list of names of letters, digits, spaces and .,'()&/+- "
                              "(at most 100 characters each)")
    if not CLASS_COUNTS[0] <= len(names) <= CLASS_COUNTS[1] or len(set(names)) != len(names):
        raise ModelsFileError(f"{where}: {len(names)} classes; a model has {CLASS_COUNTS[0]} to {CLASS_COUNTS[1]} "
                              "distinct classes")
    return tuple(names)


def _lines(where: str, path: Path) -> list[str]:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModelsFileError(f"{where}: {path} is over {MAX_FILE_BYTES:,} bytes")
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise ModelsFileError(f"{where}: {path} cannot be read: {error}") from None


def _existing(where: str, key: str, base: Path, value: object, folder: bool = False) -> Path:
    """``value`` as a path relative to ``base`` that names an existing file (or folder)."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise ModelsFileError(f"{where}: {key} must be a path, relative to the models file")
    path = (base / value).resolve()
    if not (path.is_dir() if folder else path.is_file()):
        raise ModelsFileError(f"{where}: {key} = {value!r:.200}: no {'folder' if folder else 'file'} {path}")
    return path


def _whole(where: str, key: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ModelsFileError(f"{where}: {key} must be a whole number from {low} to {high}, got {value!r:.40}")
    return value


def _triple(where: str, key: str, value: object, low: float) -> tuple[float, float, float]:
    """Three finite numbers above ``low`` (one per RGB channel)."""
    ok = (isinstance(value, list) and len(value) == 3
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > low
                  for v in value))
    if not ok:
        raise ModelsFileError(f"{where}: {key} must be three numbers (R, G, B) above {low:g}, got {value!r:.80}")
    return tuple(float(v) for v in value)


def _optional_text(where: str, key: str, value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ModelsFileError(f"{where}: {key} must be a module name such as \"layer4\"")
    return value


def _variants(where: str, base: Path, table: object, source: Source) -> tuple[tuple[str, Path], ...]:
    """Each ``[models.<arch>.variants]`` entry as (name, existing weights file); an hf source's variants are
    ``save_pretrained`` folders (their ``model.safetensors``), and without any it gets its own folder's weights
    as ``baseline``."""
    if table is None and source.kind == "hf":
        return ((HF_DEFAULT_VARIANT, _existing(where, "the hf folder's weights", source.folder, HF_WEIGHTS)),)
    if not isinstance(table, dict) or not table:
        raise ModelsFileError(f"{where}: add [models.<name>.variants] with at least one checkpoint, "
                              "e.g. baseline = \"weights/model.pth\"")
    for name in table:
        if not NAME_PATTERN.fullmatch(name):
            raise ModelsFileError(f"{where}: variant {name!r:.70}: names are letters, digits, '_' and '-'")
    if source.kind == "hf":
        return tuple((name, _existing(where, f"variants.{name}", _existing(where, f"variants.{name}", base, value,
                                                                             folder=True), HF_WEIGHTS))
                     for name, value in table.items())
    return tuple((name, _existing(where, f"variants.{name}", base, value)) for name, value in table.items())


def _dataset(path: Path, name: str, entry: dict) -> UserDataset:
    where = f"{path} [datasets.{name}]"
    _known_keys(where, entry, DATASET_KEYS)
    folder = _existing(where, "folder", path.parent, entry.get("folder"), folder=True)
    labels = _existing(where, "labels", path.parent, entry["labels"]) if "labels" in entry else None
    return UserDataset(name, folder, labels)
