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

from dlm_core.api import PreferenceRow, TrainingError, TrainJob


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
    dataset = Dataset.from_dict(
        {"prompt_ids": prompts, "chosen_ids": chosen, "rejected_ids": rejected}
    )
    return PairSet(dataset, dropped)


def steps_per_pass(job: TrainJob, pairs: int) -> int:
    """Optimizer steps in one pass over ``pairs`` pairs (the guard's window)."""
    settings = job.settings
    per_step = settings.batch_size * settings.grad_accum * max(job.num_processes, 1)
    return max(1, -(-pairs // max(per_step, 1)))


def mean_chosen_tokens(dataset: Any) -> float:
    chosen = dataset["chosen_ids"]
    return sum(len(c) for c in chosen) / len(chosen) if len(chosen) else 0.0


def pair_lengths(dataset: Any) -> list[int]:
    """The longer of each pair's two sequences: what a batch is padded to."""
    return [
        len(p) + max(len(c), len(r))
        for p, c, r in zip(
            dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True
        )
    ]
