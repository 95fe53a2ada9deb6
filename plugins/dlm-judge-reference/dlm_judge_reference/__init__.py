"""The ``reference`` judge: how well each candidate agrees with the document's own answer.

Mining prompts are the document's ``::instruction::`` questions, and the
document holds the answer its author wrote for each. This judge scores a
candidate by that answer, so a candidate that says the same thing in other
words scores about as well as the answer itself, and one that contradicts it
loses. This module only registers the judge and reads the answers from the
document; torch is imported by the factory, when a command selects
``--judge reference``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlm_core.api import JudgeError, JudgeSpec, hookimpl, reference_answers

if TYPE_CHECKING:
    from dlm_core.api import PluginContext
    from dlm_judge_reference.judge import ReferenceJudge

__all__ = ["DEFAULT_THRESHOLD", "dlm_judges", "make_judge", "no_reference"]

DEFAULT_THRESHOLD = 0.1
"""The default ``--threshold``, in nats per token of the document's answer.

A score is the mean log-probability of the document's answer, token by
token, when the base model reads it as a restatement of the candidate. A
margin of 0.1 means the chosen candidate makes the document's answer about
10% more likely per token (e^0.1 = 1.105) than the rejected one does. On the
hand-labelled answers of ``bench/documents/judge-labels.json`` (SmolLM2-135M),
paraphrases of one answer sit within about 0.1 of each other, while an answer
that contradicts the document sits 0.3 to 1.5 below them (see
``bench/judge_agreement.py``).
"""


def no_reference(prompt: str) -> str:
    """The message for a prompt the document does not answer."""
    shown = prompt if len(prompt) <= 60 else prompt[:57] + "..."
    return (
        f"the reference judge has no answer for {shown!r}: it scores prompts that an "
        "::instruction:: record of the document answers (### Q with its ### A); "
        "use another judge (sway, hf:..., cli:...) for other prompts, such as ::eval:: ones"
    )


def make_judge(context: PluginContext, argument: str | None) -> ReferenceJudge:
    """Build the judge over the command's shared model session.

    ``context.options["judge_batch_size"]`` caps the candidates per forward
    pass; without it the judge sizes batches itself. The judge needs no
    adapter: it reads the base model (the adapter switched off when there is
    one), so it scores the same before and after training.
    """
    if argument is not None:
        raise JudgeError(
            f"the reference judge takes no argument; use --judge reference, not reference:{argument}"
        )
    answers = reference_answers(context.document)
    if not answers:
        raise JudgeError(
            "the reference judge compares candidates with the document's answers, and this "
            "document has no ::instruction:: records; add ### Q / ### A records or pick another judge"
        )
    from dlm_judge_reference.judge import ReferenceJudge

    return ReferenceJudge(
        context.session, answers, batch_size=context.options.get("judge_batch_size")
    )


@hookimpl
def dlm_judges() -> list[JudgeSpec]:
    return [
        JudgeSpec(
            name="reference",
            factory=make_judge,
            description="how well a candidate agrees with the document's own answer to the prompt",
        )
    ]
