"""The ``simpo`` trainer: continue the current adapter with SimPO, through TRL's CPOTrainer.

SimPO (Meng et al., 2024, arXiv:2405.14734) needs no reference model. Its
reward is the policy's *mean* per-token log-probability of an answer, scaled
by ``beta``, and the loss asks the chosen answer's reward to beat the
rejected one's by a target margin ``gamma``:
``-log σ(beta·(mean log p(chosen) - mean log p(rejected)) - gamma)``.
TRL 1.16 implements it as ``CPOTrainer`` with ``loss_type="simpo"``
(``simpo_gamma`` is gamma, ``cpo_alpha`` the optional NLL term).

This file is only the algorithm: the dataset layout and CPOTrainer's
settings. Everything a TRL run needs around it (lending the session's base
model and handing it back, per-step reports, the progress bar, saving the
adapter alone, token counts, DDP) comes from the ``dlm-trainer-trl``
plugin's :class:`~dlm_trainer_trl.run.TrlPhase`, as a third party building on
that plugin would use it. The pairs train on the exact token ids dlm built
(``prompt_ids``, ``chosen_ids``, ``rejected_ids``), never re-tokenized text.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from datasets import Dataset
from dlm_trainer_trl.adapter import start_model
from dlm_trainer_trl.run import DlmTrainerMixin, TrlPhase

from dlm_core.api import PreferenceRow, TrainingError, TrainJob
from dlm_trainer_simpo.settings import simpo_settings

with warnings.catch_warnings():  # "experimental APIs may change": the TRL minor version is pinned
    warnings.simplefilter("ignore")
    from trl.experimental.cpo import CPOConfig, CPOTrainer


class SimpoTrainer(TrlPhase):
    """dlm's ``Trainer`` protocol for the preference phase, with SimPO's loss."""

    phase = "preference"

    def check(self, job: TrainJob) -> None:
        simpo_settings(job.settings)  # a bad option fails before the model is touched

    def build(self, job: TrainJob, scratch: Path) -> Any:
        settings = job.settings
        simpo = simpo_settings(settings)
        pairs, dropped = pair_rows(job.preference_rows, settings.sequence_len)
        if dropped and self.context is not None:
            self.context.say(
                f"simpo: left out {dropped} pair(s) whose prompt fills sequence_len={settings.sequence_len}"
            )
        model, peft_config = start_model(job)
        args = CPOConfig(
            **self.arguments(job, scratch),
            loss_type="simpo",
            beta=simpo.beta,
            simpo_gamma=simpo.gamma,
            cpo_alpha=simpo.sft_weight,
            remove_unused_columns=False,  # the rows are built already (pair_rows)
        )
        trainer = _CPOTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(pairs),
            processing_class=job.session.tokenizer,
            peft_config=peft_config,
        )
        trainer.dlm_extra.update(
            pairs=len(pairs),
            pairs_dropped=dropped,
            beta=simpo.beta,
            gamma=simpo.gamma,
            sft_weight=simpo.sft_weight,
        )
        return trainer


class _CPOTrainer(DlmTrainerMixin, CPOTrainer):
    """TRL's CPOTrainer on rows that are tokenized already."""

    def dlm_row_lengths(self, dataset: Any) -> list[int]:
        return [
            max(len(c), len(r))
            for c, r in zip(dataset["chosen_input_ids"], dataset["rejected_input_ids"], strict=True)
        ]

    def tokenize_row(self, feature: dict[str, Any], model: Any = None) -> dict[str, Any]:
        return feature  # built by pair_rows from dlm's exact token ids


def pair_rows(rows: list[PreferenceRow], max_length: int) -> tuple[list[dict[str, list[int]]], int]:
    """CPOTrainer's tokenized layout from dlm's token ids, and how many pairs were left out.

    Each side is prompt + answer cut to ``max_length`` keeping the start,
    labelled only on the answer. A pair whose prompt fills ``max_length``
    has no answer left to score and is left out.
    """
    examples, dropped = [], 0
    for row in rows:
        prompt = list(row.prompt_ids)
        if len(prompt) >= max_length or not row.chosen_ids or not row.rejected_ids:
            dropped += 1
            continue
        example: dict[str, list[int]] = {}
        for side, answer in (("chosen", row.chosen_ids), ("rejected", row.rejected_ids)):
            ids = [*prompt, *answer][:max_length]
            example[f"{side}_input_ids"] = ids
            example[f"{side}_attention_mask"] = [1] * len(ids)
            example[f"{side}_labels"] = ([-100] * len(prompt) + list(answer))[:max_length]
        examples.append(example)
    if not examples:
        raise TrainingError(
            f"the simpo trainer has no preference pair that fits in sequence_len={max_length} with room "
            "for an answer; raise training.sequence_len or add ::preference:: records"
        )
    return examples, dropped
