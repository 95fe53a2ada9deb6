"""Printing for commands: JSON for scripts, short aligned text for people."""

from __future__ import annotations

import json
from typing import Any

import click

from dlm_core.fileformat import converter


def echo_json(value: Any) -> None:
    """Print ``value`` (attrs classes welcome) as indented JSON on stdout."""
    click.echo(json.dumps(converter.unstructure(value), indent=2, ensure_ascii=False))


def shorten(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
    return "\n".join(lines)
