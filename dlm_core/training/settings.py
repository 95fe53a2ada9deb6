"""Hyper-parameters of each phase, from the frontmatter and the command line."""

from __future__ import annotations

from dlm_core.document.frontmatter import TrainingConfig
from dlm_core.protocols import LoraSettings, TrainSettings

DEFAULT_BATCH_SIZE = 8
DEFAULT_PREFERENCE_BATCH_SIZE = 4


def _auto(value: int | str, default: int) -> int:
    return default if value == "auto" else int(value)


def lora_settings(training: TrainingConfig) -> LoraSettings:
    modules = None if training.target_modules == "auto" else list(training.target_modules)
    return LoraSettings(r=training.lora_r, alpha=training.lora_alpha, dropout=training.lora_dropout, target_modules=modules)


def sft_settings(training: TrainingConfig, *, max_steps: int | None = None) -> TrainSettings:
    return TrainSettings(
        learning_rate=training.learning_rate,
        num_epochs=training.num_epochs,
        max_steps=max_steps,
        batch_size=_auto(training.micro_batch_size, DEFAULT_BATCH_SIZE),
        grad_accum=_auto(training.grad_accum, 1),
        warmup_ratio=training.warmup_ratio,
        lr_scheduler=training.lr_scheduler,
        sequence_len=training.sequence_len,
        optimizer=training.optimizer,
    )


def preference_settings(training: TrainingConfig, *, max_steps: int | None = None) -> TrainSettings:
    pref = training.preference
    return TrainSettings(
        learning_rate=pref.hyperparams.learning_rate,
        num_epochs=pref.hyperparams.num_epochs,
        max_steps=max_steps,
        batch_size=_auto(training.micro_batch_size, DEFAULT_PREFERENCE_BATCH_SIZE),
        grad_accum=_auto(training.grad_accum, 1),
        warmup_ratio=training.warmup_ratio,
        lr_scheduler=training.lr_scheduler,
        sequence_len=training.sequence_len,
        optimizer=training.optimizer,
        beta=pref.hyperparams.beta,
        alpha=pref.hyperparams.alpha,
        loss_type=pref.loss_type,
        reference=pref.reference,
        options=dict(pref.options),
    )
