"""The ``sft`` phase: a new LoRA adapter on the bare base, trained with TRL's SFTTrainer.

Rows arrive tokenized (``LmRow.input_ids`` and ``loss_mask``), so TRL sees a
pre-tokenized dataset: ``input_ids`` plus ``completion_mask`` with
``completion_only_loss=True``, which TRL turns into labels of -100 wherever
the mask is 0. Batches group rows of similar length, so little compute goes
to padding, which matters on a CPU where every token costs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from dlm_core.api import LmRow, TrainingError, TrainJob
from dlm_trainer_trl.adapter import start_model
from dlm_trainer_trl.run import DlmTrainerMixin, TrlPhase


class _SFTTrainer(DlmTrainerMixin, SFTTrainer):
    def dlm_row_lengths(self, dataset: Any) -> list[int]:
        return [len(ids) for ids in dataset["input_ids"]]


def lm_dataset(rows: list[LmRow], max_length: int) -> Dataset:
    """Rows cut to ``max_length`` (keeping the start); rows left with no loss token are dropped."""
    input_ids, masks = [], []
    for row in rows:
        if len(row.input_ids) != len(row.loss_mask):
            raise TrainingError(
                f"a {row.source} row has {len(row.input_ids)} tokens but {len(row.loss_mask)} loss-mask entries"
            )
        ids, mask = list(row.input_ids[:max_length]), list(row.loss_mask[:max_length])
        if len(ids) > 1 and any(mask[1:]):  # the first token is never predicted
            input_ids.append(ids)
            masks.append(mask)
    if not input_ids:
        raise TrainingError(
            "no SFT row has a token to learn from; add prose or instruction sections to the document"
        )
    return Dataset.from_dict({"input_ids": input_ids, "completion_mask": masks})


class SftTrainer(TrlPhase):
    """``sft``: supervised fine-tuning of a new LoRA adapter on the job's LM rows."""

    phase = "sft"

    def check(self, job: TrainJob) -> None:
        if not job.lm_rows:
            raise TrainingError("the sft phase got no rows; the document has nothing to train on")

    def build(self, job: TrainJob, scratch: Path) -> Any:
        dataset = lm_dataset(job.lm_rows, job.settings.sequence_len)
        args = SFTConfig(
            **self.arguments(job, scratch),
            completion_only_loss=True,
            packing=False,
            padding_free=False,
            shuffle_dataset=False,
        )
        model, peft_config = start_model(job)  # --continue: the current adapter, trainable
        return _SFTTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=job.session.tokenizer,
            peft_config=peft_config,
        )
