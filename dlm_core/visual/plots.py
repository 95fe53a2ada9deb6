"""Figures of recorded runs, drawn with matplotlib's Agg canvas.

A training run is drawn as its loss and learning rate per step, and for a
preference run also the reward margin and reward accuracy its trainer logged
(TRL's ``rewards/margins`` and ``rewards/accuracies`` in each step's extra
metrics). A mine run is drawn as the histogram of its pairs' margins
(chosen minus rejected score) against the threshold, and its skips by
reason. Figures are first described as plain values (:class:`RunFigure` and
its panels), so what gets drawn is decided, and testable, without
matplotlib; :func:`render_png` and :func:`render_svg` draw them. matplotlib
is optional (``pip install 'dlm-core[plots]'``) and imported only here, only
when a picture is drawn; pyplot is never used, so no display or global
state is involved.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from dlm_core.metrics.report import RunDetail, mine_facts, trainer_of
from dlm_core.outcomes import LoopSummary
from dlm_core.visual import PlotError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: What ``dlm metrics --plot`` writes, by file extension.

#: Every panel has the same size, two panels to a row, each run on rows of its own.
PANEL_INCHES = (4.8, 3.0)
COLUMNS = 2
DPI = 100

INSTALL_HINT = "pip install 'dlm-core[plots]'"

#: The step metrics preference trainers log (TRL's names, DPO and ORPO alike).
MARGIN_KEY = "rewards/margins"
ACCURACY_KEY = "rewards/accuracies"

_SKIP_MARGIN = re.compile(r"^margin (-?[0-9.eE+-]+|nan|inf|-inf)\b")

# One colour per quantity, the same in every figure.
COLOURS = {
    "loss": "#1f77b4",
    "learning rate": "#9467bd",
    "reward margin": "#2ca02c",
    "reward accuracy": "#ff7f0e",
    "kept": "#2ca02c",
    "below threshold": "#b0b0b0",
    "over max pairs": "#8c564b",
    "skips": "#d62728",
    "win rate": "#1f77b4",
}


@attrs.frozen
class LinePanel:
    """One quantity against the optimizer step."""

    title: str
    quantity: str
    steps: list[int]
    values: list[float]
    limits: tuple[float, float] | None = None


@attrs.frozen
class MarginPanel:
    """Mined margins (chosen minus rejected score), kept and skipped, against the threshold."""

    title: str
    kept: list[float]
    below_threshold: list[float]
    over_max_pairs: list[float]
    threshold: float | None


@attrs.frozen
class SkipPanel:
    """How many prompts gave no pair, by reason."""

    title: str
    reasons: list[str]
    counts: list[int]


@attrs.frozen
class RoundsPanel:
    """``dlm loop``: each round's held-out win rate over its parent, with its 95% interval."""

    title: str
    rounds: list[int]
    win_rates: list[float]
    ci_low: list[float]
    ci_high: list[float]


Panel = LinePanel | MarginPanel | SkipPanel | RoundsPanel


@attrs.frozen
class RunFigure:
    """What is drawn for one run: a caption and its panels, in reading order."""

    run_id: int
    kind: str
    phase: str | None
    status: str
    version: int | None
    caption: str
    panels: list[Panel]

    @property
    def rows(self) -> int:
        return math.ceil(len(self.panels) / COLUMNS)


# -- deciding what to draw ----------------------------------------------------


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _series(points: Iterable[tuple[int, Any]]) -> tuple[list[int], list[float]]:
    steps, values = [], []
    for step, value in points:
        if _finite(value):
            steps.append(int(step))
            values.append(float(value))
    return steps, values


def _version(version: int | None) -> str:
    return f"v{version:04d}" if version else "no version"


def describe_run(detail: RunDetail) -> str:
    """``run 3: preference (dpo), v0002, succeeded``: how a run is named in captions and pages."""
    run = detail.run
    if run.kind == "train":
        phase, trainer = run.phase or "train", trainer_of(run)
        what = phase + (f" ({trainer})" if trainer and trainer != phase else "")
    else:
        what = run.kind
    return f"run {run.id}: {what}, {_version(run.version)}, {run.status}"


def _training_panels(detail: RunDetail) -> list[Panel]:
    run, steps = detail.run, detail.steps
    label = f"run {run.id} {run.phase or 'train'}"
    panels: list[Panel] = []
    wanted = [
        ("loss", [(s.step, s.loss) for s in steps], None),
        ("learning rate", [(s.step, s.learning_rate) for s in steps], None),
        ("reward margin", [(s.step, s.extra.get(MARGIN_KEY)) for s in steps], None),
        ("reward accuracy", [(s.step, s.extra.get(ACCURACY_KEY)) for s in steps], (-0.05, 1.05)),
    ]
    for quantity, points, limits in wanted:
        xs, ys = _series(points)
        if xs:
            panels.append(LinePanel(f"{label}: {quantity}", quantity, xs, ys, limits))
    return panels


