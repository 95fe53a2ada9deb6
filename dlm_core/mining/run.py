"""``dlm preference mine``: sample, judge, select, then stage or apply.

1. Prompts: the question of every instruction record, de-duplicated.
2. Candidates: ``samples`` per prompt from the sampler, all prompts in one call.
3. Distinct non-empty candidates that ended on their own (not cut off at
   ``max_new_tokens``); fewer than two skips the prompt.
4. The judge scores each distinct candidate once; the best and the worst
   non-near-duplicate form the pair (see :mod:`dlm_core.mining.selection`).
5. ``max_pairs`` keeps the largest margins.
6. The plan is staged in the store, or written into the document at once.
7. The run is a metrics run with one event per prompt.

Ctrl-C during judging keeps every pair judged so far in a staged plan
marked incomplete. A judge failure stops the run and writes nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import attrs

from dlm_core.context import PluginContext
from dlm_core.document.io import read_document, write_document
from dlm_core.document.model import Document
from dlm_core.document.types import SectionType
from dlm_core.errors import MiningError, StoreError
from dlm_core.metrics.db import MetricsDB
from dlm_core.mining.plan import apply_plans, existing_pairs, revert, staged_pair
from dlm_core.mining.prompts import mining_prompts
from dlm_core.mining.scoring import checked_scores
from dlm_core.mining.selection import (
    Candidate,
    MinedPair,
    Skip,
    SkipReason,
    keep_largest,
    select_pair,
    unique_candidates,
)
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.protocols import Judge, Sampler, is_truncated
from dlm_core.store.staged import StagedPair, StagedPlan
from dlm_core.store.store import Store, utc_now


@attrs.frozen
class MineOptions:
    """The flags of ``dlm preference mine``."""

    samples: int = 4
    max_pairs: int | None = None
    judge: str = "sway"
    threshold: float | None = None
    temperature: float = 0.7
    top_p: float | None = None
    max_new_tokens: int = 256
    sampler: str = "hf"
    seed: int | None = None
    apply: bool = False
    batch_size: int | None = None
    judge_batch_size: int | None = None
    judge_timeout: float = 30.0
    device: str | None = None
    wait: bool = True
    progress: bool = True


@attrs.frozen
class MineOutcome:
    """What one mine run found and where it went."""

    run_id: int
    prompts: int
    candidates: int
    unique_candidates: int
    truncated_candidates: int
    pairs: list[StagedPair]
    skipped: dict[str, int]
    judge: str
    threshold: float
    wall_seconds: float
    sampling_seconds: float
    judging_seconds: float
    generated_tokens: int | None
    applied: int
    already_present_on_apply: int
    staged_plan: str | None
    interrupted: bool

    @property
    def tokens_per_second(self) -> float | None:
        if self.generated_tokens is None or self.sampling_seconds <= 0:
            return None
        return self.generated_tokens / self.sampling_seconds


def mine_document(
    path: Path,
    options: MineOptions,
    *,
    home: Path,
    host: PluginHost,
    say: Callable[[str], None] = print,
) -> MineOutcome:
    """Mine preference pairs from the document's current adapter."""
    types = host.section_types()
    document = read_document(path, types)
    if document.dlm_id is None or not Store(home, document.dlm_id).exists():
        raise MiningError(f"{path} has no trained adapter yet; run `dlm train {path}` first")
    store = Store(home, document.dlm_id)
    prompts = mining_prompts(document)
    if not prompts:
        raise MiningError(f"{path} has no ::instruction:: prompts to mine; add some ### Q records first")
    with store.lock(wait=options.wait, on_wait=say):
        current = store.current()
        if current is None:
            raise MiningError(f"{path} has no trained adapter yet; run `dlm train {path}` first")
        assert document.frontmatter is not None
        context = PluginContext(
            document=document,
            document_path=path,
            base=parse_base(document.frontmatter.base_model, relative_to=path.parent),
            adapter_path=current.path,
            home=home,
            device=options.device,
            options={
                "batch_size": options.batch_size,
                "judge_batch_size": options.judge_batch_size,
                "judge_timeout": options.judge_timeout,
            },
            say=say,
        )
        judge = host.judge(options.judge, context)  # a bad --judge fails before any sampling
        sampler = host.sampler(options.sampler, context)
        threshold = options.threshold if options.threshold is not None else float(judge.default_threshold)
        miner = _Miner(store, document, types, options, sampler, judge, threshold, current.number, say)
        return miner.run(path, prompts)


