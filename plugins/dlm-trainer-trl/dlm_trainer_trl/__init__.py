"""dlm's trainers on Hugging Face TRL: ``sft``, ``dpo`` and ``orpo``.

Registered through the ``dlm_trainers`` hook. This module stays light so that
``dlm plugins`` lists it without importing torch: each factory imports its
phase (and with it TRL) only when that trainer is picked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlm_core.api import TrainerSpec, hookimpl

if TYPE_CHECKING:
    from dlm_core.api import PluginContext, Trainer

__version__ = "0.1.0"


def make_sft(context: PluginContext) -> Trainer:
    from dlm_trainer_trl.sft import SftTrainer

    return SftTrainer(context)


def make_dpo(context: PluginContext) -> Trainer:
    from dlm_trainer_trl.dpo import DpoTrainer

    return DpoTrainer(context)


def make_orpo(context: PluginContext) -> Trainer:
    from dlm_trainer_trl.orpo import OrpoTrainer

    return OrpoTrainer(context)


@hookimpl
def dlm_trainers() -> list[TrainerSpec]:
    return [
        TrainerSpec(
            name="sft",
            factory=make_sft,
            description="a new LoRA adapter on the document's prose and Q/A (TRL SFTTrainer)",
        ),
        TrainerSpec(
            name="dpo",
            factory=make_dpo,
            description="DPO from the current adapter against itself as reference (TRL DPOTrainer)",
        ),
        TrainerSpec(
            name="orpo",
            factory=make_orpo,
            description="ORPO from the current adapter, no reference model (TRL ORPOTrainer)",
        ),
    ]
