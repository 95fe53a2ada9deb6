"""Adapter versions appear whole or not at all, and ``current`` moves only when told."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core.errors import StoreError
from dlm_core.store.ownership import claim_store
from dlm_core.store.store import AdapterVersion, Store


def _train(store: Store, text: str = "weights") -> AdapterVersion:
    with store.new_version() as (number, folder):
        (folder / "adapter_model.safetensors").write_text(text)
    return store.version(number)


def test_new_store_has_no_versions_and_no_current(store: Store) -> None:
    assert store.versions() == []
    assert store.current() is None


def test_version_is_invisible_while_its_block_runs(store: Store) -> None:
    with store.new_version() as (number, folder):
        (folder / "adapter_model.safetensors").write_text("weights")
        assert number == 1
        assert store.versions() == []
        assert folder.name.startswith(".tmp-v0001-")
        assert not (store.adapters_dir / "v0001").exists()
    assert [v.name for v in store.versions()] == ["v0001"]


def test_completed_version_holds_what_the_block_wrote(store: Store) -> None:
    version = _train(store, "trained")
    assert version.path == store.adapters_dir / "v0001"
    assert (version.path / "adapter_model.safetensors").read_text() == "trained"


def test_versions_are_numbered_in_order(store: Store) -> None:
    _train(store)
    _train(store)
    _train(store)
    assert [v.name for v in store.versions()] == ["v0001", "v0002", "v0003"]


def test_raising_block_leaves_no_version_and_no_temporary_folder(store: Store) -> None:
    with pytest.raises(RuntimeError, match="out of memory"), store.new_version() as (_n, folder):
        (folder / "adapter_model.safetensors").write_text("half")
        raise RuntimeError("out of memory")
    assert store.versions() == []
    assert list(store.adapters_dir.iterdir()) == []


def test_interrupted_block_leaves_no_version(store: Store) -> None:
    with pytest.raises(KeyboardInterrupt), store.new_version() as (_n, folder):
        (folder / "partial").write_text("half")
        raise KeyboardInterrupt
    assert list(store.adapters_dir.iterdir()) == []


def test_failed_attempt_does_not_use_up_a_version_number(store: Store) -> None:
    _train(store)
    with pytest.raises(RuntimeError), store.new_version():
        raise RuntimeError("diverged")
    assert _train(store).name == "v0002"


def test_temporaries_left_by_a_killed_run_are_not_versions_and_can_be_removed(
    store: Store,
) -> None:
    (store.adapters_dir / ".tmp-v0001-abc123").mkdir()
    assert store.versions() == []
    assert store.remove_stale_temporaries() == 1
    assert list(store.adapters_dir.iterdir()) == []


def test_current_names_the_version_it_was_set_to(store: Store) -> None:
    first = _train(store)
    store.set_current(first)
    assert store.current() == first
    assert (store.root / "current").read_text() == "v0001\n"


def test_current_stays_put_until_moved(store: Store) -> None:
    first = _train(store)
    store.set_current(first)
    second = _train(store)
    assert store.current() == first
    store.set_current(second)
    assert store.current() == second


def test_current_naming_no_version_is_an_error_saying_what_to_do(store: Store) -> None:
    (store.root / "current").write_text("latest\n")
    with pytest.raises(
        StoreError,
        match=r"does not name a version \('latest'\) \(versions: none\); run `dlm doctor --repair ",
    ):
        store.current()


def test_current_naming_a_missing_version_lists_the_versions(store: Store) -> None:
    _train(store)
    (store.root / "current").write_text("v0007\n")
    with pytest.raises(
        StoreError,
        match=r"names v0007, which is missing \(versions: v0001\); run `dlm doctor --repair ",
    ):
        store.current()


def test_manifest_records_the_document_and_its_base(store: Store, tmp_path: Path) -> None:
    manifest = store.manifest()
    assert manifest is not None
    assert manifest.dlm_id == store.dlm_id
    assert manifest.document_path == str((tmp_path / "notes.dlm").resolve())
    assert manifest.base_model == "smollm2-135m"


def test_manifest_follows_a_moved_document(store: Store, tmp_path: Path) -> None:
    moved = tmp_path / "moved.dlm"
    (tmp_path / "notes.dlm").rename(moved)
    claim_store(store, moved, "smollm2-135m", say=lambda _m: None)
    manifest = store.manifest()
    assert manifest is not None
    assert manifest.document_path == str(moved.resolve())
