"""A command's run: locks first, then one read of the document; identity given under the lock.

Real `dlm` processes on real files (the throwaway plugin of conftest.py and
the tiny base): the second command must wait, then read what the first one
wrote, and two first trainings of one new document must agree on one identity.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from dlm_core.document.io import read_document
from dlm_core.store.store import Store

MINE = ("preference", "mine", "--sampler", "list", "--judge", "slow", "--samples", "3")


def test_train_reads_the_document_only_after_a_mine_apply_releases_it(
    dlm,  # type: ignore[no-untyped-def]
    tiny_doc: Path,
) -> None:
    assert dlm.run("train", str(tiny_doc), "--max-steps", "1").returncode == 0
    mining = dlm.start(*MINE, str(tiny_doc), "--apply", sleep=6)
    dlm.wait_ready("judge", mining)  # mining holds the locks, its pairs not yet written
    training = dlm.start("train", str(tiny_doc), "--phase", "sft", "--max-steps", "1", sleep=0)
    _out, mine_err = mining.communicate(timeout=300)
    _out, train_err = training.communicate(timeout=300)
    assert mining.returncode == 0, mine_err
    assert training.returncode == 0, train_err
    assert "waiting for the store lock held by pid" in train_err
    text = tiny_doc.read_text(encoding="utf-8")
    assert "::preference::" in text  # the mined pairs were written while train waited
    store = Store(dlm.home, read_document(tiny_doc).dlm_id)  # type: ignore[arg-type]
    record = store.current().run  # type: ignore[union-attr]
    assert record is not None and record.version == 2
    assert record.document_sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_two_first_trainings_of_a_new_document_agree_on_one_identity(
    dlm,  # type: ignore[no-untyped-def]
    tiny_doc: Path,
) -> None:
    fresh = re.sub(r"^dlm_id: .*\n", "", tiny_doc.read_text(encoding="utf-8"), flags=re.M)
    stores = dlm.home / "store"
    for attempt in range(3):  # the race lost about one try in four before the document lock
        before = set(stores.iterdir()) if stores.exists() else set()
        tiny_doc.write_text(fresh, encoding="utf-8")
        first = dlm.start("train", str(tiny_doc), "--phase", "sft", "--max-steps", "1", sleep=0)
        second = dlm.start("train", str(tiny_doc), "--phase", "sft", "--max-steps", "1", sleep=0)
        for process in (first, second):
            _out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err
        ids = re.findall(r"^dlm_id: (\S+)$", tiny_doc.read_text(encoding="utf-8"), flags=re.M)
        assert len(ids) == 1, f"attempt {attempt}: {ids}"
        made = set(stores.iterdir()) - before
        assert [p.name for p in made] == ids, f"attempt {attempt}: an orphan store"
        assert [v.number for v in Store(dlm.home, ids[0]).versions()] == [1, 2]


def test_mining_an_untrained_document_creates_no_store(dlm, tiny_doc: Path) -> None:  # type: ignore[no-untyped-def]
    result = dlm.run(*MINE, str(tiny_doc))
    assert result.returncode == 1
    assert result.stderr.strip().endswith(f"run `dlm train {tiny_doc}` first")
    assert not (dlm.home / "store").exists() or not any((dlm.home / "store").iterdir())
