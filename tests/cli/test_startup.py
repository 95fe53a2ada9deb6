"""``dlm --help`` is instant: the CLI imports no ML library until a command needs one."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

DLM = Path(sys.executable).with_name("dlm")
HEAVY = ["torch", "transformers", "peft", "trl"]

LOADED_AFTER = """
import json, sys
{setup}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _heavy_modules_loaded(setup: str, tmp_path: Path) -> list[str]:
    code = LOADED_AFTER.format(setup=setup, heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_ml_library(tmp_path: Path) -> None:
    assert _heavy_modules_loaded("import dlm_core.cli.main", tmp_path) == []


@pytest.mark.parametrize("args", [["--help"], ["plugins", "--json"], ["init", "--help"]])
def test_running_light_commands_loads_no_ml_library(args: list[str], tmp_path: Path) -> None:
    setup = (
        "from dlm_core.cli.main import cli\n"
        f"try:\n    cli.main(args={args!r}, prog_name='dlm')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code"
    )
    assert _heavy_modules_loaded(setup, tmp_path) == []


def test_dlm_help_costs_little_more_than_starting_python_with_click(tmp_path: Path) -> None:
    # A ratio measured in this run, interleaved, so a busy machine slows both alike:
    # one heavy import (torch, transformers) would make it many times slower.
    def seconds(command: list[str]) -> float:
        start = time.perf_counter()
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return time.perf_counter() - start

    help_times, click_times = [], []
    for _ in range(5):
        help_times.append(seconds([str(DLM), "--help"]))
        click_times.append(seconds([sys.executable, "-c", "import click"]))
    ratio = min(help_times) / min(click_times)
    assert ratio < 3.0, (
        f"dlm --help took {ratio:.1f} times as long as importing click: {help_times}"
    )
