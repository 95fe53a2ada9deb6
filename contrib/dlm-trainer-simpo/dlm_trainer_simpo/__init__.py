"""``simpo``: a dlm preference trainer running SimPO through TRL's CPOTrainer.

An example of an org-specific trainer shipped as its own distribution and
built only on dlm's public plugin API. A document selects it with
``training.preference.method: simpo``. This module imports nothing heavy, so
``dlm plugins`` lists it without loading torch: the factory imports the
trainer (and with it torch, PEFT and TRL) only when ``simpo`` is picked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlm_core.api import TrainerSpec, hookimpl

if TYPE_CHECKING:
    from dlm_core.api import PluginContext, Trainer

__version__ = "0.1.0"


def make_simpo(context: PluginContext) -> Trainer:
    from dlm_trainer_simpo.trainer import SimpoTrainer

    return SimpoTrainer(context)


@hookimpl
def dlm_trainers() -> list[TrainerSpec]:
    return [
        TrainerSpec(
            name="simpo",
            factory=make_simpo,
            description="SimPO: reference-free, length-normalised preference training (TRL CPOTrainer)",
        )
    ]
