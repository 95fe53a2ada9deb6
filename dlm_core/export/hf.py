"""The ``hf`` target: the adapter merged into its base, as a plain transformers folder.

The merge is PEFT's own (``merge_and_unload``) done in float32, then saved in
the base's dtype as safetensors with the tokenizer. The chat template gets
the document's system prompt as its default, so ``apply_chat_template`` on a
bare user turn renders exactly the prompt dlm trains and samples with; the
folder is checked to do so before it is written out. The generation config
stops at the end-of-turn token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlm_core.errors import ExportError
from dlm_core.export.chat_template import with_default_system
from dlm_core.models.chat import ChatFormat
from dlm_core.models.quiet import quiet_loading

PROBE = "How should release notes read?"


def merged_model(base_path: str, adapter: Path | None) -> Any:
    """The base with ``adapter`` merged into its weights (float32), or the bare base."""
    import torch
    from transformers import AutoModelForCausalLM

    with quiet_loading():
        model = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    if adapter is None:
        return model
    from peft import PeftModel

    try:
        peft_model = PeftModel.from_pretrained(model, str(adapter))
    except Exception as exc:
        raise ExportError(f"cannot load adapter {adapter}: {exc}") from None
    return peft_model.merge_and_unload()


def export_tokenizer(base_path: str, out: Path, system_prompt: str | None) -> Any:
    """Save the base's tokenizer into ``out`` with the document's system prompt as default."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    expected = ChatFormat(tokenizer, system_prompt).prompt_text(PROBE)
    tokenizer.chat_template = with_default_system(tokenizer.chat_template, system_prompt)
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROBE}], tokenize=False, add_generation_prompt=True
    )
    if rendered != expected:
        raise ExportError("the exported chat template does not render the document's prompt format")
    tokenizer.save_pretrained(out)
    _record_bos(tokenizer, out / "tokenizer_config.json")
    return tokenizer


def _record_bos(tokenizer: Any, config_path: Path) -> None:
    """Write down whether encoding adds a BOS token: llama.cpp's converter reads it from here."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if "add_bos_token" in config:
        return
    bos = tokenizer.bos_token_id
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    config["add_bos_token"] = bos is not None and ids[:1] == [bos]
    config_path.write_text(
        json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def export_hf(
    base_path: str,
    adapter: Path | None,
    out: Path,
    *,
    system_prompt: str | None,
    say: Callable[[str], None] = print,
) -> None:
    """Write the merged model, tokenizer, chat template and generation config into ``out``."""
    import torch
    from transformers import AutoConfig

    say("merging the adapter into the base...")
    model = merged_model(base_path, adapter)
    declared = getattr(AutoConfig.from_pretrained(base_path), "dtype", None)
    if isinstance(declared, str):
        declared = getattr(torch, declared, None)
    if isinstance(declared, torch.dtype) and declared != torch.float32:
        model = model.to(declared)
    tokenizer = export_tokenizer(base_path, out, system_prompt)
    stops = ChatFormat(tokenizer).end_of_turn_id
    generation = model.generation_config
    eos = generation.eos_token_id
    eos_ids = list(eos) if isinstance(eos, list) else ([eos] if eos is not None else [])
    if stops not in eos_ids:
        generation.eos_token_id = [stops, *eos_ids] if eos_ids else stops
    with quiet_loading():
        model.save_pretrained(out, safe_serialization=True)
