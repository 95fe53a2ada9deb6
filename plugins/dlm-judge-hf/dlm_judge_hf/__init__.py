"""The ``hf`` judge: a Hugging Face reward model scores mined candidates.

``--judge hf:<model id or local folder>`` loads the model through
``AutoModelForSequenceClassification`` on the first ``score`` call and
scores each (prompt, candidate) conversation: one output logit is the
score, two give ``logit[1] - logit[0]``. Only this module is imported when
dlm lists its plugins; torch and transformers load when the judge scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlm_core.api import JudgeError, JudgeSpec, hookimpl

if TYPE_CHECKING:
    from dlm_core.api import PluginContext
    from dlm_judge_hf.judge import RewardModelJudge

__version__ = "0.1.0"


@hookimpl
def dlm_judges() -> list[JudgeSpec]:
    return [
        JudgeSpec(
            name="hf",
            factory=make_judge,
            description="a sequence-classification reward model: --judge hf:<model id or folder>",
        )
    ]


def make_judge(context: PluginContext, argument: str | None) -> RewardModelJudge:
    """Build the judge for ``--judge hf:<model>``; checks that the model can be found.

    :raises JudgeError: no model after ``hf:``.
    :raises PluginError: a bad ``judge_batch_size``.
    :raises ModelError: a folder that does not exist or a hub id that is
        neither cached nor on a reachable hub.
    """
    from dlm_judge_hf.judge import RewardModelJudge, locate_model

    model = (argument or "").strip()
    if not model:
        raise JudgeError(
            "judge 'hf' needs a reward model: use --judge hf:<hub id or local folder>, "
            "e.g. --judge hf:Skywork/Skywork-Reward-V2-Qwen3-0.6B"
        )
    target = locate_model(model)
    batch_size = context.count_option("judge_batch_size")
    return RewardModelJudge(model, target, device=context.device, batch_size=batch_size)
