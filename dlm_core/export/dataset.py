"""The ``dataset`` target: the document's records as JSONL in TRL's conversational format.

``sft.jsonl`` holds one ``{"messages": [...]}`` conversation per instruction
record (system prompt, user, assistant), ``preference.jsonl`` one
``{"prompt": [...], "chosen": [...], "rejected": [...]}`` pair per
preference record, and ``prose.jsonl`` the prose as ``{"text": ...}``: the
shapes TRL's SFT and DPO trainers take as they are, and
``datasets.load_dataset("json", data_files=...)`` reads. Each row carries its
``section_id``, and preference rows say whether they were ``auto_mined``.
Sections are read through their section type, as training reads them, so a
plugin's section type exports like a built-in one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlm_core.document.model import Document
from dlm_core.document.types import ChatExample, PreferenceExample, SectionType, TextExample

FILES = {"sft": "sft.jsonl", "preference": "preference.jsonl", "prose": "prose.jsonl"}


def _system(system_prompt: str | None) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt}] if system_prompt else []


def dataset_rows(
    document: Document,
    types: Mapping[str, SectionType],
    *,
    include_mined: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """Rows per file kind (``sft``, ``preference``, ``prose``), in document order."""
    frontmatter = document.frontmatter
    system = _system(frontmatter.system_prompt if frontmatter is not None else None)
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in FILES}
    for section in document.sections:
        kind = types[section.type]
        if kind.phase is None or (section.auto_mined and not include_mined):
            continue
        for example in kind.examples(section):
            if isinstance(example, ChatExample):
                messages = [
                    *system,
                    {"role": "user", "content": example.prompt},
                    {"role": "assistant", "content": example.answer},
                ]
                rows["sft"].append({"messages": messages, "section_id": section.section_id})
            elif isinstance(example, PreferenceExample):
                rows["preference"].append(
                    {
                        "prompt": [*system, {"role": "user", "content": example.prompt}],
                        "chosen": [{"role": "assistant", "content": example.chosen}],
                        "rejected": [{"role": "assistant", "content": example.rejected}],
                        "auto_mined": section.auto_mined,
                        "section_id": section.section_id,
                    }
                )
            elif isinstance(example, TextExample):
                rows["prose"].append({"text": example.text, "section_id": section.section_id})
    return rows


def write_dataset(rows: dict[str, list[dict[str, Any]]], folder: Path) -> dict[str, int]:
    """One JSONL file per kind that has rows; returns the row count per file name."""
    counts = {}
    for kind, name in FILES.items():
        if not rows[kind]:
            continue
        lines = [json.dumps(row, ensure_ascii=False) for row in rows[kind]]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        counts[name] = len(lines)
    return counts
