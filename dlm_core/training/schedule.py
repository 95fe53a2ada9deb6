"""How long a phase trains: ``num_epochs: auto`` counts optimizer steps, not passes.

A document of ten records makes two SFT batches, so "three epochs" is six
optimizer steps, which leaves a LoRA adapter near where it started; a
document of ten thousand records makes thousands. ``auto`` (the default of
``training.num_epochs`` and ``training.preference.hyperparams.num_epochs``)
therefore runs as many whole passes over the rows as it takes to reach a
minimum number of optimizer steps, never fewer passes than a floor and
never more than a cap, so a one-row document is not trained a thousand
times over. A whole number written in the document is used as written.

The minimums were chosen by ``bench/sweep_defaults.py`` on the embedded
135M base (the table is in docs/cookbook/dpo-vs-orpo.md).
"""

from __future__ import annotations

from typing import Literal

import attrs

AUTO = "auto"


@attrs.frozen
class StepRule:
    """What ``auto`` means for one phase.

    :ivar min_steps: optimizer steps ``auto`` aims for at least.
    :ivar min_epochs: passes ``auto`` runs at least, however many steps they make.
    :ivar max_epochs: passes ``auto`` never exceeds, even when that leaves
        fewer than ``min_steps`` steps (a document of one or two rows).
    """

    min_steps: int
    min_epochs: int
    max_epochs: int


SFT_RULE = StepRule(min_steps=30, min_epochs=3, max_epochs=20)
PREFERENCE_RULE = StepRule(min_steps=20, min_epochs=1, max_epochs=20)


@attrs.frozen
class StepPlan:
    """The passes and optimizer steps a phase will run.

    :ivar epochs: passes over the rows.
    :ivar steps_per_epoch: optimizer steps in one pass.
    :ivar max_steps: ``--max-steps``, which ends the phase earlier, or None.
    :ivar auto: whether ``epochs`` came from the ``auto`` rule.
    """

    epochs: int
    steps_per_epoch: int
    max_steps: int | None
    auto: bool

    @property
    def steps(self) -> int:
        total = self.epochs * self.steps_per_epoch
        return min(total, self.max_steps) if self.max_steps is not None else total


def steps_per_epoch(rows: int, rows_per_step: int) -> int:
    """Optimizer steps in one pass: the last, short batch is a step too."""
    return max(1, -(-rows // max(1, rows_per_step)))


def plan_steps(
    written: int | Literal["auto"],
    *,
    rows: int,
    rows_per_step: int,
    rule: StepRule,
    max_steps: int | None = None,
) -> StepPlan:
    """The passes a phase runs: ``written`` as is, or ``auto`` resolved by ``rule``."""
    per_epoch = steps_per_epoch(rows, rows_per_step)
    if written != AUTO:
        return StepPlan(int(written), per_epoch, max_steps, auto=False)
    wanted = -(-rule.min_steps // per_epoch)
    epochs = min(max(wanted, rule.min_epochs), rule.max_epochs)
    return StepPlan(epochs, per_epoch, max_steps, auto=True)


def few_steps_note(phase: str, plan: StepPlan, rows: int, batch_size: int) -> str | None:
    """A note when a phase will take fewer optimizer steps than ``auto`` aims for, else None.

    ``--max-steps`` is the user's own choice and draws no note; neither
    does ``auto`` stopped by its cap of passes (the rows are simply few).
    """
    rule = SFT_RULE if phase == "sft" else PREFERENCE_RULE
    if plan.max_steps is not None or plan.auto or plan.steps >= rule.min_steps:
        return None
    where = "training.preference.hyperparams" if phase == "preference" else "training"
    return (
        f"note: {phase} will take only {plan.steps} optimizer step(s) ({rows} rows, batch "
        f"{batch_size}, {plan.epochs} epoch(s) as written); remove {where}.num_epochs "
        f"(auto: at least {rule.min_steps} steps) or raise it for a stronger effect"
    )
