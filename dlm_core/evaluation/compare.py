"""``dlm compare``: is version B better than version A on held-out prompts?

Both versions answer every held-out prompt (same sampler, same seed, all
prompts batched), a judge scores every distinct answer once, and each
(prompt, sample) pair counts as a win, loss or tie for B. The win rate
counts ties as half a win and comes with a 95% Wilson interval, so a script
can gate on the interval's lower bound. The result is a metrics run.
"""

from __future__ import annotations

import time
from pathlib import Path

import attrs

from dlm_core.errors import EvaluationError
from dlm_core.evaluation.prompts import eval_prompts, prompts_from_file
from dlm_core.mining.scoring import checked_scores
from dlm_core.mining.selection import normalize
from dlm_core.outcomes import CompareConfig, CompareItem, CompareReport, LengthControlled, WinTally
from dlm_core.protocols import Judge
from dlm_core.sampling import checked_samples
from dlm_core.specs import DEFAULT_JUDGE, DEFAULT_SAMPLER
from dlm_core.store.store import AdapterVersion
from dlm_core.workspace import DocumentRun, Workspace

__all__ = ["CompareItem", "CompareOptions", "CompareReport", "compare", "compare_versions"]


@attrs.frozen
class CompareOptions:
    a: str
    b: str
    judge: str = DEFAULT_JUDGE
    prompts_file: Path | None = None
    samples: int = 1
    seed: int = 0
    temperature: float | None = None  # default: greedy for one sample, 0.7 for several
    top_p: float | None = None
    max_new_tokens: int = 256
    sampler: str = DEFAULT_SAMPLER
    sampler_options: dict[str, str] = attrs.Factory(dict)
    judge_options: dict[str, str] = attrs.Factory(dict)
    device: str | None = None
    judge_timeout: float = 30.0
    progress: bool = True
    judge_version: str | None = None  # the adapter a model judge scores with; default current

    @property
    def effective_temperature(self) -> float:
        if self.temperature is not None:
            return self.temperature
        return 0.0 if self.samples == 1 else 0.7


def summarize(items: list[CompareItem]) -> dict[str, object]:
    """The tally (win rate with ties as halves, its Wilson interval), mean scores and lengths."""
    n = len(items)
    return {
        **WinTally.counted(items),
        "mean_score_a": sum(i.score_a for i in items) / n if n else 0.0,
        "mean_score_b": sum(i.score_b for i in items) / n if n else 0.0,
        "mean_words_a": sum(i.words_a for i in items) / n if n else 0.0,
        "mean_words_b": sum(i.words_b for i in items) / n if n else 0.0,
        "length_controlled": length_controlled(items),
    }


def length_controlled(items: list[CompareItem]) -> LengthControlled:
    """B's win rate over the comparisons of similar-length answers, and a warning when the
    overall win rests on length alone (see :class:`~dlm_core.outcomes.LengthControlled`)."""
    similar = WinTally(**WinTally.counted([i for i in items if i.similar_length]))
    if not WinTally(**WinTally.counted(items)).better or (similar.comparisons and similar.better):
        return LengthControlled(**attrs.asdict(similar))
    words_a = sum(i.words_a for i in items) / len(items)
    words_b = sum(i.words_b for i in items) / len(items)
    where = (
        f"over the {similar.comparisons} comparisons of similar length it is "
        f"{similar.win_rate:.0%} (95% CI {similar.ci_low:.0%}-{similar.ci_high:.0%})"
        if similar.comparisons
        else "no comparison had answers of similar length"
    )
    warning = (
        f"the win may come from length alone: answers went from {words_a:.0f} to "
        f"{words_b:.0f} words on average, and {where}"
    )
    return LengthControlled(**attrs.asdict(similar), warning=warning)


def compare_versions(workspace: Workspace, path: Path, options: CompareOptions) -> CompareReport:
    """``dlm compare``: open the document (it only reads versions: no lock) and compare."""
    with workspace.open(path, lock=False) as run:
        return compare(run, options)


