"""`dlm loop` and the held-out check: rounds, stop rules, the round table, the best version current.

A tiny real model and a real PEFT adapter per version (the loop trainer),
with a scripted sampler whose answers depend on the adapter version and a
judge that prefers short answers, so each test states which version wins.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from dlm_core import hookimpl
from dlm_core.document.io import read_document
from dlm_core.errors import DlmError
from dlm_core.evaluation.heldout import HeldOutOptions
from dlm_core.metrics.db import MetricsDB
from dlm_core.mining.loop import LoopOptions, run_loop
from dlm_core.mining.run import MineOptions
from dlm_core.outcomes import LoopSummary, PhaseOutcome
from dlm_core.plugins import JudgeSpec, PluginHost, SamplerSpec
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer, loop_trainer_plugin
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

from .conftest import first_adapter

HELD_OUT = ["Write a one-line note for a removed flag.", "How long is an intro?"]
EVAL = "\n::eval::\n### Q\n" + "\n\n### Q\n".join(HELD_OUT) + "\n"


class RoundSampler:
    """Mining candidates that are new each version; held-out answers that shorten up to a plateau."""

    plateau = 99  # the version after which answers stop getting shorter
    repeat = False  # mining candidates all alike: no pair clears the threshold

    def __init__(self, context) -> None:  # type: ignore[no-untyped-def]
        name = context.adapter_path.name if context.adapter_path else "v0000"
        self.version = int(name[1:])

    def sample(self, prompts, n, *, temperature, top_p, max_new_tokens, seed):  # type: ignore[no-untyped-def]
        out = []
        for prompt in prompts:
            if prompt in HELD_OUT:
                words = 40 - 10 * min(self.version, self.plateau)
                out.append([" ".join(["word"] * max(words, 1))] * n)
            elif self.repeat:
                out.append(["the same answer"] * n)
            else:
                out.append([f"v{self.version} short."] + [f"v{self.version} long " * 9] * (n - 1))
        return out


class TerseJudge:
    name = "terse"
    default_threshold = 1.0

    def __init__(self) -> None:
        self.interrupt_on_prompt: str | None = None
        self.scored = 0

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        self.scored += 1
        if self.interrupt_on_prompt is not None and prompt == self.interrupt_on_prompt:
            raise KeyboardInterrupt
        return [-float(len(c)) for c in candidates]


@pytest.fixture
def judge() -> TerseJudge:
    return TerseJudge()


@pytest.fixture
def host(dlm_host: PluginHost, judge: TerseJudge) -> PluginHost:
    RoundSampler.plateau, RoundSampler.repeat = 99, False

    @hookimpl
    def dlm_samplers():  # type: ignore[no-untyped-def]
        return [SamplerSpec(name="rounds", factory=RoundSampler)]

    @hookimpl
    def dlm_judges():  # type: ignore[no-untyped-def]
        return [JudgeSpec(name="terse", factory=lambda ctx, arg: judge)]

    dlm_host.register(
        types.SimpleNamespace(dlm_samplers=dlm_samplers, dlm_judges=dlm_judges), "test-rounds"
    )
    dlm_host.register(loop_trainer_plugin(LoopTrainer()), "test-loop-trainer")
    return dlm_host


@pytest.fixture
def doc(tiny_doc: Path, host: PluginHost, dlm_home: Path) -> Path:
    return first_adapter(tiny_doc, host, dlm_home, EVAL)


def looped(doc: Path, host: PluginHost, home: Path, rounds: int, said: list[str] | None = None):  # type: ignore[no-untyped-def]
    options = LoopOptions(
        rounds=rounds,
        mine=MineOptions(sampler="rounds", judge="terse", samples=3, progress=False),
        held_out=HeldOutOptions(sampler="rounds", samples=2, progress=False),
        progress=False,
    )
    say = said.append if said is not None else (lambda m: None)
    return run_loop(Workspace(home, host, say=say), doc, options)


def current(doc: Path, home: Path) -> int:
    return Store(home, read_document(doc).dlm_id).current().number  # type: ignore[arg-type, union-attr]


def test_every_round_that_wins_becomes_current_and_is_recorded(
    doc: Path, host: PluginHost, dlm_home: Path
) -> None:
    said: list[str] = []
    summary = looped(doc, host, dlm_home, rounds=2, said=said)
    assert [(r.round, r.parent, r.version, r.pairs) for r in summary.rounds] == [
        (1, 1, 2, 2),
        (2, 2, 3, 2),
    ]
    assert all(r.verdict is not None and r.verdict.win_rate == 1.0 for r in summary.rounds)
    assert summary.rounds[0].verdict.mean_words_parent > summary.rounds[0].verdict.mean_words_new  # type: ignore[union-attr]
    assert summary.stopped == "ran all 2 rounds" and summary.best_version == 3
    assert current(doc, dlm_home) == 3
    assert any(m.startswith("round 2/2: mining pairs from v0002") for m in said)
    store = Store(dlm_home, read_document(doc).dlm_id)  # type: ignore[arg-type]
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        (loop_run,) = db.runs(kind="loop")
        assert isinstance(loop_run.outcome, LoopSummary) and loop_run.outcome == summary
        assert [e.value for e in db.evals(loop_run.id) if e.name == "win_rate"] == [1.0, 1.0]
        trains = db.runs(kind="train", phase="preference")
    assert [t.outcome.held_out.version for t in trains] == [2, 3]  # type: ignore[union-attr]
    assert store.version(3).run.held_out.parent == 2  # type: ignore[union-attr]


def test_a_round_that_does_not_beat_its_parent_stops_the_loop_and_its_parent_stays_current(
    doc: Path, host: PluginHost, dlm_home: Path
) -> None:
    RoundSampler.plateau = 2  # v0003 answers exactly like v0002: no better
    summary = looped(doc, host, dlm_home, rounds=4)
    assert [r.version for r in summary.rounds] == [2, 3]
    assert summary.rounds[1].verdict.win_rate == 0.5  # type: ignore[union-attr]
    assert summary.stopped.startswith("round 2: v0003 did not beat v0002")
    assert summary.best_version == 2 and current(doc, dlm_home) == 2
    assert Store(dlm_home, read_document(doc).dlm_id).version(3).run.held_out.gated  # type: ignore[arg-type, union-attr]


def test_a_round_without_a_new_pair_stops_the_loop(
    doc: Path, host: PluginHost, dlm_home: Path
) -> None:
    RoundSampler.repeat = True
    summary = looped(doc, host, dlm_home, rounds=3)
    assert [(r.pairs, r.version) for r in summary.rounds] == [(0, None)]
    assert summary.stopped == "round 1: no new pair cleared the judge's threshold"
    assert summary.best_version == 1 and current(doc, dlm_home) == 1


def test_ctrl_c_keeps_the_finished_rounds_and_leaves_the_best_current(
    doc: Path, host: PluginHost, dlm_home: Path, judge: TerseJudge
) -> None:
    original = RoundSampler.sample

    def interrupting(self, prompts, n, **kwargs):  # type: ignore[no-untyped-def]
        if self.version == 2 and prompts[0] not in HELD_OUT:
            raise KeyboardInterrupt  # Ctrl-C while round 2 samples
        return original(self, prompts, n, **kwargs)

    RoundSampler.sample = interrupting  # type: ignore[method-assign]
    try:
        summary = looped(doc, host, dlm_home, rounds=3)
    finally:
        RoundSampler.sample = original  # type: ignore[method-assign]
    assert [r.version for r in summary.rounds] == [2]
    assert summary.stopped == "interrupted" and current(doc, dlm_home) == 2
    text = doc.read_text(encoding="utf-8")
    assert text.count("::preference::") == 2  # round 1's pairs; round 2 wrote nothing
    store = Store(dlm_home, read_document(doc).dlm_id)  # type: ignore[arg-type]
    assert [v.number for v in store.versions()] == [1, 2]
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        assert db.runs(kind="loop")[-1].status == "interrupted"


def test_the_loop_needs_held_out_prompts(tiny_doc: Path, host: PluginHost, dlm_home: Path) -> None:
    first_adapter(tiny_doc, host, dlm_home)
    with pytest.raises(DlmError, match="no ::eval:: prompts"):
        looped(tiny_doc, host, dlm_home, rounds=1)


def test_a_preference_phase_without_held_out_prompts_says_nothing_checked_it(
    tiny_doc: Path, host: PluginHost, dlm_home: Path
) -> None:
    workspace = Workspace(dlm_home, host, say=lambda m: None)
    train_document(workspace, tiny_doc, TrainOptions(phase="sft", progress=False, max_steps=1))
    from dlm_core.mining.run import mine_document

    mine_document(
        workspace,
        tiny_doc,
        MineOptions(sampler="rounds", judge="terse", samples=3, apply=True, progress=False),
    )
    said: list[str] = []
    (phase,) = train_document(
        Workspace(dlm_home, host, say=said.append),
        tiny_doc,
        TrainOptions(phase="preference", progress=False, max_steps=1),
    )
    assert isinstance(phase, PhaseOutcome) and phase.held_out is None and phase.current
    assert any("nothing checked v0002 against v0001" in m and "::eval::" in m for m in said)


def test_the_gate_keeps_the_parent_current_when_the_new_version_does_not_win(
    doc: Path, host: PluginHost, dlm_home: Path
) -> None:
    RoundSampler.plateau = 1  # v0002 answers like v0001
    from dlm_core.mining.run import mine_document

    workspace = Workspace(dlm_home, host, say=lambda m: None)
    mine_document(
        workspace,
        doc,
        MineOptions(sampler="rounds", judge="terse", samples=3, apply=True, progress=False),
    )
    (phase,) = train_document(
        workspace,
        doc,
        TrainOptions(
            phase="preference",
            progress=False,
            max_steps=1,
            held_out=HeldOutOptions(sampler="rounds", samples=2, progress=False, gate=True),
        ),
    )
    assert phase.held_out is not None and phase.held_out.win_rate == 0.5 and phase.held_out.gated
    assert phase.held_out.judge == "terse"  # the judge that mined the pairs
    assert not phase.current and current(doc, dlm_home) == 1


def test_the_check_takes_enough_answers_a_prompt_for_about_64_comparisons() -> None:
    from dlm_core.evaluation.heldout import eval_samples

    assert [eval_samples(n) for n in (1, 2, 6, 8, 10, 16, 40)] == [16, 16, 11, 8, 7, 4, 4]


def test_a_check_left_to_its_default_compares_eval_samples_answers_a_prompt(
    doc: Path, host: PluginHost, dlm_home: Path
) -> None:
    options = LoopOptions(
        rounds=1,
        mine=MineOptions(sampler="rounds", judge="terse", samples=3, progress=False),
        held_out=HeldOutOptions(sampler="rounds", progress=False),
        progress=False,
    )
    summary = run_loop(Workspace(dlm_home, host, say=lambda m: None), doc, options)
    verdict = summary.rounds[0].verdict
    assert verdict is not None and (verdict.prompts, verdict.comparisons) == (2, 2 * 16)
