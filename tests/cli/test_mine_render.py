"""What `dlm preference mine` prints for people, from a typed mine outcome."""

from __future__ import annotations

from pathlib import Path

from dlm_core.cli.preference_cmd import render_mine
from dlm_core.outcomes import MineOutcome


def outcome(**fields: object) -> MineOutcome:
    return MineOutcome(run_id=3, prompts=10, wall_seconds=4.0, **fields)  # type: ignore[arg-type]


def test_a_mine_run_whose_pairs_mostly_contradict_the_document_says_why_and_what_to_do() -> None:
    text = render_mine(outcome(pairs=2, skipped={"contradicts_document": 8}), Path("notes.dlm"))
    assert "skipped: contradicts_document 8" in text
    note = text.splitlines()[-1]
    assert note.startswith("note: 8 of 10 prompts' pairs were skipped as contradicts_document")
    assert "--document-check" in note


def test_a_few_contradictions_draw_no_note() -> None:
    text = render_mine(outcome(pairs=8, skipped={"contradicts_document": 2}), Path("notes.dlm"))
    assert "note:" not in text
