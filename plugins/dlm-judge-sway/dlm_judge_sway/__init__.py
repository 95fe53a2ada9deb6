"""The ``sway`` judge: how far the current adapter moved toward each candidate.

This module only registers the judge; torch is imported by the factory, when
a command actually selects ``--judge sway``, so listing plugins stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlm_core.api import JudgeError, JudgeSpec, hookimpl

if TYPE_CHECKING:
    from dlm_core.api import PluginContext
    from dlm_judge_sway.judge import SwayJudge

__all__ = ["DEFAULT_THRESHOLD", "NO_ADAPTER", "dlm_judges", "make_judge"]

DEFAULT_THRESHOLD = 0.02
"""The default ``--threshold`` for sway, in nats per token.

A sway score is the mean, over a candidate's tokens, of
``log p_adapter(token) - log p_base(token)``. A pair's margin is the chosen
candidate's score minus the rejected one's, so 0.02 means: relative to the
base model, the adapter made the chosen answer about 2% more likely per
token (e^0.02 = 1.02) than the rejected one, about 1.8x over a 30-token
answer. That is where a first, lightly trained adapter (the default SFT on a
short document) separates its samples; raise it (0.1 and up) once the
adapter is trained well enough that margins spread further.
"""

NO_ADAPTER = (
    "the sway judge compares the current adapter with its base, and this document has "
    "no adapter yet; run `dlm train` first (or pick another judge with --judge)"
)


def make_judge(context: PluginContext, argument: str | None) -> SwayJudge:
    """Build the judge over the command's shared model session.

    ``context.options["judge_batch_size"]`` caps the candidates per forward
    pass; without it the judge sizes batches itself.
    """
    if argument is not None:
        raise JudgeError(f"the sway judge takes no argument; use --judge sway, not sway:{argument}")
    if context.adapter_path is None:
        raise JudgeError(NO_ADAPTER)
    from dlm_judge_sway.judge import SwayJudge

    return SwayJudge(context.session, batch_size=context.count_option("judge_batch_size"))


@hookimpl
def dlm_judges() -> list[JudgeSpec]:
    return [
        JudgeSpec(
            name="sway",
            factory=make_judge,
            description="mean per-token log-prob gain of the current adapter over its base",
        )
    ]
