"""Metrics in SQLite: runs, training steps, evals and mining events.

One ``metrics.sqlite`` per document store, in WAL mode so ``dlm metrics`` and
``dlm show`` can read while a run writes. A run is inserted as ``running``
and finished as ``succeeded``, ``failed`` or ``interrupted``; a run whose
process died without finishing (SIGKILL, power loss) is reported as
``failed`` on the next read.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from dlm_core.errors import DiskFull, DlmError
from dlm_core.fileformat import DamagedFile
from dlm_core.outcomes import Config, Summary, config_of, summary_of
from dlm_core.store.store import utc_now

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    phase TEXT,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    version INTEGER,
    seed INTEGER,
    config TEXT NOT NULL DEFAULT '{}',
    summary TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    step INTEGER NOT NULL,
    loss REAL,
    learning_rate REAL,
    grad_norm REAL,
    extra TEXT NOT NULL DEFAULT '{}',
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evals (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    step INTEGER,
    name TEXT NOT NULL,
    value REAL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mining_events (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    prompt TEXT,
    reason TEXT,
    data TEXT NOT NULL DEFAULT '{}',
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS steps_run ON steps(run_id, step);
CREATE INDEX IF NOT EXISTS evals_run ON evals(run_id);
CREATE INDEX IF NOT EXISTS mining_run ON mining_events(run_id, seq);
"""


@attrs.frozen
class RunRow:
    id: int
    kind: str
    phase: str | None
    status: str
    started_at: str
    finished_at: str | None
    version: int | None
    seed: int | None
    config: dict[str, Any]
    summary: dict[str, Any]
    error: str | None

    @property
    def outcome(self) -> Summary | None:
        """The summary as its typed value (:mod:`dlm_core.outcomes`); None when there is none."""
        return summary_of(self.kind, self.summary)

    @property
    def settings(self) -> Config | None:
        """The run's configuration as its typed value; None for a kind without one."""
        return config_of(self.kind, self.config)


@attrs.frozen
class StepRow:
    run_id: int
    step: int
    loss: float | None
    learning_rate: float | None
    grad_norm: float | None
    extra: dict[str, Any]


@attrs.frozen
class EvalRow:
    run_id: int
    step: int | None
    name: str
    value: float | None


@attrs.frozen
class MiningEventRow:
    run_id: int
    seq: int
    event: str
    prompt: str | None
    reason: str | None
    data: dict[str, Any]


# What SQLite says when the file is not a database, and when the disk is full.
_DAMAGED = ("file is not a database", "database disk image is malformed")
_FULL = ("database or disk is full", "disk i/o error")


