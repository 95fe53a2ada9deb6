"""The line grammar of a ``.dlm`` body and the escaping that protects it.

Grammar lines are fences (``::type::``), record headers (``### Q``), marker
comments (``<!-- dlm-...``) and, on the first line of a document with no
frontmatter, ``---``. Any text line that would read as one of these is
written with one extra leading backslash, and the reader removes one
backslash from such lines. The rule is applied to the line with its
leading backslashes removed, so ``\\::instruction::`` round-trips as well.
Trailing whitespace is ignored when recognising grammar and kept in text.
"""

from __future__ import annotations

import re

FENCE_RE = re.compile(r"^::([A-Za-z0-9_-]+)(#[A-Za-z0-9_-]*)?::$")
_FENCE_LIKE_RE = re.compile(r"^::[A-Za-z0-9_#-]+::$")
MARKER_START = "<!-- dlm-"
FRONTMATTER_DELIMITER = "---"
CODE_FENCE = "```"


def header_line(header: str) -> str:
    return f"### {header}"


def fence_line(type_name: str, suffix: str = "") -> str:
    return f"::{type_name}{suffix}::"


def match_fence(line: str) -> tuple[str, str] | None:
    """``(type, suffix)`` when ``line`` is a fence, else None."""
    if not line.startswith("::"):
        return None  # the common case, without a regex
    match = FENCE_RE.match(line.rstrip())
    if match is None:
        return None
    return match.group(1), match.group(2) or ""


def match_header(line: str, headers: tuple[str, ...]) -> str | None:
    """The header name when ``line`` is ``### NAME`` for one of ``headers``."""
    if not line.startswith("### "):
        return None
    name = line[4:].rstrip()
    return name if name in headers else None


def opens_code_block(line: str) -> bool:
    """Whether ``line`` opens or closes a ``` code block (indented or not)."""
    return CODE_FENCE in line and line.lstrip().startswith(CODE_FENCE)


def _is_grammar(core: str, headers: tuple[str, ...], *, top: bool) -> bool:
    core = core.rstrip()
    if _FENCE_LIKE_RE.match(core) or core.startswith(MARKER_START):
        return True
    if top and core == FRONTMATTER_DELIMITER:
        return True
    return core.startswith("### ") and core[4:] in headers


def needs_escape(line: str, headers: tuple[str, ...] = (), *, top: bool = False) -> bool:
    """Whether ``line`` would read as grammar once its leading backslashes are gone."""
    return _is_grammar(line.lstrip("\\"), headers, top=top)


def escape(line: str, headers: tuple[str, ...] = (), *, top: bool = False) -> str:
    """The line as written: one extra backslash if it could read as grammar."""
    return "\\" + line if needs_escape(line, headers, top=top) else line


def unescape(line: str, headers: tuple[str, ...] = (), *, top: bool = False) -> str:
    """The text of a written line: one backslash fewer on an escaped grammar line."""
    if line.startswith("\\") and needs_escape(line, headers, top=top):
        return line[1:]
    return line
