"""Preference pairs as TRL datasets, and the adapter a preference phase starts from.

Both DPO and ORPO train on the exact token ids dlm built for each pair
(``prompt_ids``, ``chosen_ids``, ``rejected_ids`` under the document's chat
template and system prompt), so training sees the tokens the sampler and the
judges saw; nothing is re-tokenized from text.
"""

from __future__ import annotations

from typing import Any

import attrs
from datasets import Dataset
from peft import PeftModel

from dlm_core.errors import TrainingError
from dlm_core.protocols import PreferenceRow, TrainJob
from dlm_trainer_trl.run import ADAPTER_NAME
from dlm_trainer_trl.sft import lora_config


@attrs.frozen
class PairSet:
    """The pairs that train, and how many were left out because the prompt fills ``sequence_len``."""

    dataset: Dataset
    dropped: int


def pair_dataset(rows: list[PreferenceRow], max_length: int) -> PairSet:
    """Columns ``prompt_ids``/``chosen_ids``/``rejected_ids``; TRL's collators cut to ``max_length``."""
    prompts, chosen, rejected = [], [], []
    dropped = 0
    for row in rows:
        if len(row.prompt_ids) >= max_length or not row.chosen_ids or not row.rejected_ids:
            dropped += 1
            continue
        prompts.append(list(row.prompt_ids))
        chosen.append(list(row.chosen_ids))
        rejected.append(list(row.rejected_ids))
    if not prompts:
        raise TrainingError(
            f"no preference pair fits in sequence_len={max_length} with room for an answer; "
            "raise training.sequence_len or shorten the prompts"
        )
    dataset = Dataset.from_dict({"prompt_ids": prompts, "chosen_ids": chosen, "rejected_ids": rejected})
    return PairSet(dataset, dropped)


def pair_lengths(dataset: Any) -> list[int]:
    """The longer of each pair's two sequences: what a batch is padded to."""
    return [
        len(p) + max(len(c), len(r))
        for p, c, r in zip(dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True)
    ]


def start_model(job: TrainJob) -> tuple[Any, Any]:
    """``(model, peft_config)`` for a TRL preference trainer.

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
        raise TrainingError(f"the start adapter {path} has no adapter_config.json; is it a PEFT adapter folder?")
    try:
        model = PeftModel.from_pretrained(base, str(path), adapter_name=ADAPTER_NAME, is_trainable=True)
    except Exception as exc:
        raise TrainingError(f"cannot load the start adapter {path}: {exc}") from None
    return model, None