@attrs.define
class _Miner:
    store: Store
    document: Document
    types: dict[str, SectionType]
    options: MineOptions
    sampler: Sampler
    judge: Judge
    threshold: float
    version: int
    say: Callable[[str], None]

    def run(self, path: Path, prompts: list[str]) -> MineOutcome:
        options = self.options
        config = {
            "samples": options.samples,
            "max_pairs": options.max_pairs,
            "judge": options.judge,
            "threshold": self.threshold,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "max_new_tokens": options.max_new_tokens,
            "sampler": options.sampler,
            "apply": options.apply,
        }
        with MetricsDB.open(self.store.metrics_path) as db:
            run_id = db.start_run("mine", seed=options.seed, version=self.version, config=config)
            with db.stops_recorded(run_id, interrupted="interrupted before any pair was judged"):
                outcome = self._mine(db, run_id, path, prompts)
            summary = attrs.asdict(outcome)
            summary["pairs"] = len(outcome.pairs)
            summary["tokens_per_second"] = outcome.tokens_per_second
            status = "interrupted" if outcome.interrupted else "succeeded"
            db.finish_run(run_id, status, summary=summary, version=self.version)
        return outcome

    def _mine(self, db: MetricsDB, run_id: int, path: Path, prompts: list[str]) -> MineOutcome:
        options = self.options
        clock = time.perf_counter()
        self.say(
            f"sampling {options.samples} candidates for each of {len(prompts)} prompts "
            f"with {options.sampler!r} (adapter v{self.version:04d})..."
        )
        sampled = self.sampler.sample(
            prompts,
            options.samples,
            temperature=options.temperature,
            top_p=options.top_p,
            max_new_tokens=options.max_new_tokens,
            seed=options.seed,
        )
        sampling_seconds = time.perf_counter() - clock
        if len(sampled) != len(prompts) or any(not isinstance(c, list) for c in sampled):
            raise MiningError(
                f"sampler {options.sampler!r} returned {len(sampled)} candidate lists for {len(prompts)} prompts"
            )
        generated = getattr(self.sampler, "generated_tokens", None)
        existing = existing_pairs(self.document)
        for plan in self.store.plans():
            existing.update((p.prompt, p.chosen, p.rejected) for p in plan.pairs)

        truncated_total = sum(1 for candidates in sampled for c in candidates if is_truncated(c))
        if truncated_total:
            self.say(
                f"note: {truncated_total} of {sum(map(len, sampled))} candidates hit --max-new-tokens "
                f"{options.max_new_tokens} before their end of turn and are left out of pairs"
            )
        judged: list[MinedPair] = []
        skips: list[Skip] = []
        unique_total = 0
        interrupted = False
        judge_clock = time.perf_counter()
        progress = _progress(prompts, options.progress, f"judging with {options.judge}")
        try:
            for prompt, candidates in zip(progress, sampled, strict=True):
                complete = [c for c in candidates if not is_truncated(c)]
                texts = unique_candidates(complete)
                unique_total += len(texts)
                if len(texts) < 2:
                    result: MinedPair | Skip = self._too_few(prompt, candidates, complete, texts)
                else:
                    scores = self._score(prompt, texts)
                    scored = [Candidate(t, s) for t, s in zip(texts, scores, strict=True)]
                    result = select_pair(prompt, scored, threshold=self.threshold, existing=existing)
                if isinstance(result, MinedPair):
                    judged.append(result)
                    existing.add(result.key)
                else:
                    skips.append(result)
        except KeyboardInterrupt:
            interrupted = True
            self.say(f"interrupted: keeping the {len(judged)} pairs judged so far")
        judging_seconds = time.perf_counter() - judge_clock

        kept, dropped = keep_largest(judged, options.max_pairs)
        skips.extend(Skip(p.prompt, SkipReason.OVER_MAX_PAIRS, f"margin {p.margin:.4g}", p.margin) for p in dropped)
        for pair in kept:
            db.log_mining_event(
                run_id,
                "pair",
                prompt=pair.prompt,
                data={"score_chosen": pair.chosen.score, "score_rejected": pair.rejected.score, "margin": pair.margin},
            )
        for skip in skips:
            data: dict[str, object] = {"detail": skip.detail}
            if skip.margin is not None:
                data["margin"] = skip.margin
            db.log_mining_event(run_id, "skip", prompt=skip.prompt, reason=str(skip.reason), data=data)

        plan = StagedPlan(
            run_id=run_id,
            created_at=utc_now(),
            judge=self.judge.name,
            threshold=self.threshold,
            adapter_version=self.version,
            pairs=[staged_pair(p) for p in kept],
            complete=not interrupted,
        )
        applied = already = 0
        staged_path = None
        if plan.pairs and options.apply and not interrupted:
            fresh = read_document(path, self.types)
            result_doc = apply_plans(fresh, [plan])
            write_document(path, result_doc.document, self.types)
            applied, already = result_doc.added, result_doc.already_present
        elif plan.pairs:
            staged_path = str(self.store.save_plan(plan))
        counts = Counter(str(s.reason) for s in skips)
        return MineOutcome(
            run_id=run_id,
            prompts=len(prompts),
            candidates=sum(len(c) for c in sampled),
            unique_candidates=unique_total,
            truncated_candidates=truncated_total,
            pairs=plan.pairs,
            skipped=dict(sorted(counts.items())),
            judge=self.judge.name,
            threshold=self.threshold,
            wall_seconds=round(time.perf_counter() - clock, 3),
            sampling_seconds=sampling_seconds,
            judging_seconds=judging_seconds,
            generated_tokens=generated,
            applied=applied,
            already_present_on_apply=already,
            staged_plan=staged_path,
            interrupted=interrupted,
        )

    def _too_few(self, prompt: str, candidates: list[str], complete: list[str], texts: list[str]) -> Skip:
        """Why a prompt has fewer than two distinct complete candidates: the token limit, or no variety."""
        cut = len(candidates) - len(complete)
        if cut and len(unique_candidates(candidates)) >= 2:
            limit = self.options.max_new_tokens
            return Skip(prompt, SkipReason.TRUNCATED, f"{cut} of {len(candidates)} candidates hit --max-new-tokens {limit}")
        return Skip(prompt, SkipReason.INSUFFICIENT_VARIETY, f"{len(texts)} distinct candidate(s)")

    def _score(self, prompt: str, texts: list[str]) -> list[float]:
        return checked_scores(self.judge, self.options.judge, prompt, texts)


