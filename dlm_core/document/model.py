"""The ``.dlm`` document as values: frontmatter, sections, records.

Values compare by content. A parsed section also remembers its exact source
text (``source``, not part of equality) so that writing a document back
reproduces every byte the user wrote and only new sections are rendered.

Record and prose texts hold no leading or trailing blank lines (those are
layout between records) and no carriage returns (those are line endings);
a section holds records or free text, never both, and only a section of
records carries a provenance marker. The constructors enforce this so that
every value survives a round trip.

``attrs.evolve`` keeps ``source``: a section changed that way is still
written from its old text. Call :meth:`Section.detached` on a changed
section (``write_document`` refuses a document that would not read back).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from dlm_core.document.provenance import MinedProvenance, Provenance

if TYPE_CHECKING:
    from dlm_core.document.frontmatter import Frontmatter


# Typed converters (rather than ``tuple``) so type checkers see what each field takes.
def _fields_tuple(fields: Iterable[RecordField]) -> tuple[RecordField, ...]:
    return tuple(fields)


def _records_tuple(records: Iterable[Record]) -> tuple[Record, ...]:
    return tuple(records)


def _sections_tuple(sections: Iterable[Section]) -> tuple[Section, ...]:
    return tuple(sections)


def _is_blank(line: str) -> bool:
    return line.strip() == ""


def _check_text(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if "\r" in value:
        raise ValueError(f"{attribute.name} must not contain carriage returns (\\r)")
    if not value:
        return
    first_end = value.find("\n")
    first = value if first_end == -1 else value[:first_end]
    last = value[value.rfind("\n") + 1 :]
    if _is_blank(first) or _is_blank(last):
        raise ValueError(f"{attribute.name} must not start or end with a blank line")


def _check_record_text(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValueError(f"{attribute.name} must not be empty")
    _check_text(instance, attribute, value)


@attrs.frozen
class RecordField:
    """One ``### Header`` and the text under it."""

    header: str
    text: str = attrs.field(validator=_check_record_text)


@attrs.frozen
class Record:
    """One Q/A or Prompt/Chosen/Rejected record, fields in document order."""

    fields: tuple[RecordField, ...] = attrs.field(converter=_fields_tuple)

    @classmethod
    def of(cls, *pairs: tuple[str, str]) -> Record:
        return cls(tuple(RecordField(header, text) for header, text in pairs))

    def __getitem__(self, header: str) -> str:
        for field in self.fields:
            if field.header == header:
                return field.text
        raise KeyError(header)

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(field.header for field in self.fields)


def _code_fences_balanced(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if "```" not in value:
        return
    opened = sum(1 for line in value.split("\n") if line.lstrip().startswith("```"))
    if opened % 2:
        raise ValueError("prose text opens a ``` code block that it never closes")


@attrs.frozen
class Section:
    """A fenced section (or the unfenced prose at the top of a document).

    :ivar type: the section type's name (``prose``, ``instruction``...).
    :ivar records: the records, for types with headers.
    :ivar text: the free text, for prose.
    :ivar provenance: the marker after the fence, if any.
    :ivar fenced: False only for the prose that opens a document unfenced.
    :ivar fence_suffix: upstream's ``#adapter`` fence suffix, kept verbatim.
    :ivar source: the exact text this section was parsed from, if it was.
    """

    type: str
    records: tuple[Record, ...] = attrs.field(default=(), converter=_records_tuple)
    text: str = attrs.field(default="", validator=[_check_text, _code_fences_balanced])
    provenance: Provenance | None = None
    fenced: bool = True
    fence_suffix: str = ""
    source: str | None = attrs.field(default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # Neither would be written: a section is either records or free text,
        # and a marker belongs to a section of records.
        if self.records and self.text:
            raise ValueError("a section holds records or free text, not both")
        if self.provenance is not None and not self.records:
            raise ValueError("a provenance marker belongs to a section of records")

    @classmethod
    def prose(cls, text: str, *, fenced: bool = False) -> Section:
        return cls("prose", text=text, fenced=fenced)

    @classmethod
    def instruction(cls, pairs: Iterable[tuple[str, str]]) -> Section:
        return cls("instruction", records=tuple(Record.of(("Q", q), ("A", a)) for q, a in pairs))

    @classmethod
    def preference(
        cls,
        triples: Iterable[tuple[str, str, str]],
        provenance: Provenance | None = None,
    ) -> Section:
        records = tuple(
            Record.of(("Prompt", p), ("Chosen", c), ("Rejected", r)) for p, c, r in triples
        )
        return cls("preference", records=records, provenance=provenance)

    @property
    def section_id(self) -> str:
        """16 hex chars over the type and content; provenance and layout excluded."""
        if self.records:
            content: Any = [[[f.header, f.text] for f in r.fields] for r in self.records]
        else:
            content = self.text
        payload = json.dumps([self.type, content], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    @property
    def auto_mined(self) -> bool:
        return isinstance(self.provenance, MinedProvenance)

    def detached(self) -> Section:
        """The same section without its source text (rendered afresh when written)."""
        return attrs.evolve(self, source=None)


def _check_sections(
    instance: Any, attribute: attrs.Attribute[Any], value: Sequence[Section]
) -> None:
    for index, section in enumerate(value):
        if not section.fenced and (index != 0 or section.type != "prose"):
            raise ValueError("only the prose at the top of a document may be unfenced")
        if not section.fenced and not section.text:
            raise ValueError("unfenced prose must not be empty")


@attrs.frozen
class Document:
    """A whole ``.dlm`` document.

    :ivar frontmatter: the typed frontmatter, or None when the file has none.
    :ivar sections: every section in document order.
    :ivar frontmatter_source: the frontmatter block exactly as written
        (``---`` lines included), kept so comments and key order survive.
    :ivar newline: the line ending new text is written with.
    :ivar bom: whether the file started with a UTF-8 byte-order mark.
    """

    frontmatter: Frontmatter | None = None
    sections: tuple[Section, ...] = attrs.field(
        default=(), converter=_sections_tuple, validator=_check_sections
    )
    frontmatter_source: str | None = attrs.field(default=None, eq=False, repr=False)
    newline: str = attrs.field(default="\n", eq=False, repr=False)
    bom: bool = attrs.field(default=False, eq=False, repr=False)

    def of_type(self, *types: str) -> list[Section]:
        return [s for s in self.sections if s.type in types]

    @property
    def dlm_id(self) -> str | None:
        return self.frontmatter.dlm_id if self.frontmatter is not None else None

    def with_sections(self, sections: Iterable[Section]) -> Document:
        return attrs.evolve(self, sections=tuple(sections))

    def appending(self, sections: Iterable[Section]) -> Document:
        """A copy with ``sections`` added at the end; other sections keep their bytes."""
        return self.with_sections((*self.sections, *(s.detached() for s in sections)))

    def removing(self, doomed: Iterable[Section]) -> Document:
        """A copy without the given sections (matched by identity, not equality)."""
        ids = {id(s) for s in doomed}
        return self.with_sections(s for s in self.sections if id(s) not in ids)
