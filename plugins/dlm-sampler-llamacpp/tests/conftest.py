"""Fixtures for the llamacpp sampler's tests: a taught model, a trained document, llama.cpp's tools.

``taught_base`` is the tiny random Llama (SmolLM2's real tokenizer) fully
fine-tuned for a few seconds until greedy decoding gives the :data:`TAUGHT`
answers, so tests can see what llama.cpp generates and where it stops.
``taught_doc`` is a document on that base with one adapter version in its
store (a real PEFT LoRA that changes nothing), so commands run end to end.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dlm_core.testing import link_llamacpp_tools, save_lora

TAUGHT = {
    "Can we call a release amazing?": "No.",
    "What goes first in a release note?": "Breaking changes, under their own heading.",
}
SYSTEM = "You are concise."


@pytest.fixture
def taught() -> dict[str, str]:
    """Prompt -> the answer ``taught_base`` gives to it."""
    return dict(TAUGHT)


@pytest.fixture(scope="session")
def taught_base(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from dlm_core.api import ChatFormat

    target = tmp_path_factory.mktemp("taught-base")
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    chat = ChatFormat(tokenizer, SYSTEM)
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


@pytest.fixture(scope="session")
def llamacpp_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One DLM_HOME for the session's samplers: llama.cpp's tools linked in, GGUFs kept between tests."""
    return link_llamacpp_tools(tmp_path_factory.mktemp("llamacpp-home"))


@pytest.fixture
def taught_doc(tmp_path: Path, taught_base: Path, llamacpp_home: Path) -> Path:
    """A document on ``taught_base`` with two identical (no-op) adapter versions in its store."""
    from dlm_core.document.io import read_document
    from dlm_core.store.store import Store

    path = tmp_path / "notes.dlm"
    path.write_text(
        f"---\ndlm_id: 01KPM5CXB51GRX86Q25AKERN6F\nbase_model: hf:{taught_base}\n"
        f"system_prompt: {SYSTEM}\n---\n# Notes\n\n::eval::\n### Q\n"
        + "\n\n### Q\n".join(TAUGHT)
        + "\n",
        encoding="utf-8",
    )
    adapter = save_lora(taught_base, tmp_path / "identity", identity=True)
    document = read_document(path)
    store = Store(llamacpp_home, document.dlm_id)  # type: ignore[arg-type]
    if store.root.exists():
        shutil.rmtree(store.root)
    store.ensure(path, f"hf:{taught_base}")
    for _ in range(2):
        with store.new_version() as (_number, folder):
            for item in adapter.iterdir():
                shutil.copy2(item, folder / item.name)
    store.set_current(store.versions()[-1])
    return path
