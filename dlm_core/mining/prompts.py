"""Which prompts are mined: the ``### Q`` of every instruction record, once each."""

from __future__ import annotations

from dlm_core.document.model import Document


def mining_prompts(document: Document) -> list[str]:
    """Instruction questions in document order, duplicates removed."""
    seen: dict[str, None] = {}
    for section in document.of_type("instruction"):
        for record in section.records:
            seen.setdefault(record["Q"], None)
    return list(seen)
