"""docs/cli.md is generated from the click commands and must not go stale."""

from __future__ import annotations

from pathlib import Path

from dlm_core.cli.reference import cli_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == cli_reference(), (
        "docs/cli.md is stale; regenerate it with `python -m dlm_core.cli.reference > docs/cli.md`"
    )


def test_every_command_and_subcommand_has_a_heading() -> None:
    text = DOC.read_text(encoding="utf-8")
    for heading in (
        "## dlm train",
        "## dlm preference",
        "### dlm preference mine",
        "### dlm preference revert",
        "## dlm compare",
    ):
        assert heading in text
