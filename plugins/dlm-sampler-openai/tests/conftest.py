"""A fresh host with the openai sampler, and contexts that carry ``--sampler-option`` values.

The real server (``llama_server``: llama.cpp serving the embedded base's
GGUF) comes from dlm_core.testing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dlm_core.api import PluginContext
from dlm_core.plugins import PluginHost

SYSTEM_PROMPT = "You are concise."
DOCUMENT = f"""---
system_prompt: {SYSTEM_PROMPT}
---
::instruction::
### Q
How should release notes read?
### A
Short, factual, and low-drama.
"""

Context = Callable[..., PluginContext]


@pytest.fixture
def host() -> PluginHost:
    import dlm_sampler_openai

    host = PluginHost.with_builtins()
    host.register(dlm_sampler_openai, "test-sampler-openai")
    return host


@pytest.fixture(autouse=True)
def no_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the settings they give: none from the developer's shell."""
    for name in ("DLM_OPENAI_BASE_URL", "DLM_OPENAI_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def context(tmp_path: Path) -> Context:
    """``context(**sampler_options)``: the context a sampler factory gets."""
    from dlm_core.document.parser import parse
    from dlm_core.models.registry import parse_base

    def make(**sampler_options: str) -> PluginContext:
        return PluginContext(
            document=parse(DOCUMENT),
            document_path=None,
            base=parse_base("smollm2-135m"),
            adapter_path=None,
            home=tmp_path,
            options={"sampler_options": dict(sampler_options)},
            show_progress=False,
        )

    return make
