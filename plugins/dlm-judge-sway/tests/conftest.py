"""Fixtures for the sway judge's tests: tiny real models, adapters, contexts and a host.

``tiny_base`` (from dlm_core.testing) is a random-weight two-layer Llama with
SmolLM2's tokenizer; the adapters here are real PEFT LoRA adapters on it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlm_core.context import PluginContext
from dlm_core.document.parser import parse
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost

DOCUMENT = """---
system_prompt: You are concise.
---
# Release notes

Short, factual and low-drama.
"""

ContextFactory = Callable[..., PluginContext]


def save_lora(base: Path, target: Path, *, identity: bool = False) -> Path:
    """A LoRA adapter on q/v; random (a real change) unless ``identity`` (B = 0, no change)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(r=8, target_modules=["q_proj", "v_proj"], init_lora_weights=identity)
    get_peft_model(model, config).save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_adapter(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_lora(tiny_base, tmp_path_factory.mktemp("tiny-adapter"))


@pytest.fixture(scope="session")
def identity_adapter(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_lora(tiny_base, tmp_path_factory.mktemp("identity-adapter"), identity=True)


@pytest.fixture
def make_context(tmp_path: Path) -> ContextFactory:
    """``make_context(base, adapter=None, **options)``: a plugin context over a model folder."""

    def make(base: Path, adapter: Path | None = None, **options: Any) -> PluginContext:
        return PluginContext(
            document=parse(DOCUMENT),
            document_path=None,
            base=parse_base(f"hf:{base}"),
            adapter_path=adapter,
            home=tmp_path,
            options=options,
        )

    return make


@pytest.fixture
def host() -> PluginHost:
    """A fresh host with only the built-ins and this distribution's judge."""
    import dlm_judge_sway

    host = PluginHost.with_builtins()
    host.register(dlm_judge_sway, "test-judge-sway")
    return host
