"""Fixtures for the plugin tests: a plugin context, and throwaway distributions.

A throwaway distribution is a real one: a module and a ``*.dist-info`` folder
in a folder of its own, put on ``PYTHONPATH`` of a ``dlm`` (or ``python``)
subprocess. Subprocesses keep discovery honest: nothing is cached from the
test process, and nothing is installed into the test environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlm_core.context import PluginContext
from dlm_core.document.parser import parse
from dlm_core.models.registry import parse_base

DLM = Path(sys.executable).with_name("dlm")


@pytest.fixture
def plugin_context(tmp_path: Path) -> PluginContext:
    """What a factory receives, for a one-paragraph document on the default base."""
    return PluginContext(
        document=parse("Short, factual and low-drama.\n"),
        document_path=None,
        base=parse_base("smollm2-135m"),
        adapter_path=None,
        home=tmp_path / "dlm-home",
    )


class ThrowawaySite:
    """A folder of throwaway distributions, and commands run with it on the path."""

    def __init__(self, root: Path) -> None:
        self.path = root / "site"
        self.path.mkdir()
        self.home = root / "dlm-home"
        self.cache = root / "cache"  # stevedore's entry-point cache, kept out of ~/.cache

    def install(
        self,
        *,
        distribution: str,
        module: str,
        source: str,
        entry_point: str,
        version: str = "0.3.1",
    ) -> None:
        """Write ``module.py`` and the distribution's metadata with a ``dlm`` entry point.

        Installing the same distribution and version again rewrites it in place,
        as ``pip install --force-reinstall`` of a changed plugin would.
        """
        (self.path / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = self.path / f"{re.sub(r'[-_.]+', '_', distribution)}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[dlm]\n{entry_point} = {module}\n", encoding="utf-8"
        )
        (info / "RECORD").write_text("", encoding="utf-8")

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DLM_DISABLE_PLUGINS"}
        }
        env.update(
            PYTHONPATH=str(self.path),
            DLM_HOME=str(self.home),
            XDG_CACHE_HOME=str(self.cache),
        )
        env.update(extra)
        return env

    def dlm(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run the real ``dlm`` console script."""
        return subprocess.run(
            [str(DLM), *args],
            env=self.env(**env),
            cwd=self.path.parent,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def python(self, code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run a Python snippet (``sys.argv[1:]`` is ``args``) in the same environment as ``dlm``."""
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            cwd=self.path.parent,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def site(tmp_path: Path) -> ThrowawaySite:
    return ThrowawaySite(tmp_path)
