"""What ``dlm preference list`` shows: staged plans and applied mined sections."""

from __future__ import annotations

from pathlib import Path

import attrs

from dlm_core.document.provenance import MinedProvenance
from dlm_core.mining.plan import mined_sections
from dlm_core.store.staged import StagedPlan
from dlm_core.workspace import Workspace


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
    chosen_from: str | None = (
        None  # "document": a SPIN-style pair, the chosen answer is the document's
    )

    @property
    def margin(self) -> float:
        return self.score_chosen - self.score_rejected


@attrs.frozen
class MinedListing:
    staged: list[StagedPlan]
    applied: list[AppliedPair]


def mined_listing(workspace: Workspace, path: Path) -> MinedListing:
    """Staged plans and applied mined sections; reads only, so it takes no lock."""
    document = workspace.read(path)
    store = workspace.store_of(document)
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
                    chosen_from=provenance.chosen_from,
                )
            )
    return MinedListing(staged, applied)
