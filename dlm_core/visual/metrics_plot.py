"""``dlm metrics --plot FILE``: choose the recorded runs and write them as PNG, SVG or a page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dlm_core.metrics.report import run_details
from dlm_core.visual import PlotError, check_target
from dlm_core.visual.pages import metrics_page
from dlm_core.visual.plots import RunFigure, choose_figures, render_png, render_svg

PLOT_SUFFIXES = (".png", ".svg", ".html")


def check_suffix(target: Path) -> str:
    """The picture format for ``target``, or a :class:`PlotError` naming the ones we write."""
    suffix = target.suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        written = ", ".join(PLOT_SUFFIXES)
        raise PlotError(
            f"cannot write a plot as {target.name!r}: use a file name ending in {written}"
        )
    check_target(target)
    return suffix


def write_plot(figures: Sequence[RunFigure], target: Path, *, title: str) -> None:
    """Write ``figures`` to ``target`` as PNG, SVG or a self-contained HTML page."""
    suffix = check_suffix(target)
    if suffix == ".png":
        target.write_bytes(render_png(figures))
    elif suffix == ".svg":
        target.write_text(render_svg(figures), encoding="utf-8")
    else:
        target.write_text(metrics_page(title, figures, render_svg(figures)), encoding="utf-8")


def plot_metrics(
    metrics_path: Path,
    target: Path,
    *,
    run_id: int | None = None,
    phase: str | None = None,
    title: str = "dlm metrics",
) -> list[RunFigure]:
    """``dlm metrics --plot``: choose the runs, draw them into ``target``; returns what was drawn."""
    check_suffix(target)
    figures = choose_figures(run_details(metrics_path), run_id=run_id, phase=phase)
    write_plot(figures, target, title=title)
    return figures
