"""One model session per command: the base and adapter loaded once.

The sampler and the sway judge share a session, so the base model and the
current adapter are loaded a single time per ``dlm`` command. The base view
(adapter disabled) comes from PEFT's ``disable_adapter()``, not a second
copy. CUDA runs in bf16 when available, the CPU in fp32; ``--device``
overrides.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dlm_core.errors import ModelError
from dlm_core.models.chat import ChatFormat
from dlm_core.models.custom_code import custom_code_refused, needs_custom_code
from dlm_core.models.lending import lent_base_model
from dlm_core.models.quiet import quiet_loading
from dlm_core.models.registry import BaseModelRef
from dlm_core.models.resolve import check_loadable, resolve_base

PRECISIONS = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def pick_device(requested: str | None = None, precision: str | None = None) -> tuple[str, Any]:
    """``(device, dtype)``: the request, else CUDA with bf16 if present, else CPU fp32.

    ``precision`` (``training.precision``: bf16, fp16 or fp32) overrides the dtype.
    """
    import torch

    if requested and requested != "auto":
        device = requested
    elif torch.cuda.is_available():
        device = "cuda"
    else:
        device = "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError(f"--device {requested} asked for CUDA, but torch sees no CUDA device")
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.float32
    if precision is not None:
        dtype = getattr(torch, PRECISIONS[precision])
    return device, dtype


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX)."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


class ModelSession:
    """The tokenizer, base model and (optionally) adapter of one command.

    Everything loads on first use, so building a session is free.
    """

    def __init__(
        self,
        base: BaseModelRef,
        *,
        home: Path,
        adapter: Path | None = None,
        device: str | None = None,
        system_prompt: str | None = None,
        precision: str | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.base = base
        self.home = home
        self.adapter_path = adapter
        self.requested_device = device
        self.system_prompt = system_prompt
        self.precision = precision
        self.say = say

    @functools.cached_property
    def _device_dtype(self) -> tuple[str, Any]:
        return pick_device(self.requested_device, self.precision)

    @property
    def device(self) -> str:
        return self._device_dtype[0]

    @property
    def dtype(self) -> Any:
        return self._device_dtype[1]

    @functools.cached_property
    def base_path(self) -> str:
        target = resolve_base(self.base, self.home, self.say)
        check_loadable(target)
        return target

    @functools.cached_property
    def tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.base_path, trust_remote_code=False)
        except Exception as exc:
            if needs_custom_code(exc):
                raise custom_code_refused(f"the tokenizer of {self.base.display}") from None
            raise ModelError(f"cannot load the tokenizer of {self.base.display}: {exc}") from None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    @functools.cached_property
    def chat(self) -> ChatFormat:
        return ChatFormat(self.tokenizer, self.system_prompt)

    @functools.cached_property
    def base_model(self) -> Any:
        """The base model, on the session's device, in eval mode."""
        import torch
        from transformers import AutoModelForCausalLM

        # Weights created under a caller's inference_mode would be unusable for training later.
        with torch.inference_mode(False), quiet_loading():
            try:
                model = AutoModelForCausalLM.from_pretrained(
                    self.base_path, dtype=self.dtype, trust_remote_code=False
                )
            except Exception as exc:
                if needs_custom_code(exc):
                    raise custom_code_refused(f"base model {self.base.display}") from None
                raise ModelError(f"cannot load base model {self.base.display}: {exc}") from None
            model.to(self.device)
        model.eval()
        return model

    @functools.cached_property
    def model(self) -> Any:
        """The base with the session's adapter applied (or the bare base without one)."""
        if self.adapter_path is None:
            return self.base_model
        import torch
        from peft import PeftModel

        base = self.base_model
        with torch.inference_mode(False):
            try:
                model = PeftModel.from_pretrained(base, str(self.adapter_path))
            except Exception as exc:
                raise ModelError(f"cannot load adapter {self.adapter_path}: {exc}") from None
            model.to(self.device)
        model.eval()
        return model

    @functools.cached_property
    def generation_model(self) -> Any:
        """The model to generate with: :attr:`model`, or its bf16 copy on a CPU with native bf16.

        Decoding on a CPU is bound by reading the weights once per new token;
        bf16 halves that (2.4x faster per step measured here on SmolLM2-135M).
        Scoring and training keep the float32 weights. ``training.precision:
        fp32`` turns the copy off.
        """
        import copy

        import torch

        model = self.model
        if self.device != "cpu" or self.dtype != torch.float32 or self.precision == "fp32":
            return model
        if not cpu_has_native_bf16():
            return model
        with torch.inference_mode(False):
            fast = copy.deepcopy(model).to(torch.bfloat16)
        fast.eval()
        return fast

    @contextlib.contextmanager
    def lend_base(self) -> Iterator[Any]:
        """The bare base model, lent to a trainer for the block and handed back as it was.

        A trainer wraps the yielded model with its adapter (PEFT, TRL) and
        trains; whatever that did to the shared model (adapter layers, frozen
        weights, dropouts, configs, a set-aside quantizer) is undone when the
        block ends, however it ends. See :mod:`dlm_core.models.lending`.
        """
        with lent_base_model(self.base_model) as base:
            yield base

    @contextlib.contextmanager
    def base_view(self) -> Iterator[Any]:
        """The model with the adapter switched off, for base-model log-probs."""
        model = self.model
        if self.adapter_path is None:
            yield model
            return
        # PEFT's disable_adapter() marks the LoRA weights trainable on exit; keep them as they were.
        flags = [(p, p.requires_grad) for p in model.parameters()]
        try:
            with model.disable_adapter():
                yield model
        finally:
            for parameter, flag in flags:
                parameter.requires_grad_(flag)
