"""Reading a ``.dlm`` file from disk and writing it back safely.

A document is a regular file of UTF-8 text (no NUL) of at most
:data:`MAX_DOCUMENT_BYTES`: a FIFO, a device or anything larger is refused
before it is read, and text that is not a document is refused with its
location. Writes are atomic and keep the previous text as ``<name>.dlm.bak``
(with the document's mode), so a crash or Ctrl-C leaves either the old
document or the new one, never a mix. A symlinked document is written
through the link; a read-only one is not written at all.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from dlm_core.atomic import write_bytes_atomic, write_text_atomic
from dlm_core.document.model import Document
from dlm_core.document.parser import parse
from dlm_core.document.readable import first_unreadable, position
from dlm_core.document.serializer import serialize
from dlm_core.document.types import SectionType
from dlm_core.errors import DocumentError

MAX_DOCUMENT_BYTES = 64 << 20
"""The largest document dlm reads: far beyond any real one, far below running out of memory."""

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def read_text(path: Path) -> str:
    """The file's text, or a :class:`DocumentError` saying why it is not text."""
    data = _read_regular_file(path)
    # Bytes that are not UTF-8 decode to surrogates here, so one scan finds
    # the first NUL or bad byte, whichever comes first, by the writer's rule.
    text = data.decode("utf-8", errors="surrogateescape")
    bad = first_unreadable(text)
    if bad is None:
        return text
    line, col = position(text, bad.offset)
    if bad.is_nul:
        message = "binary file (NUL byte); a .dlm document is UTF-8 text"
    else:
        byte = ord(bad.char) - 0xDC00
        message = f"not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8"
    raise DocumentError(message, path=path, line=line, col=col)


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``, refusing anything but a regular file of a sane size.

    Opened without blocking, so a FIFO with no writer is refused at once
    instead of waiting forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DocumentError("no such file; create it with `dlm init`", path=path) from None
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}", path=path) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise DocumentError("is a directory, not a .dlm file", path=path)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "a special file")
            raise DocumentError(
                f"not a regular file ({kind}); a .dlm document is a plain file", path=path
            )
        if info.st_size > MAX_DOCUMENT_BYTES:
            raise _too_large(path, info.st_size)
        try:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)  # it may have grown since fstat
        except OSError as exc:
            raise DocumentError(f"cannot read: {exc.strerror}", path=path) from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _too_large(path, len(data))
    return data


def _too_large(path: Path, size: int) -> DocumentError:
    return DocumentError(
        f"{size} bytes, larger than the {MAX_DOCUMENT_BYTES >> 20} MiB a .dlm document may be; "
        "split it into several documents",
        path=path,
    )


def check_writable(path: Path) -> None:
    """Refuse a document that is read-only, as ``sed -i`` on it would be refused.

    Checked by its mode bits as well as by access, so that root, who may
    write anything, still leaves a read-only document alone.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return
    if not mode & 0o222 or not os.access(target, os.W_OK):
        raise DocumentError(
            f"is read-only; dlm does not replace a read-only document (run `chmod u+w {path}` "
            "to let it write)",
            path=path,
        )


def read_document(path: Path, types: Mapping[str, SectionType] | None = None) -> Document:
    """Read and parse ``path``."""
    return parse(read_text(path), path=path, types=types)


def backup_path(path: Path) -> Path:
    """``<name>.bak`` beside the document (beside the file a symlinked document points to)."""
    target = Path(os.path.realpath(path))
    return target.with_name(target.name + ".bak")


def write_document(
    path: Path, document: Document, types: Mapping[str, SectionType] | None = None
) -> None:
    """Write ``document`` over ``path`` atomically, keeping the old text as ``.bak``.

    The new text is checked by the reader's rules before anything is
    written (no NUL, nothing UTF-8 cannot encode) and parsed back: if it
    would not read as the same document, nothing is written and the error
    says why.
    """
    text = serialize(document, types=types)
    bad = first_unreadable(text)
    if bad is not None:
        line, col = position(text, bad.offset)
        raise DocumentError(
            f"refusing to write: the new text would hold {bad.describe()}, which a .dlm "
            "document cannot; nothing was written",
            path=path,
            line=line,
            col=col,
        )
    if parse(text, path=path, types=types) != document:
        raise DocumentError(
            "refusing to write: the rendered document does not read back the same", path=path
        )
    check_writable(path)
    if path.exists():
        mode = path.stat().st_mode & 0o7777
        write_bytes_atomic(backup_path(path), _read_regular_file(path), mode=mode)
    write_text_atomic(path, text)
