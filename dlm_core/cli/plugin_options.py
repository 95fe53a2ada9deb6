"""``--sampler-option KEY=VALUE`` and ``--judge-option KEY=VALUE``: settings for the chosen plugin.

A plugin's own settings (a server's address, a rubric file) come from the
command line and the environment, never from the document, which may come
from someone else. The core does not know the keys: it hands the plugin a
``dict[str, str]`` in ``PluginContext.options`` (``sampler_options``,
``judge_options``) and the plugin says what it accepts.
"""

from __future__ import annotations

import click


def key_values(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    """The repeated ``KEY=VALUE`` items as a dict; the last one wins for a repeated key."""
    options: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param=param)
        options[key.strip()] = value
    return options


sampler_option = click.option(
    "--sampler-option",
    "sampler_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=key_values,
    help="A setting for the sampler plugin, repeatable (e.g. base_url=http://127.0.0.1:8000/v1).",
)

judge_option = click.option(
    "--judge-option",
    "judge_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=key_values,
    help="A setting for the judge plugin, repeatable (e.g. rubric=rubric.txt).",
)
