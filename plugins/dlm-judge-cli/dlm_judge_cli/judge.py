"""Scoring candidates with an external command, one process per candidate.

The contract, per candidate:

- the command starts in its own session, with the caller's working
  directory and environment, never through a shell, under a small reaper
  process (:mod:`dlm_judge_cli.reaper`) that, on Linux, also catches
  children which leave that session with ``setsid``;
- it reads one line of JSON on stdin, ``{"prompt": "...", "candidate": "..."}``
  (ASCII, non-ASCII text as ``\\u`` escapes), followed by end of file;
- it prints one JSON object on stdout, ``{"score": <number>, "reasoning":
  <optional string>}``, and exits 0. Higher scores are better; other keys
  are ignored; logs belong on stderr.

Candidates of a prompt run concurrently (at most :data:`MAX_PARALLEL` at a
time) and scores come back in candidate order. Any failure stops the whole
prompt at once with a one-line :class:`~dlm_core.errors.JudgeError` that
names the command and ends with the tail of its stderr: a command that
cannot start, runs past the time limit, exits non-zero, prints more than
:data:`MAX_STDOUT_BYTES`, or prints anything but such an object with a
finite number (not a boolean) as its score. The other candidates' commands
are killed then, and every judge run ends with everything it started
killed (its process group, and on Linux every descendant, whatever its
session), so nothing it started outlives it. POSIX only.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlm_core.api import JudgeError
from dlm_judge_cli.reaper import CANNOT_START

MAX_PARALLEL = 8
MAX_STDOUT_BYTES = 1 << 20  # a verdict is a few bytes; more than this is a broken judge
STDERR_TAIL_BYTES = 64 << 10  # only the end of stderr is kept, however much is written
STDERR_IN_MESSAGE = 400  # characters of that tail quoted in the error
_CHUNK = 64 << 10
_POLL_SECONDS = 0.05  # how often a run checks its time limit and whether to give up
_STOP_GRACE_SECONDS = 5.0  # how long the reaper gets to kill what the command started
_REAPER = [sys.executable, "-I", "-S", str(Path(__file__).with_name("reaper.py"))]


@dataclass(frozen=True)
class Verdict:
    """What the command said about one candidate."""

    score: float
    reasoning: str | None = None


class _Failed(Exception):
    """One candidate's run failed: ``why`` is a short phrase, ``stderr`` its tail."""

    def __init__(self, why: str, stderr: bytes | bytearray = b"") -> None:
        super().__init__(why)
        self.why = why
        self.stderr = bytes(stderr)


class _Cancelled(Exception):
    """Another candidate failed first; this run was stopped."""


