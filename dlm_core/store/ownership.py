"""Which document a store belongs to: a copy is refused, a move is followed.

A store is found by the document's ``dlm_id`` and records the path of the
document that made it. Another document with that same id is either the
same document moved or renamed (its old path is gone, or no longer holds
that id): the store follows it; or a copy, while the original is still
there holding the id: the copy is refused, never mixed into the
original's store, and told how to get its own id (``--new-id``).

Every command goes through :class:`dlm_core.workspace.DocumentRun`, which
calls :func:`claim_store` (inside the locks: it also records a move) or,
for a run that only reads, :func:`check_owner`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import attrs

from dlm_core.document.identity import with_identity
from dlm_core.document.io import read_document, write_document
from dlm_core.document.types import SectionType
from dlm_core.errors import StoreError
from dlm_core.fileformat import write_json
from dlm_core.store.lock import document_lock
from dlm_core.store.records import Manifest
from dlm_core.store.store import Store

# How much of the recorded document is read to see whether it still holds the id:
# the frontmatter comes first, and a document is refused long before this anyway.
_HEAD_BYTES = 1 << 16


class DocumentCopied(StoreError):
    """Two documents claim one store: the original and a copy of it."""


@attrs.frozen
class Ownership:
    """What :func:`check_owner` found.

    :ivar kind: ``new`` (no store yet), ``same`` (the recorded document), or
        ``moved`` (the recorded path is gone or gave up the id).
    :ivar recorded: the document path the manifest records, if any.
    """

    kind: Literal["new", "same", "moved"]
    recorded: Path | None = None


def check_owner(store: Store, document_path: Path) -> Ownership:
    """Whether the document at ``document_path`` may use ``store``.

    :raises DocumentCopied: another document, still in place, holds the same
        ``dlm_id``; the message says how to give this one its own.
    """
    manifest = store.manifest()
    if manifest is None:
        return Ownership("new")
    here = document_path.resolve()
    recorded = Path(manifest.document_path)
    if recorded == here:
        return Ownership("same", recorded)
    if not recorded.exists() or not _holds_id(recorded, store.dlm_id):
        return Ownership("moved", recorded)
    if _same_file(recorded, here):  # a hard link or another path to one file
        return Ownership("same", recorded)
    raise DocumentCopied(
        f"{document_path} has the dlm_id {store.dlm_id} of {recorded}, whose store this is: "
        f"it looks like a copy; give it its own id with `dlm init --new-id {document_path}` "
        f"(or train it with `dlm train --new-id {document_path}`), or, if {recorded} is an "
        "old copy, delete it or change its dlm_id"
    )


def claim_store(
    store: Store,
    document_path: Path,
    base_model: str | None = None,
    say: Callable[[str], None] = print,
) -> Manifest:
    """Check ownership, then record where the store's document now lives.

    With ``base_model`` (training) the store is created on first use and
    its base model kept current; without it the store must exist. Call
    inside the store lock.

    :raises DocumentCopied: see :func:`check_owner`.
    """
    ownership = check_owner(store, document_path)
    if base_model is not None:
        manifest = store.ensure(document_path, base_model)
    else:
        found = store.manifest()
        if found is None:
            raise StoreError(
                f"{document_path} has not been trained yet; run `dlm train {document_path}` first"
            )
        manifest = found
    if ownership.kind == "moved":
        manifest = attrs.evolve(manifest, document_path=str(document_path.resolve()))
        write_json(store.manifest_path, manifest)
        say(f"{document_path}: this document's store followed it from {ownership.recorded}")
    return manifest


def give_new_identity(
    path: Path,
    *,
    home: Path,
    types: Mapping[str, SectionType],
    wait: bool = True,
    say: Callable[[str], None] = print,
) -> str:
    """Give the document at ``path`` a fresh ``dlm_id`` (``--new-id``); returns it.

    Only the id's value changes (the old text is kept as ``.bak``), under the
    document's lock; the next ``dlm train`` makes the document its own store.
    The store of the old id is left as it is.
    """
    with document_lock(home, path, wait=wait, on_wait=say):
        document, note = with_identity(read_document(path, types), path, fresh=True)
        write_document(path, document, types)
    say(f"{path}: {note}")
    assert document.dlm_id is not None
    return document.dlm_id


def _holds_id(path: Path, dlm_id: str) -> bool:
    """Whether the document at ``path`` still names ``dlm_id`` in its frontmatter.

    When that cannot be told (unreadable, odd layout) the answer is yes: a
    store is never handed to a second document on a guess.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return True
    lines = head.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return dlm_id in head
    for line in lines[1:]:
        if line.strip() == "---":
            return False  # a frontmatter without the id
        if dlm_id in line:
            return True
    return True  # the frontmatter is longer than the head: do not guess


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
