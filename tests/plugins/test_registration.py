"""A plugin registered under a throwaway name adds what it declares, until unregistered.

Each test owns a fresh host (the ``dlm_host`` fixture), so nothing here
depends on what happens to be installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core import hookimpl
from dlm_core.context import PluginContext
from dlm_core.document.builtin_types import BuiltinSectionType
from dlm_core.document.model import Section
from dlm_core.document.parser import parse
from dlm_core.document.types import Example, TextExample
from dlm_core.errors import DocumentError, PluginError, UnknownPluginName
from dlm_core.plugins import (
    JudgeSpec,
    PluginHost,
    SamplerSpec,
    SectionTypeSpec,
    TrainerSpec,
)
from dlm_core.protocols import Judge, Sampler, Trainer, TrainJob, TrainResult


class LengthJudge:
    """Prefers shorter answers; remembers what it was built with."""

    name = "length"
    default_threshold = 0.0

    def __init__(self, context: PluginContext, argument: str | None) -> None:
        self.context = context
        self.argument = argument

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        return [-float(len(c)) for c in candidates]


class EchoSampler:
    def __init__(self, context: PluginContext) -> None:
        self.context = context

    def sample(
        self,
        prompts: list[str],
        n: int,
        *,
        temperature: float,
        top_p: float | None,
        max_new_tokens: int,
        seed: int | None,
    ) -> list[list[str]]:
        return [[f"{prompt} #{i}" for i in range(n)] for prompt in prompts]


class NoopTrainer:
    def __init__(self, context: PluginContext) -> None:
        self.context = context

    def train(self, job: TrainJob) -> TrainResult:
        return TrainResult(steps=0, final_loss=None, adapter_path=job.output_dir, tokens=0)


def _glossary_examples(section: Section) -> list[Example]:
    return [TextExample(f"{r['Term']}: {r['Meaning']}") for r in section.records]


GLOSSARY = BuiltinSectionType("glossary", ("Term", "Meaning"), "sft", _glossary_examples)


class ThrowawayPlugin:
    """A third party's plugin module, as an object: one of each kind."""

    @hookimpl
    def dlm_judges(self) -> list[JudgeSpec]:
        return [
            JudgeSpec(name="length", factory=LengthJudge, description="prefers shorter answers")
        ]

    @hookimpl
    def dlm_samplers(self) -> list[SamplerSpec]:
        return [SamplerSpec(name="echo", factory=EchoSampler)]

    @hookimpl
    def dlm_trainers(self) -> list[TrainerSpec]:
        return [TrainerSpec(name="noop", factory=NoopTrainer)]

    @hookimpl
    def dlm_section_types(self) -> list[SectionTypeSpec]:
        return [SectionTypeSpec(name="glossary", factory=lambda: GLOSSARY)]


GLOSSARY_DOCUMENT = """\
::glossary::
### Term
LoRA
### Meaning
A low-rank adapter.
"""


@pytest.fixture
def host(dlm_host: PluginHost) -> PluginHost:
    dlm_host.register(ThrowawayPlugin(), "throwaway", distribution="dlm-judge-throwaway")
    return dlm_host


def test_plugin_judge_is_selected_by_name(host: PluginHost, plugin_context: PluginContext) -> None:
    judge = host.judge("length", plugin_context)
    assert isinstance(judge, LengthJudge)
    assert isinstance(judge, Judge)
    assert judge.context is plugin_context
    assert judge.argument is None
    assert judge.score("q", ["a", "abc"]) == [-1.0, -3.0]


def test_judge_selector_passes_the_text_after_the_first_colon(
    host: PluginHost, plugin_context: PluginContext
) -> None:
    judge = host.judge("length:max=80:strict", plugin_context)
    assert isinstance(judge, LengthJudge)
    assert judge.argument == "max=80:strict"


def test_judge_selector_with_an_empty_argument_passes_an_empty_string(
    host: PluginHost, plugin_context: PluginContext
) -> None:
    judge = host.judge("length:", plugin_context)
    assert isinstance(judge, LengthJudge)
    assert judge.argument == ""


def test_plugin_sampler_is_selected_by_name(
    host: PluginHost, plugin_context: PluginContext
) -> None:
    sampler = host.sampler("echo", plugin_context)
    assert isinstance(sampler, Sampler)
    got = sampler.sample(["hi"], 2, temperature=0.7, top_p=None, max_new_tokens=8, seed=1)
    assert got == [["hi #0", "hi #1"]]


def test_plugin_trainer_is_selected_by_name(
    host: PluginHost, plugin_context: PluginContext
) -> None:
    trainer = host.trainer("noop", plugin_context)
    assert isinstance(trainer, NoopTrainer)
    assert isinstance(trainer, Trainer)
    assert trainer.context is plugin_context


def test_plugin_section_type_is_read_by_the_parser(host: PluginHost) -> None:
    document = parse(GLOSSARY_DOCUMENT, types=host.section_types())
    [section] = document.sections
    assert section.type == "glossary"
    assert GLOSSARY.examples(section) == [TextExample("LoRA: A low-rank adapter.")]


def test_plugin_section_type_sits_beside_the_builtins(host: PluginHost) -> None:
    assert sorted(host.section_types()) == [
        "eval",
        "glossary",
        "instruction",
        "preference",
        "prose",
    ]


def test_plugin_is_listed_with_what_it_registers(host: PluginHost) -> None:
    info = {i.name: i for i in host.plugins()}["throwaway"]
    assert info.status == "loaded"
    assert info.distribution == "dlm-judge-throwaway"
    assert info.module == "ThrowawayPlugin"
    assert info.registers == {
        "section type": ["glossary"],
        "sampler": ["echo"],
        "judge": ["length"],
        "trainer": ["noop"],
    }


def test_unregistered_plugin_is_gone(host: PluginHost, plugin_context: PluginContext) -> None:
    host.unregister("throwaway")
    assert [i.name for i in host.plugins()] == ["dlm-core"]
    with pytest.raises(UnknownPluginName):
        host.judge("length", plugin_context)
    with pytest.raises(UnknownPluginName):
        host.sampler("echo", plugin_context)
    with pytest.raises(UnknownPluginName):
        host.trainer("noop", plugin_context)
    with pytest.raises(DocumentError):
        parse(GLOSSARY_DOCUMENT, types=host.section_types())


def test_unregistering_an_unknown_name_is_an_error(dlm_host: PluginHost) -> None:
    with pytest.raises(PluginError, match="'nothing'"):
        dlm_host.unregister("nothing")


def test_a_plugin_name_can_be_registered_only_once(host: PluginHost) -> None:
    with pytest.raises(PluginError, match="'throwaway' is already registered"):
        host.register(ThrowawayPlugin(), "throwaway")


def test_factories_are_not_called_until_something_is_selected(
    dlm_host: PluginHost, tmp_path: Path
) -> None:
    calls: list[str] = []

    class Lazy:
        @hookimpl
        def dlm_judges(self) -> list[JudgeSpec]:
            return [JudgeSpec(name="lazy", factory=lambda c, a: calls.append("built"))]

    dlm_host.register(Lazy(), "lazy")
    dlm_host.plugins()
    dlm_host.specs(JudgeSpec)
    assert calls == []
