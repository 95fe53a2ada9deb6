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

Lines end at ``\\n`` or ``\\r\\n``. A carriage return anywhere else is an
error at its own line and column (it was one before too, but reported at the
start of the section or field that held it).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import accumulate
from pathlib import Path

from dlm_core.document import grammar
from dlm_core.document.frontmatter import Frontmatter, FrontmatterInvalid, load_frontmatter
from dlm_core.document.model import Document, Record, RecordField, Section
from dlm_core.document.provenance import MarkerError, parse_marker
from dlm_core.document.types import SectionType
from dlm_core.errors import DocumentError


def _split_lines(text: str) -> tuple[list[str], list[int]]:
    """The lines of ``text`` and the offset where each starts.

    A line ends at ``\\n`` and loses a ``\\r`` just before it. ``starts`` has
    one more entry than there are lines: the end of the text, so line ``i``
    is ``text[starts[i]:starts[i + 1]]`` with its terminator.
    """
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()  # the text ends with a line feed (or is empty)
    starts = [offset + index for index, offset in enumerate(accumulate(map(len, lines), initial=0))]
    starts[-1] = min(starts[-1], len(text))  # an unterminated last line has no line feed
    if "\r" in text:
        terminated = len(lines) if text.endswith("\n") else len(lines) - 1
        for index in range(terminated):
            if lines[index].endswith("\r"):
                lines[index] = lines[index][:-1]
    return lines, starts


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
    """One parse. Lines are addressed by 0-based index (line number - 1);
    a run of lines is a half-open index range ``lo, hi``."""

    def __init__(self, text: str, path: Path | str | None, types: Mapping[str, SectionType]):
        self.bom = text.startswith("\ufeff")
        self.text = text[1:] if self.bom else text
        self.path = path
        self.types = types
        self.lines, self.starts = _split_lines(self.text)

    def error(self, message: str, line: int, col: int = 1) -> DocumentError:
        return DocumentError(message, path=self.path, line=line, col=col)

    def parse(self) -> Document:
        self._check_carriage_returns()
        frontmatter, frontmatter_source, body = self._frontmatter()
        fences = self._fences(body)
        lines = self.lines
        end = len(lines)

        # Blank lines just before a fence belong to the fenced section.
        span_starts = []
        for index, _name in fences:
            lead = index
            while lead > body and not lines[lead - 1].strip():
                lead -= 1
            span_starts.append(lead)

        sections: list[Section] = []
        prose_end = span_starts[0] if fences else end
        if any(lines[i].strip() for i in range(body, prose_end)):
            top = frontmatter is None
            sections.append(self._prose(body, prose_end, top=top))
        elif prose_end > body:
            # A body of blank lines only: keep them with the head of the file.
            frontmatter_source = (frontmatter_source or "") + self._slice(body, prose_end)

        for i, (fence, name) in enumerate(fences):
            span_end = span_starts[i + 1] if i + 1 < len(fences) else end
            sections.append(
                self._fenced(name, fence, span_end, self._slice(span_starts[i], span_end))
            )

        return Document(
            frontmatter=frontmatter,
            sections=tuple(sections),
            frontmatter_source=frontmatter_source,
            newline=_detect_newline(self.text),
            bom=self.bom,
        )

    def _slice(self, lo: int, hi: int) -> str:
        return self.text[self.starts[lo] : self.starts[hi]] if lo < hi else ""

    def _check_carriage_returns(self) -> None:
        if "\r" not in self.text:
            return
        for index, line in enumerate(self.lines):
            col = line.find("\r")
            if col != -1:
                raise self.error(
                    "carriage return (\\r) that does not end a line; "
                    "save the file with \\n or \\r\\n line endings",
                    index + 1,
                    col + 1,
                )

    def _fences(self, body: int) -> list[tuple[int, str]]:
        """``(line index, type name)`` of every fence, code blocks in prose skipped."""
        fences: list[tuple[int, str]] = []
        in_code = False
        code_start = 0
        in_prose = True  # the unfenced top is prose; code blocks matter only there
        for index in range(body, len(self.lines)):
            line = self.lines[index]
            fence = grammar.match_fence(line)
            if fence is None:
                if in_prose and grammar.opens_code_block(line):
                    in_code = not in_code
                    code_start = index
                continue
            if in_prose and in_code:
                continue  # a fence inside a code block is text
            name = fence[0]
            if name not in self.types:
                known = ", ".join(sorted(self.types))
                raise self.error(
                    f"unknown section type '::{name}::'; known types: {known}", index + 1
                )
            fences.append((index, name))
            in_prose = self.types[name].headers == ()
            in_code = False
        if in_code:
            raise self.error(
                "this ``` code block is never closed; add a closing ``` line", code_start + 1
            )
        return fences

    # -- frontmatter ----------------------------------------------------

    def _frontmatter(self) -> tuple[Frontmatter | None, str | None, int]:
        """The frontmatter, its exact text, and the index of the first body line."""
        lines = self.lines
        if not lines or lines[0].rstrip() != grammar.FRONTMATTER_DELIMITER:
            return None, None, 0
        for close in range(1, len(lines)):
            if lines[close].rstrip() == grammar.FRONTMATTER_DELIMITER:
                break
        else:
            raise self.error(
                "frontmatter opened with '---' is never closed; add a '---' line after the YAML", 1
            )
        yaml_text = self._slice(1, close)
        try:
            frontmatter = load_frontmatter(yaml_text)
        except FrontmatterInvalid as exc:
            problem = exc.problem
            raise self.error(problem.message, problem.line + 2, problem.col + 1) from None
        return frontmatter, self._slice(0, close + 1), close + 1

    # -- sections -------------------------------------------------------

    def _trimmed(self, lo: int, hi: int) -> tuple[int, int]:
        """The range without its leading and trailing blank lines."""
        lines = self.lines
        while lo < hi and not lines[lo].strip():
            lo += 1
        while hi > lo and not lines[hi - 1].strip():
            hi -= 1
        return lo, hi

    def _prose_text(self, lo: int, hi: int, *, top: bool) -> str:
        lo, hi = self._trimmed(lo, hi)
        texts = []
        in_code = False
        for index in range(lo, hi):
            line = self.lines[index]
            if grammar.opens_code_block(line):
                in_code = not in_code
            elif not in_code and line.startswith("\\"):
                line = grammar.unescape(line, top=top and index == 0)
            texts.append(line)
        return "\n".join(texts)

    def _prose(self, lo: int, hi: int, *, top: bool) -> Section:
        text = self._prose_text(lo, hi, top=top)
        return self._make(lo + 1, "prose", text=text, fenced=False, source=self._slice(lo, hi))

    def _make(self, line: int, type_name: str, **kwargs: object) -> Section:
        try:
            return Section(type_name, **kwargs)  # type: ignore[arg-type]
        except ValueError as exc:
            raise self.error(str(exc), line) from None

    def _fenced(self, name: str, fence: int, end: int, source: str) -> Section:
        section_type = self.types[name]
        match = grammar.match_fence(self.lines[fence])
        suffix = match[1] if match else ""
        content = fence + 1
        if section_type.headers == ():
            text = self._prose_text(content, end, top=False)
            return self._make(fence + 1, name, text=text, fence_suffix=suffix, source=source)

        provenance = None
        if content < end and self.lines[content].startswith(grammar.MARKER_START):
            try:
                provenance = parse_marker(self.lines[content].rstrip(), section_type.provenance)
            except MarkerError as exc:
                raise self.error(str(exc), content + 1, exc.col) from None
            content += 1
        records = self._records(section_type, fence, content, end)
        return Section(
            name, records=records, provenance=provenance, fence_suffix=suffix, source=source
        )

    def _records(
        self, section_type: SectionType, fence: int, lo: int, hi: int
    ) -> tuple[Record, ...]:
        headers = section_type.headers
        lines = self.lines
        records: list[Record] = []
        fields: list[RecordField] = []
        current: tuple[str, int] | None = None  # the open field: header name, line index
        record_start = fence
        for index in range(lo, hi):
            header = grammar.match_header(lines[index], headers)
            if header is None:
                if current is None and lines[index].strip():
                    raise self.error(
                        f"expected '### {headers[0]}' to start a ::{section_type.name}:: record, found text",
                        index + 1,
                    )
                continue
            if current is not None:
                fields.append(self._field(*current, index, headers))
                if len(fields) == len(headers):
                    records.append(Record(tuple(fields)))
                    fields = []
            expected = headers[len(fields)]
            if header != expected:
                if not fields:
                    raise self.error(
                        f"found '### {header}' before its '### {headers[0]}'; "
                        f"each record starts with '### {headers[0]}'",
                        index + 1,
                    )
                raise self.error(f"expected '### {expected}', found '### {header}'", index + 1)
            if not fields:
                record_start = index
            current = (header, index)
        if current is not None:
            fields.append(self._field(*current, hi, headers))
            if len(fields) == len(headers):
                records.append(Record(tuple(fields)))
                fields = []
        if fields:
            missing = ", ".join(f"'### {h}'" for h in headers[len(fields) :])
            raise self.error(
                f"::{section_type.name}:: record is missing {missing}", record_start + 1
            )
        if not records:
            raise self.error(
                f"::{section_type.name}:: section has no records; expected '### {headers[0]}'",
                fence + 1,
            )
        return tuple(records)

    def _field(
        self, header: str, header_index: int, end: int, headers: tuple[str, ...]
    ) -> RecordField:
        lo, hi = self._trimmed(header_index + 1, end)
        if lo == hi:
            raise self.error(f"'### {header}' has no text under it", header_index + 1)
        text = "\n".join(
            grammar.unescape(line, headers) if line.startswith("\\") else line
            for line in self.lines[lo:hi]
        )
        try:
            return RecordField(header, text)
        except ValueError as exc:
            raise self.error(f"'### {header}': {exc}", header_index + 1) from None
