"""Self-contained HTML pages: metrics plots, a comparison, a document's history.

Every page is one file with its style inline and no script, font, stylesheet
or image fetched from anywhere: it opens from disk, offline, years later.
All text that came from a document, a model or a judge is escaped. The
history page (``dlm show --html``) links its plots as SVG files in a folder
next to it (``<name>-files/run-N.svg``) by relative paths, so the page and
its folder can be moved together.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dlm_core.metrics.report import RunDetail, mine_facts
from dlm_core.outcomes import CompareReport, LoopSummary, MineSummary, PhaseOutcome
from dlm_core.visual import PlotError
from dlm_core.visual import plots as plotting
from dlm_core.visual.history import History, MinedPairView, MineRunView, document_history

if TYPE_CHECKING:
    from dlm_core.outcomes import CompareItem
    from dlm_core.report import SectionReport, ShowReport, StoreReport
    from dlm_core.store.store import Store

STYLE = """
:root { color-scheme: light; --ink: #1d232a; --muted: #5b6670; --line: #d8dde2; --soft: #f4f6f8;
        --win: #2f9e44; --loss: #d6336c; --tie: #adb5bd; --accent: #1c7ed6; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px 28px 48px; color: var(--ink);
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 22px 0 8px; }
.muted, .meta { color: var(--muted); } .meta { margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 6px 0 12px; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace;
        background: var(--soft); border-radius: 4px; padding: 6px 8px; margin: 0; max-height: 18em; overflow: auto; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff; background: var(--tie); }
