"""The real loop on the real default base, through the real `dlm` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "examples" / "release-notes.dlm"

HELD_OUT = """
::eval::
### Q
Write a one-line note for a removed deprecated endpoint.

### Q
How should a security fix be announced?

### Q
Write a one-line note for a faster startup.

### Q
What should a release note avoid?

### Q
Write a one-line note for a changed default port.

### Q
How many sentences should a release summary have?

### Q
Write a one-line note for a fixed memory leak.

### Q
Who is the audience of a release note?
"""

TERSE_JUDGE = """
import json, sys
candidate = json.load(sys.stdin)["candidate"]
print(json.dumps({"score": -float(len(candidate)), "reasoning": "shorter is better"}))
"""


class Cli:
    """Runs `dlm` in a subprocess with its own home (the converted default base linked in)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "DLM_HOME": str(home), "HF_HUB_OFFLINE": "1"}
        self.exe = str(Path(sys.executable).with_name("dlm"))

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.exe, *args], env=self.env, capture_output=True, text=True, timeout=1200
        )
        if ok:
            assert result.returncode == 0, f"dlm {' '.join(args)} failed:\n{result.stderr[-3000:]}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def cli(tmp_path: Path, default_base: Path) -> Cli:
    home = tmp_path / "home"
    (home / "bases").mkdir(parents=True)
    (home / "bases" / "smollm2-135m").symlink_to(default_base, target_is_directory=True)
    return Cli(home)


@pytest.fixture
def release_notes(tmp_path: Path) -> Path:
    path = tmp_path / "release-notes.dlm"
    path.write_text(FIXTURE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


@pytest.fixture
def terse_judge(tmp_path: Path) -> str:
    """A cli judge that prefers shorter answers (the one the held-out checks use)."""
    script = tmp_path / "terse.py"
    script.write_text(TERSE_JUDGE, encoding="utf-8")
    return f"cli:{sys.executable} {script}"


@pytest.fixture
def held_out() -> str:
    """Eight ``::eval::`` prompts for the release-notes fixture, which nothing trains on."""
    return HELD_OUT