def compare(run: DocumentRun, options: CompareOptions) -> CompareReport:
    """B's win rate over A on the held-out prompts, recorded as a compare run."""
    store = run.trained_store()
    prompts = (
        prompts_from_file(options.prompts_file)
        if options.prompts_file
        else eval_prompts(run.document)
    )
    if not prompts:
        raise EvaluationError(
            f"{run.path} has no ::eval:: prompts; add an ::eval:: section with ### Q records or pass --prompts FILE"
        )
    version_a, version_b = run.version(options.a), run.version(options.b)
    label_a = version_a.name if version_a else "base"
    label_b = version_b.name if version_b else "base"
    clock = time.perf_counter()
    judge_version = run.version(options.judge_version) if options.judge_version else store.current()
    context = run.context(judge_version, device=options.device, options=_plugin_options(options))
    judge = run.judge(options.judge, context)  # a bad --judge fails before any generation
    if getattr(judge, "uses_current_adapter", False) and judge_version in (version_a, version_b):
        run.say(
            f"note: {options.judge} judges with the current adapter "
            f"({judge_version.name if judge_version else 'base'}), which favours the answers that "
            "adapter writes; use an hf: or cli: judge for A/B decisions"
        )
    config = CompareConfig(
        a=label_a,
        b=label_b,
        judge=options.judge,
        samples=options.samples,
        seed=options.seed,
        temperature=options.effective_temperature,
        prompts_file=str(options.prompts_file or ""),
    )
    version = version_b.number if version_b else None
    with run.recorded("compare", seed=options.seed, version=version, config=config) as recording:
        answers = {
            label: _answers(run, side, prompts, options, keep=judge_version)
            for label, side in ((label_a, version_a), (label_b, version_b))
        }
        items = _judged(judge, options.judge, prompts, answers[label_a], answers[label_b])
        for item in items:
            recording.db.log_eval(recording.run_id, "delta", item.delta)
        report = CompareReport(
            run_id=recording.run_id,
            a=label_a,
            b=label_b,
            judge=options.judge,
            prompts=len(prompts),
            samples=options.samples,
            wall_seconds=round(time.perf_counter() - clock, 3),
            items=sorted(items, key=lambda i: i.delta, reverse=True),
            **summarize(items),  # type: ignore[arg-type]
        )
        recording.finish(report)
    return report


def _plugin_options(options: CompareOptions) -> dict[str, object]:
    return {
        "judge_timeout": options.judge_timeout,
        "sampler_options": dict(options.sampler_options),
        "judge_options": dict(options.judge_options),
    }


def _answers(
    run: DocumentRun,
    version: AdapterVersion | None,
    prompts: list[str],
    options: CompareOptions,
    *,
    keep: AdapterVersion | None,
) -> list[list[str]]:
    """One side's answers to every prompt; its models are let go before the other side loads
    (unless they are ``keep``'s, which the judge shares)."""
    label = version.name if version else "base"
    run.say(f"{label}: answering {len(prompts)} held-out prompts x {options.samples}...")
    context = run.context(
        version, device=options.device, options=_plugin_options(options), progress=options.progress
    )
    sampler = run.sampler(options.sampler, context)
    sampled = checked_samples(
        sampler,
        options.sampler,
        prompts,
        options.samples,
        temperature=options.effective_temperature,
        top_p=options.top_p,
        max_new_tokens=options.max_new_tokens,
        seed=options.seed,
    )
    if version != keep:
        run.drop_session(version, device=options.device)
    return [[normalize(t) for t in texts] for texts in sampled]


def _judged(
    judge: Judge, name: str, prompts: list[str], a: list[list[str]], b: list[list[str]]
) -> list[CompareItem]:
    """Score each prompt's distinct answers once; one item per (prompt, sample)."""
    items = []
    for prompt, a_texts, b_texts in zip(prompts, a, b, strict=True):
        distinct = list(dict.fromkeys([*a_texts, *b_texts]))
        scores = dict(zip(distinct, checked_scores(judge, name, prompt, distinct), strict=True))
        for sample, (a_text, b_text) in enumerate(zip(a_texts, b_texts, strict=True)):
            items.append(
                CompareItem(prompt, sample, a_text, b_text, scores[a_text], scores[b_text])
            )
    return items
