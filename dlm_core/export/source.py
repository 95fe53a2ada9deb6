"""What an export starts from: the document, its store and one adapter version.

Kept apart so that "read the document, find the store and the version" is
one small function with explicit inputs; every export target works from the
:class:`ExportSource` it returns.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from dlm_core.document.model import Document
from dlm_core.models.registry import BaseModelRef
from dlm_core.store.store import AdapterVersion, Store
from dlm_core.workspace import DocumentRun


@attrs.frozen
class ExportSource:
    """The document and the adapter version an export is made of.

    :ivar version: the adapter version, or None for a dataset export of a
        document that was never trained.
    :ivar digest: sha256 of the document's text, as the run read it (run.json's digest).
    """

    path: Path
    document: Document
    digest: str
    base: BaseModelRef
    store: Store | None
    version: AdapterVersion | None

    @property
    def system_prompt(self) -> str | None:
        frontmatter = self.document.frontmatter
        return frontmatter.system_prompt if frontmatter is not None else None


def locate(run: DocumentRun, version: int | None, *, need_adapter: bool = True) -> ExportSource:
    """The run's document and adapter ``version`` (None: ``current``).

    A dataset export needs no adapter: a document never trained still exports
    its records (and the current version, if any, is named in the manifest).

    :raises NotTrained: when an adapter is needed and the document has none.
    """
    if not need_adapter and version is None:
        store = run.store if run.store is not None and run.store.exists() else None
        current = store.current() if store is not None else None
        return ExportSource(run.path, run.document, run.digest, run.base, store, current)
    store = run.trained_store()
    found = store.version(version) if version is not None else run.current()
    return ExportSource(run.path, run.document, run.digest, run.base, store, found)
