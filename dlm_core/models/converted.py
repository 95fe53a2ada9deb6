"""Bases converted from GGUF: plain float weights, so no GGUF quantization settings.

A model loaded from a GGUF file carries ``quantization_config`` with
``quant_method: gguf``. Once its weights are saved as plain floats that
setting is stale, yet transformers still attaches a quantizer on load, and
its Trainer refuses any model with a quantizer that "does not support
training". One rule, in this one module: the conversion drops the setting
(:func:`drop_gguf_quantization`), a base converted by an earlier dlm is
repaired once when it is resolved (:func:`repair_converted_base`), and a
model that still arrives with such a quantizer has it set aside while it
trains (:func:`stale_gguf_quantizer`, used by the lending in
:mod:`dlm_core.models.lending`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlm_core.atomic import write_text_atomic

KEY = "quantization_config"


def _is_gguf(setting: Any) -> bool:
    method = (
        setting.get("quant_method")
        if isinstance(setting, dict)
        else getattr(setting, "quant_method", None)
    )
    return str(getattr(method, "value", method)).lower() == "gguf"


def drop_gguf_quantization(config: Any) -> None:
    """Remove a GGUF ``quantization_config`` from a transformers config whose weights are floats."""
    if _is_gguf(getattr(config, KEY, None)):
        delattr(config, KEY)


def repair_converted_base(folder: Path) -> bool:
    """Drop a stale GGUF ``quantization_config`` from ``folder/config.json``; True if it changed."""
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if not _is_gguf(config.get(KEY)):
        return False
    del config[KEY]
    write_text_atomic(path, json.dumps(config, indent=2) + "\n")
    return True


def stale_gguf_quantizer(model: Any) -> Any:
    """The GGUF quantizer of a model whose weights are plain floats, else None.

    A model with packed GGUF weights keeps its quantizer (and fails to train
    as before): only a quantizer that quantizes nothing is stale.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None or not _is_gguf(quantizer.quantization_config):
        return None
    if getattr(quantizer, "packed_modules", None):
        return None
    if not all(param.is_floating_point() for param in model.parameters()):
        return None
    return quantizer
