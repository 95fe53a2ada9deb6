"""What a section type is, and the examples a section teaches.

A section type names its fence (``::instruction::``), the record headers it
reads (``### Q`` / ``### A``), the provenance markers it accepts and the
training phase its examples feed. Types are registered through the
``dlm_section_types`` hook, the core's own included, so a plugin's section
type is read, shown and trained exactly like a built-in one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from dlm_core.document.model import Section
    from dlm_core.document.provenance import Provenance

Phase = Literal["sft", "preference"]


@attrs.frozen
class TextExample:
    """Plain text trained as continued pretraining (every token carries loss)."""

    text: str


@attrs.frozen
class ChatExample:
    """A user turn and the answer to learn; loss falls on the answer only."""

    prompt: str
    answer: str


@attrs.frozen
class PreferenceExample:
    """A prompt with a preferred and a dispreferred answer."""

    prompt: str
    chosen: str
    rejected: str


Example = TextExample | ChatExample | PreferenceExample


@runtime_checkable
class SectionType(Protocol):
    """The grammar and the training meaning of one ``::name::`` fence."""

    @property
    def name(self) -> str:
        """The fence name: ``::name::``."""

    @property
    def headers(self) -> tuple[str, ...]:
        """Record headers in order (``("Q", "A")``); empty for free text."""

    @property
    def provenance(self) -> tuple[type[Provenance], ...]:
        """Marker types accepted on the line right after the fence."""

    @property
    def phase(self) -> Phase | None:
        """The training phase that consumes this section, or None (never trained)."""

    def examples(self, section: Section) -> list[Example]:
        """What this section teaches, as plain-text examples."""


@attrs.frozen
class BuiltinSectionType:
    """A section type described by data; the core's four types are built this way."""

    name: str
    headers: tuple[str, ...]
    phase: Phase | None
    to_examples: Callable[[Section], list[Example]]
    provenance: tuple[type[Provenance], ...] = ()
    description: str = ""

    def examples(self, section: Section) -> list[Example]:
        return self.to_examples(section)
