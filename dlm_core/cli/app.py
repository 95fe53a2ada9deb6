"""What every command shares: the home folder, verbosity, plugins, documents.

Kept free of ML imports; plugins are discovered on first use only.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import click

from dlm_core.plugins import PluginHost
from dlm_core.store.home import dlm_home
from dlm_core.workspace import Workspace


@attrs.define
class App:
    """The global options and the lazily discovered plugin host."""

    home: Path
    verbose: bool = False
    _host: PluginHost | None = None
    _workspace: Workspace | None = None

    @property
    def host(self) -> PluginHost:
        if self._host is None:
            self._host = PluginHost.discover()
        return self._host

    @property
    def workspace(self) -> Workspace:
        """The core object every command runs through (plugins discovered on first use)."""
        if self._workspace is None:
            self._workspace = Workspace(self.home, self.host, say=self.note)
        return self._workspace

    def note(self, message: str) -> None:
        click.echo(message, err=True)


def make_app(home: str | None, verbose: bool) -> App:
    return App(dlm_home(home), verbose)


pass_app = click.make_pass_decorator(App)
