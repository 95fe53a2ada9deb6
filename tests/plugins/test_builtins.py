"""The core's section types arrive through the same hook as any plugin's."""

from __future__ import annotations

from dlm_core.document.types import SectionType
from dlm_core.plugins import PluginHost, SectionTypeSpec

BUILTIN_NAMES = ["prose", "instruction", "preference", "eval"]


def test_builtin_section_types_are_registered_through_dlm_section_types(
    dlm_host: PluginHost,
) -> None:
    impls = dlm_host.pm.hook.dlm_section_types.get_hookimpls()
    assert [impl.plugin_name for impl in impls] == ["dlm-core"]
    specs = impls[0].function()
    assert [spec.name for spec in specs] == BUILTIN_NAMES
    assert all(isinstance(spec, SectionTypeSpec) for spec in specs)


def test_builtin_section_types_are_built_by_their_factories(dlm_host: PluginHost) -> None:
    types = dlm_host.section_types()
    assert sorted(types) == sorted(BUILTIN_NAMES)
    assert all(isinstance(t, SectionType) and t.name == name for name, t in types.items())


def test_builtins_are_listed_like_a_plugin_with_their_distribution(dlm_host: PluginHost) -> None:
    [info] = dlm_host.plugins()
    assert info.name == "dlm-core"
    assert info.distribution == "dlm-core"
    assert info.module == "dlm_core.document.builtin_types"
    assert info.status == "loaded"
    assert info.registers == {"section type": BUILTIN_NAMES}


def test_a_fresh_host_has_no_samplers_judges_or_trainers(dlm_host: PluginHost) -> None:
    from dlm_core.plugins import JudgeSpec, SamplerSpec, TrainerSpec

    assert dlm_host.specs(SamplerSpec) == {}
    assert dlm_host.specs(JudgeSpec) == {}
    assert dlm_host.specs(TrainerSpec) == {}
