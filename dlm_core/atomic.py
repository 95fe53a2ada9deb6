"""Atomic file writes: a reader sees the old file or the new one, never half.

Write to a hidden temporary file beside the target, flush it to disk, then
rename it over the target. Used for documents, manifests, plans and run
records.

- A symlink is written through: the temporary goes beside the file the
  link points to and replaces that file, so the link stays a link.
- The new file keeps the mode of the file it replaces (a new file gets the
  usual ``0o666`` less the umask, as any editor's would).
- A temporary is named after its writer's process id; one whose writer is
  gone (killed mid-write) is removed by the next write of the same file.
- A full disk is one line naming the file, which is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from pathlib import Path

from dlm_core.errors import DiskFull

_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def write_bytes_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` (or, for a symlink, the file it points to) with ``data`` in one rename.

    :param mode: permission bits of the new file; default: those of the file
        it replaces, else ``0o666`` less the umask.
    :raises DiskFull: no space left on the device; ``path`` is unchanged.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    if mode is None and target.exists():
        mode = target.stat().st_mode & 0o7777
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            raise DiskFull(
                f"cannot write {path}: no space left on the device; nothing was changed "
                f"({path} is as it was); free some space and run the command again"
            ) from None
        raise
    _fsync_dir(target.parent)


def write_text_atomic(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` encoded as UTF-8, newlines untouched."""
    write_bytes_atomic(path, text.encode("utf-8"), mode=mode)


def remove_stale_temporaries(target: Path) -> int:
    """Delete the temporaries of ``target`` whose writer process is gone; returns how many."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)-[0-9a-f]+\.tmp")
    removed = 0
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            match = pattern.fullmatch(entry.name)
            if match and not _alive(int(match.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
