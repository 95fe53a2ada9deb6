"""Training rows: what each phase is given, tokenized with the real tokenizer."""

from __future__ import annotations

from pathlib import Path

from dlm_core.document.builtin_types import BUILTIN_TYPES
from dlm_core.document.model import Document, Section
from dlm_core.document.parser import parse
from dlm_core.document.provenance import MinedProvenance
from dlm_core.models.chat import ChatFormat
from dlm_core.training.rows import preference_rows, sft_rows


def chat_format(tiny_base: Path, system: str | None = "You are concise.") -> ChatFormat:
    from transformers import AutoTokenizer

    return ChatFormat(AutoTokenizer.from_pretrained(tiny_base), system)


def test_instruction_rows_carry_loss_on_exactly_the_answer_tokens(tiny_base: Path) -> None:
    chat = chat_format(tiny_base)
    doc = Document(
        sections=(Section.instruction([("How should notes read?", "Short and factual.")]),)
    )
    rowset = sft_rows(doc, chat, BUILTIN_TYPES, sequence_len=1024)
    (row,) = rowset.lm_rows
    answer = [t for t, m in zip(row.input_ids, row.loss_mask, strict=True) if m]
    prompt = [t for t, m in zip(row.input_ids, row.loss_mask, strict=True) if not m]
    assert prompt == chat.prompt_ids("How should notes read?")
    assert answer == chat.answer_ids("How should notes read?", "Short and factual.")
    assert chat.tokenizer.decode(answer) == "Short and factual.<|im_end|>"
    assert "You are concise." in chat.tokenizer.decode(prompt)


def test_prose_rows_carry_loss_on_every_token_and_end_with_eos(tiny_base: Path) -> None:
    chat = chat_format(tiny_base)
    doc = Document(sections=(Section.prose("Release notes are short."),))
    (row,) = sft_rows(doc, chat, BUILTIN_TYPES, sequence_len=1024).lm_rows
    assert row.loss_mask == [1] * len(row.input_ids)
    assert row.input_ids[-1] == chat.end_of_turn_id
    assert chat.tokenizer.decode(row.input_ids[:-1]) == "Release notes are short."


def test_long_prose_is_cut_into_windows_of_sequence_len(tiny_base: Path) -> None:
    chat = chat_format(tiny_base)
    doc = Document(sections=(Section.prose(" ".join(["word"] * 300)),))
    rows = sft_rows(doc, chat, BUILTIN_TYPES, sequence_len=64).lm_rows
    assert len(rows) > 1 and all(len(r.input_ids) <= 64 for r in rows)


def test_sft_rows_never_include_preference_records(tiny_base: Path) -> None:
    chat = chat_format(tiny_base)
    doc = parse(
        "::instruction::\n### Q\nq\n### A\na\n\n::preference::\n### Prompt\np\n### Chosen\nc\n### Rejected\nr\n"
    )
    rowset = sft_rows(doc, chat, BUILTIN_TYPES, sequence_len=1024)
    assert rowset.rows == {"instruction": 1}


def test_preference_rows_use_the_chat_template_and_count_mined_records(tiny_base: Path) -> None:
    chat = chat_format(tiny_base)
    mined = MinedProvenance("sway", 0.5, 0.1, "2026-04-23T18:42:11Z", 3)
    doc = Document(
        sections=(
            Section.preference([("p1", "c1", "r1")]),
            Section.preference([("p2", "c2", "r2")], provenance=mined),
        )
    )
    everything = preference_rows(doc, chat, BUILTIN_TYPES)
    assert len(everything.preference_rows) == 2
    assert (everything.mined_included, everything.mined_excluded) == (1, 0)
    hand_only = preference_rows(doc, chat, BUILTIN_TYPES, include_mined=False)
    assert [r.prompt for r in hand_only.preference_rows] == ["p1"]
    assert (hand_only.mined_included, hand_only.mined_excluded) == (0, 1)
    row = everything.preference_rows[0]
    assert row.prompt_ids == chat.prompt_ids("p1")
    assert row.chosen_ids == chat.answer_ids("p1", "c1")
    assert row.rejected_ids[-1] == chat.end_of_turn_id


def test_eval_sections_give_no_rows(tiny_base: Path) -> None:
    chat = chat_format(tiny_base)
    doc = parse("::eval::\n### Q\nheld out?\n")
    assert sft_rows(doc, chat, BUILTIN_TYPES, sequence_len=1024).size == 0
    assert preference_rows(doc, chat, BUILTIN_TYPES).size == 0
