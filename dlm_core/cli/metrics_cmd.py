"""``dlm metrics``: training and mining runs recorded in the store."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.output import echo_json, table
from dlm_core.errors import StoreError
from dlm_core.metrics.report import RunDetail
from dlm_core.outcomes import CompareReport, LoopSummary, MineSummary, PhaseOutcome


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--run-id", type=int, help="Only this run.")
@click.option(
    "--phase", type=click.Choice(["sft", "preference"]), help="Only training runs of this phase."
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Runs with their steps, evals and mining events as JSON.",
)
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per training step.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw the runs into FILE (.png, .svg, or .html with inline SVG): loss and learning rate per step, "
    "reward margin and accuracy for preference runs, pair margins and skips for mine runs. "
    "Default: the latest run of each phase. Needs matplotlib: pip install 'dlm-core[plots]'.",
)
@pass_app
def metrics(
    app: App,
    path: Path,
    run_id: int | None,
    phase: str | None,
    as_json: bool,
    as_csv: bool,
    plot_path: Path | None,
) -> None:
    """Show the runs (training and mining) recorded for PATH."""
    from dlm_core.metrics.report import run_details, steps_csv

    with app.workspace.open(path, lock=False) as run:  # reads only: a training may be running
        store = run.trained_store()
    details = run_details(store.metrics_path, run_id=run_id, phase=phase)
    if run_id is not None and not details:
        raise StoreError(
            f"no run {run_id} in {store.metrics_path}; `dlm metrics {path}` lists them"
        )
    if plot_path is not None:
        from dlm_core.visual.metrics_plot import plot_metrics

        figures = plot_metrics(
            store.metrics_path, plot_path, run_id=run_id, phase=phase, title=f"{path.name}: metrics"
        )
        wrote = f"wrote {plot_path}: " + "; ".join(f.caption for f in figures)
        if not (as_json or as_csv):
            click.echo(wrote)
            return
        app.note(wrote)  # stdout stays one JSON or CSV document
    if as_json:
        echo_json({"document": str(path), "runs": details})
    elif as_csv:
        click.echo(steps_csv(details), nl=False)
    else:
        rows = []
        for d in details:
            r = d.run
            what = _in_words(d) if not (r.error and r.status != "succeeded") else r.error
            version = f"v{r.version:04d}" if r.version else "-"
            rows.append([str(r.id), r.kind, r.phase or "-", r.status, version, r.started_at, what])
        click.echo(
            table(rows, ["run", "kind", "phase", "status", "version", "started", "summary"])
            if rows
            else "no runs yet"
        )


def _in_words(detail: RunDetail) -> str:
    """One run's summary as a table cell, from its typed outcome."""
    outcome = detail.run.outcome
    if isinstance(outcome, PhaseOutcome) or detail.run.kind == "train":
        loss = outcome.final_loss if isinstance(outcome, PhaseOutcome) else None
        words = f"{len(detail.steps)} steps, loss " + (f"{loss:.4g}" if loss is not None else "-")
        held_out = outcome.held_out if isinstance(outcome, PhaseOutcome) else None
        if held_out is not None:
            words += (
                f"; held-out vs v{held_out.parent:04d}: {held_out.win_rate:.0%} "
                f"({held_out.ci_low:.0%}-{held_out.ci_high:.0%})"
                + (", gated" if held_out.gated else "")
            )
        return words
    if isinstance(outcome, LoopSummary):
        return (
            f"{len(outcome.rounds)} round(s), current v{outcome.best_version:04d}; "
            f"stopped: {outcome.stopped}"
        )
    if isinstance(outcome, MineSummary):
        skipped = ", ".join(f"{reason} {n}" for reason, n in outcome.skipped.items()) or "none"
        return f"{outcome.pairs} pairs / {outcome.prompts} prompts, skipped: {skipped}"
    if isinstance(outcome, CompareReport):
        return (
            f"{outcome.b} vs {outcome.a}: win rate {outcome.win_rate:.1%} "
            f"(95% CI {outcome.ci_low:.1%}-{outcome.ci_high:.1%})"
        )
    return ", ".join(f"{k} {v}" for k, v in list(detail.run.summary.items())[:4])
