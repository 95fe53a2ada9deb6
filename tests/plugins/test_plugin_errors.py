"""Broken, clashing and missing plugins fail with a message naming who and what."""

from __future__ import annotations

import pytest

from dlm_core import hookimpl
from dlm_core.context import PluginContext
from dlm_core.errors import DuplicatePluginName, PluginError, UnknownPluginName
from dlm_core.plugins import JudgeSpec, PluginHost, SamplerSpec, TrainerSpec


def _judge_plugin(judge_name: str) -> object:
    class JudgePlugin:
        @hookimpl
        def dlm_judges(self) -> list[JudgeSpec]:
            return [JudgeSpec(name=judge_name, factory=lambda context, argument: judge_name)]

    return JudgePlugin()


class MisspelledHook:
    @hookimpl
    def dlm_judgez(self) -> list[JudgeSpec]:
        return []


def test_misspelled_hook_is_rejected_naming_the_plugin_and_the_hook(dlm_host: PluginHost) -> None:
    with pytest.raises(PluginError) as info:
        dlm_host.register(MisspelledHook(), "typo", distribution="dlm-judge-typo")
    message = str(info.value)
    assert "plugin 'typo' (dlm-judge-typo)" in message
    assert "'dlm_judgez'" in message
    assert "did you mean 'dlm_judges'?" in message


def test_rejected_plugin_is_not_left_registered(dlm_host: PluginHost) -> None:
    with pytest.raises(PluginError):
        dlm_host.register(MisspelledHook(), "typo")
    assert not dlm_host.pm.has_plugin("typo")
    assert [i.name for i in dlm_host.plugins()] == ["dlm-core"]
    dlm_host.pm.check_pending()  # the host is clean again


def test_hookimpl_asking_for_an_argument_the_hook_lacks_is_rejected(dlm_host: PluginHost) -> None:
    class ExtraArgument:
        @hookimpl
        def dlm_samplers(self, config: object) -> list[SamplerSpec]:
            return []

    with pytest.raises(PluginError, match=r"plugin 'extra' cannot be registered:.*config"):
        dlm_host.register(ExtraArgument(), "extra")
    assert not dlm_host.pm.has_plugin("extra")


def test_hook_returning_the_wrong_spec_type_is_rejected(dlm_host: PluginHost) -> None:
    class WrongType:
        @hookimpl
        def dlm_trainers(self) -> list[JudgeSpec]:
            return [JudgeSpec(name="oops", factory=lambda c, a: None)]

    with pytest.raises(
        PluginError,
        match="plugin 'wrong' returned JudgeSpec from dlm_trainers; expected TrainerSpec",
    ):
        dlm_host.register(WrongType(), "wrong")
    assert not dlm_host.pm.has_plugin("wrong")


def test_hook_that_raises_is_rejected_naming_the_plugin(dlm_host: PluginHost) -> None:
    class BadName:
        @hookimpl
        def dlm_judges(self) -> list[JudgeSpec]:
            return [JudgeSpec(name="Not A Name", factory=lambda c, a: None)]

    with pytest.raises(
        PluginError, match=r"plugin 'bad' failed in dlm_judges: ValueError: .*'Not A Name'"
    ):
        dlm_host.register(BadName(), "bad")


def test_same_judge_name_from_two_plugins_names_both_and_their_distributions(
    dlm_host: PluginHost, plugin_context: PluginContext
) -> None:
    dlm_host.register(_judge_plugin("length"), "alpha", distribution="dlm-judge-alpha")
    dlm_host.register(_judge_plugin("length"), "beta", distribution="dlm-judge-beta")
    with pytest.raises(DuplicatePluginName) as info:
        dlm_host.judge("length", plugin_context)
    message = str(info.value)
    assert (
        "judge 'length' is registered by both plugin 'alpha' (dlm-judge-alpha) and plugin 'beta' (dlm-judge-beta)"
        in message
    )
    assert "DLM_DISABLE_PLUGINS" in message


def test_duplicate_names_fail_the_full_listing_of_that_kind(dlm_host: PluginHost) -> None:
    dlm_host.register(_judge_plugin("length"), "alpha")
    dlm_host.register(_judge_plugin("length"), "beta")
    with pytest.raises(DuplicatePluginName, match="'alpha' and plugin 'beta'"):
        dlm_host.specs(JudgeSpec)


def test_a_duplicate_name_does_not_block_selecting_another_name(
    dlm_host: PluginHost, plugin_context: PluginContext
) -> None:
    dlm_host.register(_judge_plugin("length"), "alpha")
    dlm_host.register(_judge_plugin("length"), "beta")
    dlm_host.register(_judge_plugin("sway"), "gamma")
    assert dlm_host.judge("sway", plugin_context) == "sway"


def test_unknown_judge_lists_installed_names_and_suggests_a_package(
    dlm_host: PluginHost, plugin_context: PluginContext
) -> None:
    dlm_host.register(_judge_plugin("length"), "alpha")
    dlm_host.register(_judge_plugin("sway"), "beta")
    with pytest.raises(UnknownPluginName) as info:
        dlm_host.judge("reward:org/model", plugin_context)
    message = str(info.value)
    assert "unknown judge 'reward'" in message
    assert "installed: length, sway" in message
    assert "pip install dlm-judge-reward" in message


def test_unknown_name_with_nothing_installed_says_none(
    dlm_host: PluginHost, plugin_context: PluginContext
) -> None:
    with pytest.raises(
        UnknownPluginName, match=r"unknown sampler 'hf'; installed: none.*dlm-sampler-hf"
    ):
        dlm_host.sampler("hf", plugin_context)


def test_unknown_trainer_suggests_a_trainer_package(
    dlm_host: PluginHost, plugin_context: PluginContext
) -> None:
    with pytest.raises(UnknownPluginName, match="pip install dlm-trainer-kto"):
        dlm_host.trainer("kto", plugin_context)


def test_plugin_errors_are_dlm_errors_so_the_cli_prints_one_line() -> None:
    from dlm_core.errors import DlmError

    assert issubclass(UnknownPluginName, PluginError)
    assert issubclass(DuplicatePluginName, PluginError)
    assert issubclass(PluginError, DlmError)


def test_lookups_by_kind_are_separate(dlm_host: PluginHost, plugin_context: PluginContext) -> None:
    dlm_host.register(_judge_plugin("length"), "alpha")
    with pytest.raises(UnknownPluginName, match="unknown trainer 'length'"):
        dlm_host.trainer("length", plugin_context)
    assert dlm_host.specs(TrainerSpec) == {}
