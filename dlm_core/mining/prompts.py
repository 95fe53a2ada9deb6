"""Which prompts are mined: the ``### Q`` of every instruction record, once each.

Each of them comes with the answers the document gives it (its ``### A``),
which reference-guided judging, the document check and SPIN-style pairs use.
"""

from __future__ import annotations

from dlm_core.document.model import Document
from dlm_core.mining.selection import normalize


def mining_prompts(document: Document) -> list[str]:
    """Instruction questions in document order, duplicates removed."""
    seen: dict[str, None] = {}
    for section in document.of_type("instruction"):
        for record in section.records:
            seen.setdefault(record["Q"], None)
    return list(seen)


def reference_answers(document: Document) -> dict[str, list[str]]:
    """Question -> the document's distinct answers to it, in document order.

    Both are normalized as mined text is (line endings, surrounding space),
    so a prompt finds its answers however the record was laid out.
    """
    answers: dict[str, list[str]] = {}
    for section in document.of_type("instruction"):
        for record in section.records:
            found = answers.setdefault(normalize(record["Q"]), [])
            answer = normalize(record["A"])
            if answer not in found:
                found.append(answer)
    return answers
