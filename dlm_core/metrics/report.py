"""What ``dlm metrics`` reports: runs with their steps, evals and mining events."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import attrs

from dlm_core.metrics.db import EvalRow, MetricsDB, MiningEventRow, RunRow, StepRow
from dlm_core.outcomes import MineConfig, MineSummary, PhaseConfig


@attrs.frozen
class RunDetail:
    run: RunRow
    steps: list[StepRow]
    evals: list[EvalRow]
    mining_events: list[MiningEventRow]


def run_details(
    metrics_path: Path, *, run_id: int | None = None, phase: str | None = None
) -> list[RunDetail]:
    if not metrics_path.exists():
        return []
    with MetricsDB.open(metrics_path, readonly=True) as db:
        return [
            RunDetail(run, db.steps(run.id), db.evals(run.id), db.mining_events(run.id))
            for run in db.runs(run_id=run_id, phase=phase)
        ]


@attrs.frozen
class MineFacts:
    """What a page or a plot says of a mine run, from its summary, else its settings
    (a run stopped before it summarised still has its settings)."""

    judge: str | None
    threshold: float | None
    prompts: int | None


def mine_facts(run: RunRow) -> MineFacts:
    summary = run.outcome if isinstance(run.outcome, MineSummary) else None
    config = run.settings if isinstance(run.settings, MineConfig) else None
    judge = (summary.judge if summary else "") or (config.judge if config else "") or None
    threshold = summary.threshold if summary and summary.threshold is not None else None
    if threshold is None and config is not None:
        threshold = config.threshold
    return MineFacts(judge, threshold, summary.prompts if summary else None)


def trainer_of(run: RunRow) -> str | None:
    """The trainer a training run used, from its settings."""
    config = run.settings
    return config.trainer or None if isinstance(config, PhaseConfig) else None


CSV_COLUMNS = [
    "run_id",
    "kind",
    "phase",
    "status",
    "version",
    "step",
    "loss",
    "learning_rate",
    "grad_norm",
]


def steps_csv(details: list[RunDetail]) -> str:
    """One row per training step (loss curves for a spreadsheet or a plot)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for detail in details:
        r = detail.run
        for s in detail.steps:
            writer.writerow(
                [
                    r.id,
                    r.kind,
                    r.phase or "",
                    r.status,
                    r.version or "",
                    s.step,
                    s.loss,
                    s.learning_rate,
                    s.grad_norm,
                ]
            )
    return out.getvalue()
