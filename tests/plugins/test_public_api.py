"""Plugins use dlm through ``dlm_core.api`` alone, as a third party's package would.

First-party plugins and contrib/ are the worked examples plugin authors copy;
an import of a dlm internal there would be copied too, and break the day that
internal moves. Their package code may import ``dlm_core.api`` and nothing
else from dlm_core (their tests may also use the ``dlm_core.testing`` fixtures).
"""

from __future__ import annotations

import ast
from pathlib import Path

import dlm_core.api

ROOT = Path(__file__).resolve().parents[2]


def _package_files() -> list[Path]:
    found = []
    for group in ("plugins", "contrib"):
        for dist in sorted((ROOT / group).iterdir()):
            for package in dist.glob("dlm_*"):
                if package.is_dir() and not package.name.endswith(".egg-info"):
                    found.extend(sorted(package.rglob("*.py")))
    return found


def _dlm_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "dlm_core":
                names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(a.name for a in node.names if a.name.split(".")[0] == "dlm_core")
    return names


def test_every_plugin_package_imports_only_the_public_api() -> None:
    files = _package_files()
    assert len(files) >= 10  # the walk found the plugin packages
    strays = {
        str(path.relative_to(ROOT)): sorted(set(mods) - {"dlm_core.api"})
        for path in files
        if (mods := _dlm_imports(path)) and set(mods) - {"dlm_core.api"}
    }
    assert strays == {}


def test_the_api_namespace_lists_exactly_what_it_exports() -> None:
    exported = set(dlm_core.api.__all__)
    public = {name for name in vars(dlm_core.api) if not name.startswith("_")}
    public -= {"annotations"}
    assert exported == public | {"__version__"}
    for name in exported:
        assert getattr(dlm_core.api, name) is not None


def test_the_meta_test_catches_an_internal_import(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text("from dlm_core.models.session import ModelSession\nimport dlm_core.api\n")
    assert _dlm_imports(stray) == ["dlm_core.models.session", "dlm_core.api"]
