"""The repository is a uv workspace that installs the whole tool.

A full ``uv sync`` would download multi-GB CUDA wheels here, so the metadata
is read instead: every first-party plugin distribution is a workspace member,
is in the default ``plugins`` group, and resolves from the workspace.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _project(folder: Path) -> dict:  # type: ignore[type-arg]
    return tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_first_party_plugin_is_in_the_default_group_and_a_workspace_source() -> None:
    root = _project(ROOT)
    plugins = sorted(
        _project(folder)["project"]["name"]
        for folder in (ROOT / "plugins").iterdir()
        if (folder / "pyproject.toml").exists()
    )
    assert len(plugins) >= 5
    assert sorted(root["dependency-groups"]["plugins"]) == plugins
    assert root["tool"]["uv"]["default-groups"] == ["plugins"]
    sources = root["tool"]["uv"]["sources"]
    assert all(sources[name] == {"workspace": True} for name in plugins)


def test_workspace_members_cover_every_distribution_folder() -> None:
    members = _project(ROOT)["tool"]["uv"]["workspace"]["members"]
    assert members == ["plugins/*", "contrib/*"]
    for group in ("plugins", "contrib"):
        for folder in (ROOT / group).iterdir():
            if folder.is_dir() and not folder.name.startswith("."):
                assert (folder / "pyproject.toml").exists(), f"{folder} is not a distribution"


def test_torch_builds_are_picked_by_an_extra_on_their_own_index() -> None:
    uv = _project(ROOT)["tool"]["uv"]
    torch = {entry["extra"]: entry["index"] for entry in uv["sources"]["torch"]}
    indexes = {index["name"]: index for index in uv["index"]}
    assert torch == {"cpu": "pytorch-cpu", "cu128": "pytorch-cu128"}
    assert indexes["pytorch-cpu"]["url"].endswith("/whl/cpu")
    assert all(index["explicit"] for index in indexes.values())
    assert [{"extra": "cpu"}, {"extra": "cu128"}] in uv["conflicts"]
