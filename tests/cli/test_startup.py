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


def test_dlm_help_answers_in_well_under_half_a_second(tmp_path: Path) -> None:
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        result = subprocess.run(
            [str(DLM), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=30
        )
        timings.append(time.perf_counter() - start)
        assert result.returncode == 0, result.stderr
        assert "Usage: dlm" in result.stdout
    assert min(timings) < 0.5, f"dlm --help took {min(timings):.2f}s at best of 5: {timings}"
