"""dlm: train a LoRA adapter from a plain-text ``.dlm`` document, then improve
it with preference pairs mined from itself.

The core is small: the document format, the store, the mining loop and the
training phases. Everything concrete (samplers, judges, trainers) arrives as
a plugin through the ``dlm`` entry-point group; :data:`hookimpl` is the
marker those plugins use.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "dlm"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for plugin hook implementations: ``@hookimpl def dlm_judges(): ...``."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marker for hook specifications; used only by :mod:`dlm_core.hookspecs`."""

__all__ = ["PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
