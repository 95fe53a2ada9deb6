"""``dlm metrics``: training and mining runs recorded in the store."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.output import echo_json, table
from dlm_core.errors import DlmError


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--run-id", type=int, help="Only this run.")
@click.option("--phase", type=click.Choice(["sft", "preference"]), help="Only training runs of this phase.")
@click.option("--json", "as_json", is_flag=True, help="Runs with their steps, evals and mining events as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per training step.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the runs into FILE (.png, .svg, or .html with inline SVG): loss and learning rate per step, "
                   "reward margin and accuracy for preference runs, pair margins and skips for mine runs. "
                   "Default: the latest run of each phase. Needs matplotlib: pip install 'dlm-core[plots]'.")
@pass_app
def metrics(app: App, path: Path, run_id: int | None, phase: str | None, as_json: bool, as_csv: bool,
            plot_path: Path | None) -> None:
    """Show the runs (training and mining) recorded for PATH."""
    from dlm_core.metrics.report import run_details, steps_csv

    document = app.read(path)
    store = app.existing_store(document, path)
    details = run_details(store.metrics_path, run_id=run_id, phase=phase)
    if run_id is not None and not details:
        raise DlmError(f"no run {run_id} in {store.metrics_path}; `dlm metrics {path}` lists them")
    if plot_path is not None:
        from dlm_core.visual.metrics_plot import plot_metrics

        figures = plot_metrics(store.metrics_path, plot_path, run_id=run_id, phase=phase, title=f"{path.name}: metrics")
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
            r, s = d.run, d.run.summary
            if r.kind == "train":
                loss = s.get("final_loss")
                what = f"{len(d.steps)} steps, loss " + (f"{loss:.4g}" if isinstance(loss, int | float) else "-")
            elif r.kind == "mine":
                skipped = ", ".join(f"{reason} {count}" for reason, count in s.get("skipped", {}).items()) or "none"
                what = f"{s.get('pairs', 0)} pairs / {s.get('prompts', 0)} prompts, skipped: {skipped}"
            elif r.kind == "compare" and "win_rate" in s:
                what = f"{s['b']} vs {s['a']}: win rate {s['win_rate']:.1%} (95% CI {s['ci_low']:.1%}-{s['ci_high']:.1%})"
            else:
                what = ", ".join(f"{k} {v}" for k, v in list(s.items())[:4])
            if r.error and r.status != "succeeded":
                what = r.error
            version = f"v{r.version:04d}" if r.version else "-"
            rows.append([str(r.id), r.kind, r.phase or "-", r.status, version, r.started_at, what])
        click.echo(table(rows, ["run", "kind", "phase", "status", "version", "started", "summary"]) if rows else "no runs yet")
