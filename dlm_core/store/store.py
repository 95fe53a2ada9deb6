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

_VERSION_RE = re.compile(r"v(\d{4,})")
_PLAN_RE = re.compile(r"run-(\d+)\.toml")


class DanglingCurrent(StoreError):
    """``current`` names an adapter version that is not in the store."""


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
        """Create the store on first use; keep the manifest's base model current.

        The recorded document path changes only through
        :func:`dlm_core.store.ownership.claim_store`, which tells a moved
        document from a copy.
        """
        if self.exists():
            manifest = read_json(self.manifest_path, Manifest)
            if manifest.base_model != base_model:
                manifest = attrs.evolve(manifest, base_model=base_model)
                write_json(self.manifest_path, manifest)
            return manifest
        manifest = Manifest(self.dlm_id, utc_now(), str(document_path.resolve()), base_model)
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
            match = _VERSION_RE.fullmatch(entry.name)
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
        """The live version, or None before the first one.

        :raises DanglingCurrent: ``current`` names a version that is not
            there (its folder was deleted) or no version at all; the
            message gives the command that repairs it.
        """
        pointer = self.current_pointer
        if not pointer.exists():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        match = _VERSION_RE.fullmatch(name)
        number = int(match.group(1)) if match else None
        found = [v for v in self.versions() if v.number == number]
        if found:
            return found[0]
        what = f"names {name}, which is missing" if match else f"does not name a version ({name!r})"
        names = ", ".join(v.name for v in self.versions()) or "none"
        raise DanglingCurrent(
            f"{pointer} {what} (versions: {names}); run `dlm doctor --repair {self._document()}` "
            "to point it at the newest complete version"
        )

    @property
    def current_pointer(self) -> Path:
        return self.root / "current"

    def _document(self) -> str:
        """The document path for a message: from the manifest, or a placeholder."""
        try:
            manifest = self.manifest()
        except StoreError:
            manifest = None
        return manifest.document_path if manifest is not None else "<document>"

    def resolve(self, spec: str) -> AdapterVersion | None:
        """A version as a user writes it: ``base`` -> None, ``current``, ``3`` or ``v0003``."""
        return resolve_version(self, spec)

    def set_current(self, version: AdapterVersion) -> None:
        write_text_atomic(self.current_pointer, version.name + "\n")

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
        """Delete folders and plan files left by a killed run (call inside the store lock)."""
        removed = 0
        if self.adapters_dir.is_dir():
            for entry in self.adapters_dir.iterdir():
                if entry.name.startswith(".tmp-"):
                    shutil.rmtree(entry, ignore_errors=True)
                    removed += 1
        if self.staged_dir.is_dir():
            for entry in self.staged_dir.glob(".run-*.toml.applying"):
                with contextlib.suppress(OSError):
                    entry.unlink()
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
            if _PLAN_RE.fullmatch(entry.name):
                plans.append(read_toml(entry, StagedPlan))
        return sorted(plans, key=lambda p: p.run_id)

    def drop_plan(self, run_id: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.plan_path(run_id).unlink()

    @contextlib.contextmanager
    def taking_plans(self, run_ids: list[int]) -> Iterator[None]:
        """Take plans out of ``staged/`` for the block: all back if it fails, all gone if it succeeds.

        The plans are first renamed aside (a rename that fails changes
        nothing), then the block runs (``apply`` writes the document), then
        the renamed files are deleted. So a failure leaves either nothing done
        (plans staged, document untouched) or everything done; a file that
        cannot be deleted afterwards is no longer a staged plan and is
        cleaned up by :meth:`remove_stale_temporaries`.
        """
        moved: list[tuple[Path, Path]] = []
        try:
            for run_id in run_ids:
                source = self.plan_path(run_id)
                aside = source.with_name(f".{source.name}.applying")
                os.rename(source, aside)
                moved.append((source, aside))
        except OSError as exc:
            for source, aside in reversed(moved):
                os.rename(aside, source)
            raise StoreError(
                f"cannot take the staged plan {exc.filename} for applying ({exc.strerror}); nothing was changed"
            ) from None
        try:
            yield
        except BaseException:
            for source, aside in reversed(moved):
                os.rename(aside, source)
            raise
        for _source, aside in moved:
            with contextlib.suppress(OSError):
                aside.unlink()

    # -- locking --------------------------------------------------------

    def lock(
        self, *, wait: bool = True, on_wait: Callable[[str], None] | None = None
    ) -> contextlib.AbstractContextManager[None]:
        return store_lock(self.root, wait=wait, on_wait=on_wait)


def resolve_version(store: Store, spec: str) -> AdapterVersion | None:
    """``base`` → None; ``current``; ``3`` or ``v0003`` → that version."""
    text = spec.strip().lower()
    if text == "base":
        return None
    if text == "current":
        current = store.current()
        if current is None:
            raise StoreError("there is no current version yet; run `dlm train` first")
        return current
    match = re.fullmatch(r"v?(\d+)", text)
    if not match:
        raise StoreError(f"version {spec!r} is not a number, vNNNN, 'current' or 'base'")
    return store.version(int(match.group(1)))
