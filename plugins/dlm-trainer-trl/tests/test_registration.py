"""The trainers reach dlm through the dlm_trainers hook, and listing them stays light."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import dlm_trainer_trl
import pytest

from dlm_core.context import PluginContext
from dlm_core.document.model import Document
from dlm_core.errors import UnknownPluginName
from dlm_core.models.session import ModelSession
from dlm_core.plugins import PluginHost, TrainerSpec
from dlm_core.protocols import Trainer


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost.with_builtins()
    host.register(dlm_trainer_trl, "trl")
    return host


@pytest.fixture
def context(session: ModelSession, tmp_path: Path) -> PluginContext:
    return PluginContext(
        document=Document(),
        document_path=None,
        base=session.base,
        adapter_path=None,
        home=tmp_path,
        session=session,
    )


def test_the_hook_registers_sft_dpo_and_orpo(host: PluginHost) -> None:
    assert sorted(host.specs(TrainerSpec)) == ["dpo", "orpo", "sft"]
    assert {info.name: info.registers for info in host.plugins()}["trl"] == {
        "trainer": ["sft", "dpo", "orpo"]
    }


@pytest.mark.parametrize("name", ["sft", "dpo", "orpo"])
def test_each_trainer_is_selectable_by_name(
    host: PluginHost, context: PluginContext, name: str
) -> None:
    trainer = host.trainer(name, context)
    assert isinstance(trainer, Trainer)


def test_an_unknown_trainer_name_lists_the_installed_ones(
    host: PluginHost, context: PluginContext
) -> None:
    with pytest.raises(UnknownPluginName, match="installed: dpo, orpo, sft"):
        host.trainer("kto", context)


def test_listing_the_trainers_imports_no_ml_library() -> None:
    code = (
        "import sys, dlm_trainer_trl\n"
        "names = [spec.name for spec in dlm_trainer_trl.dlm_trainers()]\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') if m in sys.modules)\n"
        "print(names, heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['sft', 'dpo', 'orpo'] []"


def test_the_distribution_declares_its_dlm_entry_point() -> None:
    entry_points = importlib.metadata.distribution("dlm-trainer-trl").entry_points
    assert [(ep.group, ep.name, ep.value) for ep in entry_points if ep.group == "dlm"] == [
        ("dlm", "trainer-trl", "dlm_trainer_trl")
    ]
