"""Hyper-parameters of each phase, from the frontmatter and the command line.

Values a document writes are used as written. What it leaves out gets a
default for a LoRA adapter: ``num_epochs: auto`` (enough passes for a
minimum number of optimizer steps, :mod:`dlm_core.training.schedule`) and,
for the preference phase, a learning rate per method, because LoRA wants
a far larger step than the full fine-tunes DPO's usual 5e-6 was tuned for.
The values were chosen by ``bench/sweep_defaults.py`` (docs/cookbook/dpo-vs-orpo.md).
"""

from __future__ import annotations

from typing import Literal

from dlm_core.document.frontmatter import PreferenceConfig, TrainingConfig
from dlm_core.protocols import LoraSettings, TrainSettings
from dlm_core.training.schedule import PREFERENCE_RULE, SFT_RULE, StepPlan, plan_steps

DEFAULT_BATCH_SIZE = 8
DEFAULT_PREFERENCE_BATCH_SIZE = 4
PREFERENCE_LEARNING_RATES = {"dpo": 2e-4, "orpo": 1e-3}
"""The preference phase's LoRA learning rate per method when the document writes none.

DPO at 2e-4 moves the adapter within the 20 steps of ``auto`` and leans on
the overshoot guard of dlm-trainer-trl where a document's pairs let it
overshoot; ORPO's language-model term holds it near the chosen answers, so
it takes (and needs) a larger step.
"""
PREFERENCE_LEARNING_RATE = 1e-4
"""Any other method's (a plugin's, such as SimPO): a cautious LoRA rate."""


def _auto(value: int | str, default: int) -> int:
    return default if value == "auto" else int(value)


def preference_learning_rate(preference: PreferenceConfig) -> float:
    """The written ``learning_rate``, else the LoRA default of the phase's method."""
    written = preference.hyperparams.learning_rate
    if written is not None:
        return written
    return PREFERENCE_LEARNING_RATES.get(preference.method, PREFERENCE_LEARNING_RATE)


def lora_settings(training: TrainingConfig) -> LoraSettings:
    modules = None if training.target_modules == "auto" else list(training.target_modules)
    return LoraSettings(
        r=training.lora_r,
        alpha=training.lora_alpha,
        dropout=training.lora_dropout,
        target_modules=modules,
    )


def batch_size(training: TrainingConfig, phase: Literal["sft", "preference"]) -> int:
    default = DEFAULT_BATCH_SIZE if phase == "sft" else DEFAULT_PREFERENCE_BATCH_SIZE
    return _auto(training.micro_batch_size, default)


def step_plan(
    training: TrainingConfig,
    phase: Literal["sft", "preference"],
    *,
    rows: int,
    processes: int = 1,
    max_steps: int | None = None,
) -> StepPlan:
    """The passes and optimizer steps of a phase over ``rows`` rows on ``processes`` processes."""
    written = training.num_epochs if phase == "sft" else training.preference.hyperparams.num_epochs
    per_step = batch_size(training, phase) * _auto(training.grad_accum, 1) * max(processes, 1)
    rule = SFT_RULE if phase == "sft" else PREFERENCE_RULE
    return plan_steps(written, rows=rows, rows_per_step=per_step, rule=rule, max_steps=max_steps)


def sft_settings(training: TrainingConfig, plan: StepPlan) -> TrainSettings:
    return TrainSettings(
        learning_rate=training.learning_rate,
        num_epochs=plan.epochs,
        max_steps=plan.max_steps,
        batch_size=batch_size(training, "sft"),
        grad_accum=_auto(training.grad_accum, 1),
        warmup_ratio=training.warmup_ratio,
        lr_scheduler=training.lr_scheduler,
        sequence_len=training.sequence_len,
        optimizer=training.optimizer,
    )


def preference_settings(training: TrainingConfig, plan: StepPlan) -> TrainSettings:
    pref = training.preference
    return TrainSettings(
        learning_rate=preference_learning_rate(pref),
        num_epochs=plan.epochs,
        max_steps=plan.max_steps,
        batch_size=batch_size(training, "preference"),
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
