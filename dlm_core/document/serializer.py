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
    parts: list[str] = []
    if document.frontmatter_source is not None:
        parts.append(document.frontmatter_source)
    elif document.frontmatter is not None:
        parts.append(render_frontmatter(document.frontmatter, nl))
    for section in document.sections:
        written = "".join(parts)
        if section.source is not None:
            if written and not written.endswith("\n"):
                parts.append(nl)
            parts.append(section.source)
            continue
        if written and not written.endswith("\n"):
            parts.append(nl)
        top = not written and document.frontmatter is None
        parts.append(_render(section, types, nl, lead=nl if written.strip() else "", top=top))
    text = "".join(parts)
    return ("\ufeff" + text) if document.bom else text


def _render(section: Section, types: Mapping[str, SectionType], nl: str, *, lead: str, top: bool) -> str:
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
