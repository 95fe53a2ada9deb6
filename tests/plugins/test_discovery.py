"""Discovery through a real, separately installed distribution.

Each test writes a throwaway distribution (a module plus ``*.dist-info``)
into its own folder and runs the real ``dlm`` console script, or a small
Python program, with that folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # conftest is not importable at run time under --import-mode=importlib
    from conftest import ThrowawaySite

LENGTH_JUDGE = """
    from dlm_core import hookimpl
    from dlm_core.plugins import JudgeSpec


    class LengthJudge:
        name = "throwaway"
        default_threshold = 0.0

        def __init__(self, context, argument):
            self.argument = argument

        def score(self, prompt, candidates):
            return [-float(len(c)) for c in candidates]


    @hookimpl
    def dlm_judges():
        return [JudgeSpec(name="throwaway", factory=LengthJudge, description="prefers shorter answers")]
"""

BROKEN_ON_IMPORT = """
    raise ImportError("needs libfoo, which is not installed")
"""

MISSPELLED_HOOK = """
    from dlm_core import hookimpl


    @hookimpl
    def dlm_judgez():
        return []
"""

SELECT_JUDGE = """
    import json, sys
    from pathlib import Path

    from dlm_core.context import PluginContext
    from dlm_core.document.parser import parse
    from dlm_core.models.registry import parse_base
    from dlm_core.plugins import PluginHost

    context = PluginContext(
        document=parse("Some prose.\\n"),
        document_path=None,
        base=parse_base("smollm2-135m"),
        adapter_path=None,
        home=Path("."),
    )
    judge = PluginHost.discover().judge(sys.argv[1] if len(sys.argv) > 1 else "throwaway:strict", context)
    print(json.dumps({"type": type(judge).__name__, "argument": judge.argument,
                      "scores": judge.score("q", ["a", "abc"])}))
