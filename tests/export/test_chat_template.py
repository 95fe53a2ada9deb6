"""Reading a chat template's turns, for the Ollama TEMPLATE and the exported default system prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core.errors import ExportError
from dlm_core.export.chat_template import turn_pieces, with_default_system

LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


@pytest.fixture
def tokenizer(tiny_base: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_base)


def test_chatml_turns_and_the_template_default_system(tokenizer) -> None:  # type: ignore[no-untyped-def]
    pieces = turn_pieces(tokenizer)
    assert pieces.system_open == "<|im_start|>system\n"
    assert pieces.user_open == "<|im_start|>user\n"
    assert pieces.reply_open == "<|im_end|>\n<|im_start|>assistant\n"
    assert pieces.answer_close == "<|im_end|>\n"
    assert (
        pieces.default_system
        == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    )


def test_a_template_with_its_own_bos_leaves_bos_to_the_runtime(tokenizer) -> None:  # type: ignore[no-untyped-def]
    tokenizer.chat_template = LLAMA3
    tokenizer.bos_token = "<|im_start|>"
    pieces = turn_pieces(tokenizer)
    # SmolLM2's tokenizer adds no BOS when encoding, so the template's BOS stays in the text,
    # once per conversation, whether or not it has a system turn.
    assert pieces.start == "<|im_start|>"
    assert pieces.system_open == "<|start_header_id|>system<|end_header_id|>\n\n"
    assert pieces.user_open == "<|start_header_id|>user<|end_header_id|>\n\n"
    assert pieces.default_system is None
    assert pieces.ollama_template().startswith("<|im_start|>{{ range")


def test_a_template_whose_turns_do_not_cut_into_fixed_markers_is_refused(tokenizer) -> None:  # type: ignore[no-untyped-def]
    tokenizer.chat_template = (
        "{% for m in messages %}{% if loop.last %}LAST {% endif %}{{ m['role'] }}: {{ m['content'] }}\n"
        "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
    )
    with pytest.raises(ExportError, match=r"Ollama TEMPLATE|turn"):
        turn_pieces(tokenizer)


def test_default_system_is_escaped_as_a_jinja_string(tokenizer) -> None:  # type: ignore[no-untyped-def]
    system = 'Say "no" {{ not a tag }} \\ and ünïcode.\nTwo lines.'
    tokenizer.chat_template = with_default_system(tokenizer.chat_template, system)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "q"}], tokenize=False, add_generation_prompt=True
    )
    assert text.startswith(f"<|im_start|>system\n{system}<|im_end|>\n")
