"""The core's section types, registered through the same hook as any plugin.

``prose`` trains as continued pretraining, ``instruction`` as supervised
Q/A, ``preference`` feeds DPO/ORPO, and ``eval`` holds held-out prompts that
are never trained on and never mined.
"""

from __future__ import annotations

from dlm_core import hookimpl
from dlm_core.document.model import Section
from dlm_core.document.provenance import MinedProvenance, SynthProvenance
from dlm_core.document.types import (
    BuiltinSectionType,
    ChatExample,
    Example,
    PreferenceExample,
    SectionType,
    TextExample,
)
from dlm_core.specs import SectionTypeSpec


def _prose_examples(section: Section) -> list[Example]:
    return [TextExample(section.text)] if section.text.strip() else []


def _instruction_examples(section: Section) -> list[Example]:
    return [ChatExample(r["Q"], r["A"]) for r in section.records]


def _preference_examples(section: Section) -> list[Example]:
    return [PreferenceExample(r["Prompt"], r["Chosen"], r["Rejected"]) for r in section.records]


def _no_examples(section: Section) -> list[Example]:
    return []


PROSE = BuiltinSectionType(
    "prose", (), "sft", _prose_examples, description="free text, trained as continued pretraining"
)
INSTRUCTION = BuiltinSectionType(
    "instruction",
    ("Q", "A"),
    "sft",
    _instruction_examples,
    provenance=(SynthProvenance,),
    description="### Q / ### A records, trained with loss on the answer",
)
PREFERENCE = BuiltinSectionType(
    "preference",
    ("Prompt", "Chosen", "Rejected"),
    "preference",
    _preference_examples,
    provenance=(MinedProvenance,),
    description="### Prompt / ### Chosen / ### Rejected records for DPO or ORPO",
)
EVAL = BuiltinSectionType(
    "eval",
    ("Q",),
    None,
    _no_examples,
    description="held-out ### Q prompts for dlm compare; never trained on or mined",
)

BUILTIN_TYPES: dict[str, SectionType] = {t.name: t for t in (PROSE, INSTRUCTION, PREFERENCE, EVAL)}


@hookimpl
def dlm_section_types() -> list[SectionTypeSpec]:
    return [
        SectionTypeSpec(name=t.name, factory=lambda t=t: t, description=t.description)
        for t in (PROSE, INSTRUCTION, PREFERENCE, EVAL)
    ]
