"""``dlm init``: start a new document with a fresh identity."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.document.starter import starter_document
from dlm_core.models.registry import DEFAULT_BASE, parse_base


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--base", "base", default=DEFAULT_BASE, show_default=True, help="Registry key, hf:<id> or hf:<local folder>.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@pass_app
def init(app: App, path: Path, base: str, force: bool) -> None:
    """Create PATH as a new .dlm document with a fresh dlm_id."""
    parse_base(base, relative_to=path.parent)
    dlm_id = starter_document(path, base, force=force)
    click.echo(f"created {path} (dlm_id {dlm_id}, base_model {base})")
