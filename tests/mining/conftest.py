"""A trained tiny document plus scripted sampler and judge plugins for the mining loop tests.

The sampler returns candidates chosen by the test and the judge scores them
by a rule the test states (shorter is better), so each test can say exactly
which pair must come out. The adapter is real (trained by the loop trainer).
"""

from __future__ import annotations

import math
import types
from pathlib import Path

import pytest

from dlm_core import hookimpl
from dlm_core.plugins import JudgeSpec, PluginHost, SamplerSpec
from dlm_core.protocols import Sample, is_truncated
from dlm_core.testing import LoopTrainer, loop_trainer_plugin
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace


class ScriptedSampler:
    def __init__(self, candidates: dict[str, list[str]]) -> None:
        self.candidates = candidates
        self.calls: list[tuple[list[str], int]] = []

    def sample(self, prompts, n, *, temperature, top_p, max_new_tokens, seed):  # type: ignore[no-untyped-def]
        self.calls.append((list(prompts), n))
        out = [
            [
                Sample(c, truncated=is_truncated(c), tokens=len(c.split()))
                for c in list(self.candidates.get(p, ["same"] * n))[:n]
            ]
            for p in prompts
        ]
        return out


class TerseJudge:
    """Scores -len(text): prefers terse answers; NaN ("no score") for the texts in ``no_score``."""

    name = "terse"
    default_threshold = 1.0

    def __init__(self, interrupt_after: int | None = None) -> None:
        self.scored: list[list[str]] = []
        self.interrupt_after = interrupt_after
        self.no_score: set[str] = set()

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        if self.interrupt_after is not None and len(self.scored) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.scored.append(list(candidates))
        return [math.nan if c in self.no_score else -float(len(c)) for c in candidates]


@pytest.fixture
def sampler() -> ScriptedSampler:
    return ScriptedSampler({})


@pytest.fixture
def judge() -> TerseJudge:
    return TerseJudge()


@pytest.fixture
def mining_host(dlm_host: PluginHost, sampler: ScriptedSampler, judge: TerseJudge) -> PluginHost:
    @hookimpl
    def dlm_samplers():  # type: ignore[no-untyped-def]
        return [SamplerSpec(name="scripted", factory=lambda ctx: sampler)]

    @hookimpl
    def dlm_judges():  # type: ignore[no-untyped-def]
        return [JudgeSpec(name="terse", factory=lambda ctx, arg: judge)]

    dlm_host.register(
        types.SimpleNamespace(dlm_samplers=dlm_samplers, dlm_judges=dlm_judges), "test-mining"
    )
    dlm_host.register(loop_trainer_plugin(LoopTrainer()), "test-loop-trainer")
    return dlm_host


def first_adapter(path: Path, host: PluginHost, home: Path, extra: str = "") -> Path:
    """``path`` with ``extra`` appended, then one SFT step: a real v0001 to mine from."""
    if extra:
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    train_document(
        Workspace(home, host, say=lambda m: None),
        path,
        TrainOptions(phase="sft", progress=False, max_steps=1),
    )
    return path


@pytest.fixture
def trained_doc(tiny_doc: Path, mining_host: PluginHost, dlm_home: Path) -> Path:
    return first_adapter(tiny_doc, mining_host, dlm_home)
