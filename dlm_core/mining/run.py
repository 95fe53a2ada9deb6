"""``dlm preference mine``: sample, judge, select, then stage or apply.

1. Prompts: the question of every instruction record, de-duplicated.
2. Candidates: ``samples`` per prompt from the sampler, all prompts in one call.
3. Distinct non-empty candidates that ended on their own (not cut off at
   ``max_new_tokens``); fewer than two skips the prompt.
4. The judge scores each distinct candidate once; the best and the worst
   non-near-duplicate form the pair (see :mod:`dlm_core.mining.selection`),
   which must not contradict the document's own answer (see
   :mod:`dlm_core.mining.guard`). ``--pairs reference`` pairs the document's
   answer with the worst candidate instead (:mod:`dlm_core.mining.pairing`).
5. ``max_pairs`` keeps the largest margins.
6. The plan is staged in the store, or written into the document at once.
7. The run is a metrics run with one event per prompt.

The document is read once, after the locks are taken, and written (with
``--apply``) under the same locks. Ctrl-C during judging keeps every pair
judged so far in a staged plan marked incomplete. A judge failure stops
the run and writes nothing.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import attrs

from dlm_core.document.io import check_writable
from dlm_core.errors import MiningError
from dlm_core.mining.guard import document_check
from dlm_core.mining.pairing import Pairing, PairsMode
from dlm_core.mining.plan import apply_plans, existing_pairs, staged_pair
from dlm_core.mining.prompts import mining_prompts, reference_answers
from dlm_core.mining.scoring import checked_scores
from dlm_core.mining.selection import (
    MinedPair,
    Skip,
    SkipReason,
    keep_largest,
    readable_candidates,
    unique_candidates,
)
from dlm_core.outcomes import MineConfig, MineOutcome
from dlm_core.progress import progress_bar
from dlm_core.protocols import Judge, Sampler, generated_tokens, is_truncated, served_model
from dlm_core.sampling import checked_samples
from dlm_core.specs import DEFAULT_JUDGE, DEFAULT_SAMPLER
from dlm_core.store.staged import StagedPlan
from dlm_core.store.store import utc_now
from dlm_core.workspace import DocumentRun, Recording, Workspace


@attrs.frozen
class MineOptions:
    """The flags of ``dlm preference mine``."""

    samples: int = 4
    max_pairs: int | None = None
    judge: str = DEFAULT_JUDGE
    threshold: float | None = None
    temperature: float = 0.7
    top_p: float | None = None
    max_new_tokens: int = 256
    sampler: str = DEFAULT_SAMPLER
    sampler_options: dict[str, str] = attrs.Factory(dict)
    judge_options: dict[str, str] = attrs.Factory(dict)
    pairs: PairsMode = "judged"  # "reference": the document's answer vs the worst candidate (SPIN)
    check_document: bool = False  # --document-check: the reference agreement (mining.guard)
    check_yes_no: bool = True  # --no-yes-no-check turns off the yes/no agreement (mining.yes_no)
    seed: int | None = None
    apply: bool = False
    batch_size: int | None = None
    judge_batch_size: int | None = None
    judge_timeout: float = 30.0
    device: str | None = None
    wait: bool = True
    progress: bool = True


@attrs.frozen
class _Judged:
    """What judging every prompt gave: pairs, skips, and whether Ctrl-C cut it short."""

    pairs: list[MinedPair]
    skips: list[Skip]
    unique: int
    unscored: int
    interrupted: bool
    seconds: float


def mine_document(workspace: Workspace, path: Path, options: MineOptions) -> MineOutcome:
    """``dlm preference mine``: open the document (locks first) and mine it."""
    with workspace.open(path, wait=options.wait) as run:
        return mine(run, options)


def mine(run: DocumentRun, options: MineOptions) -> MineOutcome:
    """Mine preference pairs from the current adapter of the run's document."""
    current = run.current()
    if options.apply:
        check_writable(run.path)  # before any sampling, not after it
    prompts = mining_prompts(run.document)
    if not prompts:
        raise MiningError(
            f"{run.path} has no ::instruction:: prompts to mine; add some ### Q records first"
        )
    context = run.context(
        current,
        device=options.device,
        progress=options.progress,
        options={
            "batch_size": options.batch_size,
            "judge_batch_size": options.judge_batch_size,
            "judge_timeout": options.judge_timeout,
            "sampler_options": dict(options.sampler_options),
            "judge_options": dict(options.judge_options),
        },
    )
    judge = run.judge(options.judge, context)  # a bad --judge fails before any sampling
    sampler = run.sampler(options.sampler, context)
    threshold = (
        options.threshold if options.threshold is not None else float(judge.default_threshold)
    )
    config = MineConfig(
        samples=options.samples,
        max_pairs=options.max_pairs,
        judge=options.judge,
        threshold=threshold,
        temperature=options.temperature,
        top_p=options.top_p,
        max_new_tokens=options.max_new_tokens,
        sampler=options.sampler,
        apply=options.apply,
        pairs=options.pairs,
        document_check=options.check_document and options.pairs == "judged",
        yes_no_check=options.check_yes_no and options.pairs == "judged",
    )
    answers = reference_answers(run.document)
    check = document_check(
        run.workspace.host,
        context,
        options.judge,
        answers,
        yes_no=config.yes_no_check,
        reference=config.document_check,
        say=run.say,
    )
    pairing = Pairing(options.pairs, threshold, answers, check)
    with run.recorded(
        "mine",
        seed=options.seed,
        version=current.number,
        config=config,
        interrupted="interrupted before any pair was judged",
    ) as recording:
        miner = _Miner(run, recording, options, sampler, judge, threshold, current.number, pairing)
        outcome = miner.mine(prompts)
        status = "interrupted" if outcome.interrupted else "succeeded"
        recording.finish(outcome.summary(), status=status, version=current.number)
    return outcome


