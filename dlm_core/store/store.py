"""The per-document store: adapter versions, ``current``, staged plans.

``$DLM_HOME/store/<dlm_id>/`` holds ``manifest.json``, ``adapters/vNNNN/``
(PEFT format plus ``run.json``), ``current`` (the live version),
``staged/`` (mined plans awaiting apply), ``metrics.sqlite`` and the lock.
A version is written into a hidden temporary folder and renamed into place
only once it is complete; ``current`` moves after that, so a crash never
leaves a half-written version visible or moves ``current`` backwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs

from dlm_core.atomic import write_text_atomic
from dlm_core.errors import StoreError
from dlm_core.fileformat import read_json, read_toml, write_json, write_toml
from dlm_core.store.lock import store_lock
from dlm_core.store.records import Manifest, RunRecord
from dlm_core.store.staged import StagedPlan

_VERSION_RE = re.compile(r"^v(\d{4,})$")
_PLAN_RE = re.compile(r"^run-(\d+)\.toml$")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def version_name(number: int) -> str:
    return f"v{number:04d}"


@attrs.frozen
class AdapterVersion:
    """One trained adapter in the store."""

    number: int
    path: Path

    @property
    def name(self) -> str:
        return version_name(self.number)

    @property
    def run(self) -> RunRecord | None:
        run_path = self.path / "run.json"
        return read_json(run_path, RunRecord) if run_path.exists() else None


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """The store of one document, found by its ``dlm_id``."""

    def __init__(self, home: Path, dlm_id: str) -> None:
        self.home = home
        self.dlm_id = dlm_id
        self.root = home / "store" / dlm_id

    # -- paths ----------------------------------------------------------

    @property
    def adapters_dir(self) -> Path:
        return self.root / "adapters"

    @property
    def staged_dir(self) -> Path:
        return self.root / "staged"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.sqlite"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def exists(self) -> bool:
        return self.manifest_path.exists()

    # -- manifest -------------------------------------------------------

    def ensure(self, document_path: Path, base_model: str) -> Manifest:
        """Create the store on first use; keep the manifest's document path current."""
        path = str(document_path.resolve())
        if self.exists():
            manifest = read_json(self.manifest_path, Manifest)
            if manifest.document_path != path or manifest.base_model != base_model:
                manifest = attrs.evolve(manifest, document_path=path, base_model=base_model)
                write_json(self.manifest_path, manifest)
            return manifest
        manifest = Manifest(self.dlm_id, utc_now(), path, base_model)
        self.adapters_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.manifest_path, manifest)
        return manifest

    def manifest(self) -> Manifest | None:
        return read_json(self.manifest_path, Manifest) if self.exists() else None

    # -- versions -------------------------------------------------------

    def versions(self) -> list[AdapterVersion]:
        """Every complete version, oldest first."""
        if not self.adapters_dir.is_dir():
            return []
        found = []
        for entry in self.adapters_dir.iterdir():
            match = _VERSION_RE.match(entry.name)
            if match and entry.is_dir():
                found.append(AdapterVersion(int(match.group(1)), entry))
        return sorted(found, key=lambda v: v.number)

    def version(self, number: int) -> AdapterVersion:
        for version in self.versions():
            if version.number == number:
                return version
        names = ", ".join(v.name for v in self.versions()) or "none yet"
        raise StoreError(f"no adapter version {version_name(number)}; versions: {names}")

    def current(self) -> AdapterVersion | None:
        pointer = self.root / "current"
        if not pointer.exists():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        match = _VERSION_RE.match(name)
        if not match:
            raise StoreError(f"{pointer} does not name a version ({name!r}); fix or delete it")
        return self.version(int(match.group(1)))

    def set_current(self, version: AdapterVersion) -> None:
        write_text_atomic(self.root / "current", version.name + "\n")

    @contextlib.contextmanager
    def new_version(self) -> Iterator[tuple[int, Path]]:
        """A temporary folder for the next version; renamed into place on success.

        Call inside the store lock. The folder is removed if the block raises.
        """
        self.adapters_dir.mkdir(parents=True, exist_ok=True)
        numbers = [v.number for v in self.versions()]
        number = (max(numbers) if numbers else 0) + 1
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version_name(number)}-", dir=self.adapters_dir))
        try:
            yield number, tmp
            tmp.chmod(0o755)  # mkdtemp makes it private; a version is an ordinary folder
            for written in tmp.rglob("*"):
                if written.is_file():
                    _fsync_file(written)
            final = self.adapters_dir / version_name(number)
            os.rename(tmp, final)
            _fsync_file(self.adapters_dir)  # the rename is durable before `current` moves
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def remove_stale_temporaries(self) -> int:
        """Delete folders left by a killed run (call inside the store lock)."""
        removed = 0
        if self.adapters_dir.is_dir():
            for entry in self.adapters_dir.iterdir():
                if entry.name.startswith(".tmp-"):
                    shutil.rmtree(entry, ignore_errors=True)
                    removed += 1
        return removed

    # -- staged plans ---------------------------------------------------

    def plan_path(self, run_id: int) -> Path:
        return self.staged_dir / f"run-{run_id:04d}.toml"

    def save_plan(self, plan: StagedPlan) -> Path:
        path = self.plan_path(plan.run_id)
        write_toml(path, plan)
        return path

    def plans(self) -> list[StagedPlan]:
        if not self.staged_dir.is_dir():
            return []
        plans = []
        for entry in sorted(self.staged_dir.iterdir()):
            if _PLAN_RE.match(entry.name):
                plans.append(read_toml(entry, StagedPlan))
        return sorted(plans, key=lambda p: p.run_id)

    def drop_plan(self, run_id: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.plan_path(run_id).unlink()

    # -- locking --------------------------------------------------------

    def lock(
        self, *, wait: bool = True, on_wait: Callable[[str], None] | None = None
    ) -> contextlib.AbstractContextManager[None]:
        return store_lock(self.root, wait=wait, on_wait=on_wait)
