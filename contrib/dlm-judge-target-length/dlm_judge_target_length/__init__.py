"""A judge that prefers answers near a target length (in words).

Useful for shaping terseness with ``dlm preference mine`` without a reward
model. Imports nothing heavy: scoring is counting words.
"""

from __future__ import annotations

from dlm_core.api import JudgeError, JudgeSpec, PluginContext, hookimpl

DEFAULT_TARGET = 12


class TargetLengthJudge:
    """Score ``-|words - target| / target``: 0 at the target, lower further away."""

    default_threshold = 0.25

    def __init__(self, target: int) -> None:
        self.target = target
        self.name = f"target-length:{target}"

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        return [-abs(len(text.split()) - self.target) / self.target for text in candidates]


def make_judge(context: PluginContext, argument: str | None) -> TargetLengthJudge:
    if argument is None or not argument.strip():
        return TargetLengthJudge(DEFAULT_TARGET)
    try:
        target = int(argument)
    except ValueError:
        target = 0
    if target < 1:
        raise JudgeError(
            f"--judge target-length:{argument}: the target must be a positive number of words"
        )
    return TargetLengthJudge(target)


@hookimpl
def dlm_judges() -> list[JudgeSpec]:
    return [
        JudgeSpec(
            name="target-length",
            factory=make_judge,
            description="prefers answers near a target length in words",
        )
    ]
