"""What ``dlm preference list`` shows: staged plans and applied mined sections."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from dlm_core.document.io import read_document
from dlm_core.document.provenance import MinedProvenance
from dlm_core.document.types import SectionType
from dlm_core.mining.plan import mined_sections
from dlm_core.store.staged import StagedPlan
from dlm_core.store.store import Store


@attrs.frozen
class AppliedPair:
    run_id: int
    section_id: str
    judge: str
    score_chosen: float
    score_rejected: float
    mined_at: str
    prompt: str
    chosen: str
    rejected: str

    @property
    def margin(self) -> float:
        return self.score_chosen - self.score_rejected


@attrs.frozen
class MinedListing:
    staged: list[StagedPlan]
    applied: list[AppliedPair]


def mined_listing(path: Path, *, home: Path, types: Mapping[str, SectionType]) -> MinedListing:
    document = read_document(path, types)
    store = Store(home, document.dlm_id) if document.dlm_id else None
    staged = store.plans() if store is not None and store.exists() else []
    applied = []
    for section in mined_sections(document):
        provenance = section.provenance
        assert isinstance(provenance, MinedProvenance)
        for record in section.records:
            applied.append(
                AppliedPair(
                    run_id=provenance.mined_run_id,
                    section_id=section.section_id,
                    judge=provenance.judge_name,
                    score_chosen=provenance.judge_score_chosen,
                    score_rejected=provenance.judge_score_rejected,
                    mined_at=provenance.mined_at,
                    prompt=record["Prompt"],
                    chosen=record["Chosen"],
                    rejected=record["Rejected"],
                )
            )
    return MinedListing(staged, applied)