@attrs.define
class _Miner:
    """One mine run's steps, each a method: sample, judge, record, deliver."""

    run: DocumentRun
    recording: Recording
    options: MineOptions
    sampler: Sampler
    judge: Judge
    threshold: float
    version: int
    pairing: Pairing

    def mine(self, prompts: list[str]) -> MineOutcome:
        clock = time.perf_counter()
        sampled = self._sample(prompts)
        sampling_seconds = time.perf_counter() - clock
        truncated = self._note_truncated(sampled)
        judged = self._judge_all(prompts, sampled)
        kept, dropped = keep_largest(judged.pairs, self.options.max_pairs)
        skips = judged.skips + [
            Skip(p.prompt, SkipReason.OVER_MAX_PAIRS, f"margin {p.margin:.4g}", p.margin)
            for p in dropped
        ]
        self._record_events(kept, skips)
        plan = StagedPlan(
            run_id=self.recording.run_id,
            created_at=utc_now(),
            judge=self.judge.name,
            threshold=self.threshold,
            adapter_version=self.version,
            pairs=[staged_pair(p) for p in kept],
            complete=not judged.interrupted,
            chosen_from=self.pairing.chosen_from,
        )
        applied, already, staged_path = self._deliver(plan)
        tokens = generated_tokens(sampled)
        return MineOutcome(
            run_id=self.recording.run_id,
            prompts=len(prompts),
            candidates=sum(len(c) for c in sampled),
            unique_candidates=judged.unique,
            truncated_candidates=truncated,
            unscored_candidates=judged.unscored,
            pairs=len(plan.pairs),
            mined_pairs=plan.pairs,
            skipped=dict(sorted(Counter(str(s.reason) for s in skips).items())),
            judge=self.judge.name,
            threshold=self.threshold,
            wall_seconds=round(time.perf_counter() - clock, 3),
            sampling_seconds=sampling_seconds,
            judging_seconds=judged.seconds,
            generated_tokens=tokens,
            tokens_per_second=tokens / sampling_seconds
            if tokens and sampling_seconds > 0
            else None,
            applied=applied,
            already_present_on_apply=already,
            staged_plan=staged_path,
            interrupted=judged.interrupted,
            sampler_model=served_model(self.sampler),
            judge_model=served_model(self.judge),
        )

    def _sample(self, prompts: list[str]) -> list[list[str]]:
        options = self.options
        self.run.say(
            f"sampling {options.samples} candidates for each of {len(prompts)} prompts "
            f"with {options.sampler!r} (adapter v{self.version:04d})..."
        )
        return checked_samples(
            self.sampler,
            options.sampler,
            prompts,
            options.samples,
            temperature=options.temperature,
            top_p=options.top_p,
            max_new_tokens=options.max_new_tokens,
            seed=options.seed,
            exact=False,
        )

    def _note_truncated(self, sampled: list[list[str]]) -> int:
        count = sum(1 for candidates in sampled for c in candidates if is_truncated(c))
        if count:
            self.run.say(
                f"note: {count} of {sum(map(len, sampled))} candidates hit --max-new-tokens "
                f"{self.options.max_new_tokens} before their end of turn and are left out of pairs"
            )
        return count

    def _judge_all(self, prompts: list[str], sampled: list[list[str]]) -> _Judged:
        """Judge each prompt's candidates; Ctrl-C keeps what was judged so far."""
        existing = existing_pairs(self.run.document)
        assert self.run.store is not None
        for plan in self.run.store.plans():
            existing.update((p.prompt, p.chosen, p.rejected) for p in plan.pairs)
        pairs: list[MinedPair] = []
        skips: list[Skip] = []
        unique = unscored = 0
        interrupted = False
        clock = time.perf_counter()
        label = f"judging with {self.options.judge}"
        with progress_bar(
            len(prompts), desc=label, unit="prompt", enabled=self.options.progress
        ) as bar:
            try:
                for prompt, candidates in zip(prompts, sampled, strict=True):
                    candidates, unreadable = readable_candidates(prompt, candidates)
                    skips.extend(unreadable)
                    result, distinct, no_score = self._judge_one(prompt, candidates, existing)
                    unique += distinct
                    unscored += no_score
                    if isinstance(result, MinedPair):
                        pairs.append(result)
                        existing.add(result.key)
                    else:
                        skips.append(result)
                    bar.update(1)
            except KeyboardInterrupt:
                interrupted = True
                self.run.say(f"interrupted: keeping the {len(pairs)} pairs judged so far")
        if unscored:
            self.run.say(
                f"note: the judge gave no score to {unscored} of {unique} candidates; "
                "they are left out of pairs"
            )
        return _Judged(pairs, skips, unique, unscored, interrupted, time.perf_counter() - clock)

    def _judge_one(
        self, prompt: str, candidates: list[str], existing: set[tuple[str, str, str]]
    ) -> tuple[MinedPair | Skip, int, int]:
        """The pair for one prompt (or why there is none), its distinct complete candidates,
        and how many of those the judge gave no score (NaN)."""
        complete = [c for c in candidates if not is_truncated(c)]
        texts = unique_candidates(complete)
        if len(texts) < 2:
            return self._too_few(prompt, candidates, complete, texts), len(texts), 0
        missing = 0

        def score(prompt: str, texts: list[str]) -> list[float]:
            nonlocal missing
            scores = checked_scores(
                self.judge, self.options.judge, prompt, texts, allow_unscored=True
            )
            missing += sum(1 for value in scores if math.isnan(value))
            return scores

        return self.pairing.pair(prompt, texts, score, existing), len(texts), missing

    def _too_few(
        self, prompt: str, candidates: list[str], complete: list[str], texts: list[str]
    ) -> Skip:
        """Why a prompt has fewer than two distinct complete candidates: the token limit, or no variety."""
        cut = len(candidates) - len(complete)
        if cut and len(unique_candidates(candidates)) >= 2:
            limit = self.options.max_new_tokens
            return Skip(
                prompt,
                SkipReason.TRUNCATED,
                f"{cut} of {len(candidates)} candidates hit --max-new-tokens {limit}",
            )
        return Skip(prompt, SkipReason.INSUFFICIENT_VARIETY, f"{len(texts)} distinct candidate(s)")

    def _record_events(self, kept: Iterable[MinedPair], skips: Iterable[Skip]) -> None:
        db, run_id = self.recording.db, self.recording.run_id
        for pair in kept:
            db.log_mining_event(
                run_id,
                "pair",
                prompt=pair.prompt,
                data={
                    "score_chosen": pair.chosen.score,
                    "score_rejected": pair.rejected.score,
                    "margin": pair.margin,
                },
            )
        for skip in skips:
            data: dict[str, object] = {"detail": skip.detail}
            if skip.margin is not None:
                data["margin"] = skip.margin
            db.log_mining_event(
                run_id, "skip", prompt=skip.prompt, reason=str(skip.reason), data=data
            )

    def _deliver(self, plan: StagedPlan) -> tuple[int, int, str | None]:
        """Write the pairs into the document (``--apply``) or stage the plan: ``(added, present, staged)``."""
        if not plan.pairs:
            return 0, 0, None
        if self.options.apply and plan.complete:
            # Read again: the file may have been edited by hand while the candidates were sampled.
            result = apply_plans(self.run.reread(), [plan])
            self.run.write(result.document)
            return result.added, result.already_present, None
        assert self.run.store is not None
        return 0, 0, str(self.run.store.save_plan(plan))
