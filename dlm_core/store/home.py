"""Where dlm keeps its state: ``$DLM_HOME`` (default ``~/.dlm``) or ``--home``."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "DLM_HOME"


def dlm_home(override: Path | str | None = None) -> Path:
    """The dlm home folder: ``--home``, else ``$DLM_HOME``, else ``~/.dlm``."""
    if override is not None:
        return Path(override).expanduser().resolve()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".dlm"
