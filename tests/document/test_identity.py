"""Adding a ``dlm_id`` on first train: one line added, nothing else moved."""

from __future__ import annotations

import re

import pytest

from dlm_core.document.identity import with_identity
from dlm_core.document.parser import parse
from dlm_core.document.serializer import serialize
from dlm_core.errors import DlmError

ULID = r"[0-9A-HJKMNP-TV-Z]{26}"


def _identified(text: str) -> tuple[str, str]:
    """The text after ``with_identity``, checked to read back as the same document."""
    document, note = with_identity(parse(text))
    assert note is not None
    written = serialize(document)
    assert parse(written) == document
    assert document.dlm_id is not None
    return written, document.dlm_id


def test_a_document_with_an_id_is_left_alone() -> None:
    document = parse("---\ndlm_id: 01KPM5CXB51GRX86Q25AKERN6E\n---\nHello.\n")
    assert with_identity(document) == (document, None)


def test_a_document_without_frontmatter_gains_one_above_its_prose() -> None:
    written, dlm_id = _identified("Hello.\n\n::instruction::\n### Q\nq\n### A\na\n")
    assert written == (
        f"---\ndlm_id: {dlm_id}\nbase_model: smollm2-135m\n---\n\nHello.\n\n::instruction::\n### Q\nq\n### A\na\n"
    )


def test_prose_that_opened_with_an_escaped_rule_keeps_its_text() -> None:
    # On line 1 a "---" line must be written "\---"; below a frontmatter it needs no backslash.
    text = "\\---\nNot a frontmatter.\n"
    assert parse(text).sections[0].text == "---\nNot a frontmatter."
    written, _ = _identified(text)
    assert written.endswith("---\n\n---\nNot a frontmatter.\n")
    assert parse(written).sections[0].text == "---\nNot a frontmatter."


def test_prose_that_opened_with_a_backslash_before_a_rule_keeps_its_text() -> None:
    written, _ = _identified("\\\\---\n")
    assert parse(written).sections[0].text == "\\---"


def test_an_existing_block_gains_one_line_after_its_opening() -> None:
    block = "---\n# house style\nbase_model: smollm2-135m   # small\ntraining:\n  learning_rate: 2e-4\n  warmup_ratio: 0.10\n---\n"
    written, dlm_id = _identified(block + "Hello.\n")
    assert written == "---\n" + f"dlm_id: {dlm_id}\n" + block[4:] + "Hello.\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("dlm_id:", "dlm_id: {id}"),
        ("dlm_id: null  # set on first train", "dlm_id: {id}  # set on first train"),
        ("dlm_id: ~", "dlm_id: {id}"),
    ],
)
def test_an_empty_dlm_id_is_filled_in_where_it_is(line: str, expected: str) -> None:
    written, dlm_id = _identified(
        f"---\nbase_model: x\n{line}\nseed_note: 1\n---\n".replace("seed_note: 1\n", "")
    )
    assert written == f"---\nbase_model: x\n{expected.format(id=dlm_id)}\n---\n"


def test_a_flow_mapping_gains_the_key_inside_its_braces() -> None:
    written, dlm_id = _identified("---\n{base_model: x, training: {seed: 1}}\n---\n")
    assert written == f"---\n{{dlm_id: {dlm_id}, base_model: x, training: {{seed: 1}}}}\n---\n"


def test_crlf_line_endings_are_kept() -> None:
    written, dlm_id = _identified("---\r\nbase_model: x\r\n---\r\nHello.\r\n")
    assert written == f"---\r\ndlm_id: {dlm_id}\r\nbase_model: x\r\n---\r\nHello.\r\n"


def test_an_empty_document_gains_a_frontmatter() -> None:
    written, _ = _identified("\n\n")
    assert re.fullmatch(f"---\ndlm_id: {ULID}\nbase_model: smollm2-135m\n---\n\n\n", written)


def test_an_indented_block_gains_a_line_at_its_indent() -> None:
    written, dlm_id = _identified("---\n  base_model: x\n  training: {seed: 1}\n---\n")
    assert written == f"---\n  dlm_id: {dlm_id}\n  base_model: x\n  training: {{seed: 1}}\n---\n"


def test_a_tagged_flow_mapping_gains_the_key_inside_its_braces() -> None:
    written, dlm_id = _identified("---\n!!map {base_model: x}\n---\n")
    assert written == f"---\n!!map {{dlm_id: {dlm_id}, base_model: x}}\n---\n"


def test_a_block_that_cannot_be_edited_safely_is_an_error() -> None:
    # A tagged root: the edit would land before its tag, so it is refused.
    document = parse("---\n!!map\nbase_model: x\n---\n")
    with pytest.raises(DlmError, match=r"add the line `dlm_id: [0-9A-Z]{26}` to it"):
        with_identity(document)
