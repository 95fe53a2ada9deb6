"""The ``orpo`` phase: continue the current adapter with TRL's ORPOTrainer.

ORPO needs no reference model: its loss is the chosen answer's negative
log-likelihood minus ``beta`` times the log-sigmoid of the chosen-vs-rejected
log odds ratio. TRL calls that weight ``beta`` (the paper's lambda); dlm's
``training.preference.hyperparams.alpha`` sets it. TRL 1.16 keeps ORPO in
``trl.experimental``. Pairs go in as exact token ids.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from dlm_core.api import TrainingError, TrainJob
from dlm_trainer_trl.adapter import start_model
from dlm_trainer_trl.guard import ChosenGuard, GuardSettings, orpo_signal
from dlm_trainer_trl.pairs import pair_dataset, pair_lengths, steps_per_pass
from dlm_trainer_trl.run import DlmTrainerMixin, TrlPhase

with warnings.catch_warnings():  # "APIs here are unstable": this plugin pins TRL's minor version
    warnings.simplefilter("ignore")
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer


class _ORPOTrainer(DlmTrainerMixin, ORPOTrainer):
    def dlm_row_lengths(self, dataset: Any) -> list[int]:
        return pair_lengths(dataset)

    def tokenize_row(self, feature: dict[str, Any], model: Any = None) -> dict[str, Any]:
        """TRL's ORPO row layout, built from the pair's token ids instead of its text.

        Each sequence is prompt + answer, cut to ``max_length`` keeping the start;
        labels are -100 over the prompt.
        """
        prompt = list(feature["prompt_ids"])
        row: dict[str, Any] = {
            "prompt_input_ids": prompt,
            "prompt_attention_mask": [1] * len(prompt),
        }
        for side in ("chosen", "rejected"):
            answer = list(feature[f"{side}_ids"])
            ids = (prompt + answer)[: self.max_length]
            labels = ([-100] * len(prompt) + answer)[: self.max_length]
            row[f"{side}_input_ids"] = ids
            row[f"{side}_attention_mask"] = [1] * len(ids)
            row[f"{side}_labels"] = labels
        return row


class OrpoTrainer(TrlPhase):
    """``orpo``: odds-ratio preference optimisation, no reference model."""

    phase = "preference"

    def check(self, job: TrainJob) -> None:
        if not job.preference_rows:
            raise TrainingError("the orpo phase got no preference pairs to train on")
        GuardSettings.from_options(job.settings.options)

    def build(self, job: TrainJob, scratch: Path) -> Any:
        settings = job.settings
        pairs = pair_dataset(job.preference_rows, settings.sequence_len)
        model, peft_config = start_model(job)
        args = ORPOConfig(
            **self.arguments(job, scratch),
            beta=settings.alpha,
            remove_unused_columns=False,  # the pair collator picks its own columns
        )
        trainer = _ORPOTrainer(
            model=model,
            args=args,
            train_dataset=pairs.dataset,
            processing_class=job.session.tokenizer,
            peft_config=peft_config,
        )
        trainer.dlm_extra.update(pairs=len(pairs.dataset), pairs_dropped=pairs.dropped)
        return trainer

    def guard(self, job: TrainJob, trainer: Any) -> ChosenGuard:
        """Chosen answers' log-prob per token, against its value over the first pass."""
        return ChosenGuard(
            signal=orpo_signal,
            window=steps_per_pass(job, len(trainer.train_dataset)),
            settings=GuardSettings.from_options(job.settings.options),
            relative=True,
        )
