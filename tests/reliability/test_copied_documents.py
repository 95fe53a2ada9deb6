"""A document's store is its own: a copy is refused, a move is followed (issue 11, item 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core.cli.main import cli
from dlm_core.document.io import read_document
from dlm_core.errors import StoreError
from dlm_core.mining.review import apply_staged
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.plugins import PluginHost
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer, loop_trainer_plugin, tiny_document_text
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

QUESTION = "How should release notes read?"


def mine(path: Path, host: PluginHost, home: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    options = MineOptions(sampler="scripted", judge="terse", progress=False, **kwargs)  # type: ignore[arg-type]
    return mine_document(Workspace(home, host, say=lambda m: None), path, options)


def store_of(path: Path, home: Path) -> Store:
    return Store(home, read_document(path).dlm_id)  # type: ignore[arg-type]


def copy_of(original: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "b"
    folder.mkdir()
    copy = folder / original.name
    shutil.copy(original, copy)
    with copy.open("a", encoding="utf-8") as handle:  # the user edits the copy
        handle.write("\n::instruction::\n### Q\nA question only the copy asks?\n### A\nYes.\n")
    return copy


def test_training_a_copy_is_refused_and_leaves_the_original_store_alone(
    tmp_path: Path, tiny_base: Path, dlm_home: Path, dlm_host: PluginHost
) -> None:
    original = tmp_path / "a.dlm"
    original.write_text(tiny_document_text(tiny_base), encoding="utf-8")
    trainer = LoopTrainer()
    dlm_host.register(loop_trainer_plugin(trainer), "test-loop-trainer")
    options = TrainOptions(phase="sft", max_steps=1, progress=False)
    workspace = Workspace(dlm_home, dlm_host, say=lambda m: None)
    train_document(workspace, original, options)
    store = store_of(original, dlm_home)
    manifest_before = store.manifest_path.read_bytes()
    copy = copy_of(original, tmp_path)
    with pytest.raises(StoreError) as caught:
        train_document(workspace, copy, options)
    message = str(caught.value)
    assert str(copy) in message and str(original) in message
    assert f"dlm init --new-id {copy}" in message and "--new-id" in message
    assert len(trainer.jobs) == 1  # nothing trained for the copy
    assert store.manifest_path.read_bytes() == manifest_before
    assert [v.number for v in store.versions()] == [1] and store.current().number == 1  # type: ignore[union-attr]


def test_mining_or_applying_on_a_copy_is_refused(
    scripted_doc: Path, scripted_host: PluginHost, dlm_home: Path, scripted_sampler, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    copy = copy_of(scripted_doc, tmp_path)
    scripted_sampler.candidates = {QUESTION: ["Short.", "Long and wordy answer."]}
    with pytest.raises(StoreError, match="--new-id"):
        mine(copy, scripted_host, dlm_home)
    store = store_of(scripted_doc, dlm_home)
    assert store.plans() == []
    # A plan the original staged is never written into the copy either.
    mine(scripted_doc, scripted_host, dlm_home)
    before = copy.read_bytes()
    workspace = Workspace(dlm_home, scripted_host, say=lambda m: None)
    with pytest.raises(StoreError, match="--new-id"), workspace.open(copy) as run:
        apply_staged(run)
    assert copy.read_bytes() == before and len(store.plans()) == 1


def test_a_moved_document_keeps_its_store_and_the_manifest_follows(
    scripted_doc: Path, scripted_host: PluginHost, dlm_home: Path, scripted_sampler, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    moved = tmp_path / "renamed" / "notes.dlm"
    moved.parent.mkdir()
    scripted_doc.rename(moved)
    scripted_sampler.candidates = {QUESTION: ["Short.", "Long and wordy answer."]}
    outcome = mine(moved, scripted_host, dlm_home)
    assert outcome.pairs == 1
    manifest = store_of(moved, dlm_home).manifest()
    assert manifest is not None and manifest.document_path == str(moved.resolve())


def test_an_original_that_took_a_new_id_releases_the_store_to_its_copy(
    scripted_doc: Path, scripted_host: PluginHost, dlm_home: Path, scripted_sampler, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    copy = copy_of(scripted_doc, tmp_path)
    old_id = read_document(scripted_doc).dlm_id
    result = CliRunner().invoke(
        cli, ["--home", str(dlm_home), "init", "--new-id", str(scripted_doc)]
    )
    assert result.exit_code == 0, result.stderr
    assert read_document(scripted_doc).dlm_id != old_id
    scripted_sampler.candidates = {QUESTION: ["Short.", "Long and wordy answer."]}
    mine(copy, scripted_host, dlm_home)  # the store now follows the copy
    assert Store(dlm_home, old_id).manifest().document_path == str(copy.resolve())  # type: ignore[arg-type, union-attr]


def test_init_new_id_gives_a_copy_its_own_id_and_changes_nothing_else(
    scripted_doc: Path, dlm_home: Path, tmp_path: Path
) -> None:
    copy = copy_of(scripted_doc, tmp_path)
    before = copy.read_text(encoding="utf-8")
    old_id = read_document(copy).dlm_id
    result = CliRunner().invoke(cli, ["--home", str(dlm_home), "init", "--new-id", str(copy)])
    assert result.exit_code == 0, result.stderr
    new_id = read_document(copy).dlm_id
    assert new_id != old_id and new_id is not None
    assert copy.read_text(encoding="utf-8") == before.replace(old_id, new_id)  # type: ignore[arg-type]
    assert copy.with_name(copy.name + ".bak").read_text(encoding="utf-8") == before
    assert new_id in result.stdout + result.stderr
    assert not Store(dlm_home, new_id).root.exists()  # a store comes with its first train


def test_train_new_id_trains_the_copy_into_its_own_store(
    dlm, tiny_doc: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    first = dlm.run("train", str(tiny_doc), "--max-steps", "1")
    assert first.returncode == 0, first.stderr
    original_store = store_of(tiny_doc, dlm.home)
    copy = copy_of(tiny_doc, tmp_path)
    refused = dlm.run("train", str(copy), "--max-steps", "1")
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: ") and "--new-id" in line
    trained = dlm.run("train", str(copy), "--new-id", "--max-steps", "1")
    assert trained.returncode == 0, trained.stderr
    copy_store = store_of(copy, dlm.home)
    assert copy_store.dlm_id != original_store.dlm_id
    assert [v.number for v in copy_store.versions()] == [1]
    assert [v.number for v in original_store.versions()] == [1]
    assert original_store.manifest().document_path == str(tiny_doc.resolve())  # type: ignore[union-attr]
