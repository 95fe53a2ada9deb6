"""What the judge model is asked, and how its reply is read.

Pointwise (the default): one request per candidate, with an additive 5-point
rubric in the spirit of the Self-Rewarding Language Models paper (Yuan et
al., 2024): a point for each bar the answer clears, from "relevant" to
"expert and exactly tailored", so the score means the same thing on every
prompt. The reply must be a JSON object whose ``score`` is an integer from
0 to 5.

Pairwise: one request per ordered pair of candidates ("A" first, then the
same two swapped), the reply a JSON object whose ``better`` is ``"A"`` or
``"B"``. Asking both orders cancels the judge's taste for a position.

A rubric of the document author's own (``--judge-option rubric=FILE``) is a
text file with placeholders: ``{prompt}`` and ``{candidate}`` (pointwise) or
``{prompt}``, ``{answer_a}`` and ``{answer_b}`` (pairwise), and optionally
``{system_prompt}``. Placeholders are replaced verbatim (no ``str.format``),
so braces in the rest of the file, a JSON example say, are safe. A custom
pointwise rubric sets its own scale: any finite number is read as the score.

Replies are read strictly: the whole reply must be one JSON object (a
Markdown code fence around it is allowed); nothing is searched for inside
prose, and nothing is guessed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

import attrs

Mode = Literal["pointwise", "pairwise"]

POINTWISE = """\
Review the user's question and the answer below, and score the answer with an additive 5-point rubric. Start at 0 and add a point for each statement that is true:

1. The answer is relevant to the question and gives some information about it, even if incomplete.
2. The answer addresses a substantial part of the question.
3. The answer resolves the basic elements of the question in a useful way.
4. The answer addresses the question directly and completely, is well organised and helpful{instructions_clause}.
5. The answer is exactly tailored to the question, with no extraneous information, and reflects expert knowledge.
{instructions}
<question>
{prompt}
</question>

<answer>
{candidate}
</answer>

Reply with only a JSON object: {"reasoning": "<one or two sentences>", "score": <the total, an integer from 0 to 5>}
"""

PAIRWISE = """\
Review the user's question and the two answers below, and decide which answer is better: more relevant, more useful, more direct and complete, with no extraneous information{instructions_clause}.
{instructions}
<question>
{prompt}
</question>

<answer_A>
{answer_a}
</answer_A>

<answer_B>
{answer_b}
</answer_B>

Reply with only a JSON object: {"reasoning": "<one or two sentences>", "better": "A" or "B"}
"""

REPAIR = (
    "That reply could not be read. Reply with only the JSON object asked for, "
    "nothing before or after it."
)
"""The follow-up turn of the one retry an unreadable reply gets."""

POINTWISE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "score": {"type": "integer", "minimum": 0, "maximum": 5},
    },
    "required": ["reasoning", "score"],
    "additionalProperties": False,
}
CUSTOM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "score": {"type": "number"}},
    "required": ["reasoning", "score"],
    "additionalProperties": False,
}
PAIRWISE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "better": {"type": "string", "enum": ["A", "B"]},
    },
    "required": ["reasoning", "better"],
    "additionalProperties": False,
}

PLACEHOLDERS: dict[Mode, tuple[str, ...]] = {
    "pointwise": ("{prompt}", "{candidate}"),
    "pairwise": ("{prompt}", "{answer_a}", "{answer_b}"),
}


class RubricError(ValueError):
    """A rubric file that cannot be used."""


@attrs.frozen
class Rubric:
    """A prompt template and the reply it asks for.

    :ivar bounds: the score's allowed range, or None for a custom scale.
    :ivar source: ``default`` or the rubric file's path.
    """

    mode: Mode
    template: str
    schema: dict[str, Any]
    bounds: tuple[float, float] | None
    source: str

    def render(self, prompt: str, system_prompt: str | None, **answers: str) -> str:
        """The request text for one candidate (``candidate=``) or one ordered pair (``answer_a=``, ``answer_b=``)."""
        values = {"{prompt}": prompt, "{system_prompt}": system_prompt or "(none)"}
        if self.source == "default":
            values["{instructions_clause}"] = (
                ", and follows the assistant's instructions" if system_prompt else ""
            )
            values["{instructions}"] = (
                f"\nThe assistant was given these instructions:\n<instructions>\n{system_prompt}\n</instructions>\n"
                if system_prompt
                else ""
            )
        values.update({"{" + key + "}": text for key, text in answers.items()})
        return _replace_all(self.template, values)


def _replace_all(template: str, values: dict[str, str]) -> str:
    """Each placeholder replaced once, left to right: text put in is never searched again."""
    out, at = [], 0
    while at < len(template):
        hits = [(template.find(key, at), key) for key in values]
        hits = [(pos, key) for pos, key in hits if pos >= 0]
        if not hits:
            break
        pos, key = min(hits)
        out.append(template[at:pos])
        out.append(values[key])
        at = pos + len(key)
    out.append(template[at:])
    return "".join(out)


def default_rubric(mode: Mode) -> Rubric:
    if mode == "pairwise":
        return Rubric("pairwise", PAIRWISE, PAIRWISE_SCHEMA, None, "default")
    return Rubric("pointwise", POINTWISE, POINTWISE_SCHEMA, (0.0, 5.0), "default")


def rubric_from_file(path: Path, mode: Mode) -> Rubric:
    """A document author's rubric; it must hold the mode's placeholders."""
    try:
        template = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RubricError(f"cannot read rubric {path}: {error}") from None
    missing = [p for p in PLACEHOLDERS[mode] if p not in template]
    if missing:
        raise RubricError(
            f"rubric {path} has no {', '.join(missing)}; a {mode} rubric marks where "
            f"{' and '.join(PLACEHOLDERS[mode])} go"
        )
    schema = PAIRWISE_SCHEMA if mode == "pairwise" else CUSTOM_SCHEMA
    return Rubric(mode, template, schema, None, str(path))


def json_object(reply: str) -> dict[str, Any] | None:
    """The reply as one JSON object, or None; a surrounding Markdown code fence is allowed."""
    text = reply.strip()
    if text.startswith("```") and text.endswith("```") and len(text) >= 6:
        text = text[3:-3]
        first_line, _, rest = text.partition("\n")
        if first_line.strip().lower() in ("", "json"):
            text = rest
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_score(reply: str, bounds: tuple[float, float] | None) -> float | None:
    """The ``score`` of a pointwise reply, or None when the reply does not give one plainly."""
    found = json_object(reply)
    score = None if found is None else found.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float):
        return None
    value = float(score)
    if not math.isfinite(value):
        return None
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        return None
    return value


def read_verdict(reply: str) -> Literal["A", "B"] | None:
    """The ``better`` of a pairwise reply, ``"A"`` or ``"B"``, or None."""
    found = json_object(reply)
    better = None if found is None else found.get("better")
    if better == "A":
        return "A"
    if better == "B":
        return "B"
    return None