def _skip_margin(data: dict[str, Any], reason: str | None) -> float | None:
    """The margin of a skipped pair, when its skip recorded one."""
    if _finite(data.get("margin")):
        return float(data["margin"])
    if reason in ("below_threshold", "over_max_pairs"):
        detail = str(data.get("detail", ""))
        if detail == "a tie":  # the best and the worst candidate scored the same
            return 0.0
        match = _SKIP_MARGIN.match(detail)
        if match and _finite(value := float(match.group(1))):
            return value
    return None


def _mining_panels(detail: RunDetail) -> list[Panel]:
    run = detail.run
    kept: list[float] = []
    skipped: dict[str, list[float | None]] = {}
    for event in detail.mining_events:
        if event.event == "pair" and _finite(event.data.get("margin")):
            kept.append(float(event.data["margin"]))
        elif event.event == "skip":
            reason = event.reason or "unknown"
            skipped.setdefault(reason, []).append(_skip_margin(event.data, reason))
    threshold = mine_facts(run).threshold
    panels: list[Panel] = []
    below = [m for m in skipped.get("below_threshold", []) if m is not None]
    over = [m for m in skipped.get("over_max_pairs", []) if m is not None]
    if kept or below or over:
        panels.append(
            MarginPanel(
                f"run {run.id} mine: pair margins",
                kept,
                below,
                over,
                threshold if _finite(threshold) else None,
            )
        )
    if skipped:
        reasons = sorted(skipped, key=lambda r: (-len(skipped[r]), r))
        panels.append(
            SkipPanel(
                f"run {run.id} mine: prompts skipped", reasons, [len(skipped[r]) for r in reasons]
            )
        )
    return panels


def nothing_to_plot(detail: RunDetail) -> str:
    """Why a run draws no picture, in the user's words."""
    run = detail.run
    if run.kind in ("train", "mine"):
        what = (
            f"run {run.id} ({run.phase or 'train'})"
            if run.kind == "train"
            else f"mine run {run.id}"
        )
        recorded = "training step" if run.kind == "train" else "mining event"
        if run.error:
            return f"{what} {run.status} before recording any {recorded} ({run.error}); nothing to plot"
        yet = " yet" if run.status == "running" else ""
        return f"{what} ({run.status}) recorded no {recorded}s{yet}; nothing to plot"
    if run.kind == "compare":
        return f"run {run.id} is a compare run; `dlm compare ... --html FILE` draws comparisons"
    if run.kind == "loop":
        return f"loop run {run.id} ({run.status}) finished no checked round; nothing to plot"
    return f"run {run.id} is a {run.kind!r} run; only training, mining and loop runs are plotted"


def _loop_panels(detail: RunDetail) -> list[Panel]:
    summary = detail.run.outcome
    if not isinstance(summary, LoopSummary):
        return []
    checked = [r for r in summary.rounds if r.verdict is not None]
    if not checked:
        return []
    return [
        RoundsPanel(
            f"run {detail.run.id} loop: held-out win rate per round",
            [r.round for r in checked],
            [r.verdict.win_rate for r in checked if r.verdict],
            [r.verdict.ci_low for r in checked if r.verdict],
            [r.verdict.ci_high for r in checked if r.verdict],
        )
    ]


PLOTTED = ("train", "mine", "loop")
"""The run kinds that draw a figure."""


def run_figure(detail: RunDetail) -> RunFigure | None:
    """The figure of one run, or None when it recorded nothing to draw."""
    run = detail.run
    if run.kind == "train":
        panels = _training_panels(detail)
    elif run.kind == "mine":
        panels = _mining_panels(detail)
    elif run.kind == "loop":
        panels = _loop_panels(detail)
    else:
        panels = []
    if not panels:
        return None
    return RunFigure(
        run.id, run.kind, run.phase, run.status, run.version, describe_run(detail), panels
    )


def choose_figures(
    details: Sequence[RunDetail], *, run_id: int | None = None, phase: str | None = None
) -> list[RunFigure]:
    """The figures ``dlm metrics --plot`` draws.

    ``run_id``: that run. ``phase``: the latest training run of that phase
    with recorded steps. Neither: the latest training run of each phase and
    the latest mine run, each among those that recorded something to draw.
    A choice that leaves nothing to draw is a :class:`PlotError`.
    """
    if run_id is not None:
        chosen = [d for d in details if d.run.id == run_id]
        if not chosen:
            raise PlotError(f"no run {run_id} is recorded; `dlm metrics PATH` lists the runs")
        figure = run_figure(chosen[0])
        if figure is None:
            raise PlotError(nothing_to_plot(chosen[0]))
        return [figure]
    latest: dict[tuple[str, str | None], RunFigure] = {}
    for detail in details:
        run = detail.run
        if run.kind not in PLOTTED or (
            phase is not None and (run.kind, run.phase) != ("train", phase)
        ):
            continue
        figure = run_figure(detail)
        if figure is not None:
            latest[(run.kind, run.phase)] = figure  # details come oldest first
    if not latest:
        if phase is not None:
            raise PlotError(f"no {phase} training run recorded any steps; nothing to plot")
        raise PlotError(
            "no run recorded training steps or mining events yet; nothing to plot (run `dlm train` first)"
        )
    return sorted(latest.values(), key=lambda f: f.run_id)


