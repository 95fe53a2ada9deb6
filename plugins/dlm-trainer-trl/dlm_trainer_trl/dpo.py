"""The ``dpo`` phase: continue the current adapter with TRL's DPOTrainer.

The reference is computed once, before the first step
(``precompute_ref_log_probs=True``), and never kept as a second model:

- ``reference: pre_adapter`` (the default): the adapter the phase starts from,
  frozen. TRL copies the loaded adapter into a second LoRA adapter named
  ``ref`` and scores every pair with it; that copy is dropped as soon as the
  scores are stored, so only the trainable adapter remains and gets saved.
- ``reference: base``: the base model, scored with the adapter switched off.

Pairs go in as exact token ids (see :mod:`dlm_trainer_trl.pairs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from torch.utils.data import DataLoader
from trl import DPOConfig, DPOTrainer

from dlm_core.api import TrainingError, TrainJob
from dlm_trainer_trl.adapter import start_model
from dlm_trainer_trl.guard import ChosenGuard, GuardSettings, dpo_signal
from dlm_trainer_trl.pairs import mean_chosen_tokens, pair_dataset, pair_lengths, steps_per_pass
from dlm_trainer_trl.run import DlmTrainerMixin, TrlPhase

REFERENCE_ADAPTER = "ref"
"""The name TRL gives the frozen copy of a loaded adapter."""

LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)
"""TRL 1.16's DPO losses; ``training.preference.loss_type`` may combine several with commas."""


class _DPOTrainer(DlmTrainerMixin, DPOTrainer):
    def __init__(self, *args: Any, dlm_reference: str, **kwargs: Any) -> None:
        self.dlm_reference = dlm_reference
        super().__init__(*args, **kwargs)

    def dlm_row_lengths(self, dataset: Any) -> list[int]:
        return pair_lengths(dataset)

    def _prepare_dataset(
        self, dataset: Dataset, processing_class: Any, args: Any, dataset_name: str
    ) -> Dataset:
        # The pairs are tokenized already (and cut to fit in pair_dataset); TRL
        # would re-tokenize text, which dlm does not hand it.
        return dataset

    def _precompute_ref_logps(self, dataset: Dataset, name: str, batch_size: int) -> Dataset:
        """TRL's reference pass, kept in memory: no Arrow cache file, no progress bar.

        Each batch goes through TRL's own :meth:`compute_ref_log_probs`, which
        uses the ``ref`` adapter when there is one and the base (adapters off)
        otherwise. The ``ref`` adapter is removed afterwards: the stored
        log-probabilities are all the reference the loss needs.
        """
        model = self.accelerator.unwrap_model(self.model)
        if self.dlm_reference == "base":
            _drop_reference_adapter(model)
        loader = DataLoader(
            dataset, batch_size=batch_size, collate_fn=self.data_collator, shuffle=False
        )
        chosen, rejected = [], []
        was_training = model.training
        model.eval()
        try:
            for batch in loader:
                batch = {k: v.to(self.accelerator.device) for k, v in batch.items()}
                ref_chosen, ref_rejected = self.compute_ref_log_probs(self.model, batch)
                chosen.append(ref_chosen.float().cpu())
                rejected.append(ref_rejected.float().cpu())
        finally:
            model.train(was_training)
            _drop_reference_adapter(model)
        dataset = dataset.add_column(
            "ref_chosen_logps", torch.cat(chosen).numpy().astype(np.float32)
        )
        return dataset.add_column(
            "ref_rejected_logps", torch.cat(rejected).numpy().astype(np.float32)
        )


def _drop_reference_adapter(model: Any) -> None:
    if REFERENCE_ADAPTER in getattr(model, "peft_config", {}):
        model.delete_adapter(REFERENCE_ADAPTER)


def loss_types(setting: str) -> list[str]:
    return [part.strip() for part in setting.split(",") if part.strip()]


class DpoTrainer(TrlPhase):
    """``dpo``: direct preference optimisation against a frozen reference."""

    phase = "preference"

    def check(self, job: TrainJob) -> None:
        if not job.preference_rows:
            raise TrainingError("the dpo phase got no preference pairs to train on")
        GuardSettings.from_options(job.settings.options)
        if job.settings.reference not in ("pre_adapter", "base"):
            raise TrainingError(
                f"unknown DPO reference {job.settings.reference!r}; use 'pre_adapter' or 'base'"
            )
        unknown = [name for name in loss_types(job.settings.loss_type) if name not in LOSS_TYPES]
        if unknown or not loss_types(job.settings.loss_type):
            raise TrainingError(
                f"unknown DPO loss_type {job.settings.loss_type!r}; use one of {', '.join(LOSS_TYPES)}"
                " (several separated by commas)"
            )

    def build(self, job: TrainJob, scratch: Path) -> Any:
        settings = job.settings
        pairs = pair_dataset(job.preference_rows, settings.sequence_len)
        model, peft_config = start_model(job)
        args = DPOConfig(
            **self.arguments(job, scratch),
            beta=settings.beta,
            loss_type=loss_types(settings.loss_type),
            precompute_ref_log_probs=True,
            # One reference pass over all pairs: no gradients, so a larger batch is cheap.
            precompute_ref_batch_size=max(settings.batch_size, 16),
            padding_free=False,
        )
        trainer = _DPOTrainer(
            model=model,
            args=args,
            train_dataset=pairs.dataset,
            processing_class=job.session.tokenizer,
            peft_config=peft_config,
            dlm_reference=settings.reference,
        )
        trainer.dlm_extra.update(
            reference=settings.reference, pairs=len(pairs.dataset), pairs_dropped=pairs.dropped
        )
        return trainer

    def guard(self, job: TrainJob, trainer: Any) -> ChosenGuard:
        """Chosen answers' log-prob per token against the reference: zero at the start
        with ``reference: pre_adapter``, what SFT taught with ``reference: base``."""
        pairs = trainer.train_dataset
        return ChosenGuard(
            signal=dpo_signal(job.settings.beta, mean_chosen_tokens(pairs)),
            window=steps_per_pass(job, len(pairs)),
            settings=GuardSettings.from_options(job.settings.options),
            relative=job.settings.reference == "base",
        )
