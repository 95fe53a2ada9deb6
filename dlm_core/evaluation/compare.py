"""``dlm compare``: is version B better than version A on held-out prompts?

Both versions answer every held-out prompt (same sampler, same seed, all
prompts batched), a judge scores every distinct answer once, and each
(prompt, sample) pair counts as a win, loss or tie for B. The win rate
counts ties as half a win and comes with a 95% Wilson interval, so a script
can gate on the interval's lower bound. The result is a metrics run.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from dlm_core.context import PluginContext
from dlm_core.document.io import read_document
from dlm_core.errors import DlmError, StoreError
from dlm_core.evaluation.prompts import eval_prompts, prompts_from_file
from dlm_core.evaluation.stats import wilson_interval
from dlm_core.metrics.db import MetricsDB
from dlm_core.mining.scoring import checked_scores
from dlm_core.mining.selection import normalize
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.protocols import Judge
from dlm_core.store.store import AdapterVersion, Store

TIE_TOLERANCE = 1e-9


@attrs.frozen
class CompareOptions:
    a: str
    b: str
    judge: str = "sway"
    prompts_file: Path | None = None
    samples: int = 1
    seed: int = 0
    temperature: float | None = None  # default: greedy for one sample, 0.7 for several
    top_p: float | None = None
    max_new_tokens: int = 256
    sampler: str = "hf"
    device: str | None = None
    judge_timeout: float = 30.0

    @property
    def effective_temperature(self) -> float:
        if self.temperature is not None:
            return self.temperature
        return 0.0 if self.samples == 1 else 0.7


@attrs.frozen
class CompareItem:
    prompt: str
    sample: int
    answer_a: str
    answer_b: str
    score_a: float
    score_b: float

    @property
    def delta(self) -> float:
        return self.score_b - self.score_a

    @property
    def outcome(self) -> str:
        if abs(self.delta) <= TIE_TOLERANCE * max(1.0, abs(self.score_a), abs(self.score_b)):
            return "tie"
        return "win" if self.delta > 0 else "loss"


@attrs.frozen
class CompareReport:
    """The comparison a script gates on: B's win rate over A with its interval."""

    run_id: int
    a: str
    b: str
    judge: str
    prompts: int
    samples: int
    comparisons: int
    wins: int
    losses: int
    ties: int
    win_rate: float
    ci_low: float
    ci_high: float
    mean_score_a: float
    mean_score_b: float
    wall_seconds: float
    items: list[CompareItem]

    @property
    def b_better(self) -> bool:
        """True when the whole 95% interval lies above one half."""
        return self.ci_low > 0.5


def summarize(items: list[CompareItem]) -> dict[str, float | int]:
    wins = sum(1 for i in items if i.outcome == "win")
    losses = sum(1 for i in items if i.outcome == "loss")
    ties = len(items) - wins - losses
    n = len(items)
    rate = (wins + 0.5 * ties) / n if n else 0.0
    low, high = wilson_interval(wins + 0.5 * ties, n)
    return {
        "comparisons": n,
        "wins": wins,
        "losses": losses,
        "ties": ties,
        "win_rate": rate,
        "ci_low": low,
        "ci_high": high,
        "mean_score_a": sum(i.score_a for i in items) / n if n else 0.0,
        "mean_score_b": sum(i.score_b for i in items) / n if n else 0.0,
    }


def resolve_version(store: Store, spec: str) -> AdapterVersion | None:
    """``base`` → None; ``current``; ``3`` or ``v0003`` → that version."""
    text = spec.strip().lower()
    if text == "base":
        return None
    if text == "current":
        current = store.current()
        if current is None:
            raise StoreError("there is no current version yet; run `dlm train` first")
        return current
    match = re.fullmatch(r"v?(\d+)", text)
    if not match:
        raise DlmError(f"version {spec!r} is not a number, vNNNN, 'current' or 'base'")
    return store.version(int(match.group(1)))


