"""``docs/format.md`` stays in step with the code: its example reads, every key is documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import attrs

from dlm_core.document.frontmatter import Frontmatter
from dlm_core.document.parser import parse
from dlm_core.document.serializer import serialize

DOC = Path(__file__).resolve().parents[2] / "docs" / "format.md"


def _code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def _field_names(cls: Any) -> set[str]:
    """Every key of ``cls``, nested classes included (also inside lists and mappings)."""
    names = set()
    for field in attrs.fields(attrs.resolve_types(cls)):
        names.add(field.name)
        for inner in (field.type, *_type_args(field.type)):
            if attrs.has(inner):
                names |= _field_names(inner)
    return names


def _type_args(type_: Any) -> list[Any]:
    args = list(get_args(type_))
    return args + [nested for arg in args for nested in _type_args(arg)]


def test_the_example_document_reads_and_writes_back() -> None:
    example = DOC.read_text(encoding="utf-8").split("```\n", 2)[1]
    document = parse(example, path="example.dlm")
    assert [s.type for s in document.sections] == ["prose", "instruction", "preference"]
    assert document.sections[2].auto_mined
    assert serialize(document) == example


def test_every_frontmatter_key_is_documented() -> None:
    spans = _code_spans(DOC.read_text(encoding="utf-8"))
    undocumented = sorted(
        name for name in _field_names(Frontmatter) if not any(name in span for span in spans)
    )
    assert undocumented == []
