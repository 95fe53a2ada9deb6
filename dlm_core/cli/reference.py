"""The CLI reference page (docs/cli.md), generated from the click commands.

``python -m dlm_core.cli.reference > docs/cli.md`` rewrites it; a test
fails when the page and the commands disagree.
"""

from __future__ import annotations

import click

from dlm_core.cli.main import COMMANDS, cli

WIDTH = 100
HELP = ["-h", "--help"]

REFUSED = """\
## What dlm refuses, and why

Every refusal is one `error:` line naming the file and what to do; nothing is written.

- **A copy of a document** (same `dlm_id`, while the original is still in place) is refused by
  every command that uses the store, so one document's adapters and mined pairs never reach the
  other. Give the copy its own id: `dlm init --new-id COPY` (or `dlm train --new-id COPY`). A
  document that was moved or renamed keeps its store; the manifest follows it.
- **A FIFO, a device or a folder** given as the document is refused before it is read (it would
  hang, or be read until memory runs out), and so is a document over 64 MiB.
- **A read-only document** is never replaced (`chmod u+w` it to let dlm write). A symlinked one is
  written through the link; the link stays.
- **YAML anchors and aliases** (`&a`, `*a`) and nesting deeper than 32 levels in the frontmatter:
  they let a few lines expand without bound. Write each value out.
- **Text a document cannot hold**: a mined answer with a NUL or a lone surrogate is dropped
  (`unreadable_text`), and no write produces a file the reader would refuse.
- **A model that needs its own code** (`auto_map`, `trust_remote_code`): dlm loads every model,
  tokenizer and config with `trust_remote_code=False`, since a document names its base model.
- **Values that cannot work**, before any model loads: `nan` or `inf` for `--threshold`, `--temp`,
  `--top-p`; seeds outside 0..4294967295; `dlm prompt --max-tokens` beyond the model's context.
"""


def _help(command: click.Command, path: list[str], parent: click.Context | None) -> str:
    ctx = click.Context(
        command,
        info_name=path[-1],
        parent=parent,
        terminal_width=WIDTH,
        max_content_width=WIDTH,
        help_option_names=HELP,
    )
    return command.get_help(ctx)


def cli_reference() -> str:
    root = click.Context(
        cli, info_name="dlm", terminal_width=WIDTH, max_content_width=WIDTH, help_option_names=HELP
    )
    parts = [
        "# CLI reference",
        "",
        "Generated from the commands by `python -m dlm_core.cli.reference > docs/cli.md`; do not edit by hand.",
        "",
        REFUSED,
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
                parts += [
                    "",
                    f"### dlm {name} {sub}",
                    "",
                    "```",
                    _help(subcommand, ["dlm", name, sub], group_ctx),
                    "```",
                ]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    click.echo(cli_reference(), nl=False)
