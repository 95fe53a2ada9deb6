"""Mined pairs as document sections: stage, apply, list and revert.

Every mined pair becomes its own ``::preference::`` section carrying the
``dlm-auto-mined`` marker (judge, both scores, time, mine run id, and
``chosen_from="document"`` for SPIN-style pairs), so a
single run or a single pair can be reverted without touching anything the
user wrote. Applying skips pairs the document already holds.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from dlm_core.document.model import Document, Section
from dlm_core.document.provenance import MinedProvenance
from dlm_core.mining.selection import MinedPair
from dlm_core.store.staged import StagedPair, StagedPlan


def staged_pair(pair: MinedPair) -> StagedPair:
    return StagedPair(
        pair.prompt, pair.chosen.text, pair.rejected.text, pair.chosen.score, pair.rejected.score
    )


def existing_pairs(document: Document) -> set[tuple[str, str, str]]:
    """(prompt, chosen, rejected) of every preference record in the document."""
    return {
        (r["Prompt"], r["Chosen"], r["Rejected"])
        for section in document.of_type("preference")
        for r in section.records
    }


def pair_section(
    pair: StagedPair, *, judge: str, run_id: int, mined_at: str, chosen_from: str | None = None
) -> Section:
    provenance = MinedProvenance(
        judge_name=judge,
        judge_score_chosen=pair.score_chosen,
        judge_score_rejected=pair.score_rejected,
        mined_at=mined_at,
        mined_run_id=run_id,
        chosen_from=chosen_from,
    )
    return Section.preference([(pair.prompt, pair.chosen, pair.rejected)], provenance=provenance)


@attrs.frozen
class ApplyResult:
    document: Document
    added: int
    already_present: int


def apply_plans(document: Document, plans: Iterable[StagedPlan]) -> ApplyResult:
    """The document with every new pair of ``plans`` appended as a mined section."""
    present = existing_pairs(document)
    sections, skipped = [], 0
    for plan in plans:
        for pair in plan.pairs:
            key = (pair.prompt, pair.chosen, pair.rejected)
            if key in present:
                skipped += 1
                continue
            present.add(key)
            sections.append(
                pair_section(
                    pair,
                    judge=plan.judge,
                    run_id=plan.run_id,
                    mined_at=plan.created_at,
                    chosen_from=plan.chosen_from,
                )
            )
    return ApplyResult(document.appending(sections), len(sections), skipped)


def mined_sections(document: Document, run_id: int | None = None) -> list[Section]:
    """Auto-mined sections, all or those of one mine run."""
    found = []
    for section in document.sections:
        provenance = section.provenance
        if isinstance(provenance, MinedProvenance) and (
            run_id is None or provenance.mined_run_id == run_id
        ):
            found.append(section)
    return found


def revert(document: Document, run_id: int | None = None) -> tuple[Document, int]:
    """The document without its auto-mined sections (all, or one run's)."""
    doomed = mined_sections(document, run_id)
    return document.removing(doomed), len(doomed)
