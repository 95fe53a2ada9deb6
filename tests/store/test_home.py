"""Where dlm keeps its state: ``--home``, else ``$DLM_HOME``, else ``~/.dlm``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlm_core.store.home import dlm_home

DLM = Path(sys.executable).with_name("dlm")
DLM_ID = "01KPM5CXB51GRX86Q25AKERN6E"


def test_override_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLM_HOME", str(tmp_path / "from-env"))
    assert dlm_home(tmp_path / "from-flag") == tmp_path / "from-flag"


def test_environment_is_used_without_an_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLM_HOME", str(tmp_path / "from-env"))
    assert dlm_home() == tmp_path / "from-env"


def test_default_is_dot_dlm_in_the_user_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DLM_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert dlm_home() == tmp_path / ".dlm"


def test_empty_environment_variable_means_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLM_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert dlm_home() == tmp_path / ".dlm"


def test_relative_and_tilde_paths_become_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert dlm_home("state") == tmp_path / "state"
    assert dlm_home("~/state") == tmp_path / "user" / "state"


def test_dlm_home_fixture_sets_the_environment(dlm_home: Path) -> None:
    assert os.environ["DLM_HOME"] == str(dlm_home)
    assert dlm_home.is_dir() and not any(dlm_home.iterdir())


def _store_path_shown(tmp_path: Path, *flags: str, **env: str) -> Path:
    document = tmp_path / "notes.dlm"
    document.write_text(f"---\ndlm_id: {DLM_ID}\n---\nHello.\n", encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k != "DLM_HOME"}
    environ.update(HOME=str(tmp_path / "user"), **env)
    result = subprocess.run(
        [str(DLM), *flags, "show", "--json", str(document)],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return Path(json.loads(result.stdout)["store"]["path"])


def test_cli_home_flag_beats_the_environment(tmp_path: Path) -> None:
    shown = _store_path_shown(
        tmp_path, "--home", str(tmp_path / "flag"), DLM_HOME=str(tmp_path / "env")
    )
    assert shown == tmp_path / "flag" / "store" / DLM_ID


def test_cli_uses_the_environment_without_the_flag(tmp_path: Path) -> None:
    shown = _store_path_shown(tmp_path, DLM_HOME=str(tmp_path / "env"))
    assert shown == tmp_path / "env" / "store" / DLM_ID


def test_cli_defaults_to_dot_dlm_in_the_user_home(tmp_path: Path) -> None:
    assert _store_path_shown(tmp_path) == tmp_path / "user" / ".dlm" / "store" / DLM_ID
