"""A document's history as one value: what ``dlm show --html`` draws.

The show report (versions, sections, staged plans) plus every recorded run
with its steps and events, and for each mine run its pairs joined with the
texts that the document (applied pairs) or a staged plan still holds. Built
from the store and the parsed document only, so it needs no ML library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs

from dlm_core.metrics.report import RunDetail, run_details
from dlm_core.report import SectionReport, ShowReport
from dlm_core.store.staged import StagedPlan
from dlm_core.store.store import Store

IN_DOCUMENT = "in the document"
STAGED = "staged"
GONE = "not in the document (reverted or edited)"


@attrs.frozen
class MinedPairView:
    """One pair a mine run kept, with its texts where they can still be found."""

    run_id: int
    prompt: str
    score_chosen: float | None
    score_rejected: float | None
    chosen: str | None
    rejected: str | None
    where: str

    @property
    def margin(self) -> float | None:
        if self.score_chosen is None or self.score_rejected is None:
            return None
        return self.score_chosen - self.score_rejected


@attrs.frozen
class SkippedPrompt:
    """A prompt a mine run gave no pair for, and why."""

    prompt: str
    reason: str
    detail: str


@attrs.frozen
class MineRunView:
    """A mine run: its record, its pairs, and the prompts it skipped (with counts by reason)."""

    detail: RunDetail
    pairs: list[MinedPairView]
    skips: list[SkippedPrompt]

    @property
    def skipped(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for skip in self.skips:
            counts[skip.reason] = counts.get(skip.reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def run_id(self) -> int:
        return self.detail.run.id


@attrs.frozen
class History:
    """Everything ``dlm show --html`` puts on the page."""

    report: ShowReport
    runs: list[RunDetail]
    mine_runs: list[MineRunView]
    #: Auto-mined pairs in the document whose mine run this store did not record.
    unrecorded_pairs: list[MinedPairView]


def _applied(sections: Sequence[SectionReport]) -> list[MinedPairView]:
    pairs = []
    for section in sections:
        provenance = section.provenance or {}
        if not provenance.get("auto_mined"):
            continue
        for record in section.records:
            pairs.append(
                MinedPairView(
                    run_id=int(provenance["mined_run_id"]),
                    prompt=record.get("Prompt", ""),
                    score_chosen=float(provenance["judge_score_chosen"]),
                    score_rejected=float(provenance["judge_score_rejected"]),
                    chosen=record.get("Chosen"),
                    rejected=record.get("Rejected"),
                    where=IN_DOCUMENT,
                )
            )
    return pairs


def _staged(plans: Sequence[StagedPlan]) -> list[MinedPairView]:
    return [
        MinedPairView(
            plan.run_id, p.prompt, p.score_chosen, p.score_rejected, p.chosen, p.rejected, STAGED
        )
        for plan in plans
        for p in plan.pairs
    ]


def _score(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _close(a: float | None, b: float | None) -> bool:
    return a is None or b is None or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _mine_view(detail: RunDetail, known: list[MinedPairView]) -> MineRunView:
    run_id = detail.run.id
    pairs = []
    skips = []
    for event in detail.mining_events:
        if event.event == "skip":
            skips.append(
                SkippedPrompt(
                    event.prompt or "",
                    event.reason or "unknown",
                    str(event.data.get("detail") or ""),
                )
            )
            continue
        if event.event != "pair":
            continue
        chosen_score = _score(event.data.get("score_chosen"))
        rejected_score = _score(event.data.get("score_rejected"))
        match = next(
            (
                p
                for p in known
                if p.run_id == run_id
                and p.prompt == event.prompt
                and _close(p.score_chosen, chosen_score)
                and _close(p.score_rejected, rejected_score)
            ),
            None,
        )
        if match is not None:
            known.remove(match)
            pairs.append(match)
        else:
            pairs.append(
                MinedPairView(
                    run_id, event.prompt or "", chosen_score, rejected_score, None, None, GONE
                )
            )
    return MineRunView(detail, pairs, skips)


def document_history(report: ShowReport, store: Store | None) -> History:
    """Join the show report with the store's runs, events and staged plans."""
    if store is None or not store.exists():
        return History(report, [], [], _applied(report.sections))
    details = run_details(store.metrics_path)
    known = _applied(report.sections) + _staged(store.plans())
    mine_runs = [_mine_view(d, known) for d in details if d.run.kind == "mine"]
    unrecorded = [p for p in known if p.where == IN_DOCUMENT]
    return History(report, details, mine_runs, unrecorded)
