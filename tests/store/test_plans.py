"""Staged mining plans round-trip through TOML."""

from __future__ import annotations

import tomllib

import pytest

from dlm_core.errors import StoreError
from dlm_core.store.staged import StagedPair, StagedPlan
from dlm_core.store.store import Store


def _plan(run_id: int = 3, **changes: object) -> StagedPlan:
    values: dict[str, object] = dict(
        run_id=run_id,
        created_at="2026-04-23T18:42:11Z",
        judge="sway",
        threshold=0.1,
        adapter_version=2,
        pairs=[
            StagedPair(
                prompt="How should release notes read?",
                chosen="Short and factual.",
                rejected='Exciting!!! 🎉\n\n### Chosen\nwith "quotes" and a\ttab',
                score_chosen=0.82,
                score_rejected=0.31,
            )
        ],
    )
    values.update(changes)
    return StagedPlan(**values)  # type: ignore[arg-type]


def test_plan_round_trips_through_toml(store: Store) -> None:
    plan = _plan()
    store.save_plan(plan)
    assert store.plans() == [plan]


def test_plan_is_written_as_toml_under_staged(store: Store) -> None:
    path = store.save_plan(_plan(run_id=12))
    assert path == store.staged_dir / "run-0012.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["judge"] == "sway"
    assert data["pairs"][0]["score_chosen"] == 0.82


def test_plan_mined_without_an_adapter_version_round_trips(store: Store) -> None:
    plan = _plan(adapter_version=None)
    store.save_plan(plan)
    assert store.plans() == [plan]


def test_interrupted_plan_keeps_its_pairs_and_says_so(store: Store) -> None:
    plan = _plan(complete=False)
    store.save_plan(plan)
    [read] = store.plans()
    assert read.complete is False
    assert read.pairs == plan.pairs


def test_plans_come_back_in_run_order(store: Store) -> None:
    for run_id in (10, 2, 7):
        store.save_plan(_plan(run_id=run_id))
    assert [p.run_id for p in store.plans()] == [2, 7, 10]


def test_saving_a_plan_again_replaces_it(store: Store) -> None:
    store.save_plan(_plan(judge="sway"))
    store.save_plan(_plan(judge="hf:org/reward"))
    assert [p.judge for p in store.plans()] == ["hf:org/reward"]


def test_dropped_plan_is_gone_and_dropping_twice_is_fine(store: Store) -> None:
    store.save_plan(_plan(run_id=1))
    store.save_plan(_plan(run_id=2))
    store.drop_plan(1)
    store.drop_plan(1)
    assert [p.run_id for p in store.plans()] == [2]


def test_other_files_in_staged_are_not_plans(store: Store) -> None:
    store.save_plan(_plan(run_id=1))
    (store.staged_dir / "notes.txt").write_text("mine")
    (store.staged_dir / ".run-0002.toml.abc.tmp").write_text("half")
    assert [p.run_id for p in store.plans()] == [1]


def test_damaged_plan_is_a_store_error_naming_the_file(store: Store) -> None:
    path = store.save_plan(_plan(run_id=4))
    path.write_text('run_id = 4\njudge = "sway"\n', encoding="utf-8")
    with pytest.raises(
        StoreError, match=r"run-0004.toml: not a readable staged plan \(.*created_at"
    ):
        store.plans()


def test_plan_that_is_not_toml_is_a_store_error(store: Store) -> None:
    path = store.save_plan(_plan(run_id=5))
    path.write_text("run_id = = 5\n", encoding="utf-8")
    with pytest.raises(StoreError, match=r"run-0005\.toml: not a readable staged plan"):
        store.plans()


def test_a_store_with_no_staged_folder_has_no_plans(store: Store) -> None:
    assert store.plans() == []
