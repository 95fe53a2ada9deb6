"""Every hook is documented and tested, and the docs name no hook that is gone.

Adding a hook to ``dlm_core/hookspecs.py`` fails these tests until
``docs/plugins.md`` has a heading for it and a test under ``tests/plugins``
uses it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlm_core import PROJECT_NAME, hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins.md"
TESTS = Path(__file__).resolve().parent

HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if callable(value) and hasattr(value, f"{PROJECT_NAME}_spec")
)
HEADING = re.compile(r"^#{1,6}\s+`?(dlm_\w+)`?\s*$", re.MULTILINE)


def _documented_hooks() -> set[str]:
    return set(HEADING.findall(DOCS.read_text(encoding="utf-8")))


def _test_sources() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8")
        for path in TESTS.glob("test_*.py")
        if path.resolve() != Path(__file__).resolve()
    )


def test_the_four_hooks_are_found() -> None:
    assert HOOKS == ["dlm_judges", "dlm_samplers", "dlm_section_types", "dlm_trainers"]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_heading_in_the_plugin_docs(hook: str) -> None:
    assert hook in _documented_hooks(), f"docs/plugins.md needs a heading `### {hook}`"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_implemented_by_a_plugin_test(hook: str) -> None:
    assert re.search(rf"def {hook}\(", _test_sources()), (
        f"no test under tests/plugins implements {hook}"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_spec_reads_like_reference(hook: str) -> None:
    spec = getattr(hookspecs, hook)
    doc = spec.__doc__ or ""
    assert ":returns:" in doc, f"{hook}'s docstring must say what it returns"
    assert "collected" in doc, f"{hook}'s docstring must say how results combine"


def test_docs_name_no_hook_that_does_not_exist() -> None:
    assert _documented_hooks() <= set(HOOKS)
