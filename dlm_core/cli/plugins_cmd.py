"""``dlm plugins``: every installed plugin, what it registers, and its status."""

from __future__ import annotations

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.output import echo_json, table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@pass_app
def plugins(app: App, as_json: bool) -> None:
    """List plugins: distribution, version, module, registrations, status."""
    infos = app.host.plugins()
    if as_json:
        echo_json(infos)
        return
    rows = []
    for info in infos:
        registers = "; ".join(
            f"{kind}: {', '.join(names)}" for kind, names in info.registers.items()
        )
        status = info.status if info.error is None else f"{info.status}: {info.error}"
        rows.append(
            [
                info.name,
                info.distribution or "-",
                info.version or "-",
                info.module,
                registers or "-",
                status,
            ]
        )
    click.echo(table(rows, ["plugin", "distribution", "version", "module", "registers", "status"]))
