"""Frontmatter YAML that would blow up is refused, located (issue 11, item 9).

Anchors and aliases let a few lines expand to gigabytes (nine levels of
``&a [*a, *a, ...]``) or to a structure that contains itself; deep
nesting exhausts Python's recursion. A ``.dlm`` frontmatter needs none of
them, so they are refused with ``file:line:col`` before anything is built.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dlm_core.document.frontmatter import MAX_DEPTH
from dlm_core.document.parser import parse
from dlm_core.errors import DocumentError

BODY = "::instruction::\n### Q\nq?\n### A\na.\n"


def bomb(levels: int) -> str:
    lines = ["---", "training:", "  preference:", "    options:"]
    lines.append("      a0: &a0 [" + ", ".join(["lol"] * 9) + "]")
    for level in range(1, levels):
        lines.append(f"      a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join([*lines, "---", BODY])


def refused(text: str) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        parse(text, path="doc.dlm")
    assert "unexpected" not in str(caught.value)
    return caught.value


def test_an_alias_bomb_is_refused_at_its_first_anchor() -> None:
    error = refused(bomb(9))
    assert (error.line, error.col) == (5, 11)
    assert "anchor" in error.message and "not allowed" in error.message


@pytest.mark.parametrize(
    ("yaml_line", "col"),
    [
        ("base_model: &b smollm2-135m", 13),  # an anchor alone
        ("training: {seed: 1, preference: {options: {x: &a [1], y: *a}}}", 47),
    ],
)
def test_anchors_are_refused_even_when_harmless(yaml_line: str, col: int) -> None:
    error = refused(f"---\n{yaml_line}\n---\n{BODY}")
    assert (error.line, error.col) == (2, col)


def test_a_merge_key_is_refused_at_the_anchor_it_needs() -> None:
    text = "---\ntraining: &t {seed: 3}\nexport: {<<: *t}\n---\n" + BODY
    error = refused(text)
    assert (error.line, error.col) == (2, 11) and "anchor" in error.message


def test_a_recursive_anchor_is_a_located_error_not_a_recursion_error() -> None:
    error = refused("---\ntraining:\n  preference:\n    options: &a {self: *a}\n---\n" + BODY)
    assert (error.line, error.col) == (4, 14)


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_five_thousand_levels_of_nesting_are_a_located_error(opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    deep = opening * 5000 + "1" + closing * 5000
    error = refused(f"---\ntraining:\n  preference:\n    options: {{x: {deep}}}\n---\n" + BODY)
    assert error.line == 4
    assert f"nests deeper than {MAX_DEPTH} levels" in error.message


def test_dlm_show_refuses_the_bomb_at_once_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.dlm"
    path.write_text(bomb(9), encoding="utf-8")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("dlm")),
            "--home",
            str(tmp_path / "home"),
            "show",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,  # expanding the bomb takes far longer than that
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}:5:11: ") and "anchor" in line
