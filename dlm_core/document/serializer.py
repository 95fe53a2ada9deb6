"""Write a :class:`~dlm_core.document.model.Document` back to text.

Parsed sections are written from their source text, byte for byte; new or
changed sections are rendered in the canonical layout (a blank line before
each fence, one between records) with grammar-like text lines escaped. So
``serialize(parse(text)) == text`` for every valid file, and
``parse(serialize(doc)) == doc`` for every document value.
"""

from __future__ import annotations

from collections.abc import Mapping

from dlm_core.document import grammar
from dlm_core.document.frontmatter import render_frontmatter
from dlm_core.document.model import Document, Section
from dlm_core.document.provenance import render_marker
from dlm_core.document.types import SectionType


def serialize(document: Document, *, types: Mapping[str, SectionType] | None = None) -> str:
    """The document as text.

    :param types: fence name → section type, for the headers of sections
        whose type the core does not define; the built-ins by default.
    """
    if types is None:
        from dlm_core.document.builtin_types import BUILTIN_TYPES

        types = BUILTIN_TYPES
    nl = document.newline
    out = _Output()
    if document.frontmatter_source is not None:
        out.add(document.frontmatter_source)
    elif document.frontmatter is not None:
        out.add(render_frontmatter(document.frontmatter, nl))
    for section in document.sections:
        if out.started and not out.at_line_start:
            out.add(nl)  # the previous section was the end of a file with no final newline
        if section.source is not None:
            out.add(section.source)
            continue
        top = not out.started and document.frontmatter is None
        out.add(_render(section, types, nl, lead=nl if out.has_text else "", top=top))
    text = "".join(out.parts)
    return ("\ufeff" + text) if document.bom else text


class _Output:
    """The pieces written so far, and the little the writer needs to know about them.

    Kept as state rather than re-joined per section, so writing stays linear
    in the size of the document.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.started = False  # anything written at all
        self.at_line_start = True  # the text so far ends with a line feed (or is empty)
        self.has_text = False  # the text so far holds more than whitespace

    def add(self, piece: str) -> None:
        if not piece:
            return
        self.parts.append(piece)
        self.started = True
        self.at_line_start = piece.endswith("\n")
        self.has_text = self.has_text or not piece.isspace()


def _render(
    section: Section, types: Mapping[str, SectionType], nl: str, *, lead: str, top: bool
) -> str:
    lines: list[str] = []
    if section.fenced:
        lines.append(grammar.fence_line(section.type, section.fence_suffix))
    if section.records or section.type not in types or types[section.type].headers:
        if section.provenance is not None:
            lines.append(render_marker(section.provenance))
        for index, record in enumerate(section.records):
            if index:
                lines.append("")
            for field in record.fields:
                lines.append(grammar.header_line(field.header))
                headers = types[section.type].headers if section.type in types else record.headers
                lines.extend(grammar.escape(line, headers) for line in field.text.split("\n"))
    elif section.text:
        lines.extend(_prose_lines(section.text, top=top and not section.fenced))
    return lead + "".join(line + nl for line in lines)


def _prose_lines(text: str, *, top: bool) -> list[str]:
    out = []
    in_code = False
    for index, line in enumerate(text.split("\n")):
        if grammar.opens_code_block(line):
            in_code = not in_code
            out.append(line)
            continue
        out.append(line if in_code else grammar.escape(line, top=top and index == 0))
    return out
