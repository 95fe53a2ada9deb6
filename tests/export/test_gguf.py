"""GGUF and Ollama exports on the tiny base, read back by llama.cpp itself.

The tiny random Llama with SmolLM2's tokenizer and a random LoRA goes
through llama.cpp's own converter and quantizer; llama.cpp then loads each
file, and its logits are compared with transformers' on the same tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dlm_core.errors import ExportError
from dlm_core.export import ExportOptions, export_document
from dlm_core.plugins import PluginHost
from dlm_core.workspace import Workspace

TOKENS = [1, 9690, 198, 2683, 359, 7948, 30, 2, 198, 1, 4093, 198, 2020, 2]


def run(doc: Path, home: Path, host: PluginHost, **options: Any) -> Any:
    return export_document(
        Workspace(home, host, say=lambda _m: None), doc, ExportOptions(progress=False, **options)
    )


def llama_logits(path: Path, lora: Path | None = None) -> Any:
    import numpy as np
    from llama_cpp import Llama

    from dlm_core.export.llamacpp import without_extra_buffers

    with without_extra_buffers():
        model = Llama(
            model_path=str(path),
            lora_path=str(lora) if lora else None,
            n_ctx=64,
            logits_all=True,
            verbose=False,
        )
    model.eval(TOKENS)
    return np.array(model.scores[: len(TOKENS)])


def merged_logits(tiny_base: Path, adapter: Path) -> Any:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), str(adapter))
    with torch.no_grad():
        return model(torch.tensor([TOKENS])).logits[0].numpy()


def test_f16_gguf_loads_in_llama_cpp_with_the_merged_model_logits(
    trained_doc: Path, with_tools: Path, dlm_host: PluginHost, tiny_base: Path, tiny_adapter: Path
) -> None:
    import numpy as np

    result = run(trained_doc, with_tools, dlm_host, target="gguf", out=with_tools / "g")
    assert result.files == ["dlm-export.json", "notes-v0001-f16.gguf"]
    got = llama_logits(result.out / "notes-v0001-f16.gguf")
    expected = merged_logits(tiny_base, tiny_adapter)
    assert np.abs(got - expected).max() < 2e-3
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["quantization"] == "f16"
    assert manifest["tools"]["llama-cpp-python"] == "0.3.36"


def test_lora_gguf_on_the_base_gguf_gives_the_merged_logits(
    trained_doc: Path, with_tools: Path, dlm_host: PluginHost, tiny_base: Path, tiny_adapter: Path
) -> None:
    import numpy as np

    result = run(trained_doc, with_tools, dlm_host, target="gguf", lora=True, out=with_tools / "l")
    assert result.files == ["base-f16.gguf", "dlm-export.json", "notes-v0001-lora-f16.gguf"]
    base = result.out / "base-f16.gguf"
    with_lora = llama_logits(base, result.out / "notes-v0001-lora-f16.gguf")
    expected = merged_logits(tiny_base, tiny_adapter)
    assert np.abs(with_lora - expected).max() < 2e-3
    assert np.abs(llama_logits(base) - expected).max() > 1e-2  # the adapter matters


def test_ollama_export_is_a_q8_0_gguf_quantized_by_llama_cpp_and_a_modelfile(
    trained_doc: Path, with_tools: Path, dlm_host: PluginHost
) -> None:
    from gguf import GGMLQuantizationType, GGUFReader

    result = run(
        trained_doc, with_tools, dlm_host, target="ollama", quant="q8_0", out=with_tools / "o"
    )
    assert result.files == ["Modelfile", "dlm-export.json", "notes-v0001-q8_0.gguf"]
    kinds = {
        t.name: t.tensor_type for t in GGUFReader(result.out / "notes-v0001-q8_0.gguf").tensors
    }
    assert kinds["blk.0.attn_q.weight"] == GGMLQuantizationType.Q8_0
    modelfile = (result.out / "Modelfile").read_text(encoding="utf-8")
    lines = modelfile.splitlines()
    assert lines[0] == "FROM ./notes-v0001-q8_0.gguf"
    assert 'SYSTEM """You are concise."""' in lines
    assert 'PARAMETER stop "<|im_end|>"' in lines
    user_turn = '{{ else if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n<|im_start|>assistant\n'
    assert user_turn in modelfile
    assert result.ollama_create == f"ollama create notes -f {result.out / 'Modelfile'}"


def test_modelfile_for_a_lora_export_names_base_and_adapter(tiny_base: Path) -> None:
    from transformers import AutoTokenizer

    from dlm_core.export.ollama import modelfile

    text = modelfile(
        AutoTokenizer.from_pretrained(tiny_base),
        model_file="base-f16.gguf",
        adapter_file="notes-v0001-lora-f16.gguf",
        system_prompt=None,
        stop_ids=[2],
    )
    lines = text.splitlines()
    assert lines[:2] == ["FROM ./base-f16.gguf", "ADAPTER ./notes-v0001-lora-f16.gguf"]
    # No system prompt in the document: the template's own default, which dlm also uses.
    assert (
        'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""' in lines
    )


def test_an_unknown_quant_is_refused_before_any_work(
    trained_doc: Path, with_tools: Path, dlm_host: PluginHost
) -> None:
    with pytest.raises(ExportError, match="unknown --quant 'q2_k'"):
        run(trained_doc, with_tools, dlm_host, target="gguf", quant="q2_k", out=with_tools / "x")
    assert not (with_tools / "x").exists()
