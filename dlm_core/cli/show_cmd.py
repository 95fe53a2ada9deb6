"""``dlm show``: the document, its sections, and what its store holds."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.output import echo_json, shorten
from dlm_core.report import ShowReport, show_report


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the document's history as one page (plots go in <FILE name>-files/ next to it).",
)
@pass_app
def show(app: App, path: Path, as_json: bool, html_path: Path | None) -> None:
    """Show PATH's frontmatter, sections, adapter versions and staged plans."""
    if html_path is not None:
        from dlm_core.visual import check_target

        check_target(html_path)
    document = app.workspace.read(path)
    store = app.workspace.store_of(document)
    report = show_report(path, document, store)
    if html_path is not None:
        from dlm_core.visual.pages import write_history_page

        written = write_history_page(report, store, html_path, say=app.note)
        plots = f" and {len(written) - 1} plots in {written[1].parent}" if len(written) > 1 else ""
        app.note(f"wrote {html_path}{plots}")
    if as_json:
        echo_json(report)
    else:
        click.echo(render(report))


def render(report: ShowReport) -> str:
    lines = [f"{report.path}: dlm_id {report.dlm_id or '(none yet)'}, base {report.base_model}"]
    lines.append(f"sections ({len(report.sections)}):")
    for s in report.sections:
        if s.records:
            what = f"{len(s.records)} record{'s' if len(s.records) != 1 else ''}"
        else:
            what = shorten(s.text or "", 40)
        note = ""
        if s.provenance and s.provenance.get("auto_mined"):
            mined = s.provenance
            note = (
                f"  auto-mined by {mined['judge_name']} ({mined['judge_score_chosen']:.3g} vs "
                f"{mined['judge_score_rejected']:.3g}, run {mined['mined_run_id']})"
            )
        lines.append(f"  {s.index:>3}  {s.type:<12} {s.section_id}  {what}{note}")
    store = report.store
    if store is None or not store.exists:
        lines.append("store: none yet (run `dlm train` to create it)")
        return "\n".join(lines)
    lines.append(f"store: {store.path}")
    for v in store.versions:
        mark = "*" if v.name == store.current else " "
        loss = f"{v.final_loss:.4f}" if v.final_loss is not None else "-"
        held_out = ""
        if v.held_out is not None:
            h = v.held_out
            held_out = (
                f"  held-out vs v{h.parent:04d} {h.win_rate:.0%} ({h.ci_low:.0%}-{h.ci_high:.0%})"
                + (" gated" if h.gated else "")
            )
        lines.append(
            f"  {mark} {v.name}  {v.phase or '?':<10} {v.trainer or '?':<6} steps {v.steps}  loss {loss}"
            + held_out
        )
    if not store.versions:
        lines.append("  no adapter versions yet")
    for p in store.staged_plans:
        state = "" if p.complete else " (interrupted)"
        lines.append(f"  staged: mine run {p.run_id}, {p.pairs} pairs by {p.judge}{state}")
    if store.latest_mining:
        m = store.latest_mining
        lines.append(
            f"  latest mining: run {m.run_id} ({m.status}), {m.summary.pairs} pairs from {m.summary.prompts} prompts"
        )
    return "\n".join(lines)
