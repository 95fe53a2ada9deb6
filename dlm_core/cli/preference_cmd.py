"""``dlm preference``: mine pairs from the adapter, review, apply, revert."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.output import echo_json, shorten

PATH = click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))


@click.group()
def preference() -> None:
    """Mine preference pairs from the current adapter and manage them."""


@preference.command()
@PATH
@click.option("--samples", type=click.IntRange(min=2), default=4, show_default=True, help="Candidates per prompt.")
@click.option("--max-pairs", type=click.IntRange(min=1), help="Keep the N pairs with the largest margins.")
@click.option("--judge", default="sway", show_default=True, help="sway, hf:<model>, cli:<command>, or a plugin's judge.")
@click.option("--threshold", type=float, help="Minimum chosen-minus-rejected score (default: the judge's).")
@click.option("--temp", "temperature", type=click.FloatRange(min=0), default=0.7, show_default=True)
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), help="Nucleus sampling cut.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--sampler", default="hf", show_default=True, help="Sampler plugin name.")
@click.option("--seed", type=int, help="Seed for reproducible candidates.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Sampler batch size (default: automatic).")
@click.option("--judge-batch-size", type=click.IntRange(min=1),
              help="Candidates per forward pass of a model judge (default: all of a prompt's).")
@click.option("--judge-timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Seconds a cli: judge may take per candidate.")
@click.option("--device", help="cpu, cuda, cuda:1... (default: automatic).")
@click.option("--apply", "apply_now", is_flag=True, help="Write the pairs into the document now instead of staging them.")
@click.option("--no-wait", is_flag=True, help="Fail at once if another dlm command holds the store.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@pass_app
def mine(app: App, path: Path, samples: int, max_pairs: int | None, judge: str, threshold: float | None,
         temperature: float, top_p: float | None, max_new_tokens: int, sampler: str, seed: int | None,
         batch_size: int | None, judge_batch_size: int | None, judge_timeout: float, device: str | None, apply_now: bool, no_wait: bool,
         as_json: bool) -> None:
    """Sample candidates for every instruction prompt, judge them, keep best-vs-worst pairs."""
    from dlm_core.mining.run import MineOptions, mine_document

    options = MineOptions(samples=samples, max_pairs=max_pairs, judge=judge, threshold=threshold,
                          temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, sampler=sampler,
                          seed=seed, apply=apply_now, batch_size=batch_size, judge_batch_size=judge_batch_size,
                          judge_timeout=judge_timeout,
                          device=device, wait=not no_wait)
    outcome = mine_document(path, options, home=app.home, host=app.host, say=app.note)
    if as_json:
        import attrs

        echo_json({**attrs.asdict(outcome), "tokens_per_second": outcome.tokens_per_second})
    else:
        skipped = ", ".join(f"{k} {v}" for k, v in outcome.skipped.items()) or "none"
        rate = f", {outcome.tokens_per_second:.0f} generated tokens/s" if outcome.tokens_per_second else ""
        click.echo(f"mine run {outcome.run_id}: {len(outcome.pairs)} pairs from {outcome.prompts} prompts "
                   f"({outcome.unique_candidates} distinct complete candidates; skipped: {skipped}) "
                   f"in {outcome.wall_seconds:.1f} s{rate}")
        if outcome.applied or outcome.already_present_on_apply:
            click.echo(f"wrote {outcome.applied} ::preference:: sections into {path} (previous text in {path.name}.bak)")
        elif outcome.staged_plan:
            click.echo(f"staged in {outcome.staged_plan}; review with `dlm preference list {path}`, "
                       f"write with `dlm preference apply {path}`")
    if outcome.interrupted:
        sys.exit(130)


@preference.command(name="list")
@PATH
@click.option("--json", "as_json", is_flag=True, help="Print staged and applied pairs as JSON.")
@pass_app
def list_(app: App, path: Path, as_json: bool) -> None:
    """Show staged plans and the auto-mined sections already in the document."""
    from dlm_core.mining.listing import mined_listing

    listing = mined_listing(path, home=app.home, types=app.host.section_types())
    if as_json:
        echo_json(listing)
        return
    if not listing.staged and not listing.applied:
        click.echo("no staged plans and no auto-mined sections")
    for plan in listing.staged:
        state = "" if plan.complete else ", interrupted"
        click.echo(f"staged: mine run {plan.run_id} ({len(plan.pairs)} pairs, judge {plan.judge}{state})")
        for pair in plan.pairs:
            click.echo(f"  {pair.margin:+.3f}  {shorten(pair.prompt, 50)}")
            click.echo(f"         chosen:   {shorten(pair.chosen, 60)}")
            click.echo(f"         rejected: {shorten(pair.rejected, 60)}")
    for item in listing.applied:
        click.echo(f"applied: run {item.run_id}  {item.section_id}  {item.margin:+.3f}  {shorten(item.prompt, 50)}")


@preference.command(name="apply")
@PATH
@click.option("--run-id", type=int, help="Apply only this mine run's plan.")
@click.option("--no-wait", is_flag=True, help="Fail at once if another dlm command holds the store.")
@pass_app
def apply_(app: App, path: Path, run_id: int | None, no_wait: bool) -> None:
    """Write the staged plans into the document (atomically, keeping PATH.bak)."""
    from dlm_core.mining.run import apply_staged

    added, present, runs = apply_staged(path, home=app.home, host=app.host, run_id=run_id, wait=not no_wait, say=app.note)
    extra = f" ({present} already present)" if present else ""
    click.echo(f"wrote {added} ::preference:: sections from mine run(s) {', '.join(map(str, runs))}{extra}")


@preference.command()
@PATH
@click.option("--run-id", type=int, help="Only the sections (or the staged plan) of this mine run.")
@click.option("--staged", is_flag=True, help="Discard staged plans instead; the document is not touched.")
@click.option("--no-wait", is_flag=True, help="Fail at once if another dlm command holds the store.")
@pass_app
def revert(app: App, path: Path, run_id: int | None, staged: bool, no_wait: bool) -> None:
    """Remove auto-mined ::preference:: sections (hand-written ones stay), or discard staged plans."""
    from dlm_core.mining.run import drop_staged, revert_mined

    if staged:
        dropped = drop_staged(path, home=app.home, host=app.host, run_id=run_id, wait=not no_wait, say=app.note)
        runs = ", ".join(map(str, dropped)) or "none"
        click.echo(f"discarded {len(dropped)} staged plan{'s' if len(dropped) != 1 else ''} (mine runs: {runs})")
        return
    removed = revert_mined(path, home=app.home, host=app.host, run_id=run_id, wait=not no_wait, say=app.note)
    click.echo(f"removed {removed} auto-mined section{'s' if removed != 1 else ''} from {path}")