def _progress(prompts: list[str], enabled: bool, label: str) -> list[str]:
    if not enabled:
        return prompts
    from tqdm import tqdm

    return tqdm(prompts, desc=label, unit="prompt", leave=False)  # type: ignore[no-any-return]


def apply_staged(path: Path, *, home: Path, host: PluginHost, run_id: int | None = None, wait: bool = True,
                 say: Callable[[str], None] = print) -> tuple[int, int, list[int]]:
    """Write staged plans into the document: ``(added, already_present, run_ids)``."""
    types = host.section_types()
    document = read_document(path, types)
    if document.dlm_id is None:
        raise StoreError(f"{path} has no store yet; run `dlm train {path}` first")
    store = Store(home, document.dlm_id)
    with store.lock(wait=wait, on_wait=say):
        plans = [p for p in store.plans() if run_id is None or p.run_id == run_id]
        if not plans:
            which = f"for mine run {run_id} " if run_id is not None else ""
            raise StoreError(f"no staged plan {which}to apply; run `dlm preference mine {path}` first")
        document = read_document(path, types)
        result = apply_plans(document, plans)
        if result.added:
            write_document(path, result.document, types)
        for plan in plans:
            store.drop_plan(plan.run_id)
    return result.added, result.already_present, [p.run_id for p in plans]


def revert_mined(path: Path, *, home: Path, host: PluginHost, run_id: int | None = None, wait: bool = True,
                 say: Callable[[str], None] = print) -> int:
    """Remove auto-mined sections (all, or one run's) from the document; returns how many."""
    types = host.section_types()
    dlm_id = read_document(path, types).dlm_id
    lock = Store(home, dlm_id).lock(wait=wait, on_wait=say) if dlm_id else contextlib.nullcontext()
    with lock:
        updated, removed = revert(read_document(path, types), run_id)
        if removed:
            write_document(path, updated, types)
    return removed


def drop_staged(path: Path, *, home: Path, host: PluginHost, run_id: int | None = None, wait: bool = True,
                say: Callable[[str], None] = print) -> list[int]:
    """Discard staged plans (all, or one run's) without touching the document; returns their run ids."""
    dlm_id = read_document(path, host.section_types()).dlm_id
    if dlm_id is None or not Store(home, dlm_id).exists():
        return []
    store = Store(home, dlm_id)
    with store.lock(wait=wait, on_wait=say):
        doomed = [p.run_id for p in store.plans() if run_id is None or p.run_id == run_id]
        for number in doomed:
            store.drop_plan(number)
    return doomed
