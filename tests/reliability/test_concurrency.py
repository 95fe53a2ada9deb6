"""Two commands on one store: the second waits (saying so) or fails with --no-wait."""

from __future__ import annotations

import json
from pathlib import Path

from dlm_core.document.io import read_document
from dlm_core.store.store import Store


def test_a_second_train_with_no_wait_fails_naming_the_holder(dlm, tiny_doc: Path) -> None:  # type: ignore[no-untyped-def]
    first = dlm.start("train", str(tiny_doc), "--max-steps", "1", sleep=30)
    try:
        dlm.wait_ready("train", first)
        second = dlm.run("train", str(tiny_doc), "--max-steps", "1", "--no-wait")
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: this document's store is in use")
        assert f"pid {first.pid}" in lines[0] and "dlm train" in lines[0]
        apply = dlm.run("preference", "apply", str(tiny_doc), "--no-wait")
        assert apply.returncode == 1 and "in use" in apply.stderr
    finally:
        first.kill()
        first.wait()


def test_show_and_metrics_work_while_training_runs(dlm, tiny_doc: Path) -> None:  # type: ignore[no-untyped-def]
    first = dlm.start("train", str(tiny_doc), "--max-steps", "1", sleep=30)
    try:
        dlm.wait_ready("train", first)
        show = dlm.run("show", str(tiny_doc), "--json")
        assert show.returncode == 0, show.stderr
        assert json.loads(show.stdout)["store"]["exists"] is True
        metrics = dlm.run("metrics", str(tiny_doc), "--json")
        assert metrics.returncode == 0, metrics.stderr
        assert [r["run"]["status"] for r in json.loads(metrics.stdout)["runs"]] == ["running"]
    finally:
        first.kill()
        first.wait()


def test_a_second_train_waits_for_the_first_and_never_interleaves(dlm, tiny_doc: Path) -> None:  # type: ignore[no-untyped-def]
    first = dlm.start("train", str(tiny_doc), "--max-steps", "1", sleep=8)
    dlm.wait_ready("train", first)
    second = dlm.start("train", str(tiny_doc), "--max-steps", "1", sleep=0)
    _out1, err1 = first.communicate(timeout=300)
    _out2, err2 = second.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert "waiting for the store lock held by pid" in err2
    store = Store(dlm.home, read_document(tiny_doc).dlm_id)  # type: ignore[arg-type]
    runs = [v.run for v in store.versions()]
    assert [r.version for r in runs] == [1, 2]  # type: ignore[union-attr]
    assert runs[0].finished_at <= runs[1].started_at  # type: ignore[union-attr]
    assert store.current().number == 2  # type: ignore[union-attr]
