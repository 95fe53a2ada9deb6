"""Crash safety with real processes and real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from dlm_core.document.io import read_document
from dlm_core.store.store import Store


def store_of(path: Path, home: Path) -> Store:
    return Store(home, read_document(path).dlm_id)  # type: ignore[arg-type]


def metrics_runs(dlm, path: Path) -> list[dict]:  # type: ignore[no-untyped-def]
    result = dlm.run("metrics", str(path), "--json")
    assert result.returncode == 0, result.stderr
    return [r["run"] for r in json.loads(result.stdout)["runs"]]


def test_sigkill_during_train_keeps_the_previous_version_and_the_next_train_works(
    dlm, tiny_doc: Path
) -> None:  # type: ignore[no-untyped-def]
    first = dlm.run("train", str(tiny_doc), "--max-steps", "1")
    assert first.returncode == 0, first.stderr
    process = dlm.start("train", str(tiny_doc), "--max-steps", "1")
    dlm.wait_ready("train", process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    store = store_of(tiny_doc, dlm.home)
    assert [v.number for v in store.versions()] == [1]
    assert store.current().number == 1  # type: ignore[union-attr]
    statuses = [r["status"] for r in metrics_runs(dlm, tiny_doc)]
    assert statuses == ["succeeded", "failed"]
    again = dlm.run("train", str(tiny_doc), "--max-steps", "1")
    assert again.returncode == 0, again.stderr
    assert [v.number for v in store.versions()] == [1, 2] and store.current().number == 2  # type: ignore[union-attr]
    assert not [p for p in store.adapters_dir.iterdir() if p.name.startswith(".tmp")]


def test_sigint_during_train_records_an_interrupted_run_and_exits_130(dlm, tiny_doc: Path) -> None:  # type: ignore[no-untyped-def]
    process = dlm.start("train", str(tiny_doc), "--max-steps", "1")
    dlm.wait_ready("train", process)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    store = store_of(tiny_doc, dlm.home)
    assert store.versions() == [] and store.current() is None
    assert [r["status"] for r in metrics_runs(dlm, tiny_doc)] == ["interrupted"]


def test_sigint_during_mine_keeps_the_judged_pairs_staged(dlm, tiny_doc: Path) -> None:  # type: ignore[no-untyped-def]
    assert dlm.run("train", str(tiny_doc), "--max-steps", "1").returncode == 0
    before = tiny_doc.read_bytes()
    process = dlm.start(
        "preference", "mine", str(tiny_doc), "--sampler", "list", "--judge", "slow", "--apply"
    )
    dlm.wait_ready("judge", process)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert tiny_doc.read_bytes() == before
    (plan,) = store_of(tiny_doc, dlm.home).plans()
    assert not plan.complete and len(plan.pairs) == 1
    assert plan.pairs[0].chosen == "Short answer 0."
    listed = dlm.run("preference", "list", str(tiny_doc), "--json")
    assert json.loads(listed.stdout)["staged"][0]["complete"] is False
    assert metrics_runs(dlm, tiny_doc)[-1]["status"] == "interrupted"


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from dlm_core.document.io import read_document, write_document
    path = Path(sys.argv[1])
    docs = [read_document(Path(p)) for p in sys.argv[2:]]
    print("ready", flush=True)
    i = 0
    while True:
        write_document(path, docs[i % 2])
        i += 1
    """
)


def test_sigkill_during_document_writes_leaves_a_whole_document(tmp_path: Path) -> None:
    a, b = tmp_path / "a.dlm", tmp_path / "b.dlm"
    record = "### Q\n{q}\n### A\n" + "answer line\n" * 20000
    a.write_text("::instruction::\n" + record.format(q="old"), encoding="utf-8")
    b.write_text("# prose\n\n::instruction::\n" + record.format(q="new"), encoding="utf-8")
    target = tmp_path / "doc.dlm"
    target.write_bytes(a.read_bytes())
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    wholes = {a.read_bytes(), b.read_bytes()}
    for attempt in range(8):
        process = subprocess.Popen(
            [sys.executable, str(script), str(target), str(a), str(b)], stdout=subprocess.PIPE
        )
        assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
        time.sleep(0.05 + 0.07 * attempt)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert target.read_bytes() in wholes
        backup = tmp_path / "doc.dlm.bak"
        assert not backup.exists() or backup.read_bytes() in wholes
        read_document(target)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert all(
        name.startswith(".") for name in leftovers
    )  # hidden temporaries, never a visible half file
