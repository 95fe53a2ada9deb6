"""One writer per store: a second process waits for the lock or fails clearly.

The holder is a real second process (a Python subprocess), since the lock
exists to keep two ``dlm`` commands apart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlm_core.errors import StoreLocked
from dlm_core.store.lock import store_lock
from dlm_core.store.store import Store

HOLDER = """
    import sys
    from pathlib import Path

    from dlm_core.store.lock import store_lock

    root, marker = Path(sys.argv[1]), Path(sys.argv[2])
    with store_lock(root, command="dlm train notes.dlm"):
        print("held", flush=True)
        sys.stdin.readline()  # hold until told to let go
        marker.write_text("released")
    print("done", flush=True)
"""


class Holder:
    """A second process holding the store lock until :meth:`release`."""

    def __init__(self, root: Path, marker: Path) -> None:
        self.marker = marker
        self.process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(HOLDER), str(root), str(marker)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "held\n"

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def holder(store: Store, tmp_path: Path) -> Iterator[Holder]:
    running = Holder(store.root, tmp_path / "released")
    yield running
    running.stop()


def test_second_holder_without_waiting_gets_store_locked_naming_the_holder(
    store: Store, holder: Holder
) -> None:
    with pytest.raises(StoreLocked) as info, store.lock(wait=False):
        pass
    message = str(info.value)
    assert f"pid {holder.pid}, `dlm train notes.dlm`" in message
    assert "wait for it to finish" in message


def test_second_holder_that_waits_gets_the_lock_once_the_first_lets_go(
    store: Store, holder: Holder
) -> None:
    notices: list[str] = []

    def on_wait(message: str) -> None:
        notices.append(message)
        holder.release()  # we are about to block; now let the holder finish

    with store.lock(wait=True, on_wait=on_wait):
        assert holder.marker.read_text() == "released"
        info = (store.root / "lock.info").read_text()
        assert f'"pid": {os.getpid()}' in info
    assert len(notices) == 1
    assert notices[0].startswith(f"waiting for the store lock held by pid {holder.pid}, `dlm train")


def test_lock_of_a_killed_holder_is_free(store: Store, holder: Holder) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.process.wait(timeout=10)
    with store.lock(wait=False):
        pass


def test_free_lock_is_taken_without_waiting(store: Store) -> None:
    notices: list[str] = []
    with store.lock(wait=True, on_wait=notices.append):
        assert (store.root / "lock.info").exists()
    assert notices == []
    assert not (store.root / "lock.info").exists()


def test_lock_records_the_command_that_holds_it(tmp_path: Path) -> None:
    with store_lock(tmp_path / "store", command="dlm preference apply notes.dlm"):
        info = (tmp_path / "store" / "lock.info").read_text()
    assert '"command": "dlm preference apply notes.dlm"' in info


def test_lock_is_released_when_the_block_raises(store: Store) -> None:
    with pytest.raises(RuntimeError), store.lock():
        raise RuntimeError("training failed")
    with store.lock(wait=False):
        pass
