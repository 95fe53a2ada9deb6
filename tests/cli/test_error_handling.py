"""How failures reach the terminal: one ``error:`` line, exit codes, tracebacks on request.

A :class:`~dlm_core.errors.DlmError` exits 1 with one line; anything else is
a bug and says so, pointing at ``--verbose``; usage errors exit 2 (click's
convention). Most tests go through real commands; the rest add a throwaway
command to the real command table, so the real group handles its failure.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dlm_core.cli import main as cli_main

DLM = Path(sys.executable).with_name("dlm")

FAILING_COMMANDS = """
    import click

    from dlm_core.errors import StoreLocked


    @click.command()
    @click.argument("kind")
    def fail(kind):
        if kind == "dlm":
            raise StoreLocked("this document's store is in use (pid 4242); wait for it to finish")
        if kind == "dlm-multiline":
            raise StoreLocked("the store is in use\\nsecond line of detail")
        if kind == "bug":
            raise KeyError("adapter_path")
        if kind == "bug-multiline":
            raise RuntimeError("first line of a bug\\nsecond line")
        if kind == "interrupt":
            raise KeyboardInterrupt
"""

BAD_DOCUMENT = "---\nbogus_key: 1\n---\nHello.\n"


@pytest.fixture
def failing_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``dlm fail KIND``: a throwaway command in the real command table."""
    folder = tmp_path / "commands"
    folder.mkdir()
    (folder / "dlm_test_failing_commands.py").write_text(
        textwrap.dedent(FAILING_COMMANDS), encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "dlm_test_failing_commands", raising=False)
    monkeypatch.setitem(
        cli_main.COMMANDS, "fail", ("dlm_test_failing_commands:fail", "Fail on purpose.")
    )


def _without_plugin_warnings(stderr: str) -> list[str]:
    """stderr lines, less warnings about whichever plugins happen to be installed."""
    return [line for line in stderr.splitlines() if not line.startswith("warning: plugin ")]


def dlm(*args: str, home: Path) -> Result:
    return CliRunner().invoke(cli_main.cli, ["--home", str(home), *args], prog_name="dlm")


def test_dlm_error_exits_1_with_one_error_line(tmp_path: Path) -> None:
    document = tmp_path / "bad.dlm"
    document.write_text(BAD_DOCUMENT, encoding="utf-8")
    result = dlm("show", str(document), home=tmp_path)
    assert result.exit_code == 1
    assert _without_plugin_warnings(result.stderr) == [
        f"error: {document}:2:1: unknown key 'bogus_key'; expected one of: "
        "dlm_id, dlm_version, base_model, system_prompt, training, export"
    ]
    assert result.stdout == ""


def test_dlm_error_from_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    document = tmp_path / "bad.dlm"
    document.write_text(BAD_DOCUMENT, encoding="utf-8")
    result = subprocess.run(
        [str(DLM), "--home", str(tmp_path / "home"), "show", str(document)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    [line] = _without_plugin_warnings(result.stderr)
    assert line.startswith(f"error: {document}:2:1: unknown key 'bogus_key'")
    assert "Traceback" not in result.stderr


def test_existing_document_is_not_overwritten_without_force(tmp_path: Path) -> None:
    document = tmp_path / "notes.dlm"
    document.write_text("Mine.\n", encoding="utf-8")
    result = dlm("init", str(document), home=tmp_path)
    assert result.exit_code == 1
    assert result.stderr == f"error: {document} already exists; pass --force to overwrite it\n"
    assert document.read_text(encoding="utf-8") == "Mine.\n"


@pytest.mark.usefixtures("failing_command")
def test_dlm_error_message_is_printed_as_written(tmp_path: Path) -> None:
    result = dlm("fail", "dlm", home=tmp_path)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: this document's store is in use (pid 4242); wait for it to finish\n"
    )


@pytest.mark.usefixtures("failing_command")
def test_multiline_dlm_error_still_prints_one_line(tmp_path: Path) -> None:
    result = dlm("fail", "dlm-multiline", home=tmp_path)
    assert result.exit_code == 1
    assert result.stderr == "error: the store is in use\n"


@pytest.mark.usefixtures("failing_command")
def test_verbose_shows_the_traceback_before_the_error_line(tmp_path: Path) -> None:
    result = dlm("--verbose", "fail", "dlm", home=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "dlm_core.errors.StoreLocked" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "error: this document's store is in use (pid 4242); wait for it to finish"
    )


@pytest.mark.usefixtures("failing_command")
def test_unexpected_exception_is_one_line_suggesting_verbose(tmp_path: Path) -> None:
    result = dlm("fail", "bug", home=tmp_path)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: unexpected KeyError: 'adapter_path' (run with --verbose for the traceback)\n"
    )


@pytest.mark.usefixtures("failing_command")
def test_multiline_unexpected_exception_keeps_the_verbose_hint(tmp_path: Path) -> None:
    result = dlm("fail", "bug-multiline", home=tmp_path)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: unexpected RuntimeError: first line of a bug "
        "(run with --verbose for the traceback)\n"
    )


@pytest.mark.usefixtures("failing_command")
def test_unexpected_exception_with_verbose_shows_the_traceback(tmp_path: Path) -> None:
    result = dlm("-v", "fail", "bug", home=tmp_path)
    assert result.exit_code == 1
    assert "Traceback (most recent call last):" in result.stderr
    assert result.stderr.splitlines()[-1] == "error: unexpected KeyError: 'adapter_path'"


@pytest.mark.usefixtures("failing_command")
def test_interrupt_exits_130(tmp_path: Path) -> None:
    result = dlm("fail", "interrupt", home=tmp_path)
    assert result.exit_code == 130
    assert result.stderr == "error: interrupted\n"


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = dlm("no-such-command", home=tmp_path)
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.stderr


def test_missing_argument_is_a_usage_error(tmp_path: Path) -> None:
    result = dlm("show", home=tmp_path)
    assert result.exit_code == 2
    assert "Missing argument 'PATH'" in result.stderr


def test_missing_file_argument_is_a_usage_error(tmp_path: Path) -> None:
    result = dlm("show", str(tmp_path / "absent.dlm"), home=tmp_path)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_unknown_option_is_a_usage_error_in_a_real_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(DLM), "plugins", "--no-such-option"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "No such option '--no-such-option'" in result.stderr
    assert "Traceback" not in result.stderr
