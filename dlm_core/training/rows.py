"""Training rows from sections: what each phase is given.

Each section type says which phase consumes it; the SFT phase gets the
rows of ``sft`` types only (prose as language-model rows, instructions as
chat rows with loss on the answer), and the preference phase gets the pairs
of ``preference`` types only. Preference records never leak into SFT.
Everything is tokenized through :class:`~dlm_core.models.chat.ChatFormat`,
so training sees the same tokens as the sampler and the judges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import attrs

from dlm_core.document.model import Document
from dlm_core.document.types import ChatExample, PreferenceExample, SectionType, TextExample
from dlm_core.models.chat import ChatFormat
from dlm_core.protocols import LmRow, PreferenceRow


@attrs.frozen
class RowSet:
    """The rows of one phase and how they were counted.

    :ivar rows: examples per section type.
    :ivar mined_included: auto-mined preference records kept.
    :ivar mined_excluded: auto-mined preference records left out (``--no-mined``).
    :ivar truncated: rows cut to ``sequence_len``.
    :ivar dropped: rows with nothing left to learn after truncation.
    """

    lm_rows: list[LmRow] = attrs.Factory(list)
    preference_rows: list[PreferenceRow] = attrs.Factory(list)
    rows: dict[str, int] = attrs.Factory(dict)
    mined_included: int = 0
    mined_excluded: int = 0
    truncated: int = 0
    dropped: int = 0

    @property
    def size(self) -> int:
        return len(self.lm_rows) + len(self.preference_rows)


def sft_rows(
    document: Document,
    chat: ChatFormat,
    types: Mapping[str, SectionType],
    *,
    sequence_len: int,
) -> RowSet:
    """Language-model rows for the SFT phase: prose in windows, Q/A with answer-only loss."""
    lm_rows: list[LmRow] = []
    counts: Counter[str] = Counter()
    truncated = dropped = 0
    eos = chat.end_of_turn_id
    for section in document.sections:
        kind = types[section.type]
        if kind.phase != "sft":
            continue
        for example in kind.examples(section):
            if isinstance(example, TextExample):
                ids = [*chat.encode(example.text), eos]
                for start in range(0, len(ids), sequence_len):
                    window = ids[start : start + sequence_len]
                    if len(window) > 1:
                        lm_rows.append(LmRow(window, [1] * len(window), section.type))
                        counts[section.type] += 1
            elif isinstance(example, ChatExample):
                prompt = chat.prompt_ids(example.prompt)
                answer = chat.answer_ids(example.prompt, example.answer)
                ids, mask = prompt + answer, [0] * len(prompt) + [1] * len(answer)
                if len(ids) > sequence_len:
                    truncated += 1
                    ids, mask = ids[:sequence_len], mask[:sequence_len]
                if 1 not in mask:
                    dropped += 1
                    continue
                lm_rows.append(LmRow(ids, mask, section.type))
                counts[section.type] += 1
    return RowSet(lm_rows=lm_rows, rows=dict(counts), truncated=truncated, dropped=dropped)


def preference_rows(
    document: Document,
    chat: ChatFormat,
    types: Mapping[str, SectionType],
    *,
    include_mined: bool = True,
) -> RowSet:
    """Pairs for the preference phase; ``include_mined=False`` leaves out auto-mined records."""
    rows: list[PreferenceRow] = []
    counts: Counter[str] = Counter()
    included = excluded = 0
    for section in document.sections:
        kind = types[section.type]
        if kind.phase != "preference":
            continue
        examples = [e for e in kind.examples(section) if isinstance(e, PreferenceExample)]
        if section.auto_mined:
            if not include_mined:
                excluded += len(examples)
                continue
            included += len(examples)
        for example in examples:
            rows.append(
                PreferenceRow(
                    system=chat.system_prompt,
                    prompt=example.prompt,
                    chosen=example.chosen,
                    rejected=example.rejected,
                    prompt_ids=chat.prompt_ids(example.prompt),
                    chosen_ids=chat.answer_ids(example.prompt, example.chosen),
                    rejected_ids=chat.answer_ids(example.prompt, example.rejected),
                    auto_mined=section.auto_mined,
                )
            )
            counts[section.type] += 1
    return RowSet(
        preference_rows=rows, rows=dict(counts), mined_included=included, mined_excluded=excluded
    )


def count_preference_records(
    document: Document, types: Mapping[str, SectionType], *, include_mined: bool
) -> int:
    """How many preference records the phase would get, without tokenizing."""
    total = 0
    for section in document.sections:
        if types[section.type].phase == "preference" and (include_mined or not section.auto_mined):
            total += len(section.records)
    return total


def count_sft_examples(document: Document, types: Mapping[str, SectionType]) -> int:
    return sum(
        len(types[s.type].examples(s)) for s in document.sections if types[s.type].phase == "sft"
    )
