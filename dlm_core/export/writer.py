"""Writing an export folder so that a half-written export never looks complete.

Everything goes into a hidden temporary folder beside ``--out``; only when
every file (the manifest last) is written and flushed is it renamed to
``--out``. An existing ``--out`` is refused unless ``force``, and even then
only a folder that holds an earlier export (or nothing) is replaced, so a
mistyped ``--out ~ --force`` cannot wipe a home folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dlm_core.errors import ExportError

MANIFEST_NAME = "dlm-export.json"


def check_target(out: Path, *, force: bool) -> None:
    """Fail before any work when ``out`` may not be written."""
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir() or out.is_symlink():
        raise ExportError(f"{out} exists and is not a folder; choose another --out")
    if not force:
        raise ExportError(
            f"{out} already exists; pass --force to replace it, or choose another --out"
        )
    if any(out.iterdir()) and not (out / MANIFEST_NAME).is_file():
        raise ExportError(
            f"{out} is not an earlier dlm export (no {MANIFEST_NAME}); --force replaces only those"
        )


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def staged_folder(out: Path, *, force: bool) -> Iterator[Path]:
    """A temporary folder that becomes ``out`` when the block succeeds, and vanishes if it fails."""
    check_target(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes it private; an export is an ordinary folder
        for written in tmp.rglob("*"):
            if written.is_file():
                _fsync(written)
        check_target(out, force=force)  # another process may have written it meanwhile
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / out.name)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
        _fsync(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
