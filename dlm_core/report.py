"""What ``dlm show`` reports: the document, its store, and the latest mining.

Built as typed values so ``--json`` output is stable for scripts and the
human view is rendered from the same data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from dlm_core.document.frontmatter import converter as frontmatter_converter
from dlm_core.document.model import Document, Section
from dlm_core.fileformat import converter
from dlm_core.outcomes import HeldOutVerdict, MineSummary
from dlm_core.store.store import Store


@attrs.frozen
class SectionReport:
    index: int
    type: str
    section_id: str
    fenced: bool
    records: list[dict[str, str]]
    text: str | None
    provenance: dict[str, Any] | None


@attrs.frozen
class VersionReport:
    version: int
    name: str
    path: str
    phase: str | None
    trainer: str | None
    parent_version: int | None
    steps: int | None
    final_loss: float | None
    rows: dict[str, int]
    mined_included: int | None
    mined_excluded: int | None
    seed: int | None
    finished_at: str | None
    metrics_run_id: int | None
    held_out: HeldOutVerdict | None = None


@attrs.frozen
class PlanReport:
    run_id: int
    created_at: str
    judge: str
    pairs: int
    complete: bool


@attrs.frozen
class LatestMining:
    """The newest mine run: its state, and its summary (empty while it runs or if it stopped early)."""

    run_id: int
    status: str
    started_at: str
    summary: MineSummary


def _flat_latest(latest: LatestMining) -> dict[str, Any]:
    # `dlm show --json` keeps the summary's fields beside the run's, as scripts read them.
    return {
        "run_id": latest.run_id,
        "status": latest.status,
        "started_at": latest.started_at,
        **{k: v for k, v in converter.unstructure(latest.summary).items() if k != "run_id"},
    }


converter.register_unstructure_hook(LatestMining, _flat_latest)


@attrs.frozen
class StoreReport:
    path: str
    exists: bool
    versions: list[VersionReport]
    current: str | None
    staged_plans: list[PlanReport]
    latest_mining: LatestMining | None


@attrs.frozen
class ShowReport:
    path: str
    dlm_id: str | None
    base_model: str
    system_prompt: str | None
    frontmatter: dict[str, Any] | None
    sections: list[SectionReport]
    store: StoreReport | None


def section_report(index: int, section: Section) -> SectionReport:
    return SectionReport(
        index=index,
        type=section.type,
        section_id=section.section_id,
        fenced=section.fenced,
        records=[{f.header: f.text for f in r.fields} for r in section.records],
        text=section.text if not section.records else None,
        provenance=section.provenance.to_json() if section.provenance is not None else None,
    )


def version_report(version: Any) -> VersionReport:
    run = version.run
    return VersionReport(
        version=version.number,
        name=version.name,
        path=str(version.path),
        phase=run.phase if run else None,
        trainer=run.trainer if run else None,
        parent_version=run.parent_version if run else None,
        steps=run.steps if run else None,
        final_loss=run.final_loss if run else None,
        rows=dict(run.rows) if run else {},
        mined_included=run.mined_included if run else None,
        mined_excluded=run.mined_excluded if run else None,
        seed=run.seed if run else None,
        finished_at=run.finished_at if run else None,
        metrics_run_id=run.metrics_run_id if run else None,
        held_out=run.held_out if run else None,
    )


def store_report(store: Store) -> StoreReport:
    if not store.exists():
        return StoreReport(str(store.root), False, [], None, [], None)
    current = store.current()
    plans = [
        PlanReport(p.run_id, p.created_at, p.judge, len(p.pairs), p.complete) for p in store.plans()
    ]
    latest = None
    if store.metrics_path.exists():
        from dlm_core.metrics.db import MetricsDB

        with MetricsDB.open(store.metrics_path, readonly=True) as db:
            run = db.latest_run("mine")
        if run is not None:
            summary = run.outcome if isinstance(run.outcome, MineSummary) else MineSummary()
            latest = LatestMining(run.id, run.status, run.started_at, summary)
    return StoreReport(
        path=str(store.root),
        exists=True,
        versions=[version_report(v) for v in store.versions()],
        current=current.name if current else None,
        staged_plans=plans,
        latest_mining=latest,
    )


def show_report(path: Path, document: Document, store: Store | None) -> ShowReport:
    frontmatter = document.frontmatter
    return ShowReport(
        path=str(path),
        dlm_id=document.dlm_id,
        base_model=frontmatter.base_model if frontmatter else "smollm2-135m",
        system_prompt=frontmatter.system_prompt if frontmatter else None,
        frontmatter=frontmatter_converter.unstructure(frontmatter) if frontmatter else None,
        sections=[section_report(i, s) for i, s in enumerate(document.sections)],
        store=store_report(store) if store is not None else None,
    )
