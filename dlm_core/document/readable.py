"""What counts as document text, one rule for reading and for writing.

A ``.dlm`` document is UTF-8 text with no NUL character. The reader
refuses anything else, located; the writer checks the very same rule
before it writes, so dlm never produces a file it would then refuse to
open. Generated text can break it: a model can decode a token to
``"\\x00"``, and a plugin can hand back a lone surrogate, which UTF-8
cannot encode at all.
"""

from __future__ import annotations

import re

import attrs

# A NUL, or any surrogate code point: in text decoded with "surrogateescape"
# (how the reader decodes) these stand for bytes that are not UTF-8; in text
# about to be written they are lone surrogates UTF-8 cannot encode.
_UNREADABLE = re.compile("[\x00\ud800-\udfff]")


@attrs.frozen
class Unreadable:
    """The first character that keeps a text from being a document.

    :ivar offset: its index in the text.
    :ivar char: the character itself.
    """

    offset: int
    char: str

    @property
    def is_nul(self) -> bool:
        return self.char == "\x00"

    def describe(self) -> str:
        """What the character is, in the user's words."""
        if self.is_nul:
            return "a NUL character (U+0000)"
        return f"a lone surrogate (U+{ord(self.char):04X}), which UTF-8 cannot encode"


def first_unreadable(text: str) -> Unreadable | None:
    """The first NUL or surrogate in ``text``, or None when it can be a document."""
    match = _UNREADABLE.search(text)
    return Unreadable(match.start(), match.group()) if match else None


def is_readable(text: str) -> bool:
    return _UNREADABLE.search(text) is None


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters, as an editor counts) of ``text[offset]``."""
    line = text.count("\n", 0, offset) + 1
    line_start = text.rfind("\n", 0, offset) + 1
    col = offset - line_start + 1
    if line_start == 0 and text.startswith("\ufeff"):
        col -= 1  # the byte-order mark is not a column
    return line, max(col, 1)
