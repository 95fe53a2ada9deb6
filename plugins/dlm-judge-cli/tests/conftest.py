"""Real judge scripts for the ``cli`` judge's tests.

Each script is a small Python program written into the test's tmp folder
and run with this interpreter, exactly as a user's ``--judge cli:...``
command would be.
"""

from __future__ import annotations

import shlex
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import dlm_judge_cli
import pytest

from dlm_core.context import PluginContext
from dlm_core.document.parser import parse
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost

# A judge that prefers terse answers: score = -len(candidate).
TERSE_JUDGE = """
import json, sys
request = json.load(sys.stdin)
print(json.dumps({"score": -len(request["candidate"]), "reasoning": f"{len(request['candidate'])} characters"}))
"""


@pytest.fixture
def judge_script(tmp_path: Path) -> Callable[[str, str], str]:
    """Write a Python judge script; returns the ``cli:<command>`` selector that runs it."""

    def write(name: str, body: str) -> str:
        script = tmp_path / "judges" / f"{name}.py"
        script.parent.mkdir(exist_ok=True)
        script.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
        return "cli:" + shlex.join([sys.executable, str(script)])

    return write


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost.with_builtins()
    host.register(dlm_judge_cli, "dlm-judge-cli-test")
    return host


@pytest.fixture
def make_context(tmp_path: Path, tiny_base: Path) -> Callable[..., PluginContext]:
    def make(**options: object) -> PluginContext:
        return PluginContext(
            document=parse("::instruction::\n### Q\nq\n### A\na\n"),
            document_path=None,
            base=parse_base(f"hf:{tiny_base}"),
            adapter_path=None,
            home=tmp_path,
            options=dict(options),
        )

    return make


@pytest.fixture
def terse_judge(judge_script: Callable[[str, str], str]) -> str:
    """A good judge that prefers terse answers: score = -len(candidate), with a reasoning."""
    return judge_script("terse", TERSE_JUDGE)
