"""Reviewing mined pairs: apply staged plans, revert mined sections, discard plans.

A staged plan was mined from one adapter version for the document as it
was then. Before it is written in, each pair is checked against the
document as it is now: a pair whose prompt is no longer one of the
document's ``### Q`` is skipped and named, and a plan mined from a version
that is no longer ``current`` is refused unless ``--force`` says to apply
it anyway. Applying either does everything (document written, plans
removed) or nothing (see :meth:`Store.taking_plans`), and says which.
"""

from __future__ import annotations

import attrs

from dlm_core.errors import StoreError
from dlm_core.mining.plan import apply_plans, revert
from dlm_core.mining.prompts import mining_prompts
from dlm_core.store.staged import StagedPair, StagedPlan
from dlm_core.workspace import DocumentRun


@attrs.frozen
class ApplyOutcome:
    """What ``dlm preference apply`` did."""

    added: int
    already_present: int
    run_ids: list[int]
    stale: list[StagedPair] = attrs.Factory(list)


def apply_staged(
    run: DocumentRun, *, run_id: int | None = None, force: bool = False
) -> ApplyOutcome:
    """Write staged plans into the document (the run holds its locks)."""
    store = run.trained_store()
    plans = [p for p in store.plans() if run_id is None or p.run_id == run_id]
    if not plans:
        which = f"for mine run {run_id} " if run_id is not None else ""
        raise StoreError(
            f"no staged plan {which}to apply; run `dlm preference mine {run.path}` first"
        )
    current = store.current()
    if not force:
        _refuse_other_versions(plans, current.number if current else None, run)
    prompts = set(mining_prompts(run.document))
    fresh = [attrs.evolve(p, pairs=[x for x in p.pairs if x.prompt in prompts]) for p in plans]
    stale = [x for p in plans for x in p.pairs if x.prompt not in prompts]
    for pair in stale:
        run.say(
            f"skipped a staged pair whose prompt is no longer in {run.path}: {pair.prompt[:60]!r}"
        )
    result = apply_plans(run.document, fresh)
    with store.taking_plans([p.run_id for p in plans]):
        if result.added:
            run.write(result.document)
    return ApplyOutcome(result.added, result.already_present, [p.run_id for p in plans], stale)


def _refuse_other_versions(plans: list[StagedPlan], current: int | None, run: DocumentRun) -> None:
    old = [p for p in plans if p.adapter_version is not None and p.adapter_version != current]
    if old:
        plan = old[0]
        now = f"v{current:04d}" if current is not None else "none"
        raise StoreError(
            f"staged plan of mine run {plan.run_id} was mined from v{plan.adapter_version:04d}, "
            f"but the current version is {now}; mine again with `dlm preference mine {run.path}`, "
            "or apply it anyway with --force"
        )


def revert_mined(run: DocumentRun, *, run_id: int | None = None) -> int:
    """Remove auto-mined sections (all, or one run's) from the document; returns how many."""
    updated, removed = revert(run.document, run_id)
    if removed:
        run.write(updated)
    return removed


def drop_staged(run: DocumentRun, *, run_id: int | None = None) -> list[int]:
    """Discard staged plans (all, or one run's) without touching the document; their run ids."""
    if run.store is None or not run.store.exists():
        return []
    doomed = [p.run_id for p in run.store.plans() if run_id is None or p.run_id == run_id]
    for number in doomed:
        run.store.drop_plan(number)
    return doomed