.badge.win, .badge.succeeded { background: var(--win); } .badge.loss, .badge.failed { background: var(--loss); }
.badge.interrupted, .badge.running { background: #f08c00; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 10px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .value { font-size: 22px; font-weight: 600; } .card .label { color: var(--muted); font-size: 12.5px; }
.split { display: flex; height: 14px; border-radius: 7px; overflow: hidden; margin: 8px 0 2px; background: var(--soft); }
.split div { height: 100%; } .split .win { background: var(--win); } .split .tie { background: var(--tie); } .split .loss { background: var(--loss); }
.interval { position: relative; height: 26px; margin: 10px 0 18px; border-bottom: 2px solid var(--line); }
.interval .band { position: absolute; top: 8px; height: 10px; background: rgba(28,126,214,.25); border: 1px solid var(--accent); }
.interval .point { position: absolute; top: 4px; width: 3px; height: 18px; background: var(--accent); }
.interval .half { position: absolute; top: 0; width: 1px; height: 26px; background: var(--ink); }
.interval .tick { position: absolute; top: 28px; font-size: 11px; color: var(--muted); transform: translateX(-50%); }
.item { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 12px 0; }
.item h3 { margin: 0 0 4px; font-size: 15px; white-space: pre-wrap; overflow-wrap: anywhere; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-top: 8px; }
.side h4 { margin: 0 0 4px; font-size: 13px; } .side.better h4 { color: var(--win); }
figure { margin: 10px 0 18px; } figure img, .plot svg { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; }
td .text { min-width: 12em; } summary { cursor: pointer; color: var(--muted); margin: 4px 0; }
a { color: var(--accent); }
"""


def esc(value: Any) -> str:
    """Any value as HTML text, escaped (quotes included, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


def num(value: Any, spec: str = ".4g") -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else esc(value)
    if isinstance(value, float) and not math.isfinite(value):
        return esc(value)
    return esc(format(value, spec))


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def page(title: str, body: str) -> str:
    """One self-contained HTML document: inline style, no scripts, nothing fetched."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Sequence[int] = ()
) -> str:
    """An HTML table; cells are already-escaped HTML, headers are plain text."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{cell}</td>' if index in numeric else f"<td>{cell}</td>"
            for index, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def badge(text: str) -> str:
    return f'<span class="badge {esc(text)}">{esc(text)}</span>'


def text_block(text: str | None) -> str:
    if text is None:
        return '<span class="muted">(text not kept)</span>'
    return f'<div class="text">{esc(text)}</div>'


_SVG_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_SVG_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_SVG_NAMESPACE = re.compile(r"\s+xmlns(?::\w+)?=\"[^\"]*\"")


def inline_svg(svg: str) -> str:
    """An SVG document as an element inside an HTML page.

    Drops the XML prologue, the doctype and the RDF metadata, and the
    namespace declarations HTML does not need, so the page carries no URL at
    all (not even namespace names, which are never fetched but look alike).
    """
    svg = _SVG_PROLOGUE.sub("", svg, count=1)
    svg = _SVG_METADATA.sub("", svg, count=1)
    svg = _SVG_NAMESPACE.sub("", svg)
    return svg.replace("xlink:href=", "href=")


# -- dlm metrics --plot x.html ------------------------------------------------


def metrics_page(title: str, figures: Sequence[plotting.RunFigure], svg: str) -> str:
    """The plotted runs as one page: which runs, then the figure as inline SVG."""
    rows = [
        [
            f'<a id="run-{f.run_id}">{f.run_id}</a>',
            esc(f.caption),
            badge(f.status),
            esc(", ".join(p.title.split(": ", 1)[-1] for p in f.panels)),
        ]
        for f in figures
    ]
    body = (
        f'<h1>{esc(title)}</h1>\n<p class="meta">{len(figures)} run{"s" if len(figures) != 1 else ""} plotted</p>\n'
        + table(["run", "what", "status", "drawn"], rows)
        + f'\n<div class="plot">{inline_svg(svg)}</div>'
    )
    return page(title, body)


# -- dlm compare --html -------------------------------------------------------


def _interval(report: CompareReport) -> str:
    low, high, rate = (
        max(0.0, min(1.0, v)) for v in (report.ci_low, report.ci_high, report.win_rate)
    )
    ticks = "".join(
        f'<span class="tick" style="left:{100 * t:.1f}%">{int(100 * t)}%</span>'
        for t in (0, 0.25, 0.5, 0.75, 1)
    )
    return (
        '<div class="interval" title="win rate and its 95% interval">'
        f'<div class="band" style="left:{100 * low:.2f}%;width:{100 * (high - low):.2f}%"></div>'
        '<div class="half" style="left:50%"></div>'
        f'<div class="point" style="left:calc({100 * rate:.2f}% - 1px)"></div>{ticks}</div>'
    )


def _split(wins: int, ties: int, losses: int) -> str:
    total = max(1, wins + ties + losses)
    parts = "".join(
        f'<div class="{name}" style="width:{100 * count / total:.2f}%" title="{count} {name}{"s" if count != 1 else ""}"></div>'
        for name, count in (("win", wins), ("tie", ties), ("loss", losses))
        if count
    )
    return f'<div class="split">{parts}</div>'


def _card(value: str, label: str) -> str:
    return f'<div class="card"><div class="value">{value}</div><div class="label">{esc(label)}</div></div>'


def _compare_item(report: CompareReport, item: CompareItem) -> str:
    outcome = item.outcome
    sample = f" · sample {item.sample + 1}" if report.samples > 1 else ""
    verdict = {"win": f"{report.b} better", "loss": f"{report.a} better", "tie": "tie"}[outcome]
    sides = []
    for label, score, answer, better in (
        (report.a, item.score_a, item.answer_a, outcome == "loss"),
        (report.b, item.score_b, item.answer_b, outcome == "win"),
    ):
        sides.append(
            f'<div class="side{" better" if better else ""}"><h4>{esc(label)} · score {num(score)}</h4>{text_block(answer)}</div>'
        )
    return (
        f'<div class="item {esc(outcome)}"><h3>{esc(item.prompt)}</h3>'
        f'<div class="muted">{badge(outcome)} {esc(verdict)} · {esc(report.b)} − {esc(report.a)} = {num(item.delta, "+.4g")}{esc(sample)}</div>'
        f'<div class="sides">{"".join(sides)}</div></div>'
    )


def compare_page(report: CompareReport) -> str:
    """``dlm compare --html``: the summary, then every answer pair, largest differences first."""
    title = f"{report.b} vs {report.a}: compare run {report.run_id}"
    verdict = (
        f"{report.b} is better than {report.a}: the whole 95% interval lies above 50%."
        if report.b_better
        else f"Not shown that {report.b} is better than {report.a}: the 95% interval reaches 50% or below."
    )
    cards = "".join(
        [
            _card(esc(percent(report.win_rate)), f"win rate of {report.b} (ties count half)"),
            _card(
                esc(f"{percent(report.ci_low)} – {percent(report.ci_high)}"), "95% Wilson interval"
            ),
            _card(esc(f"{report.wins} / {report.losses} / {report.ties}"), "wins / losses / ties"),
            _card(
                esc(f"{num(report.mean_score_a)} → {num(report.mean_score_b)}"),
                f"mean score {report.a} → {report.b}",
            ),
        ]
    )
    items = sorted(report.items, key=lambda i: (-abs(i.delta), i.prompt, i.sample))
    body = (
        f"<h1>{esc(report.b)} vs {esc(report.a)}</h1>\n"
        f'<p class="meta">compare run {report.run_id} · judge {esc(report.judge)} · {report.prompts} held-out prompts × '
        f"{report.samples} sample{'s' if report.samples != 1 else ''} · {report.comparisons} comparisons · "
        f"{num(report.wall_seconds, '.1f')} s</p>\n"
        f'<p><strong>{esc(verdict)}</strong></p>\n<div class="cards">{cards}</div>\n'
        f"{_split(report.wins, report.ties, report.losses)}"
        f'<div class="muted">{report.wins} wins · {report.ties} ties · {report.losses} losses for {esc(report.b)}</div>\n'
        f"{_interval(report)}\n"
        f"<h2>Answers, largest differences first</h2>\n"
        + "\n".join(_compare_item(report, item) for item in items)
    )
    return page(title, body)


# -- dlm show --html ----------------------------------------------------------


def _rows_trained(rows: dict[str, int]) -> str:
    return esc(", ".join(f"{kind} {n}" for kind, n in sorted(rows.items())) or "-")


def _run_summary(detail: RunDetail) -> str:
    run, outcome = detail.run, detail.run.outcome
    if run.error:
        return esc(run.error)
    if run.kind == "train":
        loss = outcome.final_loss if isinstance(outcome, PhaseOutcome) else None
        return esc(f"{len(detail.steps)} steps, final loss {num(loss)}")
    if isinstance(outcome, MineSummary):
        return esc(
            f"{outcome.pairs} pairs from {outcome.prompts} prompts, judge {outcome.judge or '?'}"
        )
    if isinstance(outcome, CompareReport):
        return esc(
            f"{outcome.b} vs {outcome.a}: win rate {percent(outcome.win_rate)} "
            f"({percent(outcome.ci_low)} – {percent(outcome.ci_high)})"
        )
    if isinstance(outcome, LoopSummary):
        return esc(
            f"{len(outcome.rounds)} round(s), current v{outcome.best_version:04d}; "
            f"stopped: {outcome.stopped}"
        )
    return esc(", ".join(f"{k} {v}" for k, v in list(run.summary.items())[:4]) or "-")


def _section_size(section: SectionReport) -> str:
    if section.records:
        return esc(f"{len(section.records)} record{'s' if len(section.records) != 1 else ''}")
    words = len((section.text or "").split())
    return esc(f"{words} word{'s' if words != 1 else ''} of text")


def _provenance(provenance: dict[str, Any] | None) -> str:
    if not provenance or not provenance.get("auto_mined"):
        return "-"
    run_id = provenance.get("mined_run_id")
    return (
        f'auto-mined by {esc(provenance.get("judge_name"))} in <a href="#mine-{esc(run_id)}">run {esc(run_id)}</a> '
        f"({num(provenance.get('judge_score_chosen'))} vs {num(provenance.get('judge_score_rejected'))})"
    )


def _pairs_table(pairs: Sequence[MinedPairView]) -> str:
    rows = [
        [
            esc(p.prompt),
            num(p.margin),
            num(p.score_chosen),
            num(p.score_rejected),
            text_block(p.chosen),
            text_block(p.rejected),
            esc(p.where),
        ]
        for p in sorted(pairs, key=lambda p: -(p.margin if p.margin is not None else -math.inf))
    ]
    return table(
        ["prompt", "margin", "chosen score", "rejected score", "chosen", "rejected", "where"],
        rows,
        numeric=(1, 2, 3),
    )


def _figure(plots: dict[int, str], run_id: int, caption: str) -> str:
    href = plots.get(run_id)
    if href is None:
        return ""
    return (
        f'<figure><a href="{esc(href)}"><img src="{esc(href)}" alt="{esc(caption)}" loading="lazy"></a>'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def _mine_section(view: MineRunView, plots: dict[int, str]) -> str:
    run = view.detail.run
    facts = mine_facts(run)
    skipped = (
        ", ".join(f"{reason.replace('_', ' ')} {count}" for reason, count in view.skipped.items())
        or "none"
    )
    parts = [
        f'<h3 id="mine-{run.id}">Mine run {run.id} {badge(run.status)}</h3>',
        f'<p class="meta">{esc(run.started_at)} · from {esc(f"v{run.version:04d}" if run.version else "no version")} · '
        f"judge {esc(facts.judge or '?')} · threshold {num(facts.threshold)} · "
        f"{esc(facts.prompts if facts.prompts is not None else '?')} prompts · {len(view.pairs)} pairs · skipped: {esc(skipped)}</p>",
        _figure(
            plots, run.id, f"run {run.id}: pair margins against the threshold, and skips by reason"
        ),
    ]
    parts.append(_pairs_table(view.pairs) if view.pairs else '<p class="muted">No pairs kept.</p>')
    if view.skips:
        rows = [
            [esc(s.prompt), esc(s.reason.replace("_", " ")), esc(s.detail or "-")]
            for s in view.skips
        ]
        parts.append(
            f"<details><summary>{len(view.skips)} prompt{'s' if len(view.skips) != 1 else ''} skipped</summary>"
            + table(["prompt", "reason", "detail"], rows)
            + "</details>"
        )
    return "\n".join(parts)


def history_page(history: History, plots: dict[int, str], *, notes: Sequence[str] = ()) -> str:
    """``dlm show --html``: versions, runs, mine runs with their pairs, and plots linked by ``plots``."""
    report = history.report
    name = Path(report.path).name
    store = report.store
    body = [
        f"<h1>{esc(name)}</h1>",
        f'<p class="meta">dlm_id {esc(report.dlm_id or "(none yet)")} · base {esc(report.base_model)} · '
        f"{len(report.sections)} sections · store {esc(store.path if store else '(none yet)')}"
        + (f" · current {esc(store.current)}" if store and store.current else "")
        + "</p>",
        *(f'<p class="muted">{esc(note)}</p>' for note in notes),
        "<h2>Adapter versions</h2>",
        _versions_part(store),
        "<h2>Sections</h2>",
        _sections_part(report),
        "<h2>Runs</h2>",
        _runs_part(history, plots),
        "<h2>Preference mining</h2>",
        *_mining_part(history, plots),
        "<h2>Training curves</h2>",
        *_curves_part(history, plots),
        *_loops_part(history, plots),
    ]
    return page(f"{name}: history", "\n".join(body))


def _versions_part(store: StoreReport | None) -> str:
    versions = store.versions if store else []
    if not versions:
        return '<p class="muted">No adapter versions yet: run <code>dlm train</code>.</p>'
    rows = []
    for v in versions:
        mark = " (current)" if store and v.name == store.current else ""
        run_link = (
            f'<a href="#run-{v.metrics_run_id}">{v.metrics_run_id}</a>' if v.metrics_run_id else "-"
        )
        parent = f"v{v.parent_version:04d}" if v.parent_version else "base"
        rows.append(
            [
                f"<strong>{esc(v.name)}</strong>{esc(mark)}",
                esc(v.phase or "?"),
                esc(v.trainer or "?"),
                esc(parent),
                num(v.steps),
                num(v.final_loss),
                _rows_trained(v.rows),
                num(v.mined_included),
                num(v.mined_excluded),
                esc(v.finished_at or "-"),
                run_link,
            ]
        )
    headers = [
        "version",
        "phase",
        "trainer",
        "parent",
        "steps",
        "final loss",
        "rows trained on",
        "mined in",
        "mined left out",
        "finished",
        "run",
    ]
    return table(headers, rows, numeric=(4, 5, 7, 8))


def _sections_part(report: ShowReport) -> str:
    return table(
        ["#", "type", "section id", "records", "provenance"],
        (
            [
                num(sec.index),
                esc(sec.type),
                f"<code>{esc(sec.section_id)}</code>",
                _section_size(sec),
                _provenance(sec.provenance),
            ]
            for sec in report.sections
        ),
        numeric=(0,),
    )


def _runs_part(history: History, plots: dict[int, str]) -> str:
    if not history.runs:
        return '<p class="muted">No runs recorded yet.</p>'
    rows = []
    for d in history.runs:
        r = d.run
        link = f'<a href="{esc(plots[r.id])}">plot</a>' if r.id in plots else "-"
        anchor = {"mine": f"#mine-{r.id}", "loop": f"#loop-{r.id}"}.get(r.kind, f"#curves-{r.id}")
        ident = (
            f'<a id="run-{r.id}" href="{anchor}">{r.id}</a>'
            if r.id in plots or r.kind in ("mine", "loop")
            else f'<a id="run-{r.id}">{r.id}</a>'
        )
        rows.append(
            [
                ident,
                esc(r.kind),
                esc(r.phase or "-"),
                badge(r.status),
                esc(f"v{r.version:04d}" if r.version else "-"),
                esc(r.started_at),
                _run_summary(d),
                link,
            ]
        )
    return table(
        ["run", "kind", "phase", "status", "version", "started", "summary", "picture"], rows
    )


def _mining_part(history: History, plots: dict[int, str]) -> list[str]:
    store = history.report.store
    parts: list[str] = []
    if history.mine_runs:
        parts.extend(_mine_section(view, plots) for view in history.mine_runs)
    else:
        parts.append(
            '<p class="muted">No mine runs yet: <code>dlm preference mine</code> samples and judges pairs.</p>'
        )
    if history.unrecorded_pairs:
        parts.append("<h3>Auto-mined pairs from runs this store did not record</h3>")
        parts.append(_pairs_table(history.unrecorded_pairs))
    if store and store.staged_plans:
        parts.append("<h3>Staged plans</h3>")
        parts.append(
            table(
                ["mine run", "created", "judge", "pairs", "complete"],
                (
                    [
                        f'<a href="#mine-{p.run_id}">{p.run_id}</a>',
                        esc(p.created_at),
                        esc(p.judge),
                        num(p.pairs),
                        esc("yes" if p.complete else "no (interrupted)"),
                    ]
                    for p in store.staged_plans
                ),
                numeric=(3,),
            )
        )
    return parts


def _curves_part(history: History, plots: dict[int, str]) -> list[str]:
    curves = [d for d in history.runs if d.run.kind == "train" and d.run.id in plots]
    if not curves:
        return ['<p class="muted">No training run recorded any steps yet.</p>']
    parts = []
    for d in curves:
        r = d.run
        parts.append(
            f'<h3 id="curves-{r.id}">Run {r.id}: {esc(r.phase or "train")} {badge(r.status)}</h3>'
        )
        parts.append(
            _figure(
                plots,
                r.id,
                f"run {r.id}: loss and learning rate per step"
                + (", reward margin and accuracy" if r.phase == "preference" else ""),
            )
        )
    return parts


def _loops_part(history: History, plots: dict[int, str]) -> list[str]:
    loops = [d for d in history.runs if d.run.kind == "loop"]
    if not loops:
        return []
    parts = ["<h2>Loop rounds</h2>"]
    for d in loops:
        r, summary = d.run, d.run.outcome
        parts.append(f'<h3 id="loop-{r.id}">Loop run {r.id} {badge(r.status)}</h3>')
        if isinstance(summary, LoopSummary):
            rows = [
                [
                    num(x.round),
                    num(x.pairs),
                    esc(f"v{x.version:04d}" if x.version else "-"),
                    esc(f"v{x.parent:04d}"),
                    esc(percent(x.verdict.win_rate) if x.verdict else "-"),
                    esc(
                        f"{percent(x.verdict.ci_low)} – {percent(x.verdict.ci_high)}"
                        if x.verdict
                        else "-"
                    ),
                    esc(
                        f"{x.verdict.mean_words_parent:.0f} → {x.verdict.mean_words_new:.0f}"
                        if x.verdict
                        else "-"
                    ),
                ]
                for x in summary.rounds
            ]
            headers = ["round", "pairs", "version", "parent", "win rate", "95% CI", "words"]
            parts.append(table(headers, rows, numeric=(0, 1)))
            parts.append(
                f'<p class="muted">stopped: {esc(summary.stopped)} · current '
                f"v{summary.best_version:04d}</p>"
            )
        parts.append(_figure(plots, r.id, f"run {r.id}: held-out win rate per round"))
    return parts


def files_folder(target: Path) -> Path:
    """Where the history page's pictures go: ``<name>-files/`` next to the page."""
    return target.with_name(f"{target.stem}-files")


def write_history_page(
    report: ShowReport,
    store: Store | None,
    target: Path,
    *,
    say: Callable[[str], None] = lambda _m: None,
) -> list[Path]:
    """Write ``dlm show --html``'s page and its plots; returns every file written.

    Without matplotlib the page is still written, without pictures, and
    says how to get them.
    """
    history = document_history(report, store)
    folder = files_folder(target)
    figures = [f for f in (plotting.run_figure(d) for d in history.runs) if f is not None]
    plots: dict[int, str] = {}
    written: list[Path] = []
    notes: list[str] = []
    if figures:
        try:
            svgs = {f.run_id: plotting.render_svg([f]) for f in figures}
        except PlotError as exc:
            notes.append(f"Plots left out: {exc}.")
            say(f"note: {exc}; writing the page without plots")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            for run_id, svg in svgs.items():
                path = folder / f"run-{run_id}.svg"
                path.write_text(svg, encoding="utf-8")
                written.append(path)
                plots[run_id] = (
                    f"{quote(folder.name)}/{quote(path.name)}"  # relative: moves with the page
                )
    target.write_text(history_page(history, plots, notes=notes), encoding="utf-8")
    return [target, *written]
