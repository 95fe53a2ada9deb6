"""Reading a document from disk (bytes that are not text are refused, located) and writing it back."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from dlm_core.document.io import backup_path, read_document, read_text, write_document
from dlm_core.document.model import Section
from dlm_core.errors import DocumentError


def _read_error(tmp_path: Path, data: bytes) -> DocumentError:
    path = tmp_path / "notes.dlm"
    path.write_bytes(data)
    with pytest.raises(DocumentError) as caught:
        read_text(path)
    return caught.value


@pytest.mark.parametrize(
    ("data", "line", "col"),
    [
        (b"\x00", 1, 1),
        (b"Hello.\nwor\x00ld\n", 2, 4),
        ("\ufeffab\x00".encode(), 1, 3),
        ("ü é \x00".encode(), 1, 5),
    ],
)
def test_a_nul_byte_is_refused_as_binary_at_its_position(
    tmp_path: Path, data: bytes, line: int, col: int
) -> None:
    error = _read_error(tmp_path, data)
    assert (error.line, error.col) == (line, col)
    assert error.message == "binary file (NUL byte); a .dlm document is UTF-8 text"


@pytest.mark.parametrize(
    ("data", "line", "col"),
    [
        (b"caf\xe9\n", 1, 4),
        ("Hello.\n日本 ".encode() + b"\xff", 2, 4),
        (b"ok\n\xc3(", 2, 1),
    ],
)
def test_bytes_that_are_not_utf8_are_located_in_characters(
    tmp_path: Path, data: bytes, line: int, col: int
) -> None:
    error = _read_error(tmp_path, data)
    assert (error.line, error.col) == (line, col)
    assert error.message.startswith("not UTF-8 text (byte 0x")
    assert error.message.endswith("); save the file as UTF-8")


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file; create it with `dlm init`"):
        read_text(tmp_path / "absent.dlm")


def test_a_byte_order_mark_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "notes.dlm"
    path.write_bytes("\ufeffHello.\n".encode())
    document = read_document(path)
    assert document.bom and document.sections[0].text == "Hello."
    write_document(path, document.appending([Section.prose("More.", fenced=True)]))
    assert path.read_bytes() == "\ufeffHello.\n\n::prose::\nMore.\n".encode()
    assert backup_path(path).read_bytes() == "\ufeffHello.\n".encode()


def test_a_document_whose_text_would_read_back_differently_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "notes.dlm"
    path.write_text("Hello.\n", encoding="utf-8")
    document = read_document(path)
    # A changed section that still carries its old source text would be written stale.
    stale = attrs.evolve(document.sections[0], text="Changed.")
    with pytest.raises(DocumentError, match="refusing to write"):
        write_document(path, document.with_sections([stale]))
    assert path.read_text(encoding="utf-8") == "Hello.\n"
