"""Typed exceptions raised by shiftlab.

Every error a user can cause (an unknown name, a value out of range, missing
or broken data, a bad checkpoint or card, an image the models cannot take) is
a subclass of ``ShiftlabError``, so callers such as the Streamlit pages catch
that one class and turn it into a clear message instead of a traceback.
"""

from __future__ import annotations


class ShiftlabError(Exception):
    """Base class of every error shiftlab raises on purpose."""


class ParameterError(ShiftlabError, ValueError):
    """A value out of its range or of the wrong type: a severity, seed, limit, device, depth..."""


class UnknownOptionError(ShiftlabError, ValueError):
    """An option, recipe field, evaluation suite or other keyword that the receiver does not take."""


class UnknownDatasetError(ShiftlabError, ValueError):
    """A dataset name or split that ``load_dataset`` does not know."""


class UnknownShiftError(ShiftlabError, ValueError):
    """A shift name the registry does not know."""


class DatasetNotFoundError(ShiftlabError, FileNotFoundError):
    """A dataset was asked for but none of its known file layouts was found."""


class CheckpointError(ShiftlabError, ValueError):
    """A checkpoint file is missing, corrupt or of an unknown layout."""


class ModelCardError(CheckpointError):
    """A model card that is unreadable, or whose fields are missing or of the wrong type."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint needs arbitrary code execution (pickle) to load: refused."""


class CheckpointMismatchError(CheckpointError):
    """A state dict does not match the architecture key for key and shape for shape."""

    def __init__(self, message: str, missing: list[str], unexpected: list[str], mismatched: list[str]):
        super().__init__(message)
        self.missing = missing
        self.unexpected = unexpected
        self.mismatched = mismatched


class PublishError(ShiftlabError, ValueError):
    """An update of the shipped zoo that is refused: it would replace figures measured on the full test set
    with figures measured on other data or a subset, or it names weights that are not there."""


class RunStateError(ShiftlabError, ValueError):
    """A training run folder that cannot be resumed or started: nothing to resume, another run in it, a corrupt
    state."""


class UnknownModelError(ShiftlabError, KeyError):
    """An architecture or variant name that the registry does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnknownVariantError(UnknownModelError):
    """A variant (weights entry or training variant) that an architecture does not have."""


class ImageInputError(ShiftlabError, ValueError):
    """An image or image batch that cannot be used (wrong dtype, shape, mode or size)."""


class DatasetFormatError(ShiftlabError, ValueError):
    """A dataset file exists but is corrupt, of an unknown layout, or unsafe to read."""


class AttributionError(ShiftlabError, ValueError):
    """An attribution request that cannot be served: bad option, target or model output."""


class UnsupportedMethodError(AttributionError):
    """An unknown attribution method, or one that does not apply to this kind of model."""


class MetricInputError(ShiftlabError, ValueError):
    """Labels, logits or maps that a metric cannot use (NaN, wrong shape, bad labels)."""


class ServerBusyError(ShiftlabError, RuntimeError):
    """A long computation refused because the server's line of them is full (``shiftlab.jobs.MAX_LINE``)."""


class SweepStoreError(ShiftlabError, OSError):
    """A sweep folder, or one of its Parquet files, that is missing, corrupt or not a sweep; the message names
    the file."""


class DuplicateNameError(ShiftlabError, ValueError):
    """A second registration under a name a registry already holds (a model, method, measure, page...)."""


class ModelsFileError(ShiftlabError, ValueError):
    """A models file (``shiftlab-models.toml``) that cannot be used; the message names the file, the entry and
    what to change."""
