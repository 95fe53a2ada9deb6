"""The format by example: escaping, canonical layout, identity and what a value may hold.

These are the examples ``docs/format.md`` gives, checked.
"""

from __future__ import annotations

import re

import pytest

from dlm_core.document.frontmatter import Frontmatter, render_frontmatter
from dlm_core.document.model import Document, Record, RecordField, Section
from dlm_core.document.parser import parse
from dlm_core.document.provenance import MinedProvenance, parse_marker, render_marker
from dlm_core.document.serializer import serialize

MINED = MinedProvenance("sway", 0.82, 0.31, "2026-04-23T18:42:11Z", 7)


def _written(*sections: Section) -> str:
    return serialize(Document(sections=sections))


# -- escaping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "written"),
    [
        ("### A", "\\### A"),
        ("\\### A", "\\\\### A"),
        ("::preference::", "\\::preference::"),
        ("\\\\::preference::", "\\\\\\::preference::"),
        ("<!-- dlm-auto-mined: x -->", "\\<!-- dlm-auto-mined: x -->"),
        ("### Chosen", "### Chosen"),  # not a header of ::instruction::
        ("---", "---"),  # only the first line of a file can open a frontmatter
        ("```", "```"),  # code fences do not matter inside records
        (" ### A", " ### A"),  # grammar lines start at column 1
        ("### A  ", "\\### A  "),  # trailing blanks do not hide a header
    ],
)
def test_record_text_that_reads_as_grammar_gets_one_backslash(answer: str, written: str) -> None:
    text = _written(Section.instruction([("Q?", answer)]))
    assert text == f"::instruction::\n### Q\nQ?\n### A\n{written}\n"
    assert parse(text).sections[0].records[0]["A"] == answer


def test_prose_escapes_grammar_outside_code_blocks_only() -> None:
    prose = "::instruction::\n```\n::instruction::\n<!-- dlm-x -->\n```\n<!-- dlm-x -->\n### Q"
    text = _written(Section.prose(prose))
    assert (
        text
        == "\\::instruction::\n```\n::instruction::\n<!-- dlm-x -->\n```\n\\<!-- dlm-x -->\n### Q\n"
    )
    assert parse(text).sections[0].text == prose


def test_a_rule_on_the_first_line_of_a_file_without_frontmatter_is_escaped() -> None:
    assert _written(Section.prose("---\nText.\n---")) == "\\---\nText.\n---\n"
    with_frontmatter = Document(Frontmatter(base_model="x"), (Section.prose("---\nText."),))
    assert serialize(with_frontmatter) == "---\nbase_model: x\n---\n\n---\nText.\n"


# -- layout --------------------------------------------------------------------------


def test_new_sections_are_written_in_the_canonical_layout() -> None:
    text = _written(
        Section.prose("Intro."),
        Section.instruction([("Q1?", "A1."), ("Q2?", "A2.")]),
        Section.preference([("P", "C", "R")], MINED),
        Section("eval", records=(Record.of(("Q", "Held out?")),)),
    )
    assert text == (
        "Intro.\n"
        "\n::instruction::\n### Q\nQ1?\n### A\nA1.\n\n### Q\nQ2?\n### A\nA2.\n"
        "\n::preference::\n"
        '<!-- dlm-auto-mined: judge_name="sway" judge_score_chosen="0.82" judge_score_rejected="0.31" '
        'mined_at="2026-04-23T18:42:11Z" mined_run_id="7" -->\n'
        "### Prompt\nP\n### Chosen\nC\n### Rejected\nR\n"
        "\n::eval::\n### Q\nHeld out?\n"
    )


def test_blank_lines_and_trailing_blanks_around_grammar_are_layout() -> None:
    loose = "::instruction::  \n\n### Q \n\n  Q?\n\n\n### A\t\nA.\n\n\n"
    assert parse(loose) == Document(sections=(Section.instruction([("  Q?", "A.")]),))
    assert serialize(parse(loose)) == loose


def test_appending_to_a_file_without_a_final_newline_adds_one() -> None:
    document = parse("Intro.")
    text = serialize(document.appending([Section.instruction([("Q?", "A.")])]))
    assert text == "Intro.\n\n::instruction::\n### Q\nQ?\n### A\nA.\n"


def test_new_sections_use_the_documents_line_ending() -> None:
    document = parse("Intro.\r\n")
    text = serialize(document.appending([Section.instruction([("Q?", "A.")])]))
    assert text == "Intro.\r\n\r\n::instruction::\r\n### Q\r\nQ?\r\n### A\r\nA.\r\n"


# -- section identity ----------------------------------------------------------------


def test_section_id_is_16_hex_chars_of_type_and_content() -> None:
    section = Section.instruction([("Q?", "A.")])
    assert re.fullmatch("[0-9a-f]{16}", section.section_id)
    assert section.section_id != Section.instruction([("Q?", "A!")]).section_id
    assert section.section_id != Section.preference([("Q?", "A.", "B.")]).section_id


def test_section_id_ignores_layout_and_provenance() -> None:
    by_hand = parse(
        "::preference::\n\n### Prompt\n\nP\n### Chosen\nC\n\n### Rejected\nR\n\n"
    ).sections[0]
    mined = Section.preference([("P", "C", "R")], MINED)
    assert by_hand.section_id == mined.section_id


# -- what a value may hold -------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RecordField("A", ""), "text must not be empty"),
        (lambda: RecordField("A", "\nA."), "text must not start or end with a blank line"),
        (lambda: RecordField("A", "A.\n  "), "text must not start or end with a blank line"),
        (lambda: RecordField("A", "A.\r\nB."), "text must not contain carriage returns"),
        (
            lambda: Section.prose("```\ncode"),
            "prose text opens a ``` code block that it never closes",
        ),
        (
            lambda: Section("instruction", records=(Record.of(("Q", "q")),), text="t"),
            "records or free text, not both",
        ),
        (
            lambda: Section("prose", text="t", provenance=MINED),
            "a provenance marker belongs to a section of records",
        ),
        (
            lambda: Document(sections=(Section.prose("a", fenced=True), Section.prose("b"))),
            "only the prose at the top",
        ),
    ],
)
def test_values_that_could_not_be_written_are_refused(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make()  # type: ignore[operator]


# -- markers and frontmatter rendering ------------------------------------------------------


@pytest.mark.parametrize(
    "judge", ['say "hi"', "a --> b", "back\\slash", "two\nlines", "cr\rhere", "ünï ✓"]
)
def test_a_marker_field_survives_any_text(judge: str) -> None:
    provenance = MinedProvenance(judge, -1.5e-07, 3.0, "2026-04-23T18:42:11+02:00", 0)
    line = render_marker(provenance)
    assert "\n" not in line and "\r" not in line
    assert parse_marker(line, (MinedProvenance,)) == provenance


def test_a_rendered_frontmatter_holds_only_what_differs_from_the_defaults() -> None:
    frontmatter = Frontmatter(
        dlm_id="01KPM5CXB51GRX86Q25AKERN6E", system_prompt="Line one.\n---\nLine two."
    )
    assert render_frontmatter(frontmatter) == (
        "---\ndlm_id: 01KPM5CXB51GRX86Q25AKERN6E\nbase_model: smollm2-135m\n"
        'system_prompt: "Line one.\\n---\\nLine two."\n---\n'
    )
    assert parse(serialize(Document(frontmatter))).frontmatter == frontmatter