class CommandJudge:
    """``--judge cli:<command>``: an external scorer, run once per candidate.

    :ivar name: ``cli:<command>`` as the user wrote it.
    :ivar default_threshold: 0.0: the scale is the command's own, so any
        margin counts; pass ``--threshold`` for a stricter cut.
    :ivar last_reasonings: the ``reasoning`` of each candidate of the last
        ``score`` call, in candidate order (None where the command gave none).
    """

    default_threshold: float = 0.0

    def __init__(self, command: str, argv: list[str], *, timeout: float) -> None:
        self.name = f"cli:{command}"
        self.command = command
        self.argv = list(argv)
        self.timeout = timeout
        self.last_reasonings: list[str | None] = []

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        """One score per candidate, in order; the first failure raises :class:`JudgeError`."""
        verdicts = self.verdicts(prompt, candidates)
        self.last_reasonings = [v.reasoning for v in verdicts]
        return [v.score for v in verdicts]

    def verdicts(self, prompt: str, candidates: list[str]) -> list[Verdict]:
        """Score and reasoning of each candidate, the commands running concurrently."""
        if not candidates:
            return []
        cancel = threading.Event()
        found: list[Verdict | None] = [None] * len(candidates)
        pool = ThreadPoolExecutor(
            max_workers=min(MAX_PARALLEL, len(candidates)), thread_name_prefix="dlm-judge-cli"
        )
        try:
            futures: dict[Future[Verdict], int] = {
                pool.submit(self._judge_one, prompt, candidate, cancel): index
                for index, candidate in enumerate(candidates)
            }
            pending = set(futures)
            while pending:
                # Waking up now and then lets Ctrl-C reach this thread promptly.
                done, pending = wait(
                    pending, timeout=_POLL_SECONDS * 4, return_when=FIRST_COMPLETED
                )
                for future in sorted(done, key=futures.__getitem__):
                    index = futures[future]
                    try:
                        found[index] = future.result()
                    except _Failed as failure:
                        raise JudgeError(self._message(failure, index, len(candidates))) from None
        finally:
            # On a failure or Ctrl-C the other runs see this within a poll and
            # kill their process groups; queued ones never start.
            cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
        return [v for v in found if v is not None]

    def _judge_one(self, prompt: str, candidate: str, cancel: threading.Event) -> Verdict:
        if cancel.is_set():
            raise _Cancelled
        payload = json.dumps({"prompt": prompt, "candidate": candidate}) + "\n"
        status, stdout, stderr = _run_command(
            self.argv, payload.encode("ascii"), self.timeout, cancel
        )
        if status == 127 and stderr.startswith(CANNOT_START.encode()):
            why = stderr[len(CANNOT_START) :].decode("utf-8", errors="replace").strip()
            raise _Failed(f"cannot start it: {why}")
        if status != 0:
            how = (
                f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
            )
            raise _Failed(how, stderr)
        try:
            return _parse_verdict(stdout)
        except _Failed as failure:
            raise _Failed(failure.why, stderr) from None

    def _message(self, failure: _Failed, index: int, total: int) -> str:
        message = f"judge command {self.command!r} failed on candidate {index + 1} of {total}: {failure.why}"
        tail = _stderr_tail(failure.stderr)
        return f"{message}; stderr: {tail}" if tail else message


def _run_command(
    argv: list[str], payload: bytes, timeout: float, cancel: threading.Event | None = None
) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with ``payload`` on stdin: ``(exit status, stdout, stderr tail)``.

    Reads at most :data:`MAX_STDOUT_BYTES` of stdout and keeps the last
    :data:`STDERR_TAIL_BYTES` of stderr, so memory stays bounded whatever the
    command writes. Whatever happens, the command's process group is killed
    before this returns or raises.

    :raises _Failed: cannot start, timed out, or too much output.
    :raises _Cancelled: ``cancel`` was set while it ran.
    """
    try:
        proc = subprocess.Popen(
            [*_REAPER, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            start_new_session=True,
        )
    except OSError as exc:
        raise _Failed(f"cannot start it: {exc.strerror or exc}") from None
    exchange = _Exchange(proc, payload, time.monotonic() + timeout, timeout, cancel)
    try:
        exchange.run()
    finally:
        _stop(proc)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        proc.wait()
    return proc.returncode, bytes(exchange.stdout), bytes(exchange.stderr)


class _Exchange:
    """One judge process's pipes: the payload written, stdout and the stderr tail read, in turn."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        payload: bytes,
        deadline: float,
        timeout: float,
        cancel: threading.Event | None,
    ) -> None:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self.proc, self.payload, self.sent = proc, payload, 0
        self.deadline, self.timeout, self.cancel = deadline, timeout, cancel
        self.stdout, self.stderr = bytearray(), bytearray()

    def check(self, now: float) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise _Cancelled
        if now >= self.deadline:
            raise _Failed(
                f"timed out after {self.timeout:g} s (raise --judge-timeout if it needs longer)",
                self.stderr,
            )

    def run(self) -> None:
        """Until both output pipes close and the process has exited (or a limit is hit)."""
        proc = self.proc
        with selectors.DefaultSelector() as selector:
            for stream, event in (
                (proc.stdin, selectors.EVENT_WRITE),
                (proc.stdout, selectors.EVENT_READ),
                (proc.stderr, selectors.EVENT_READ),
            ):
                assert stream is not None
                os.set_blocking(stream.fileno(), False)
                selector.register(stream, event)
            group_killed = False
            while selector.get_map():
                now = time.monotonic()
                self.check(now)
                for key, _event in selector.select(min(self.deadline - now, _POLL_SECONDS)):
                    if key.fileobj is proc.stdin:
                        self._write(selector, key.fd)
                    else:
                        self._read(selector, key.fileobj, key.fd)
                if not group_killed and _has_exited(proc):
                    # It has answered (and the reaper has killed what it started);
                    # nothing left in its group may hold the pipes open.
                    _kill_group(proc)
                    group_killed = True
        while not _has_exited(proc):  # closed its pipes but still running
            self.check(time.monotonic())
            time.sleep(_POLL_SECONDS / 5)

    def _write(self, selector: selectors.BaseSelector, fd: int) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            self.sent += os.write(fd, self.payload[self.sent : self.sent + _CHUNK])
        except BrokenPipeError:  # it stopped reading; what it prints still counts
            self.sent = len(self.payload)
        except BlockingIOError:
            return
        if self.sent >= len(self.payload):
            selector.unregister(stdin)
            stdin.close()

    def _read(self, selector: selectors.BaseSelector, source: Any, fd: int) -> None:
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        if not chunk:
            selector.unregister(source)
            source.close()
        elif source is self.proc.stdout:
            self.stdout += chunk
            if len(self.stdout) > MAX_STDOUT_BYTES:
                raise _Failed(
                    f"output too large: more than {_size(MAX_STDOUT_BYTES)} on stdout "
                    '(a verdict is one {"score": ...} object)',
                    self.stderr,
                )
        else:
            self.stderr += chunk
            del self.stderr[:-STDERR_TAIL_BYTES]