"""

DOCUMENT = "# Notes\n\nShort, factual and low-drama.\n"


def _install_length_judge(site: ThrowawaySite) -> None:
    site.install(
        distribution="dlm-judge-throwaway",
        module="throwaway_judge_module",
        source=LENGTH_JUDGE,
        entry_point="throwaway",
    )


def _ours(stderr: str, name: str = "throwaway") -> list[str]:
    """The stderr lines about our throwaway plugin (other installed plugins may warn too)."""
    return [line for line in stderr.splitlines() if f"'{name}'" in line]


def _listed(site: ThrowawaySite, **env: str) -> dict[str, dict[str, Any]]:
    result = site.dlm("plugins", "--json", **env)
    assert result.returncode == 0, result.stderr
    return {info["name"]: info for info in json.loads(result.stdout)}


def test_installed_plugin_is_listed_with_its_distribution_and_registrations(
    site: ThrowawaySite,
) -> None:
    _install_length_judge(site)
    info = _listed(site)["throwaway"]
    assert info == {
        "name": "throwaway",
        "module": "throwaway_judge_module",
        "distribution": "dlm-judge-throwaway",
        "version": "0.3.1",
        "status": "loaded",
        "error": None,
        "registers": {"judge": ["throwaway"]},
    }


def test_installed_plugin_is_listed_after_the_builtins(site: ThrowawaySite) -> None:
    _install_length_judge(site)
    names = list(_listed(site))
    assert names[0] == "dlm-core"
    assert "throwaway" in names


def test_plugins_table_shows_the_installed_plugin(site: ThrowawaySite) -> None:
    _install_length_judge(site)
    result = site.dlm("plugins")
    assert result.returncode == 0, result.stderr
    [row] = [line for line in result.stdout.splitlines() if line.startswith("throwaway")]
    assert row.split() == [
        "throwaway",
        "dlm-judge-throwaway",
        "0.3.1",
        "throwaway_judge_module",
        "judge:",
        "throwaway",
        "loaded",
    ]


def test_installed_judge_is_selected_by_name_with_its_argument(site: ThrowawaySite) -> None:
    _install_length_judge(site)
    result = site.python(SELECT_JUDGE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "type": "LengthJudge",
        "argument": "strict",
        "scores": [-1.0, -3.0],
    }


def test_plugin_installed_just_after_a_run_is_found_by_the_next(site: ThrowawaySite) -> None:
    assert "throwaway" not in _listed(site)
    _install_length_judge(site)
    assert _listed(site)["throwaway"]["status"] == "loaded"


def test_plugin_reinstalled_in_place_is_seen_as_it_is_now(site: ThrowawaySite) -> None:
    # stevedore's on-disk entry-point cache keys on mtimes packed as 32-bit
    # floats (about two minutes apart), so it would still report "throwaway".
    _install_length_judge(site)
    assert "throwaway" in _listed(site)
    site.install(
        distribution="dlm-judge-throwaway",
        module="throwaway_judge_module",
        source=LENGTH_JUDGE,
        entry_point="renamed",
    )
    listed = _listed(site)
    assert "throwaway" not in listed
    assert listed["renamed"]["distribution"] == "dlm-judge-throwaway"


def test_plugin_that_fails_to_import_is_listed_as_failed_with_the_error(
    site: ThrowawaySite,
) -> None:
    site.install(
        distribution="dlm-judge-throwaway",
        module="throwaway_judge_module",
        source=BROKEN_ON_IMPORT,
        entry_point="throwaway",
    )
    info = _listed(site)["throwaway"]
    assert info["status"] == "failed"
    assert info["distribution"] == "dlm-judge-throwaway"
    assert info["error"] == "ImportError: needs libfoo, which is not installed"
    assert info["registers"] == {}


def test_plugin_that_fails_to_import_does_not_stop_show(site: ThrowawaySite) -> None:
    site.install(
        distribution="dlm-judge-throwaway",
        module="throwaway_judge_module",
        source=BROKEN_ON_IMPORT,
        entry_point="throwaway",
    )
    document = site.path.parent / "notes.dlm"
    document.write_text(DOCUMENT, encoding="utf-8")
    result = site.dlm("show", str(document))
    assert result.returncode == 0, result.stderr
    assert "sections (1):" in result.stdout


def test_plugin_that_fails_to_import_is_reported_once_on_stderr(site: ThrowawaySite) -> None:
    site.install(
        distribution="dlm-judge-throwaway",
        module="throwaway_judge_module",
        source=BROKEN_ON_IMPORT,
        entry_point="throwaway",
    )
    result = site.dlm("plugins")
    assert result.returncode == 0
    assert _ours(result.stderr) == [
        "warning: plugin 'throwaway' (dlm-judge-throwaway) could not be imported: "
        "ImportError: needs libfoo, which is not installed; skipped it (see `dlm plugins`)"
    ]


def test_failure_is_reported_at_discovery_not_at_each_lookup(site: ThrowawaySite) -> None:
    site.install(
        distribution="dlm-judge-throwaway",
        module="throwaway_judge_module",
        source=BROKEN_ON_IMPORT,
        entry_point="throwaway",
    )
    result = site.python(
        """
        from dlm_core.plugins import PluginHost

        host = PluginHost.discover()
        for _ in range(3):
            host.section_types()
            host.plugins()
        """
    )
    assert result.returncode == 0, result.stderr
    assert len(_ours(result.stderr)) == 1


def test_asking_for_a_plugin_that_failed_to_load_says_so(site: ThrowawaySite) -> None:
    site.install(
        distribution="dlm-judge-throwaway",
        module="throwaway_judge_module",
        source=BROKEN_ON_IMPORT,
        entry_point="throwaway",
    )
    result = site.python(SELECT_JUDGE)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "dlm_core.errors.UnknownPluginName: judge 'throwaway' is not available: "
        "plugin 'throwaway' (dlm-judge-throwaway) failed to load "
        "(ImportError: needs libfoo, which is not installed)"
    )


def test_unknown_name_mentions_plugins_that_failed_to_load(site: ThrowawaySite) -> None:
    site.install(
        distribution="dlm-judge-throwaway",
        module="throwaway_judge_module",
        source=BROKEN_ON_IMPORT,
        entry_point="throwaway",
    )
    result = site.python(SELECT_JUDGE, "reward:org/model")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "unknown judge 'reward'" in last
    assert "pip install dlm-judge-reward" in last
    assert "note that plugin 'throwaway' (dlm-judge-throwaway) failed to load" in last


def test_installed_plugin_with_a_misspelled_hook_is_listed_as_failed(site: ThrowawaySite) -> None:
    site.install(
        distribution="dlm-judge-typo",
        module="typo_module",
        source=MISSPELLED_HOOK,
        entry_point="typo",
    )
    result = site.dlm("plugins", "--json")
    assert result.returncode == 0, result.stderr
    info = {i["name"]: i for i in json.loads(result.stdout)}["typo"]
    assert info["status"] == "failed"
    assert "plugin 'typo' (dlm-judge-typo) implements 'dlm_judgez'" in info["error"]
    assert len(_ours(result.stderr, "typo")) == 1


def test_disabled_plugin_is_listed_as_blocked(site: ThrowawaySite) -> None:
    _install_length_judge(site)
    info = _listed(site, DLM_DISABLE_PLUGINS="other, throwaway")["throwaway"]
    assert info["status"] == "blocked"
    assert info["distribution"] == "dlm-judge-throwaway"
    assert info["error"] == "blocked by DLM_DISABLE_PLUGINS"
    assert info["registers"] == {}


def test_disabled_plugin_is_never_imported(site: ThrowawaySite) -> None:
    marker = site.path.parent / "imported"
    site.install(
        distribution="dlm-judge-throwaway",
        module="throwaway_judge_module",
        source=f"""
            from pathlib import Path

            Path({str(marker)!r}).write_text("imported")
            raise RuntimeError("must not be imported")
        """,
        entry_point="throwaway",
    )
    result = site.dlm("plugins", "--json", DLM_DISABLE_PLUGINS="throwaway")
    assert result.returncode == 0, result.stderr
    assert _ours(result.stderr) == []
    assert not marker.exists()


def test_asking_for_a_disabled_plugin_says_it_is_blocked(site: ThrowawaySite) -> None:
    _install_length_judge(site)
    result = site.python(SELECT_JUDGE, DLM_DISABLE_PLUGINS="throwaway")
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "judge 'throwaway' is not available: "
            "plugin 'throwaway' (dlm-judge-throwaway) is blocked by DLM_DISABLE_PLUGINS"
        )
    )


def test_two_distributions_claiming_one_judge_name_are_named_together(
    site: ThrowawaySite,
) -> None:
    _install_length_judge(site)
    site.install(
        distribution="dlm-judge-copycat",
        module="copycat_module",
        source=LENGTH_JUDGE,
        entry_point="copycat",
    )
    result = site.python(SELECT_JUDGE)
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(
        "dlm_core.errors.DuplicatePluginName: judge 'throwaway' is registered by both "
    )
    assert "plugin 'throwaway' (dlm-judge-throwaway)" in message
    assert "plugin 'copycat' (dlm-judge-copycat)" in message
