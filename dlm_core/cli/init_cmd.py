"""``dlm init``: start a new document with a fresh identity."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.document.starter import starter_document
from dlm_core.models.registry import DEFAULT_BASE, parse_base


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--base",
    "base",
    default=DEFAULT_BASE,
    show_default=True,
    help="Registry key, hf:<id> or hf:<local folder>.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option(
    "--new-id",
    is_flag=True,
    help="Give the existing document PATH a fresh dlm_id instead (a copy gets its own store).",
)
@pass_app
def init(app: App, path: Path, base: str, force: bool, new_id: bool) -> None:
    """Create PATH as a new .dlm document with a fresh dlm_id.

    With --new-id, PATH exists: only its dlm_id changes (the old text is kept as
    PATH.bak), so a copy of a document stops sharing the original's store.
    """
    if new_id:
        from dlm_core.store.ownership import give_new_identity

        dlm_id = give_new_identity(
            path, home=app.home, types=app.workspace.types, say=lambda _m: None
        )
        click.echo(
            f"gave {path} the new dlm_id {dlm_id}; its next `dlm train` starts its own store"
        )
        return
    parse_base(base, relative_to=path.parent)
    dlm_id = starter_document(path, base, force=force)
    click.echo(f"created {path} (dlm_id {dlm_id}, base_model {base})")
