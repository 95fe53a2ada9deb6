"""The store lock: one writer per document at a time.

A second ``dlm train`` or ``apply`` on the same document waits (saying who
holds the lock) or, with ``--no-wait``, fails at once. The lock is an OS file
lock, so a killed process releases it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock

from dlm_core.errors import StoreLocked


def _holder(info_path: Path) -> str:
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        since = time.strftime("%H:%M:%S", time.localtime(info["since"]))
        return f"pid {info['pid']}, `{info['command']}`, since {since}"
    except (OSError, ValueError, KeyError):
        return "another process"


def document_lock(
    home: Path,
    document: Path,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> contextlib.AbstractContextManager[None]:
    """The lock of one document file, kept under ``$DLM_HOME/locks/`` (never beside the file).

    Keyed by the resolved path, so a symlink and its target share it. It
    covers the document before it has a store: two first ``dlm train`` runs
    cannot both give it an identity.
    """
    key = hashlib.sha256(str(document.resolve()).encode("utf-8")).hexdigest()[:32]
    # Same words as the store lock: to the user both guard "this document's store".
    return store_lock(home / "locks" / key, wait=wait, on_wait=on_wait)


@contextlib.contextmanager
def store_lock(
    root: Path,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    command: str | None = None,
) -> Iterator[None]:
    """Hold the lock in ``root`` for the duration of the block.

    :param wait: block until the lock is free; False raises :class:`StoreLocked`.
    :param on_wait: called once with a message before blocking.
    """
    root.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(root / "lock"))
    info_path = root / "lock.info"
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        holder = _holder(info_path)
        if not wait:
            raise StoreLocked(
                f"this document's store is in use ({holder}); wait for it to finish, "
                "or run again without --no-wait to queue"
            ) from None
        if on_wait is not None:
            on_wait(f"waiting for the store lock held by {holder}...")
        lock.acquire()
    try:
        info = {
            "pid": os.getpid(),
            "command": command or " ".join(["dlm", *sys.argv[1:]]),
            "since": time.time(),
        }
        info_path.write_text(json.dumps(info), encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            info_path.unlink()
        lock.release()
