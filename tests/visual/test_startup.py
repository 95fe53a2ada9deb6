"""Plotting stays out of startup: `dlm --help` and the commands' help never import matplotlib or tensorboard."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

OPTIONAL = ["matplotlib", "PIL", "tensorboard", "torch"]

LOADED_AFTER = """
import json, sys
from dlm_core.cli.main import cli
try:
    cli.main(args={args!r}, prog_name="dlm")
except SystemExit as exit:
    assert not exit.code, exit.code
print(json.dumps(sorted(m for m in {optional!r} if m in sys.modules)))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["metrics", "--help"],
        ["show", "--help"],
        ["compare", "--help"],
        ["train", "--help"],
    ],
)
def test_help_imports_no_plotting_library(args: list[str], tmp_path: Path) -> None:
    code = LOADED_AFTER.format(args=args, optional=OPTIONAL)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_importing_the_visual_package_loads_no_plotting_library(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "import dlm_core.visual.plots, dlm_core.visual.pages, dlm_core.visual.tensorboard, dlm_core.visual.history\n"
        f"print(json.dumps(sorted(m for m in {OPTIONAL!r} if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
