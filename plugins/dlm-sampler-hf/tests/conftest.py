"""Fixtures for the hf sampler's tests: a taught model and a host.

``tiny_base`` (from dlm_core.testing) is a random-weight two-layer Llama with
SmolLM2's tokenizer. ``taught_base`` is that model trained for a few seconds
to give fixed answers, so that tests can see where generation stops.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core.plugins import PluginHost

TAUGHT = {
    "Can we call a release amazing?": "No.",
    "What goes first in a release note?": "Breaking changes, under their own heading.",
}
"""Prompt -> the answer ``taught_base`` gives to it."""


@pytest.fixture
def taught() -> dict[str, str]:
    return dict(TAUGHT)


@pytest.fixture(scope="session")
def taught_base(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model, fully fine-tuned until greedy decoding gives the :data:`TAUGHT` answers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from dlm_core.models.chat import ChatFormat

    target = tmp_path_factory.mktemp("taught-base")
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    chat = ChatFormat(tokenizer, "You are concise.")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    rows = []
    for prompt, answer in TAUGHT.items():
        prompt_ids, answer_ids = chat.prompt_ids(prompt), chat.answer_ids(prompt, answer)
        rows.append((prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids))
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in rows])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in rows])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(60):
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


@pytest.fixture
def host() -> PluginHost:
    """A fresh host with only the built-ins and this distribution's sampler."""
    import dlm_sampler_hf

    host = PluginHost.with_builtins()
    host.register(dlm_sampler_hf, "test-sampler-hf")
    return host
