"""``dlm doctor --repair``: put a store's ``current`` pointer right again.

``current`` can be left naming a version that is gone (its folder deleted
by hand) or nothing readable at all. Then it is pointed at the newest
complete version, or removed when no version is left, so that the next
``dlm train`` starts afresh. Every change is said in one sentence.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from dlm_core.store.store import AdapterVersion, DanglingCurrent, Store

if TYPE_CHECKING:
    from dlm_core.workspace import Workspace


def repair_document(workspace: Workspace, path: Path, *, wait: bool = True) -> str:
    """Repair the store of the document at ``path`` (under its locks); what was done, in one sentence."""
    with workspace.open(path, wait=wait) as run:
        if run.store is None or not run.store.exists():
            return f"nothing to repair: {path} has no store yet"
        return repair_current(run.store, str(path))


def complete_versions(store: Store) -> list[AdapterVersion]:
    """Versions that hold a saved adapter (``adapter_config.json``), oldest first."""
    return [v for v in store.versions() if (v.path / "adapter_config.json").is_file()]


def repair_current(store: Store, document: str) -> str:
    """Fix a dangling ``current`` and say what was done (call inside the store lock).

    :param document: the document's path, for the sentence.
    """
    try:
        current = store.current()
    except DanglingCurrent:
        pass
    else:
        if current is None:
            return "nothing to repair: there is no current version yet"
        return f"nothing to repair: current is {current.name}"
    named = store.current_pointer.read_text(encoding="utf-8").strip() or "nothing"
    complete = complete_versions(store)
    if complete:
        newest = complete[-1]
        store.set_current(newest)
        return (
            f"current named {named}, which is not in the store; it now points at {newest.name}, "
            "the newest complete version"
        )
    with contextlib.suppress(FileNotFoundError):
        store.current_pointer.unlink()
    return (
        f"removed current, which named {named}, a version that is not in the store; "
        f"no complete version is left: run `dlm train {document}`"
    )
