"""``dlm compare``: A/B two adapter versions on held-out prompts."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.output import echo_json, shorten


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--a", "a", required=True, help="Version A: a number, vNNNN, 'current' or 'base'.")
@click.option("--b", "b", required=True, help="Version B, compared against A.")
@click.option("--judge", default="sway", show_default=True, help="Any judge: sway, hf:<model>, cli:<command>...")
@click.option("--prompts", "prompts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Held-out prompts, one per line or JSONL with a 'prompt' field (default: the ::eval:: sections).")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True, help="Answers per prompt and side.")
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed drives both sides.")
@click.option("--temp", "temperature", type=click.FloatRange(min=0), help="Default: 0 (greedy) for one sample, 0.7 for several.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), help="Nucleus sampling cut.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--sampler", default="hf", show_default=True)
@click.option("--judge-timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True)
@click.option("--device")
@click.option("--top", type=click.IntRange(min=0), default=3, show_default=True, help="Largest wins and losses to show.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write a report page.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a script can gate on.")
@pass_app
def compare(app: App, path: Path, a: str, b: str, judge: str, prompts_file: Path | None, samples: int, seed: int,
            temperature: float | None, top_p: float | None, max_new_tokens: int, sampler: str, judge_timeout: float, device: str | None,
            top: int, html_path: Path | None, as_json: bool) -> None:
    """Answer held-out prompts with versions A and B; report B's win rate over A."""
    from dlm_core.evaluation.compare import CompareOptions, compare_versions

    if html_path is not None:  # fail before the comparison, not after it
        from dlm_core.visual import check_target

        check_target(html_path)
    options = CompareOptions(a=a, b=b, judge=judge, prompts_file=prompts_file, samples=samples, seed=seed,
                             temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, sampler=sampler,
                             device=device, judge_timeout=judge_timeout)
    report = compare_versions(path, options, home=app.home, host=app.host, say=app.note)
    if html_path is not None:
        from dlm_core.visual.pages import compare_page

        html_path.write_text(compare_page(report), encoding="utf-8")
        app.note(f"wrote {html_path}")
    if as_json:
        import attrs

        data = attrs.asdict(report)
        data["b_better"] = report.b_better
        data["items"] = [{**attrs.asdict(i), "delta": i.delta, "outcome": i.outcome} for i in report.items]
        echo_json(data)
        return
    click.echo(f"{report.b} vs {report.a} on {report.prompts} prompts x {report.samples} (judge {report.judge}, compare run {report.run_id})")
    click.echo(f"  win rate of {report.b}: {report.win_rate:.1%}  (95% CI {report.ci_low:.1%} - {report.ci_high:.1%}; "
               f"{report.wins} wins, {report.losses} losses, {report.ties} ties)")
    click.echo(f"  mean score: {report.a} {report.mean_score_a:.4g}, {report.b} {report.mean_score_b:.4g}")
    wins = [i for i in report.items if i.outcome == "win"][:top]
    losses = [i for i in reversed(report.items) if i.outcome == "loss"][:top]
    for title, chosen in (("largest wins", wins), ("largest losses", losses)):
        if chosen:
            click.echo(f"  {title}:")
            for item in chosen:
                click.echo(f"    {item.delta:+.4g}  {shorten(item.prompt, 40)}")
                click.echo(f"        {report.a}: {shorten(item.answer_a, 70)}")
                click.echo(f"        {report.b}: {shorten(item.answer_b, 70)}")
