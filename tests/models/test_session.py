"""The shared model session: one load per command, a base view, a fast generation copy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dlm_core.models.registry import parse_base
from dlm_core.models.session import ModelSession, cpu_has_native_bf16, pick_device


def session(
    tiny_base: Path, tmp_path: Path, adapter: Path | None = None, precision: str | None = None
) -> ModelSession:
    return ModelSession(
        parse_base(f"hf:{tiny_base}"),
        home=tmp_path,
        adapter=adapter,
        precision=precision,
        say=lambda m: None,
    )


@pytest.fixture
def adapter(tiny_base: Path, tmp_path: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_base),
        LoraConfig(r=4, target_modules=["q_proj"], init_lora_weights=False),
    )
    model.save_pretrained(tmp_path / "adapter")
    return tmp_path / "adapter"


def test_the_cpu_runs_float32_and_precision_overrides_it() -> None:
    assert pick_device(None) == ("cpu", torch.float32)
    assert pick_device("cpu", "bf16") == ("cpu", torch.bfloat16)


def test_base_view_switches_the_adapter_off_and_leaves_it_frozen(
    tiny_base: Path, tmp_path: Path, adapter: Path
) -> None:
    s = session(tiny_base, tmp_path, adapter)
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.inference_mode():
        tuned = s.model(ids).logits
        with s.base_view() as model:
            base = model(ids).logits
        again = s.model(ids).logits
    assert not torch.allclose(tuned, base) and torch.equal(tuned, again)
    assert not any(p.requires_grad for p in s.model.parameters())


def test_generation_uses_a_bf16_copy_on_a_cpu_with_native_bf16(
    tiny_base: Path, tmp_path: Path, adapter: Path
) -> None:
    s = session(tiny_base, tmp_path, adapter)
    fast = s.generation_model
    if cpu_has_native_bf16():
        assert fast is not s.model and next(fast.parameters()).dtype == torch.bfloat16
        assert next(s.model.parameters()).dtype == torch.float32  # scoring keeps float32
    else:
        assert fast is s.model


def test_precision_fp32_keeps_generation_in_float32(tiny_base: Path, tmp_path: Path) -> None:
    s = session(tiny_base, tmp_path, precision="fp32")
    assert s.generation_model is s.model
