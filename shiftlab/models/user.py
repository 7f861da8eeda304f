"""A user's models file turned into registry entries: their classifiers join the zoo in the same API.

``use_models_file(path)`` reads the file (``shiftlab.models.models_file``) and
registers one ``ModelSpec`` per ``[models.<arch>]`` entry, so that
``list_models()`` lists it and ``load_model("pets", "augmix")`` loads it as it
loads ``resnet20/augmix``: each variant is a weights entry naming its file,
loaded by the same strict, pickle-free path, and the card beside it (written by
``shiftlab evaluate``) is read when there is one. The file's datasets are
registered with ``shiftlab.data`` as image folders.

Per-architecture knowledge comes from the source, found once per architecture
when the attribution hooks are first asked for (``_hooks``): the Grad-CAM layer
(the file's ``gradcam_layer``, else the traced one; for a ViT the last block's
input tokens), the attention reader rollout needs, and the CPU batch size.

``shiftlab.models`` calls ``use_models_file()`` at import with the file
``models_file_path()`` finds; a broken file leaves the zoo as it is and its
error in ``models_file_problem()``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from torch import nn

from shiftlab.errors import ModelsFileError, UnsupportedMethodError
from shiftlab.folders import FolderDataset, register_folder_dataset, unregister_folder_dataset
from shiftlab.models.classifier import AttributionHooks
from shiftlab.models.layers import find_gradcam_layer
from shiftlab.models.models_file import ModelsFile, UserDataset, UserModel, models_file_path, read_models_file
from shiftlab.models.registry import (
    ModelSpec,
    Weights,
    list_models,
    note_models_file_problem,
    register_model,
    unregister_model,
)
from shiftlab.models.sources import (
    AttentionHooks,
    HuggingFaceNet,
    attention_hooks,
    build_network,
    load_hugging_face_weights,
)

#: the dataset name every user model's spec carries (their checkpoints never live in the zoo folder)
USER_DATASET = "user"
#: the side a folder's images are fitted to when the models file declares no model
DEFAULT_SIDE = 224
#: images per forward pass on a CPU for a user's model (the zoo measures each architecture's; 8 suits 224 px nets)
USER_CPU_BATCH = 8

#: what the models file in use registered, and its path (one or none)
_registered: dict[str, list[str]] = {"models": [], "datasets": [], "file": []}


def use_models_file(path: str | os.PathLike | None = None) -> ModelsFile | None:
    """Register the models and datasets of the models file at ``path`` (default: ``models_file_path()``),
    replacing those of the file used before; None when there is no file or it is broken (see
    ``models_file_problem``), the zoo unchanged either way."""
    forget_models_file()
    path = path if path is not None else models_file_path()
    if path is None:
        return None
    try:
        models_file = read_models_file(path)
        for model in models_file.models:
            register_model(user_spec(model))
            _registered["models"].append(model.arch)
        for dataset in models_file.datasets:
            register_folder_dataset(folder_dataset(models_file, dataset))
            _registered["datasets"].append(dataset.name)
        _registered["file"].append(str(models_file.path))
    except ModelsFileError as error:
        forget_models_file()
        note_models_file_problem(error)
        return None
    return models_file


def forget_models_file() -> None:
    """Unregister the models and datasets the last models file added, and its problem (the zoo stays)."""
    for arch in _registered["models"]:
        unregister_model(arch)
    for name in _registered["datasets"]:
        unregister_folder_dataset(name)
    for registered in _registered.values():
        registered.clear()
    note_models_file_problem(None)


def models_file_in_use() -> str | None:
    """The path of the models file whose models and datasets are registered now, None when none is (so that
    another process, a Ray worker, can register the same: ``use_models_file(models_file_in_use())``)."""
    return next(iter(_registered["file"]), None)


def folder_dataset(models_file: ModelsFile, dataset: UserDataset) -> FolderDataset:
    """A ``[datasets.<name>]`` entry as a folder dataset: its classes ordered as the file's models' classes when
    they all share one list (so labels and predictions share indices), its images fitted to the largest input
    side among the file's models (224 px without models)."""
    found = {model.classes for model in models_file.models}
    side = max((model.input_size for model in models_file.models), default=DEFAULT_SIDE)
    order = next(iter(found), None) if len(found) == 1 else None
    return FolderDataset(dataset.name, dataset.folder, dataset.labels, order, side)


def user_spec(model: UserModel) -> ModelSpec:
    """The registry entry of one models-file model; a name the zoo already uses is a ``ModelsFileError``."""
    where = f"{model.models_file} [models.{model.arch}]"
    if model.arch in _zoo_names():
        raise ModelsFileError(f"{where}: {model.arch!r} is a model of shiftlab's zoo; give yours another name")
    weights = tuple(Weights(variant, str(path), f"{path.name}, named in {model.models_file.name}",
                            packaged=functools.partial(str, path)) for variant, path in model.variants)
    return ModelSpec(
        arch=model.arch, dataset=USER_DATASET,
        build=functools.partial(build_network, model.source, len(model.classes), where),
        config={}, bounds={}, mean=model.mean, std=model.std, input_size=model.input_size,
        classes=functools.partial(list, model.classes), description=f"{model.source} from {model.models_file}",
        hooks=_hooks_once(model, where), weights=weights,
        load_weights=load_hugging_face_weights if model.source.kind == "hf" else None, foldable=False,
        external=True,
    )


def _zoo_names() -> set[str]:
    return set(list_models()) - set(_registered["models"])


def _hooks_once(model: UserModel, where: str) -> Callable[[dict], AttributionHooks]:
    """The spec's ``hooks``: found on the first call, the same object after (a user model has no config)."""
    found = functools.cache(functools.partial(_hooks, model, where))
    return lambda config: found()


def _hooks(model: UserModel, where: str) -> AttributionHooks:
    """Where attribution looks inside the model: found by building one network and tracing it."""
    net = build_network(model.source, len(model.classes), where)
    attention = attention_hooks(net, model.input_size)
    return AttributionHooks(gradcam_layer=_gradcam_layer(model, net, attention, where),
                            cpu_batch_size=USER_CPU_BATCH,
                            token_grid=attention.token_grid if attention else None,
                            attentions=attention.attentions if attention else None)


def _gradcam_layer(model: UserModel, net: nn.Module, attention: AttentionHooks | None, where: str) -> str | None:
    """The Classifier-relative name of Grad-CAM's layer: the file's, a ViT's last block's input, or the traced
    one; None when the network has none (Grad-CAM is then not offered)."""
    names = dict(net.named_modules())
    if model.gradcam_layer is not None:
        if model.gradcam_layer not in names:
            raise ModelsFileError(f"{where}: gradcam_layer {model.gradcam_layer!r} is no module of {model.source}")
        return f"net.{model.gradcam_layer}"
    if attention is not None:
        return f"net.{_last_block_input(net)}"
    try:
        return f"net.{find_gradcam_layer(net, model.input_size)}"
    except UnsupportedMethodError:
        return None


def _last_block_input(net: nn.Module) -> str:
    """A ViT's last block's first norm: its input tokens still reach the class token through attention."""
    if isinstance(net, HuggingFaceNet):
        return [name for name, _ in net.named_modules() if name.endswith("layernorm_before")][-1]
    return f"blocks.{len(net.blocks) - 1}.norm1"

