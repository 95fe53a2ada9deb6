"""A lost current adapter has a way out (issue 11, item 10).

The current adapter's folder deleted by hand (or ``current`` naming a
version that is not there): SFT, which starts from the base, still runs;
the commands that need the adapter name the fix, ``dlm doctor --repair``,
which points ``current`` at the newest complete version or removes the
dangling pointer, and says what it did.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core.cli.main import cli
from dlm_core.document.io import read_document
from dlm_core.plugins import PluginHost
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer, loop_trainer_plugin
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace


@pytest.fixture
def host(dlm_host: PluginHost) -> PluginHost:
    dlm_host.register(loop_trainer_plugin(LoopTrainer()), "test-loop-trainer")
    return dlm_host


def train(path: Path, home: Path, host: PluginHost) -> None:
    options = TrainOptions(phase="sft", max_steps=1, progress=False)
    train_document(Workspace(home, host, say=lambda m: None), path, options)


def store_of(path: Path, home: Path) -> Store:
    return Store(home, read_document(path).dlm_id)  # type: ignore[arg-type]


def dlm(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args])
    return result.exit_code, result.stdout, result.stderr


def test_sft_still_trains_after_the_current_adapter_folder_is_deleted(
    tiny_doc: Path, dlm_home: Path, host: PluginHost
) -> None:
    train(tiny_doc, dlm_home, host)
    store = store_of(tiny_doc, dlm_home)
    shutil.rmtree(store.adapters_dir / "v0001")
    train(tiny_doc, dlm_home, host)
    current = store.current()
    assert current is not None and (current.path / "adapter_config.json").exists()


@pytest.mark.parametrize(
    "command",
    [["show", "{doc}"], ["preference", "mine", "{doc}"], ["prompt", "{doc}", "hello"]],
    ids=["show", "mine", "prompt"],
)
def test_commands_that_need_the_adapter_name_the_fix(
    tiny_doc: Path, dlm_home: Path, host: PluginHost, command: list[str]
) -> None:
    train(tiny_doc, dlm_home, host)
    store = store_of(tiny_doc, dlm_home)
    shutil.rmtree(store.adapters_dir / "v0001")
    code, _out, err = dlm(dlm_home, *(arg.format(doc=tiny_doc) for arg in command))
    assert code == 1, err
    (line,) = err.strip().splitlines()
    assert "v0001" in line and f"dlm doctor --repair {tiny_doc.resolve()}" in line
    assert "unexpected" not in line


def test_repair_points_current_at_the_newest_complete_version(
    tiny_doc: Path, dlm_home: Path, host: PluginHost
) -> None:
    train(tiny_doc, dlm_home, host)
    train(tiny_doc, dlm_home, host)
    store = store_of(tiny_doc, dlm_home)
    shutil.rmtree(store.adapters_dir / "v0002")
    code, out, err = dlm(dlm_home, "doctor", "--repair", str(tiny_doc))
    assert code == 0, err
    assert "v0002" in out and "now points at v0001" in out
    assert store.current().number == 1  # type: ignore[union-attr]
    assert dlm(dlm_home, "show", str(tiny_doc))[0] == 0
    code, out, _err = dlm(dlm_home, "doctor", "--repair", str(tiny_doc))
    assert code == 0 and "nothing to repair" in out


def test_repair_removes_a_pointer_to_nothing(
    tiny_doc: Path, dlm_home: Path, host: PluginHost
) -> None:
    train(tiny_doc, dlm_home, host)
    store = store_of(tiny_doc, dlm_home)
    shutil.rmtree(store.adapters_dir / "v0001")
    code, out, err = dlm(dlm_home, "doctor", "--repair", str(tiny_doc))
    assert code == 0, err
    assert "removed" in out and f"dlm train {tiny_doc}" in out
    assert not (store.root / "current").exists() and store.current() is None
    code, out, _err = dlm(dlm_home, "show", str(tiny_doc))
    assert code == 0 and "no adapter versions yet" in out


def test_repair_fixes_a_current_that_names_no_version(
    tiny_doc: Path, dlm_home: Path, host: PluginHost
) -> None:
    train(tiny_doc, dlm_home, host)
    store = store_of(tiny_doc, dlm_home)
    (store.root / "current").write_text("latest\n", encoding="utf-8")
    code, _out, err = dlm(dlm_home, "show", str(tiny_doc))
    assert code == 1 and "dlm doctor --repair" in err
    code, out, err = dlm(dlm_home, "doctor", "--repair", str(tiny_doc))
    assert code == 0 and "now points at v0001" in out, err
    assert store.current().number == 1  # type: ignore[union-attr]
