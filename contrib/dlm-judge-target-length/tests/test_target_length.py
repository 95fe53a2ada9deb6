"""The target-length judge through dlm's public plugin API, in a fresh host."""

from __future__ import annotations

from pathlib import Path

import dlm_judge_target_length
import pytest

from dlm_core.context import PluginContext
from dlm_core.document.parser import parse
from dlm_core.errors import JudgeError
from dlm_core.models.registry import parse_base
from dlm_core.plugins import JudgeSpec, PluginHost


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost.with_builtins()
    host.register(dlm_judge_target_length, "target-length-under-test")
    return host


@pytest.fixture
def context(tmp_path: Path) -> PluginContext:
    return PluginContext(
        document=parse(""),
        document_path=None,
        base=parse_base("smollm2-135m"),
        adapter_path=None,
        home=tmp_path,
    )


def test_it_is_selectable_by_name_with_a_target(host: PluginHost, context: PluginContext) -> None:
    judge = host.judge("target-length:4", context)
    assert judge.name == "target-length:4"
    assert judge.score(
        "q", ["one two three four", "one two", "one two three four five six seven eight"]
    ) == [0.0, -0.5, -1.0]


def test_the_default_target_is_twelve_words(host: PluginHost, context: PluginContext) -> None:
    judge = host.judge("target-length", context)
    assert judge.score("q", [" ".join(["w"] * 12)]) == [0.0]


def test_a_bad_target_is_a_clear_error(host: PluginHost, context: PluginContext) -> None:
    with pytest.raises(JudgeError, match="positive number of words"):
        host.judge("target-length:zero", context)


def test_it_is_gone_after_unregister(host: PluginHost) -> None:
    host.unregister("target-length-under-test")
    assert "target-length" not in host.specs(JudgeSpec)
