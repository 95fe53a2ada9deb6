"""The rubric prompts and the strict reading of the judge's replies."""

from __future__ import annotations

from pathlib import Path

import pytest
from dlm_judge_openai.rubric import (
    RubricError,
    default_rubric,
    read_score,
    read_verdict,
    rubric_from_file,
)

BOUNDS = (0.0, 5.0)


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ('{"reasoning": "relevant and direct", "score": 4}', 4.0),
        ('  {"score": 0, "reasoning": ""}\n', 0.0),
        ('```json\n{"reasoning": "ok", "score": 5}\n```', 5.0),
        ('```\n{"score": 2}\n```', 2.0),
        ('{"score": 3.5}', 3.5),
    ],
)
def test_a_plain_json_reply_gives_its_score(reply: str, score: float) -> None:
    assert read_score(reply, BOUNDS) == score


@pytest.mark.parametrize(
    "reply",
    [
        "Score: 4",
        'The answer deserves {"score": 4}',  # JSON inside prose is not looked for
        '{"score": 4} and some more text',
        '{"score": "4"}',
        '{"score": true}',
        '{"score": null}',
        '{"points": 4}',
        '{"score": 6}',  # outside the rubric's 0 to 5
        '{"score": -1}',
        '{"score": NaN}',
        '[{"score": 4}]',
        '{"reasoning": "cut off at max_tok',
        "",
    ],
)
def test_anything_else_gives_no_score(reply: str) -> None:
    assert read_score(reply, BOUNDS) is None


def test_a_custom_scale_takes_any_finite_number() -> None:
    assert read_score('{"score": -12.5}', None) == -12.5
    assert read_score('{"score": Infinity}', None) is None


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"better": "A"}', "A"),
        ('{"reasoning": "x", "better": "B"}', "B"),
        ('{"better": "a"}', None),
        ('{"better": "both"}', None),
        ("B", None),
    ],
)
def test_pairwise_replies_name_a_or_b_exactly(reply: str, verdict: str | None) -> None:
    assert read_verdict(reply) == verdict


def test_the_default_rubric_is_additive_and_names_the_instructions_when_there_are_some() -> None:
    rubric = default_rubric("pointwise")
    text = rubric.render("How should release notes read?", "You are concise.", candidate="Short.")
    assert "additive 5-point rubric" in text and "an integer from 0 to 5" in text
    assert "<question>\nHow should release notes read?\n</question>" in text
    assert "<answer>\nShort.\n</answer>" in text
    assert "<instructions>\nYou are concise.\n</instructions>" in text
    bare = rubric.render("q", None, candidate="a")
    assert "instructions" not in bare and "{" + "instructions" not in bare


def test_text_put_into_a_rubric_is_never_read_as_a_placeholder() -> None:
    rubric = default_rubric("pointwise")
    text = rubric.render("Explain {candidate} in templates", None, candidate="Use {prompt}.")
    assert "Explain {candidate} in templates" in text and "Use {prompt}." in text


def test_a_rubric_file_keeps_its_braces_and_fills_its_placeholders(tmp_path: Path) -> None:
    path = tmp_path / "rubric.txt"
    path.write_text(
        'Q: {prompt}\nA: {candidate}\nSystem: {system_prompt}\nReply {"score": <1-10>}\n'
    )
    rubric = rubric_from_file(path, "pointwise")
    assert (
        rubric.render("q?", None, candidate="a.")
        == 'Q: q?\nA: a.\nSystem: (none)\nReply {"score": <1-10>}\n'
    )
    assert rubric.bounds is None


def test_a_rubric_file_without_its_placeholders_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rubric.txt"
    path.write_text("Rate the answer from 1 to 10: {candidate}\n")
    with pytest.raises(
        RubricError,
        match=r"has no \{prompt\}; a pointwise rubric marks where \{prompt\} and \{candidate\} go",
    ):
        rubric_from_file(path, "pointwise")
    with pytest.raises(RubricError, match="cannot read rubric"):
        rubric_from_file(tmp_path / "missing.txt", "pointwise")
