"""``dlm prompt``: one answer from the current (or a named) adapter version."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.params import SEED, FiniteFloatRange
from dlm_core.cli.plugin_options import sampler_option
from dlm_core.specs import DEFAULT_SAMPLER


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("query")
@click.option("--max-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option(
    "--temp",
    "temperature",
    type=FiniteFloatRange(min=0),
    default=0.0,
    show_default=True,
    help="0 is greedy.",
)
@click.option("--top-p", type=FiniteFloatRange(0, 1, min_open=True))
@click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    help="Adapter version number (default: current).",
)
@click.option("--base", "base_only", is_flag=True, help="Ask the bare base model, no adapter.")
@click.option("--seed", type=SEED)
@click.option("--sampler", default=DEFAULT_SAMPLER, show_default=True)
@sampler_option
@click.option("--device")
@pass_app
def prompt(
    app: App,
    path: Path,
    query: str,
    max_tokens: int,
    temperature: float,
    top_p: float | None,
    version: int | None,
    base_only: bool,
    seed: int | None,
    sampler: str,
    sampler_options: dict[str, str],
    device: str | None,
) -> None:
    """Answer QUERY with PATH's adapter, system prompt and chat template."""
    from dlm_core.prompting import PromptOptions, prompt_document

    options = PromptOptions(
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        version=version,
        base_only=base_only,
        sampler=sampler,
        sampler_options=sampler_options,
        seed=seed,
        device=device,
    )
    click.echo(prompt_document(app.workspace, path, query, options))
