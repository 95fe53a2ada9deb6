"""Pictures of the loop: plots of runs, report pages, and a TensorBoard sink.

:mod:`~dlm_core.visual.plots` turns recorded runs (training steps, mining
events) into figures; :mod:`~dlm_core.visual.pages` writes self-contained
HTML pages (``dlm metrics --plot x.html``, ``dlm compare --html``,
``dlm show --html``); :mod:`~dlm_core.visual.tensorboard` writes TensorBoard
event files during training. matplotlib and tensorboard are optional and
imported only when a picture or an event file is asked for, never by
``dlm --help``.
"""

from __future__ import annotations

from pathlib import Path

from dlm_core.errors import DlmError


class PlotError(DlmError):
    """A picture that cannot be drawn: nothing to plot, a format we do not write, a missing library."""


def check_target(target: Path) -> None:
    """A clear error now, before any work, when ``target`` cannot be written."""
    folder = target.parent
    if not folder.is_dir():
        raise PlotError(f"cannot write {target}: the folder {folder} does not exist")
    if target.is_dir():
        raise PlotError(f"cannot write {target}: it is a folder")