def _parse_verdict(stdout: bytes) -> Verdict:
    """The command's stdout as a :class:`Verdict`.

    :raises _Failed: not UTF-8, not JSON, not an object, no finite numeric
        ``score``, or a ``reasoning`` that is not a string.
    """
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise _Failed("printed output that is not UTF-8 on stdout") from None
    if not text.strip():
        raise _Failed('printed nothing on stdout; expected {"score": <number>}')
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Failed(
            f"printed malformed JSON on stdout ({exc.msg} at line {exc.lineno} column {exc.colno}): "
            f"{_excerpt(text)}"
        ) from None
    if not isinstance(data, dict):
        raise _Failed(
            f'printed JSON {_excerpt(text)} on stdout; expected an object {{"score": <number>}}'
        )
    if "score" not in data:
        raise _Failed(f'printed JSON without a "score": {_excerpt(text)}')
    score = data["score"]
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise _Failed(f"printed a non-numeric score {score!r}; the score must be a JSON number")
    try:
        value = float(score)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise _Failed(
            f"printed a non-finite score {_excerpt(str(score))}; the score must be a finite number"
        )
    reasoning = data.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, str):
        raise _Failed(
            f'printed a "reasoning" that is not a string: {_excerpt(json.dumps(reasoning))}'
        )
    return Verdict(value, reasoning)


def _has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """True once the command has exited, without reaping it.

    Until ``proc.wait()`` reaps it, its pid (which is also its process
    group's id) cannot be reused, so killing that group is always safe.
    """
    if proc.returncode is not None:
        return True
    if not hasattr(os, "waitid"):  # macOS before Python 3.13: reap, and skip the group kill
        return proc.poll() is not None
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End a run: the reaper kills every descendant and exits; then its group is killed."""
    if proc.returncode is None and not _has_exited(proc):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        while not _has_exited(proc) and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS / 10)
    _kill_group(proc)  # whatever the reaper could not reach (or a reaper that hung)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.returncode is not None:
        return  # reaped: the id may belong to someone else by now
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _stderr_tail(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", errors="replace").splitlines()]
    text = " | ".join(line for line in lines if line)
    return text if len(text) <= STDERR_IN_MESSAGE else "..." + text[-STDERR_IN_MESSAGE:]


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n % (1 << 20) == 0 else f"{n >> 10} KiB"


def _excerpt(text: str, limit: int = 80) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")
