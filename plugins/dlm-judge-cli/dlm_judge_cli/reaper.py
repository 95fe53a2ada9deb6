"""Run one judge command so that nothing it starts outlives it.

``python -I -S reaper.py <program> <args>...`` (the cli judge starts it in
a session of its own) runs the command as its child with the same stdin,
stdout, stderr and environment, and passes on its exit status. A process
group does not hold a command's children: one that calls ``setsid()``
leaves it. So on Linux this process makes itself a child subreaper: every
descendant of the command, in whatever session, is re-parented here when
its own parent exits. When the command exits, or this process gets SIGTERM
(the judge's time limit, a failure elsewhere, Ctrl-C) or its parent dies,
every descendant still running is killed and reaped before it exits.

Standard library only, and few imports of it, so it starts without
site-packages (``-S``) in a few milliseconds more than Python itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

CANNOT_START = "dlm-judge-cli: cannot start: "
"""The first stderr line when the command cannot be started (exit status 127)."""

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(option, value, 0, 0, 0) == 0)
    except (OSError, AttributeError):  # not Linux
        return False


def _children_by_parent() -> dict[int, list[int]] | None:
    """Parent pid -> pids of its running (not yet dead) children; None without /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    children: dict[int, list[int]] = {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] in (b"Z", b"X"):
            continue  # dead, waiting to be reaped
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _descendants() -> list[int] | None:
    tree = _children_by_parent()
    if tree is None:
        return None
    found, queue = [], list(tree.get(os.getpid(), []))
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(tree.get(pid, []))
    return found


def _reap() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _signal_quietly(send: object, target: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        send(target, signal.SIGKILL)  # type: ignore[operator]


def kill_descendants(command_pid: int | None) -> None:
    """SIGKILL every live descendant until none is left, reaping them as they die."""
    while True:
        pids = _descendants()
        if pids is None:  # no /proc: the command's own process group is what can be reached
            if command_pid is not None:
                _signal_quietly(os.killpg, command_pid)
            break
        if not pids:
            break
        for pid in pids:
            _signal_quietly(os.kill, pid)
        _reap()
        time.sleep(0.005)  # let the kernel finish them; orphans re-parent here meanwhile
    _reap()


def _start(argv: list[str]) -> tuple[int, str | None]:
    """Fork and exec ``argv`` in its own process group: ``(pid, why it could not start)``.

    os.fork and os.execvp rather than subprocess, which takes longer to
    import than this whole program needs to run.
    """
    read_end, write_end = os.pipe()  # not inherited: closed by a successful exec
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            os.setpgid(0, 0)  # its own group, so that without /proc the group kill reaches it
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(write_end, (exc.strerror or str(exc)).encode("utf-8", "replace"))
        finally:
            os._exit(127)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        why = pipe.read().decode("utf-8", "replace")
    return pid, (why or None)


def main(argv: list[str]) -> int:
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)  # the dlm process died: stop everything
    command_pid: int | None = None

    def stop(signum: int, _frame: object) -> None:
        kill_descendants(command_pid)
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stop)  # (exec gives the command the default handlers back)
    command_pid, why = _start(argv)
    if why is not None:
        os.waitpid(command_pid, 0)
        sys.stderr.write(f"{CANNOT_START}{why}\n")
        return 127
    _pid, wait_status = os.waitpid(command_pid, 0)
    status = os.waitstatus_to_exitcode(wait_status)
    kill_descendants(command_pid)
    if status < 0:  # killed by a signal: end the same way, so the judge reports it
        with contextlib.suppress(OSError, ValueError):  # SIGKILL keeps its default anyway
            signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        return 128 - status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
