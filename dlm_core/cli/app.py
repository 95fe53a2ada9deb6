"""What every command shares: the home folder, verbosity, plugins, documents.

Kept free of ML imports; plugins are discovered on first use only.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import click

from dlm_core.document.io import read_document
from dlm_core.document.model import Document
from dlm_core.errors import StoreError
from dlm_core.plugins import PluginHost
from dlm_core.store.home import dlm_home
from dlm_core.store.store import Store


@attrs.define
class App:
    """The global options and the lazily discovered plugin host."""

    home: Path
    verbose: bool = False
    _host: PluginHost | None = None

    @property
    def host(self) -> PluginHost:
        if self._host is None:
            self._host = PluginHost.discover()
        return self._host

    def read(self, path: Path) -> Document:
        return read_document(path, self.host.section_types())

    def store_for(self, document: Document) -> Store | None:
        """The document's store, or None when it has no ``dlm_id`` yet."""
        return Store(self.home, document.dlm_id) if document.dlm_id else None

    def existing_store(self, document: Document, path: Path) -> Store:
        store = self.store_for(document)
        if store is None or not store.exists():
            raise StoreError(f"{path} has not been trained yet; run `dlm train {path}` first")
        return store

    def note(self, message: str) -> None:
        click.echo(message, err=True)


def make_app(home: str | None, verbose: bool) -> App:
    return App(dlm_home(home), verbose)


pass_app = click.make_pass_decorator(App)


