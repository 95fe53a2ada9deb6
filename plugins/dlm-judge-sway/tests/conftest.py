"""Fixtures for the sway judge's tests: an identity adapter and a host.

``tiny_base`` (from dlm_core.testing) is a random-weight two-layer Llama with
SmolLM2's tokenizer; ``tiny_adapter``, ``make_context`` come from there too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core.plugins import PluginHost
from dlm_core.testing import save_lora


@pytest.fixture(scope="session")
def identity_adapter(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_lora(tiny_base, tmp_path_factory.mktemp("identity-adapter"), identity=True)


@pytest.fixture
def host() -> PluginHost:
    """A fresh host with only the built-ins and this distribution's judge."""
    import dlm_judge_sway

    host = PluginHost.with_builtins()
    host.register(dlm_judge_sway, "test-judge-sway")
    return host
