"""Errors written for the person at the terminal.

Every failure a user can act on is a :class:`DlmError`; the CLI prints it as
one ``error: ...`` line and exits 1. Anything else is a bug and shows a
traceback only with ``--verbose``.
"""

from __future__ import annotations

from pathlib import Path


class DlmError(Exception):
    """A failure with a message that says what failed and what to do next."""

    exit_code = 1


class DocumentError(DlmError):
    """A ``.dlm`` document that cannot be read, located as ``file:line:col``."""

    def __init__(
        self, message: str, *, path: Path | str | None = None, line: int = 1, col: int = 1
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else "<document>"
        self.line = line
        self.col = col
        super().__init__(f"{self.path}:{line}:{col}: {message}")


class DiskFull(DlmError):
    """A write that found no space left on its device; what it was replacing is unchanged."""


class PluginError(DlmError):
    """A plugin that is missing, broken, or claims a name another one holds."""


class UnknownPluginName(PluginError):
    """A sampler, judge, trainer or section type that no installed plugin provides."""


class DuplicatePluginName(PluginError):
    """Two plugins register the same name for the same kind of extension."""


class StoreError(DlmError):
    """The per-document store is missing something or is in use."""


class StoreLocked(StoreError):
    """Another dlm command holds the store's lock."""


class EvaluationError(DlmError):
    """Held-out prompts that cannot be found or read, or a comparison that cannot run."""


class MiningError(DlmError):
    """Preference mining that cannot start or had to stop."""


class NotTrained(StoreError, MiningError):
    """A command that needs a trained adapter, on a document that has none yet.

    One type for every command: it is a store state (a :class:`StoreError`)
    and, for ``dlm preference mine``, the reason mining cannot start (a
    :class:`MiningError`).
    """


class ModelError(DlmError):
    """A base model or adapter that cannot be found or loaded."""


class TrainingError(DlmError):
    """A training phase that cannot start or did not finish."""


class JudgeError(MiningError):
    """A judge that could not score a candidate; nothing is written."""


class ExportError(DlmError):
    """An export that cannot be written (a target that exists, a converter that failed)."""


class SamplerError(DlmError):
    """A sampler that could not generate (a server that refused, a model that failed)."""
