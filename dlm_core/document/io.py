"""Reading a ``.dlm`` file from disk and writing it back safely.

A file that is not UTF-8 text is refused with its location. Writes are
atomic and keep the previous text as ``<name>.dlm.bak``, so a crash or
Ctrl-C leaves either the old document or the new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dlm_core.atomic import write_bytes_atomic, write_text_atomic
from dlm_core.document.model import Document
from dlm_core.document.parser import parse
from dlm_core.document.serializer import serialize
from dlm_core.document.types import SectionType
from dlm_core.errors import DocumentError


def read_text(path: Path) -> str:
    """The file's text, or a :class:`DocumentError` saying why it is not text."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DocumentError("no such file; create it with `dlm init`", path=path) from None
    except IsADirectoryError:
        raise DocumentError("is a directory, not a .dlm file", path=path) from None
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}", path=path) from None
    nul = data.find(b"\x00")
    if nul != -1:
        line, col = _position(data, nul)
        raise DocumentError("binary file (NUL byte); a .dlm document is UTF-8 text", path=path, line=line, col=col)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _position(data, exc.start)
        raise DocumentError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            path=path,
            line=line,
            col=col,
        ) from None


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters, as an editor counts) of byte ``offset``."""
    line = data.count(b"\n", 0, offset) + 1
    line_start = data.rfind(b"\n", 0, offset) + 1
    before = data[line_start:offset].decode("utf-8", errors="replace")
    if line_start == 0:
        before = before.removeprefix("\ufeff")  # the byte-order mark is not a column
    return line, len(before) + 1


def read_document(path: Path, types: Mapping[str, SectionType] | None = None) -> Document:
    """Read and parse ``path``."""
    return parse(read_text(path), path=path, types=types)


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def write_document(
    path: Path, document: Document, types: Mapping[str, SectionType] | None = None
) -> None:
    """Write ``document`` over ``path`` atomically, keeping the old text as ``.bak``.

    The new text is parsed back before anything is written: if it would not
    read as the same document, nothing is written and the error says why.
    """
    text = serialize(document, types=types)
    if parse(text, path=path, types=types) != document:
        raise DocumentError("refusing to write: the rendered document does not read back the same", path=path)
    if path.exists():
        write_bytes_atomic(backup_path(path), path.read_bytes())
    write_text_atomic(path, text)