def _explained(path: Path, exc: sqlite3.DatabaseError) -> DlmError | None:
    """The user's error for a damaged file or a full disk; None for anything else (a bug)."""
    message = str(exc).lower()
    if any(text in message for text in _DAMAGED):
        return DamagedFile(
            f"{path} is damaged ({exc}); move it aside (`mv {path} {path}.damaged`) and dlm "
            "starts a fresh one (the document and the adapter versions do not depend on it)"
        )
    if any(text in message for text in _FULL):
        return DiskFull(
            f"cannot write {path}: no space left on the device ({exc}); what it recorded before "
            "is kept; free some space and run the command again"
        )
    return None


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MetricsDB:
    """A connection to one store's ``metrics.sqlite``."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.conn = connection

    @classmethod
    @contextmanager
    def open(cls, path: Path, *, readonly: bool = False) -> Iterator[MetricsDB]:
        """A connection for the block; a damaged file or a full disk is one line naming ``path``.

        :raises DamagedFile: the file is not a readable database (move it aside).
        :raises DiskFull: no space left to write it.
        """
        conn: sqlite3.Connection | None = None
        try:
            if readonly:
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the header
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(SCHEMA)
            conn.row_factory = sqlite3.Row
            yield cls(conn)
        except sqlite3.DatabaseError as exc:
            explained = _explained(path, exc)
            if explained is None:
                raise
            raise explained from exc
        finally:
            if conn is not None:
                conn.close()

    # -- writing --------------------------------------------------------

    def start_run(
        self,
        kind: str,
        *,
        phase: str | None = None,
        seed: int | None = None,
        version: int | None = None,
        config: dict[str, Any] | None = None,
    ) -> int:
        with self.conn:
            cursor = self.conn.execute(
                "INSERT INTO runs (kind, phase, status, started_at, version, seed, config, pid) "
                "VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                (kind, phase, utc_now(), version, seed, json.dumps(config or {}), os.getpid()),
            )
        return int(cursor.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        status: str,
        *,
        summary: dict[str, Any] | None = None,
        version: int | None = None,
        error: str | None = None,
    ) -> None:
        with self.conn:
            self.conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, summary = ?, error = ?, "
                "version = COALESCE(?, version) WHERE id = ?",
                (status, utc_now(), json.dumps(summary or {}), error, version, run_id),
            )

    @contextmanager
    def stops_recorded(
        self, run_id: int, *, interrupted: str = "interrupted by the user"
    ) -> Iterator[None]:
        """Record the run as interrupted (Ctrl-C) or failed (any other exception) if the body stops, then re-raise.

        :param interrupted: the error text of an interrupted run.
        """
        try:
            yield
        except KeyboardInterrupt:
            self.finish_run(run_id, "interrupted", error=interrupted)
            raise
        except BaseException as exc:
            self.finish_run(run_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
            raise

    def log_steps(
        self,
        run_id: int,
        rows: list[tuple[int, float | None, float | None, float | None, dict[str, Any]]],
    ) -> None:
        now = utc_now()
        with self.conn:
            self.conn.executemany(
                "INSERT INTO steps (run_id, step, loss, learning_rate, grad_norm, extra, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, step, loss, lr, gn, json.dumps(extra), now)
                    for step, loss, lr, gn, extra in rows
                ],
            )

    def log_eval(
        self, run_id: int, name: str, value: float | None, step: int | None = None
    ) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT INTO evals (run_id, step, name, value, at) VALUES (?, ?, ?, ?, ?)",
                (run_id, step, name, value, utc_now()),
            )

    def log_mining_event(
        self,
        run_id: int,
        event: str,
        *,
        prompt: str | None = None,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        with self.conn:
            seq = self.conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM mining_events WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            self.conn.execute(
                "INSERT INTO mining_events (run_id, seq, event, prompt, reason, data, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, seq, event, prompt, reason, json.dumps(data or {}), utc_now()),
            )

    # -- reading --------------------------------------------------------

    def runs(
        self, *, run_id: int | None = None, phase: str | None = None, kind: str | None = None
    ) -> list[RunRow]:
        query, args = "SELECT * FROM runs WHERE 1=1", list[int | str]()
        if run_id is not None:
            query += " AND id = ?"
            args.append(run_id)
        if phase is not None:
            query += " AND phase = ?"
            args.append(phase)
        if kind is not None:
            query += " AND kind = ?"
            args.append(kind)
        rows = self.conn.execute(query + " ORDER BY id", args).fetchall()
        return [self._run(row) for row in rows]

    def _run(self, row: sqlite3.Row) -> RunRow:
        status = row["status"]
        error = row["error"]
        if status == "running" and not _pid_alive(row["pid"]):
            status, error = (
                "failed",
                error or "the process ended without finishing (killed or crashed)",
            )
        return RunRow(
            id=row["id"],
            kind=row["kind"],
            phase=row["phase"],
            status=status,
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            version=row["version"],
            seed=row["seed"],
            config=json.loads(row["config"] or "{}"),
            summary=json.loads(row["summary"] or "{}"),
            error=error,
        )

    def steps(self, run_id: int) -> list[StepRow]:
        rows = self.conn.execute(
            "SELECT * FROM steps WHERE run_id = ? ORDER BY step", (run_id,)
        ).fetchall()
        return [
            StepRow(
                r["run_id"],
                r["step"],
                r["loss"],
                r["learning_rate"],
                r["grad_norm"],
                json.loads(r["extra"]),
            )
            for r in rows
        ]

    def evals(self, run_id: int) -> list[EvalRow]:
        rows = self.conn.execute(
            "SELECT * FROM evals WHERE run_id = ? ORDER BY rowid", (run_id,)
        ).fetchall()
        return [EvalRow(r["run_id"], r["step"], r["name"], r["value"]) for r in rows]

    def mining_events(self, run_id: int) -> list[MiningEventRow]:
        rows = self.conn.execute(
            "SELECT * FROM mining_events WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        return [
            MiningEventRow(
                r["run_id"], r["seq"], r["event"], r["prompt"], r["reason"], json.loads(r["data"])
            )
            for r in rows
        ]

    def latest_run(self, kind: str) -> RunRow | None:
        """The newest run of ``kind`` (``mine``, ``train``...), or None."""
        runs = self.runs(kind=kind)
        return runs[-1] if runs else None
