"""The CLI reference page (docs/cli.md), generated from the click commands.

``python -m dlm_core.cli.reference > docs/cli.md`` rewrites it; a test
fails when the page and the commands disagree.
"""

from __future__ import annotations

import click

from dlm_core.cli.main import COMMANDS, cli

WIDTH = 100
HELP = ["-h", "--help"]


def _help(command: click.Command, path: list[str], parent: click.Context | None) -> str:
    ctx = click.Context(
        command, info_name=path[-1], parent=parent, terminal_width=WIDTH, max_content_width=WIDTH, help_option_names=HELP
    )
    return command.get_help(ctx)


def cli_reference() -> str:
    root = click.Context(cli, info_name="dlm", terminal_width=WIDTH, max_content_width=WIDTH, help_option_names=HELP)
    parts = [
        "# CLI reference",
        "",
        "Generated from the commands by `python -m dlm_core.cli.reference > docs/cli.md`; do not edit by hand.",
        "",
        "## dlm",
        "",
        "```",
        cli.get_help(root),
        "```",
    ]
    for name in sorted(COMMANDS):
        command = cli.get_command(root, name)
        assert command is not None
        parts += ["", f"## dlm {name}", "", "```", _help(command, ["dlm", name], root), "```"]
        if isinstance(command, click.Group):
            group_ctx = click.Context(command, info_name=name, parent=root, help_option_names=HELP)
            for sub in sorted(command.list_commands(group_ctx)):
                subcommand = command.get_command(group_ctx, sub)
                assert subcommand is not None
                parts += ["", f"### dlm {name} {sub}", "", "```", _help(subcommand, ["dlm", name, sub], group_ctx), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    click.echo(cli_reference(), nl=False)