def compare_versions(
    path: Path,
    options: CompareOptions,
    *,
    home: Path,
    host: PluginHost,
    say: Callable[[str], None] = print,
) -> CompareReport:
    types = host.section_types()
    document = read_document(path, types)
    if document.dlm_id is None or not Store(home, document.dlm_id).exists():
        raise StoreError(f"{path} has not been trained yet; run `dlm train {path}` first")
    store = Store(home, document.dlm_id)
    prompts = prompts_from_file(options.prompts_file) if options.prompts_file else eval_prompts(document)
    if not prompts:
        raise DlmError(f"{path} has no ::eval:: prompts; add an ::eval:: section with ### Q records or pass --prompts FILE")
    version_a, version_b = resolve_version(store, options.a), resolve_version(store, options.b)
    assert document.frontmatter is not None
    base = parse_base(document.frontmatter.base_model, relative_to=path.parent)
    label_a = version_a.name if version_a else "base"
    label_b = version_b.name if version_b else "base"
    clock = time.perf_counter()

    def context(version: AdapterVersion | None) -> PluginContext:
        return PluginContext(
            document=document,
            document_path=path,
            base=base,
            adapter_path=version.path if version else None,
            home=home,
            device=options.device,
            options={"judge_timeout": options.judge_timeout},
            say=say,
        )

    judge_version = store.current()
    judge = host.judge(options.judge, context(judge_version))  # a bad --judge fails before any generation
    if options.judge.split(":", 1)[0] == "sway" and judge_version in (version_a, version_b):
        say(
            f"note: sway judges with the current adapter ({judge_version.name if judge_version else 'base'}), "
            "which favours the answers that adapter writes; use an hf: or cli: judge for A/B decisions"
        )
    config = {"a": label_a, "b": label_b, "judge": options.judge, "samples": options.samples, "seed": options.seed,
              "temperature": options.effective_temperature, "prompts_file": str(options.prompts_file or "")}
    with MetricsDB.open(store.metrics_path) as db:
        run_id = db.start_run("compare", seed=options.seed, version=version_b.number if version_b else None, config=config)
        with db.stops_recorded(run_id):
            items = _compare(host, judge, prompts, options, [(label_a, context(version_a)), (label_b, context(version_b))], say)
        stats = summarize(items)
        wall = time.perf_counter() - clock
        for item in items:
            db.log_eval(run_id, "delta", item.delta)
        summary = {**stats, "a": label_a, "b": label_b, "judge": options.judge, "prompts": len(prompts),
                   "samples": options.samples, "wall_seconds": round(wall, 3),
                   "items": [{**attrs.asdict(i), "delta": i.delta, "outcome": i.outcome} for i in items]}
        db.finish_run(run_id, "succeeded", summary=summary)
    return CompareReport(
        run_id=run_id,
        a=label_a,
        b=label_b,
        judge=options.judge,
        prompts=len(prompts),
        samples=options.samples,
        wall_seconds=round(wall, 3),
        items=sorted(items, key=lambda i: i.delta, reverse=True),
        **stats,  # type: ignore[arg-type]
    )


def _compare(
    host: PluginHost,
    judge: Judge,
    prompts: list[str],
    options: CompareOptions,
    sides: list[tuple[str, PluginContext]],
    say: Callable[[str], None],
) -> list[CompareItem]:
    """Both sides answer every prompt; the judge scores each distinct answer once."""
    answers = {}
    for label, side in sides:
        say(f"{label}: answering {len(prompts)} held-out prompts x {options.samples}...")
        answers[label] = _answers(host, side, prompts, options)
        gc.collect()  # let the first side's model go before the second loads
    (label_a, _), (label_b, _) = sides
    items = []
    for index, prompt in enumerate(prompts):
        a_texts, b_texts = answers[label_a][index], answers[label_b][index]
        distinct = list(dict.fromkeys([*a_texts, *b_texts]))
        scores = dict(zip(distinct, checked_scores(judge, options.judge, prompt, distinct), strict=True))
        for sample, (a_text, b_text) in enumerate(zip(a_texts, b_texts, strict=True)):
            items.append(CompareItem(prompt, sample, a_text, b_text, scores[a_text], scores[b_text]))
    return items


def _answers(host: PluginHost, context: PluginContext, prompts: list[str], options: CompareOptions) -> list[list[str]]:
    sampler = host.sampler(options.sampler, context)
    sampled = sampler.sample(
        prompts,
        options.samples,
        temperature=options.effective_temperature,
        top_p=options.top_p,
        max_new_tokens=options.max_new_tokens,
        seed=options.seed,
    )
    if len(sampled) != len(prompts) or any(len(s) != options.samples for s in sampled):
        raise DlmError(f"sampler {options.sampler!r} did not return {options.samples} answers per prompt")
    return [[normalize(t) for t in texts] for texts in sampled]


