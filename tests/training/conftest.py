"""Fixtures for the training orchestration tests: a real loop trainer registered in a fresh host."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core.plugins import PluginHost
from dlm_core.testing import LoopTrainer, loop_trainer_plugin


@pytest.fixture
def loop_trainer() -> LoopTrainer:
    return LoopTrainer()


@pytest.fixture
def host_with_loop(dlm_host: PluginHost, loop_trainer: LoopTrainer) -> PluginHost:
    dlm_host.register(loop_trainer_plugin(loop_trainer), "test-loop-trainer")
    return dlm_host


@pytest.fixture
def doc_path(tmp_path: Path, tiny_base: Path) -> Path:
    from dlm_core.testing import tiny_document_text

    path = tmp_path / "doc.dlm"
    path.write_text(tiny_document_text(tiny_base), encoding="utf-8")
    return path