def figure_pixels(figures: Sequence[RunFigure]) -> tuple[int, int]:
    """The (width, height) in pixels of the PNG that :func:`render_png` writes."""
    rows = sum(f.rows for f in figures)
    return round(COLUMNS * PANEL_INCHES[0] * DPI), round(rows * PANEL_INCHES[1] * DPI)


# -- drawing ------------------------------------------------------------------


def _matplotlib() -> None:
    """Fail with the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotError(
            f"plots need matplotlib, which is not installed; install it with `{INSTALL_HINT}`"
        ) from None


def _draw(figures: Sequence[RunFigure]) -> Figure:
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not figures:
        raise PlotError("nothing to plot")
    width, height = figure_pixels(figures)
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # Agg: no display, no pyplot, no global state
    grid = figure.add_gridspec(sum(f.rows for f in figures), COLUMNS)
    row = 0
    for run_figure in figures:
        for index, panel in enumerate(run_figure.panels):
            axes = figure.add_subplot(grid[row + index // COLUMNS, index % COLUMNS])
            _draw_panel(axes, panel)
        row += run_figure.rows
    return figure


def _draw_panel(axes: Axes, panel: Panel) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.set_title(panel.title, fontsize=10)
    axes.grid(True, alpha=0.3)
    if isinstance(panel, LinePanel):
        marker = "o" if len(panel.steps) <= 30 else None
        axes.plot(
            panel.steps,
            panel.values,
            color=COLOURS.get(panel.quantity),
            marker=marker,
            markersize=3,
            linewidth=1.5,
        )
        axes.set_xlabel("step")
        axes.set_ylabel(panel.quantity)
        if panel.limits is not None:
            axes.set_ylim(*panel.limits)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    elif isinstance(panel, MarginPanel):
        _draw_margins(axes, panel)
    elif isinstance(panel, RoundsPanel):
        _draw_rounds(axes, panel)
    else:
        positions = list(range(len(panel.reasons)))
        axes.barh(positions, panel.counts, height=0.5, color=COLOURS["skips"])
        axes.set_yticks(positions, [r.replace("_", " ") for r in panel.reasons], fontsize=8)
        axes.invert_yaxis()
        axes.set_xlabel("prompts")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        for position, count in zip(positions, panel.counts, strict=True):
            axes.annotate(
                str(count),
                (count, position),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )


def _draw_margins(axes: Axes, panel: MarginPanel) -> None:
    from matplotlib.ticker import MaxNLocator

    groups = [
        (values, name)
        for values, name in (
            (panel.kept, "kept"),
            (panel.below_threshold, "below threshold"),
            (panel.over_max_pairs, "over max pairs"),
        )
        if values
    ]
    everything = [v for values, _ in groups for v in values]
    low, high = min(everything), max(everything)
    if panel.threshold is not None:
        low, high = min(low, panel.threshold), max(high, panel.threshold)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    bins = min(20, max(5, len(everything)))
    axes.hist(
        [values for values, _ in groups],
        bins=bins,
        range=(low, high),
        stacked=True,
        color=[COLOURS[name] for _, name in groups],
        label=[f"{name} ({len(values)})" for values, name in groups],
    )
    if panel.threshold is not None:
        axes.axvline(
            panel.threshold,
            color="#d62728",
            linestyle="--",
            linewidth=1.5,
            label=f"threshold {panel.threshold:.4g}",
        )
    pad = (high - low) * 0.05
    axes.set_xlim(low - pad, high + pad)
    axes.set_xlabel("margin (chosen - rejected score)")
    axes.set_ylabel("pairs")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=8)


def _draw_rounds(axes: Axes, panel: RoundsPanel) -> None:
    from matplotlib.ticker import MaxNLocator

    below = [rate - low for rate, low in zip(panel.win_rates, panel.ci_low, strict=True)]
    above = [high - rate for rate, high in zip(panel.win_rates, panel.ci_high, strict=True)]
    axes.errorbar(
        panel.rounds,
        panel.win_rates,
        yerr=[below, above],
        color=COLOURS["win rate"],
        marker="o",
        capsize=4,
        linewidth=1.5,
        label="win rate over its parent (95% CI)",
    )
    axes.axhline(0.5, color="#b0b0b0", linestyle="--", linewidth=1, label="no better (50%)")
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("round")
    axes.set_ylabel("held-out win rate")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=8)


def render_png(figures: Sequence[RunFigure]) -> bytes:
    """The figures as one PNG of :func:`figure_pixels` size."""
    buffer = io.BytesIO()
    _draw(figures).savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def render_svg(figures: Sequence[RunFigure]) -> str:
    """The figures as one SVG document; text is drawn as paths, so it needs no font."""
    _matplotlib()
    import matplotlib

    buffer = io.StringIO()
    # A fixed hash salt keeps the same figures byte-identical from run to run.
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "dlm"}):
        _draw(figures).savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()
