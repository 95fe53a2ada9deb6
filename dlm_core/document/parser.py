"""Read ``.dlm`` text into a :class:`~dlm_core.document.model.Document`.

The reader is strict and says where: every problem is a
:class:`~dlm_core.errors.DocumentError` at ``file:line:col`` naming what was
expected. It keeps each section's exact source text so the writer can
reproduce the file byte for byte.

Layout rules, which the writer mirrors: a section runs from its fence to the
next fence; blank lines just before a fence belong to that fence's section;
blank lines around a record's text are layout, not text. Code blocks matter
only in prose: there a fence inside a ``` block is text. Inside records,
every grammar line counts and text that looks like grammar is escaped, so an
unbalanced ``` in a generated answer cannot swallow the rest of the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from dlm_core.document import grammar
from dlm_core.document.frontmatter import Frontmatter, FrontmatterInvalid, load_frontmatter
from dlm_core.document.model import Document, Record, RecordField, Section
from dlm_core.document.provenance import MarkerError, parse_marker
from dlm_core.document.types import SectionType
from dlm_core.errors import DocumentError


@attrs.frozen
class _Line:
    number: int  # 1-based
    start: int  # offset of the first character
    end: int  # offset after the line terminator
    text: str  # without the terminator


def _split_lines(text: str, offset: int, first_number: int) -> list[_Line]:
    lines = []
    pos, number = 0, first_number
    while pos < len(text):
        nl = text.find("\n", pos)
        end = len(text) if nl == -1 else nl + 1
        content = text[pos:nl] if nl != -1 else text[pos:]
        if nl != -1 and content.endswith("\r"):
            content = content[:-1]
        lines.append(_Line(number, offset + pos, offset + end, content))
        pos, number = end, number + 1
    return lines


def _blank(line: _Line) -> bool:
    return line.text.strip() == ""


def _detect_newline(text: str) -> str:
    nl = text.find("\n")
    return "\r\n" if nl > 0 and text[nl - 1] == "\r" else "\n"


def parse(
    text: str,
    *,
    path: Path | str | None = None,
    types: Mapping[str, SectionType] | None = None,
) -> Document:
    """Parse a whole document.

    :param text: the decoded file contents.
    :param path: used only in error messages.
    :param types: fence name → section type; the core's built-ins by default.
    :raises DocumentError: on any malformed input, located at line and column.
    """
    if types is None:
        from dlm_core.document.builtin_types import BUILTIN_TYPES

        types = BUILTIN_TYPES
    return _Parser(text, path, types).parse()


class _Parser:
    def __init__(self, text: str, path: Path | str | None, types: Mapping[str, SectionType]):
        self.bom = text.startswith("\ufeff")
        self.text = text[1:] if self.bom else text
        self.path = path
        self.types = types
        self.lines = _split_lines(self.text, 0, 1)

    def error(self, message: str, line: int, col: int = 1) -> DocumentError:
        return DocumentError(message, path=self.path, line=line, col=col)

    def parse(self) -> Document:
        frontmatter, frontmatter_source, body_start = self._frontmatter()
        body = self.lines[body_start:]
        fences = []
        in_code = False
        for index, line in enumerate(body):
            fence = grammar.match_fence(line.text)
            current_is_prose = not fences or self._type(fences[-1][1]).headers == ()
            if current_is_prose and not fence and grammar.opens_code_block(line.text):
                in_code = not in_code
                if in_code:
                    code_start = line
                continue
            if fence and not (current_is_prose and in_code):
                name, _suffix = fence
                if name not in self.types:
                    known = ", ".join(sorted(self.types))
                    raise self.error(f"unknown section type '::{name}::'; known types: {known}", line.number)
                fences.append((index, name))
                in_code = False
        if in_code:
            raise self.error(
                "this ``` code block is never closed; add a closing ``` line", code_start.number
            )

        sections: list[Section] = []
        # Blank lines just before a fence belong to the fenced section.
        span_starts = []
        for index, _name in fences:
            lead = index
            while lead > 0 and _blank(body[lead - 1]):
                lead -= 1
            span_starts.append(lead)
        prose_lines = body[: span_starts[0]] if fences else body
        if any(not _blank(line) for line in prose_lines):
            prose = self._prose(prose_lines, fenced=False, top=frontmatter is None)
            sections.append(attrs.evolve(prose, source=self._slice(prose_lines)))
        elif prose_lines:
            # A body of blank lines only: keep them with the head of the file.
            frontmatter_source = (frontmatter_source or "") + self._slice(prose_lines)

        for i, (fence_index, name) in enumerate(fences):
            span_end = span_starts[i + 1] if i + 1 < len(fences) else len(body)
            section = self._fenced(name, body[fence_index], body[fence_index + 1 : span_end])
            lines = body[span_starts[i] : span_end]
            sections.append(attrs.evolve(section, source=self._slice(lines)))

        return Document(
            frontmatter=frontmatter,
            sections=tuple(sections),
            frontmatter_source=frontmatter_source,
            newline=_detect_newline(self.text),
            bom=self.bom,
        )

    def _type(self, name: str) -> SectionType:
        return self.types[name]

    def _slice(self, lines: list[_Line]) -> str:
        if not lines:
            return ""
        return self.text[lines[0].start : lines[-1].end]

    # -- frontmatter ----------------------------------------------------

    def _frontmatter(self) -> tuple[Frontmatter | None, str | None, int]:
        if not self.lines or self.lines[0].text.rstrip() != grammar.FRONTMATTER_DELIMITER:
            return None, None, 0
        for index in range(1, len(self.lines)):
            if self.lines[index].text.rstrip() == grammar.FRONTMATTER_DELIMITER:
                break
        else:
            raise self.error(
                "frontmatter opened with '---' is never closed; add a '---' line after the YAML", 1
            )
        yaml_text = self.text[self.lines[1].start : self.lines[index].start] if index > 1 else ""
        try:
            frontmatter = load_frontmatter(yaml_text)
        except FrontmatterInvalid as exc:
            problem = exc.problem
            raise self.error(problem.message, problem.line + 2, problem.col + 1) from None
        source = self.text[: self.lines[index].end]
        return frontmatter, source, index + 1

    # -- sections -------------------------------------------------------

    def _prose(self, lines: list[_Line], *, fenced: bool, top: bool) -> Section:
        first = next((i for i, line in enumerate(lines) if not _blank(line)), len(lines))
        last = max((i for i, line in enumerate(lines) if not _blank(line)), default=-1)
        texts = []
        in_code = False
        for i, line in enumerate(lines[first : last + 1]):
            if grammar.opens_code_block(line.text):
                in_code = not in_code
                texts.append(line.text)
                continue
            is_top = top and not fenced and line.number == 1
            texts.append(line.text if in_code else grammar.unescape(line.text, top=is_top))
        text = "\n".join(texts)
        return self._make(lines[0].number if lines else 1, "prose", text=text, fenced=fenced)

    def _make(self, line: int, type_name: str, **kwargs: object) -> Section:
        try:
            return Section(type_name, **kwargs)  # type: ignore[arg-type]
        except ValueError as exc:
            raise self.error(str(exc), line) from None

    def _fenced(self, name: str, fence: _Line, content: list[_Line]) -> Section:
        section_type = self._type(name)
        match = grammar.match_fence(fence.text)
        suffix = match[1] if match else ""
        if section_type.headers == ():
            prose = self._prose(content, fenced=True, top=False) if content else None
            text = prose.text if prose is not None else ""
            return self._make(fence.number, name, text=text, fence_suffix=suffix)

        provenance = None
        if content and content[0].text.startswith(grammar.MARKER_START):
            try:
                provenance = parse_marker(content[0].text.rstrip(), section_type.provenance)
            except MarkerError as exc:
                raise self.error(str(exc), content[0].number) from None
            content = content[1:]
        records = self._records(section_type, fence, content)
        return Section(name, records=records, provenance=provenance, fence_suffix=suffix)

    def _records(self, section_type: SectionType, fence: _Line, lines: list[_Line]) -> tuple[Record, ...]:
        headers = section_type.headers
        records: list[Record] = []
        fields: list[RecordField] = []
        current: tuple[str, _Line, list[_Line]] | None = None
        record_start = fence
        for line in lines:
            header = grammar.match_header(line.text, headers)
            if header is None:
                if current is not None:
                    current[2].append(line)
                elif not _blank(line):
                    raise self.error(
                        f"expected '### {headers[0]}' to start a ::{section_type.name}:: record, found text",
                        line.number,
                    )
                continue
            if current is not None:
                fields.append(self._field(current, headers))
                if len(fields) == len(headers):
                    records.append(Record(tuple(fields)))
                    fields = []
            expected = headers[len(fields)]
            if header != expected:
                if not fields:
                    raise self.error(
                        f"found '### {header}' before its '### {headers[0]}'; "
                        f"each record starts with '### {headers[0]}'",
                        line.number,
                    )
                raise self.error(f"expected '### {expected}', found '### {header}'", line.number)
            if not fields:
                record_start = line
            current = (header, line, [])
        if current is not None:
            fields.append(self._field(current, headers))
            if len(fields) == len(headers):
                records.append(Record(tuple(fields)))
                fields = []
        if fields:
            missing = ", ".join(f"'### {h}'" for h in headers[len(fields) :])
            raise self.error(f"::{section_type.name}:: record is missing {missing}", record_start.number)
        if not records:
            raise self.error(
                f"::{section_type.name}:: section has no records; expected '### {headers[0]}'",
                fence.number,
            )
        return tuple(records)

    def _field(self, current: tuple[str, _Line, list[_Line]], headers: tuple[str, ...]) -> RecordField:
        header, header_line, body = current
        first = next((i for i, line in enumerate(body) if not _blank(line)), None)
        if first is None:
            raise self.error(f"'### {header}' has no text under it", header_line.number)
        last = max(i for i, line in enumerate(body) if not _blank(line))
        text = "\n".join(grammar.unescape(line.text, headers) for line in body[first : last + 1])
        try:
            return RecordField(header, text)
        except ValueError as exc:
            raise self.error(f"'### {header}': {exc}", header_line.number) from None
