"""One home for a command's run: the lock, the read, the store, the plugins, the record.

Every command that works on a document goes through a :class:`Workspace`
(what the whole command shares: the dlm home, the plugin host, how to talk
to the user) and opens a :class:`DocumentRun` for its document. The run
takes the locks *before* reading the document, so what it reads is what it
trains on or writes back; it resolves the store, builds the plugin context
and one shared model session per adapter, opens and closes the metrics run
around the work, turns a plugin's own exception into one error line naming
the plugin, and persists the command's typed outcome. Commands (and
``dlm loop``) are short compositions of these steps, never their own copy
of the plumbing.

Locks: a writing command holds the *document lock* (keyed by the document's
resolved path, so a symlink and its target share it) for its whole run,
and the *store lock* once the document has a store. Taking them in that
order, always, keeps two commands from waiting on each other; the document
lock also covers giving a new document its ``dlm_id``, so two first
``dlm train`` runs never write two identities.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs

from dlm_core.context import PluginContext
from dlm_core.document.identity import with_identity
from dlm_core.document.io import read_text, write_document
from dlm_core.document.model import Document
from dlm_core.document.parser import parse
from dlm_core.document.types import SectionType
from dlm_core.errors import DlmError, NotTrained
from dlm_core.fileformat import converter
from dlm_core.metrics.db import MetricsDB
from dlm_core.models.registry import DEFAULT_BASE, BaseModelRef, parse_base
from dlm_core.models.session import ModelSession
from dlm_core.plugins import PluginHost
from dlm_core.protocols import Judge, Sampler, Trainer
from dlm_core.store.lock import document_lock
from dlm_core.store.ownership import check_owner, claim_store
from dlm_core.store.store import AdapterVersion, Store, resolve_version

T = TypeVar("T")


@attrs.define
class Workspace:
    """What one ``dlm`` command shares across the documents it touches.

    :ivar home: the dlm home folder (stores, converted bases, locks).
    :ivar host: the plugin host (discovered plugins, or a test's own).
    :ivar say: how to tell the user something (stderr in the CLI).
    """

    home: Path
    host: PluginHost
    say: Callable[[str], None] = print

    @functools.cached_property
    def types(self) -> dict[str, SectionType]:
        """Fence name -> section type, from every registered plugin."""
        return self.host.section_types()

    def read(self, path: Path) -> Document:
        """Parse ``path`` without locking: for commands that only look."""
        return parse(read_text(path), path=path, types=self.types)

    def store_of(self, document: Document) -> Store | None:
        """The document's store, or None while it has no ``dlm_id``."""
        return Store(self.home, document.dlm_id) if document.dlm_id else None

    @contextlib.contextmanager
    def open(self, path: Path, *, lock: bool = True, wait: bool = True) -> Iterator[DocumentRun]:
        """The document at ``path``, read after its locks are taken.

        :param lock: hold the document and store locks for the whole block
            (every command that writes the document or the store). Commands
            that only read versions (``prompt``, ``compare``) pass False.
        :param wait: wait for a busy document (True) or fail at once (``--no-wait``).
        """
        with contextlib.ExitStack() as locks:
            if lock:
                locks.enter_context(document_lock(self.home, path, wait=wait, on_wait=self.say))
            text = read_text(path)
            document = parse(text, path=path, types=self.types)
            run = DocumentRun(self, path, document, text, locks, locked=lock, wait=wait)
            run._attach_store()
            try:
                yield run
            finally:
                run._release_models()


@attrs.define(eq=False)
class DocumentRun:
    """This command, on this document: everything a command needs, from one place."""

    workspace: Workspace
    path: Path
    document: Document
    text: str
    _locks: contextlib.ExitStack
    locked: bool
    wait: bool = True
    store: Store | None = None
    _store_locked: bool = False
    _store_claimed: bool = False
    _sessions: dict[tuple[str | None, str | None], ModelSession] = attrs.Factory(dict)

    # -- the document ---------------------------------------------------

    @property
    def say(self) -> Callable[[str], None]:
        return self.workspace.say

    @property
    def types(self) -> dict[str, SectionType]:
        return self.workspace.types

    @property
    def digest(self) -> str:
        """sha256 of the text this run read (or last wrote)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def base(self) -> BaseModelRef:
        frontmatter = self.document.frontmatter
        spec = frontmatter.base_model if frontmatter is not None else DEFAULT_BASE
        return parse_base(spec, relative_to=self.path.parent)

    def write(self, document: Document) -> None:
        """Write ``document`` back (atomically, keeping ``.bak``); the run now holds it."""
        if not self.locked:
            raise DlmError("internal: a document opened without its lock cannot be written")
        write_document(self.path, document, self.types)
        self.document = document
        self.text = read_text(self.path)

    def reread(self) -> Document:
        """The file as it is now (an editor may have changed it; dlm's writers are locked out)."""
        self.text = read_text(self.path)
        self.document = parse(self.text, path=self.path, types=self.types)
        return self.document

    def assign_identity(self) -> None:
        """Give a new document its ``dlm_id`` (and frontmatter), under the document lock."""
        document, note = with_identity(self.document, self.path)
        if note is not None:
            self.write(document)
            self.say(f"{self.path}: {note}")
        self._attach_store()

    def create_store(self) -> Store:
        """The store, made on first use (``dlm train``): identity given, locked, manifest kept current."""
        self.assign_identity()
        assert self.store is not None and self.document.frontmatter is not None
        self._lock_store()
        claim_store(self.store, self.path, self.document.frontmatter.base_model, self.say)
        self._store_claimed = True
        return self.store

    def _attach_store(self) -> None:
        """Find the store of a document with an identity; lock it if it exists already.

        A store that does not exist yet is not created (nor its folder) until
        :meth:`create_store`: a command that fails on an untrained document
        leaves nothing behind.
        """
        if self.store is None and self.document.dlm_id is not None:
            self.store = Store(self.workspace.home, self.document.dlm_id)
        if self.store is not None and self.store.exists():
            self._lock_store()
            self._claim_store()

    def _claim_store(self) -> None:
        """A copy of the store's own document is refused; a moved document takes its store along.

        See :mod:`dlm_core.store.ownership`; a run that holds no lock only checks.
        """
        if self._store_claimed or self.store is None:
            return
        if self.locked:
            claim_store(self.store, self.path, say=self.say)
        else:
            check_owner(self.store, self.path)
        self._store_claimed = True

    def _lock_store(self) -> None:
        if self.locked and not self._store_locked:
            assert self.store is not None
            self._locks.enter_context(self.store.lock(wait=self.wait, on_wait=self.say))
            self._store_locked = True

    # -- the store ------------------------------------------------------

    def trained_store(self, hint: str = "") -> Store:
        """The store, which must already hold a trained adapter; else :class:`NotTrained`."""
        if self.store is None or not self.store.exists():
            raise NotTrained(
                f"{self.path} has not been trained yet; run `dlm train {self.path}` first{hint}"
            )
        return self.store

    def current(self, hint: str = "") -> AdapterVersion:
        """The live adapter version; :class:`NotTrained` (saying what to run) when there is none."""
        current = self.trained_store(hint).current()
        if current is None:
            raise NotTrained(
                f"{self.path} has no adapter version yet; run `dlm train {self.path}` first{hint}"
            )
        return current

    def version(self, spec: str) -> AdapterVersion | None:
        """``base`` -> None, ``current``, ``3`` or ``v0003`` -> that version."""
        store = self.trained_store()
        if spec.strip().lower() == "current":
            return self.current()
        return resolve_version(store, spec)

    # -- models and plugins ---------------------------------------------

    def session(
        self, adapter: AdapterVersion | None = None, *, device: str | None = None
    ) -> ModelSession:
        """The model session for ``adapter`` (None: the bare base), one per adapter and device."""
        key = (str(adapter.path) if adapter else None, device)
        if key not in self._sessions:
            frontmatter = self.document.frontmatter
            self._sessions[key] = ModelSession(
                self.base,
                home=self.workspace.home,
                adapter=adapter.path if adapter else None,
                device=device,
                system_prompt=frontmatter.system_prompt if frontmatter else None,
                precision=frontmatter.training.precision if frontmatter else None,
                say=self.say,
            )
        return self._sessions[key]

    def drop_session(
        self, adapter: AdapterVersion | None = None, *, device: str | None = None
    ) -> None:
        """Let one adapter's models go (before the next one loads)."""
        self._sessions.pop((str(adapter.path) if adapter else None, device), None)
        gc.collect()

    def context(
        self,
        adapter: AdapterVersion | None,
        *,
        device: str | None = None,
        options: dict[str, Any] | None = None,
        session: ModelSession | None = None,
        progress: bool = True,
    ) -> PluginContext:
        """What a plugin factory receives, sharing this run's session for ``adapter``."""
        return PluginContext(
            document=self.document,
            document_path=self.path,
            base=self.base,
            adapter_path=adapter.path if adapter else None,
            home=self.workspace.home,
            device=device,
            options=dict(options or {}),
            say=self.say,
            session=session or self.session(adapter, device=device),
            show_progress=progress,
        )

    def sampler(self, name: str, context: PluginContext) -> Sampler:
        return self.workspace.host.sampler(name, context)

    def judge(self, selector: str, context: PluginContext) -> Judge:
        return self.workspace.host.judge(selector, context)

    def trainer(self, name: str, context: PluginContext) -> Trainer:
        return self.workspace.host.trainer(name, context)

    def _release_models(self) -> None:
        if self._sessions:
            self._sessions.clear()
            gc.collect()

    # -- the record -----------------------------------------------------

    @contextlib.contextmanager
    def recorded(
        self,
        kind: str,
        *,
        phase: str | None = None,
        seed: int | None = None,
        version: int | None = None,
        config: object = None,
        interrupted: str = "interrupted by the user",
    ) -> Iterator[Recording]:
        """A metrics run around the block: started now, failed or interrupted if the block
        stops, and finished with the typed summary the block hands to :meth:`Recording.finish`."""
        store = self.trained_store() if kind != "train" else self.store
        if store is None:
            raise NotTrained(f"{self.path} has no store yet; run `dlm train {self.path}` first")
        with MetricsDB.open(store.metrics_path) as db:
            plain = converter.unstructure(config) if config is not None else {}
            run_id = db.start_run(kind, phase=phase, seed=seed, version=version, config=plain)
            recording = Recording(db, run_id)
            with db.stops_recorded(run_id, interrupted=interrupted):
                yield recording
            if not recording.finished:
                raise DlmError(f"internal: the {kind} run {run_id} ended without a summary")


@attrs.define(eq=False)
class Recording:
    """The open metrics run of a :meth:`DocumentRun.recorded` block."""

    db: MetricsDB
    run_id: int
    finished: bool = False

    def finish(
        self, summary: object, *, status: str = "succeeded", version: int | None = None
    ) -> None:
        """Store ``summary`` (a typed value, see :mod:`dlm_core.outcomes`) and close the run."""
        self.db.finish_run(
            self.run_id, status, summary=converter.unstructure(summary), version=version
        )
        self.finished = True
