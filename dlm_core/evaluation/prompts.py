"""Held-out prompts: ``::eval::`` records, or a file given with ``--prompts``.

Eval prompts are never trained on and never mined; they exist to check that
a new adapter version behaves better on questions it has not seen.
"""

from __future__ import annotations

import json
from pathlib import Path

from dlm_core.document.model import Document
from dlm_core.errors import EvaluationError


def eval_prompts(document: Document) -> list[str]:
    """The ``### Q`` of every ``::eval::`` record, once each, in document order."""
    seen: dict[str, None] = {}
    for section in document.of_type("eval"):
        for record in section.records:
            seen.setdefault(record["Q"], None)
    return list(seen)


def prompts_from_file(path: Path) -> list[str]:
    """One prompt per line, or JSONL objects with a ``prompt`` field (blank lines skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"cannot read prompts from {path}: {exc}") from None
    prompts = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise EvaluationError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if (
                not isinstance(value, dict)
                or not isinstance(value.get("prompt"), str)
                or not value["prompt"].strip()
            ):
                raise EvaluationError(f'{path}:{number}: expected {{"prompt": "..."}}')
            prompts.append(value["prompt"])
        else:
            prompts.append(text)
    if not prompts:
        raise EvaluationError(f"{path} holds no prompts")
    return list(dict.fromkeys(prompts))
