"""The complete plugin in docs/plugins.md works when copied as written.

The files are taken from the page (each code block follows a
``<!-- file: PATH -->`` line), installed with pip into a folder of their
own, and then the example's own tests and ``dlm plugins`` run against it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
DLM = Path(sys.executable).with_name("dlm")
FILE_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<body>.*?)\n```\n", re.DOTALL)


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the example's project folder, the folder it is installed into)."""
    root = tmp_path_factory.mktemp("docs-example")
    blocks = FILE_BLOCK.findall(DOCS.read_text(encoding="utf-8"))
    assert {path for path, _ in blocks} >= {
        "dlm-judge-length/pyproject.toml",
        "dlm-judge-length/dlm_judge_length.py",
        "dlm-judge-length/conftest.py",
        "dlm-judge-length/tests/test_length.py",
    }
    for path, body in blocks:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body + "\n", encoding="utf-8")
    site = root / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(site),
            str(root / "dlm-judge-length"),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return root / "dlm-judge-length", site


def _env(site: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DLM_DISABLE_PLUGINS"}}
    env.update(PYTHONPATH=str(site), DLM_HOME=str(home))
    return env


def test_example_plugin_is_listed_by_dlm_plugins(
    installed_example: tuple[Path, Path], tmp_path: Path
) -> None:
    _project, site = installed_example
    result = subprocess.run(
        [str(DLM), "plugins", "--json"],
        env=_env(site, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "length" not in result.stderr
    listed = {info["name"]: info for info in json.loads(result.stdout)}
    assert listed["length"] == {
        "name": "length",
        "module": "dlm_judge_length",
        "distribution": "dlm-judge-length",
        "version": "0.1.0",
        "status": "loaded",
        "error": None,
        "registers": {"judge": ["length"]},
    }


def test_example_plugin_tests_pass(installed_example: tuple[Path, Path], tmp_path: Path) -> None:
    project, site = installed_example
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        env=_env(site, tmp_path),
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
