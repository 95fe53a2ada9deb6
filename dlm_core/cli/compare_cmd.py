"""``dlm compare``: A/B two adapter versions on held-out prompts."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.output import echo_json, shorten
from dlm_core.cli.params import SEED, FiniteFloatRange
from dlm_core.cli.plugin_options import judge_option, sampler_option
from dlm_core.outcomes import CompareReport
from dlm_core.specs import DEFAULT_JUDGE, DEFAULT_SAMPLER


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--a", "a", required=True, help="Version A: a number, vNNNN, 'current' or 'base'.")
@click.option("--b", "b", required=True, help="Version B, compared against A.")
@click.option(
    "--judge",
    default=DEFAULT_JUDGE,
    show_default=True,
    help="Any judge: sway, hf:<model>, cli:<command>...",
)
@click.option(
    "--prompts",
    "prompts_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Held-out prompts, one per line or JSONL with a 'prompt' field (default: the ::eval:: sections).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Answers per prompt and side.",
)
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="The same seed drives both sides."
)
@click.option(
    "--temp",
    "temperature",
    type=FiniteFloatRange(min=0),
    help="Default: 0 (greedy) for one sample, 0.7 for several.",
)
@click.option("--top-p", type=FiniteFloatRange(0, 1, min_open=True), help="Nucleus sampling cut.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--sampler", default=DEFAULT_SAMPLER, show_default=True)
@sampler_option
@judge_option
@click.option(
    "--judge-timeout", type=FiniteFloatRange(min=0, min_open=True), default=30.0, show_default=True
)
@click.option("--device")
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Largest wins and losses to show.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a report page.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a script can gate on.")
@pass_app
def compare(
    app: App,
    path: Path,
    a: str,
    b: str,
    judge: str,
    prompts_file: Path | None,
    samples: int,
    seed: int,
    temperature: float | None,
    top_p: float | None,
    max_new_tokens: int,
    sampler: str,
    sampler_options: dict[str, str],
    judge_options: dict[str, str],
    judge_timeout: float,
    device: str | None,
    top: int,
    html_path: Path | None,
    as_json: bool,
) -> None:
    """Answer held-out prompts with versions A and B; report B's win rate over A."""
    from dlm_core.evaluation.compare import CompareOptions, compare_versions

    if html_path is not None:  # fail before the comparison, not after it
        from dlm_core.visual import check_target

        check_target(html_path)
    options = CompareOptions(
        a=a,
        b=b,
        judge=judge,
        prompts_file=prompts_file,
        samples=samples,
        seed=seed,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        sampler=sampler,
        sampler_options=sampler_options,
        judge_options=judge_options,
        device=device,
        judge_timeout=judge_timeout,
    )
    report = compare_versions(app.workspace, path, options)
    if html_path is not None:
        from dlm_core.visual.pages import compare_page

        html_path.write_text(compare_page(report), encoding="utf-8")
        app.note(f"wrote {html_path}")
    if as_json:
        echo_json(report.to_json())
        return
    click.echo(render(report, top))


def render(report: CompareReport, top: int) -> str:
    """The comparison for people: the verdict, then the largest wins and losses."""
    lines = []
    lines.append(
        f"{report.b} vs {report.a} on {report.prompts} prompts x {report.samples} (judge {report.judge}, compare run {report.run_id})"
    )
    lines.append(
        f"  win rate of {report.b}: {report.win_rate:.1%}  (95% CI {report.ci_low:.1%} - {report.ci_high:.1%}; "
        f"{report.wins} wins, {report.losses} losses, {report.ties} ties)"
    )
    lines.append(
        f"  mean score: {report.a} {report.mean_score_a:.4g}, {report.b} {report.mean_score_b:.4g}"
    )
    lines.append(
        f"  mean answer length: {report.a} {report.mean_words_a:.0f} words, "
        f"{report.b} {report.mean_words_b:.0f} words"
    )
    controlled = report.length_controlled
    if controlled is not None and controlled.comparisons:
        lines.append(
            f"  length-controlled win rate (answers within 20% in length, {controlled.comparisons} "
            f"comparisons): {controlled.win_rate:.1%} (95% CI {controlled.ci_low:.1%} - {controlled.ci_high:.1%})"
        )
    if controlled is not None and controlled.warning:
        lines.append(f"  warning: {controlled.warning}")
    wins = [i for i in report.items if i.outcome == "win"][:top]
    losses = [i for i in reversed(report.items) if i.outcome == "loss"][:top]
    for title, chosen in (("largest wins", wins), ("largest losses", losses)):
        if chosen:
            lines.append(f"  {title}:")
            for item in chosen:
                lines.append(f"    {item.delta:+.4g}  {shorten(item.prompt, 40)}")
                lines.append(f"        {report.a}: {shorten(item.answer_a, 70)}")
                lines.append(f"        {report.b}: {shorten(item.answer_b, 70)}")
    return "\n".join(lines)
