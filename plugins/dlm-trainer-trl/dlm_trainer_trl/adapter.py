"""The adapter a TRL phase trains: the start adapter loaded trainable, or a new LoRA.

Every phase (SFT with ``--continue``, DPO, ORPO, and trainers built on this
plugin such as SimPO) starts the same way, so it is decided here once.
"""

from __future__ import annotations

from typing import Any

from peft import LoraConfig, PeftModel

from dlm_core.api import LoraSettings, TrainingError, TrainJob
from dlm_trainer_trl.run import ADAPTER_NAME


def lora_config(lora: LoraSettings) -> LoraConfig:
    """A new adapter's PEFT config from the document's LoRA settings."""
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.targets,
        task_type="CAUSAL_LM",
    )


def start_model(job: TrainJob) -> tuple[Any, Any]:
    """``(model, peft_config)`` for a TRL trainer.

    With a start adapter: the session's base with that adapter loaded as the
    trainable ``default`` adapter (no new config). Without one: the bare base
    and a new LoRA config from the job, which TRL wraps (a new LoRA adapter
    starts as the base itself).
    """
    base = job.session.base_model
    if job.start_adapter is None:
        return base, lora_config(job.lora)
    path = job.start_adapter
    if not (path / "adapter_config.json").is_file():
        raise TrainingError(
            f"the start adapter {path} has no adapter_config.json; is it a PEFT adapter folder?"
        )
    try:
        model = PeftModel.from_pretrained(
            base, str(path), adapter_name=ADAPTER_NAME, is_trainable=True
        )
    except Exception as exc:
        raise TrainingError(f"cannot load the start adapter {path}: {exc}") from None
    return model, None
