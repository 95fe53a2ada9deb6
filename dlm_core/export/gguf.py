"""The ``gguf`` target: llama.cpp files, merged or as a LoRA adapter for the base.

Merged: the ``hf`` export (adapter merged, tokenizer, chat template with the
document's system prompt) written to a scratch folder, converted by
llama.cpp's ``convert_hf_to_gguf.py``, then quantized by llama.cpp's own
quantizer when ``--quant`` asks for less than 16 bits. LoRA: the bare base
is converted the same way (and quantized), and the PEFT adapter by
``convert_lora_to_gguf.py`` into an f16 LoRA GGUF that llama.cpp applies on
top of that base (``--lora``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import attrs

from dlm_core.export.hf import export_hf
from dlm_core.export.llamacpp import QUANT_TYPES, quantize, run_converter

QUANTS = ("f16", *QUANT_TYPES)


@attrs.frozen
class GgufFiles:
    """What a GGUF export wrote: the model, and the LoRA adapter with ``--lora``."""

    model: Path
    adapter: Path | None = None


def _is_float32(hf_dir: Path) -> bool:
    config = json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    return bool(config.get("dtype", config.get("torch_dtype", "float32")) == "float32")


def hf_to_gguf(tools: Path, hf_dir: Path, target: Path, quant: str, scratch: Path) -> Path:
    """Convert a transformers folder to ``target`` at ``quant`` (f16, or quantized from full precision)."""
    if quant == "f16":
        run_converter(
            tools,
            "convert_hf_to_gguf.py",
            [str(hf_dir), "--outfile", str(target), "--outtype", "f16"],
            what=hf_dir.name,
        )
        return target
    # Quantize from the weights as they are (f32 stays f32): no detour through f16 rounding.
    full = scratch / f"{target.stem}.full.gguf"
    outtype = "f32" if _is_float32(hf_dir) else "auto"
    run_converter(
        tools,
        "convert_hf_to_gguf.py",
        [str(hf_dir), "--outfile", str(full), "--outtype", outtype],
        what=hf_dir.name,
    )
    quantize(full, target, quant)
    full.unlink()
    return target


def export_gguf(
    tools: Path,
    base_path: str,
    adapter: Path | None,
    out: Path,
    scratch: Path,
    *,
    name: str,
    quant: str,
    lora: bool,
    system_prompt: str | None,
    step: Callable[[str], None],
) -> GgufFiles:
    """Write ``<name>-<quant>.gguf`` (merged), or the base and ``<name>-lora-f16.gguf`` with ``lora``."""
    hf_dir = scratch / "hf"
    step("merging" if adapter is not None and not lora else "loading the base")
    export_hf(
        base_path,
        None if lora else adapter,
        hf_dir,
        system_prompt=system_prompt,
        say=lambda _m: None,
    )
    step("converting to GGUF" if quant == "f16" else f"converting and quantizing to {quant}")
    model_name = f"base-{quant}.gguf" if lora else f"{name}-{quant}.gguf"
    model = hf_to_gguf(tools, hf_dir, out / model_name, quant, scratch)
    if not lora or adapter is None:
        return GgufFiles(model)
    step("converting the LoRA adapter")
    lora_file = out / f"{name}-lora-f16.gguf"
    run_converter(
        tools,
        "convert_lora_to_gguf.py",
        ["--base", str(hf_dir), "--outfile", str(lora_file), "--outtype", "f16", str(adapter)],
        what=f"the adapter {adapter.name}",
    )
    return GgufFiles(model, lora_file)
