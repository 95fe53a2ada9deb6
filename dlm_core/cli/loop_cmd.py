"""``dlm loop``: several rounds of mine, apply, preference phase and held-out check."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.options import held_out_from, held_out_options, mine_options_from, mining_options
from dlm_core.cli.output import echo_json, table
from dlm_core.outcomes import LoopSummary


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rounds", type=click.IntRange(min=1), default=3, show_default=True, help="Rounds at most."
)
@mining_options
@held_out_options
@click.option("--no-mined", is_flag=True, help="Train each round on hand-written pairs only.")
@click.option(
    "--no-wait", is_flag=True, help="Fail at once if another dlm command holds the store."
)
@click.option("--json", "as_json", is_flag=True, help="Print the round table as JSON.")
@pass_app
def loop(
    app: App,
    /,
    path: Path,
    rounds: int,
    no_mined: bool,
    no_wait: bool,
    as_json: bool,
    **values: Any,
) -> None:
    """Improve PATH's adapter round by round; stop when a round does not beat its parent.

    Each round mines pairs from the current adapter (the options of `dlm
    preference mine`), writes them into PATH, trains the preference phase, and
    checks the new version against its parent on held-out prompts (::eval::
    or --eval-prompts). The loop stops early, and says why, when a version
    does not win (95% CI of its win rate at or below one half), when no new
    pair clears the threshold, or on Ctrl-C; the best version is left current.
    """
    from dlm_core.mining.loop import LoopOptions, run_loop

    device = values["device"]
    options = LoopOptions(
        rounds=rounds,
        mine=mine_options_from(values, apply=True, wait=not no_wait),
        held_out=held_out_from(values, device=device),
        include_mined=not no_mined,
        device=device,
        wait=not no_wait,
    )
    summary = run_loop(app.workspace, path, options)
    if as_json:
        echo_json(summary)
    else:
        click.echo(render(summary))
    if summary.stopped == "interrupted":
        sys.exit(130)


def render(summary: LoopSummary) -> str:
    """The round table, why the loop stopped, and the version left current."""
    rows = []
    for r in summary.rounds:
        v = r.verdict
        rows.append(
            [
                str(r.round),
                str(r.pairs),
                f"v{r.version:04d}" if r.version else "-",
                f"v{r.parent:04d}",
                f"{v.win_rate:.0%}" if v else "-",
                f"{v.ci_low:.0%}-{v.ci_high:.0%}" if v else "-",
                f"{v.mean_words_parent:.0f} -> {v.mean_words_new:.0f}" if v else "-",
            ]
        )
    headers = ["round", "pairs", "version", "parent", "win rate", "95% CI", "answer words"]
    lines = [table(rows, headers) if rows else "no round finished"]
    lines.append(f"stopped: {summary.stopped}")
    lines.append(f"current: v{summary.best_version:04d}")
    return "\n".join(lines)
