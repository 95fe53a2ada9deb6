"""``dlm preference``: mine pairs from the adapter, review, apply, revert."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.options import mine_options_from, mining_options
from dlm_core.cli.output import echo_json, shorten
from dlm_core.outcomes import MineOutcome

PATH = click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))


@click.group()
def preference() -> None:
    """Mine preference pairs from the current adapter and manage them."""


@preference.command()
@PATH
@mining_options
@click.option(
    "--apply",
    "apply_now",
    is_flag=True,
    help="Write the pairs into the document now instead of staging them.",
)
@click.option(
    "--no-wait", is_flag=True, help="Fail at once if another dlm command holds the store."
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@pass_app
def mine(
    app: App,
    /,
    path: Path,
    apply_now: bool,
    no_wait: bool,
    as_json: bool,
    **mining: Any,
) -> None:
    """Sample candidates for every instruction prompt, judge them, keep best-vs-worst pairs."""
    from dlm_core.mining.run import mine_document

    options = mine_options_from(mining, apply=apply_now, wait=not no_wait)
    outcome = mine_document(app.workspace, path, options)
    if as_json:
        echo_json(outcome.to_json())
    else:
        click.echo(render_mine(outcome, path))
    if outcome.interrupted:
        sys.exit(130)


def render_mine(outcome: MineOutcome, path: Path) -> str:
    """A mine run for people: what was found, and where it went."""
    lines: list[str] = []
    if outcome.sampler_model or outcome.judge_model:
        lines.append(
            f"served models: sampler {outcome.sampler_model or '-'}, judge {outcome.judge_model or '-'}"
        )
    skipped = ", ".join(f"{k} {v}" for k, v in outcome.skipped.items()) or "none"
    rate = (
        f", {outcome.tokens_per_second:.0f} generated tokens/s" if outcome.tokens_per_second else ""
    )
    lines.append(
        f"mine run {outcome.run_id}: {outcome.pairs} pairs from {outcome.prompts} prompts "
        f"({outcome.unique_candidates} distinct complete candidates; skipped: {skipped}) "
        f"in {outcome.wall_seconds:.1f} s{rate}"
    )
    contradicting = outcome.skipped.get("contradicts_document", 0)
    if contradicting and contradicting * 2 >= outcome.prompts:
        lines.append(
            f"note: {contradicting} of {outcome.prompts} prompts' pairs were skipped as "
            "contradicts_document: the judge preferred answers that agree less with the "
            "document's own answers (a terse judge's short answers often drop a fact); the "
            "reasons are in `dlm metrics --json`; --no-yes-no-check (and leaving out "
            "--document-check) keeps such pairs"
        )
    if outcome.applied or outcome.already_present_on_apply:
        lines.append(
            f"wrote {outcome.applied} ::preference:: sections into {path} (previous text in {path.name}.bak)"
        )
    elif outcome.staged_plan:
        lines.append(
            f"staged in {outcome.staged_plan}; review with `dlm preference list {path}`, "
            f"write with `dlm preference apply {path}`"
        )
    return "\n".join(lines)


@preference.command(name="list")
@PATH
@click.option("--json", "as_json", is_flag=True, help="Print staged and applied pairs as JSON.")
@pass_app
def list_(app: App, path: Path, as_json: bool) -> None:
    """Show staged plans and the auto-mined sections already in the document."""
    from dlm_core.mining.listing import mined_listing

    listing = mined_listing(app.workspace, path)
    if as_json:
        echo_json(listing)
        return
    if not listing.staged and not listing.applied:
        click.echo("no staged plans and no auto-mined sections")
    for plan in listing.staged:
        state = "" if plan.complete else ", interrupted"
        if plan.chosen_from == "document":
            state += ", chosen: the document's answers (SPIN)"
        click.echo(
            f"staged: mine run {plan.run_id} ({len(plan.pairs)} pairs, judge {plan.judge}{state})"
        )
        for pair in plan.pairs:
            click.echo(f"  {pair.margin:+.3f}  {shorten(pair.prompt, 50)}")
            click.echo(f"         chosen:   {shorten(pair.chosen, 60)}")
            click.echo(f"         rejected: {shorten(pair.rejected, 60)}")
    for item in listing.applied:
        spin = "  (chosen: the document's answer)" if item.chosen_from == "document" else ""
        click.echo(
            f"applied: run {item.run_id}  {item.section_id}  {item.margin:+.3f}  {shorten(item.prompt, 50)}{spin}"
        )


@preference.command(name="apply")
@PATH
@click.option("--run-id", type=int, help="Apply only this mine run's plan.")
@click.option(
    "--force",
    is_flag=True,
    help="Apply a plan mined from a version that is no longer current.",
)
@click.option(
    "--no-wait", is_flag=True, help="Fail at once if another dlm command holds the store."
)
@pass_app
def apply_(app: App, path: Path, run_id: int | None, force: bool, no_wait: bool) -> None:
    """Write the staged plans into the document (atomically, keeping PATH.bak).

    A pair whose prompt is no longer in the document is skipped and named; a
    plan mined from another version than the current one is refused unless --force.
    """
    from dlm_core.mining.review import apply_staged

    with app.workspace.open(path, wait=not no_wait) as run:
        outcome = apply_staged(run, run_id=run_id, force=force)
    extra = f" ({outcome.already_present} already present)" if outcome.already_present else ""
    stale = f"; skipped {len(outcome.stale)} stale" if outcome.stale else ""
    runs = ", ".join(map(str, outcome.run_ids))
    click.echo(
        f"wrote {outcome.added} ::preference:: sections from mine run(s) {runs}{extra}{stale}"
    )


@preference.command()
@PATH
@click.option("--run-id", type=int, help="Only the sections (or the staged plan) of this mine run.")
@click.option(
    "--staged", is_flag=True, help="Discard staged plans instead; the document is not touched."
)
@click.option(
    "--no-wait", is_flag=True, help="Fail at once if another dlm command holds the store."
)
@pass_app
def revert(app: App, path: Path, run_id: int | None, staged: bool, no_wait: bool) -> None:
    """Remove auto-mined ::preference:: sections (hand-written ones stay), or discard staged plans."""
    from dlm_core.mining.review import drop_staged, revert_mined

    with app.workspace.open(path, wait=not no_wait) as run:
        if staged:
            dropped = drop_staged(run, run_id=run_id)
        else:
            removed = revert_mined(run, run_id=run_id)
    if staged:
        runs = ", ".join(map(str, dropped)) or "none"
        click.echo(
            f"discarded {len(dropped)} staged plan{'s' if len(dropped) != 1 else ''} (mine runs: {runs})"
        )
        return
    click.echo(f"removed {removed} auto-mined section{'s' if removed != 1 else ''} from {path}")
