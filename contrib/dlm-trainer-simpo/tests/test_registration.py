"""The plugin registers ``simpo`` through dlm's public hook, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import dlm_trainer_simpo
import pytest

from dlm_core.context import PluginContext
from dlm_core.document.parser import parse
from dlm_core.errors import UnknownPluginName
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.protocols import Trainer

DISTRIBUTION = Path(__file__).resolve().parents[1]


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost.with_builtins()
    host.register(dlm_trainer_simpo, "simpo-under-test")
    return host


@pytest.fixture
def context(tmp_path: Path) -> PluginContext:
    return PluginContext(
        document=parse("Release notes are short.\n"),
        document_path=None,
        base=parse_base("smollm2-135m"),
        adapter_path=None,
        home=tmp_path,
    )


def test_the_plugin_registers_one_trainer_named_simpo(host: PluginHost) -> None:
    (info,) = [info for info in host.plugins() if info.name == "simpo-under-test"]
    assert info.status == "loaded"
    assert info.registers == {"trainer": ["simpo"]}


def test_the_host_builds_the_simpo_trainer_by_name(
    host: PluginHost, context: PluginContext
) -> None:
    trainer = host.trainer("simpo", context)
    assert isinstance(trainer, Trainer)
    assert type(trainer).__name__ == "SimpoTrainer"


def test_without_the_plugin_simpo_is_an_unknown_trainer(
    host: PluginHost, context: PluginContext
) -> None:
    host.unregister("simpo-under-test")
    with pytest.raises(UnknownPluginName, match="unknown trainer 'simpo'"):
        host.trainer("simpo", context)


def test_the_distribution_declares_its_dlm_entry_point() -> None:
    project = tomllib.loads((DISTRIBUTION / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"
    ]
    assert project["name"] == "dlm-trainer-simpo"
    assert project["entry-points"]["dlm"] == {"trainer-simpo": "dlm_trainer_simpo"}


def test_importing_the_plugin_and_listing_its_trainers_imports_no_ml_library() -> None:
    script = (
        "import sys, dlm_trainer_simpo\n"
        "assert [s.name for s in dlm_trainer_simpo.dlm_trainers()] == ['simpo']\n"
        "heavy = sorted({'torch', 'transformers', 'peft', 'trl', 'datasets'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
