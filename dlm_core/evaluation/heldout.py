"""The held-out check that ends every preference phase: is the new version better?

The new version answers the document's ``::eval::`` prompts (or a
``--eval-prompts`` file) beside the version it started from, and a judge
picks the better answer of each pair, exactly as ``dlm compare`` does (this
is a compare run). The judge is the one that mined the pairs the phase
trained on, over the adapter they were mined from (the same judgement that
chose the pairs), unless ``--eval-judge`` names another. The verdict (win
rate with its Wilson interval, ties, answer lengths, the length-controlled
rate) goes into the phase's summary; with ``--gate`` a version that does
not win stays out of ``current``. Without held-out prompts, one line says
that nothing checked the new version and how to add some.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from dlm_core.document.provenance import MinedProvenance
from dlm_core.evaluation.compare import CompareOptions, compare
from dlm_core.evaluation.prompts import eval_prompts, prompts_from_file
from dlm_core.metrics.db import MetricsDB
from dlm_core.outcomes import HeldOutVerdict, MineConfig, WinTally
from dlm_core.specs import DEFAULT_SAMPLER
from dlm_core.store.store import AdapterVersion
from dlm_core.workspace import DocumentRun

EVAL_COMPARISONS = 64
"""Comparisons the check aims for when ``--eval-samples`` is not given.

The verdict is a win rate with a 95% Wilson interval, and the interval's
width is set by the number of comparisons, not prompts: at 32 comparisons a
65% win rate still has its lower bound under one half (48%), so a version
that wins two answers in three would fail a gate; at 64 it clears it (53%).
"""
MIN_EVAL_SAMPLES = 4
MAX_EVAL_SAMPLES = 16

EVAL_TEMPERATURE = 0.7


@attrs.frozen
class HeldOutOptions:
    """How a preference phase checks its new version (``dlm train --eval-*``, ``--gate``)."""

    prompts_file: Path | None = None
    judge: str | None = None  # None: the mining judge of the pairs trained on
    samples: int | None = None  # None: :func:`eval_samples` of the prompts
    seed: int = 0
    max_new_tokens: int = 256
    gate: bool | None = None  # None: the document's training.preference.gate
    sampler: str | None = None  # None: the sampler that mined the pairs, else the default one
    sampler_options: dict[str, str] = attrs.Factory(dict)  # --sampler-option, for that sampler
    judge_options: dict[str, str] = attrs.Factory(dict)  # --judge-option, for that judge
    device: str | None = None
    progress: bool = True


@attrs.frozen
class _MiningJudge:
    """The judge (and the adapter it judged over, and the sampler) of the pairs trained on."""

    selector: str
    version: AdapterVersion | None
    sampler: str | None = None


def eval_samples(prompts: int) -> int:
    """Answers per prompt and side for about :data:`EVAL_COMPARISONS` comparisons, within bounds."""
    wanted = -(-EVAL_COMPARISONS // max(prompts, 1))
    return min(max(wanted, MIN_EVAL_SAMPLES), MAX_EVAL_SAMPLES)


def held_out_prompts(run: DocumentRun, options: HeldOutOptions) -> list[str]:
    """The prompts the check uses: the file's, else the document's ``::eval::`` questions."""
    if options.prompts_file is not None:
        return prompts_from_file(options.prompts_file)
    return eval_prompts(run.document)


def held_out_check(
    run: DocumentRun, parent: AdapterVersion, new: AdapterVersion, options: HeldOutOptions
) -> HeldOutVerdict | None:
    """Compare ``new`` with ``parent`` on held-out prompts; None (and one line) when there are none."""
    prompts = held_out_prompts(run, options)
    if not prompts:
        run.say(
            f"note: nothing checked {new.name} against {parent.name}: {run.path} has no ::eval:: "
            "prompts; add an ::eval:: section of ### Q questions it never trains on, or pass "
            "--eval-prompts FILE"
        )
        return None
    judge = _judge(run, options)
    if judge is None:
        run.say(
            f"note: nothing checked {new.name} against {parent.name}: its pairs were not mined by "
            "this store, so there is no mining judge to ask; pass --eval-judge JUDGE"
        )
        return None
    over = judge.version or parent
    samples = options.samples if options.samples is not None else eval_samples(len(prompts))
    run.say(
        f"held-out check: {new.name} vs {parent.name}, judged by {judge.selector} (over {over.name})..."
    )
    report = compare(
        run,
        CompareOptions(
            a=parent.name,
            b=new.name,
            judge=judge.selector,
            prompts_file=options.prompts_file,
            samples=samples,
            seed=options.seed,
            temperature=EVAL_TEMPERATURE if samples > 1 else 0.0,
            max_new_tokens=options.max_new_tokens,
            sampler=options.sampler or judge.sampler or DEFAULT_SAMPLER,
            device=options.device,
            progress=options.progress,
            judge_version=over.name,
            sampler_options=dict(options.sampler_options),
            judge_options=dict(options.judge_options),
        ),
    )
    controlled = report.length_controlled
    tally = {field.name: getattr(report, field.name) for field in attrs.fields(WinTally)}
    verdict = HeldOutVerdict(
        **tally,
        compare_run_id=report.run_id,
        judge=judge.selector,
        parent=parent.number,
        version=new.number,
        prompts=report.prompts,
        mean_words_parent=report.mean_words_a,
        mean_words_new=report.mean_words_b,
        length_controlled_win_rate=controlled.win_rate
        if controlled and controlled.comparisons
        else None,
        length_warning=controlled.warning if controlled else None,
    )
    run.say(verdict.describe())
    return verdict


def _judge(run: DocumentRun, options: HeldOutOptions) -> _MiningJudge | None:
    """``--eval-judge`` (else the mining judge) with the adapter and sampler of the newest mine
    run whose pairs were trained on; None when neither names a judge.

    Read from the store's own records, never from the document's provenance
    markers: a document may come from someone else, and a judge can be a command.
    """
    mined = _mining_run(run)
    if options.judge is not None:
        return _MiningJudge(
            options.judge, mined.version if mined else None, mined.sampler if mined else None
        )
    return mined


def _mining_run(run: DocumentRun) -> _MiningJudge | None:
    store = run.trained_store()
    mined = {
        section.provenance.mined_run_id
        for section in run.document.sections
        if isinstance(section.provenance, MinedProvenance)
    }
    if not mined or not store.metrics_path.exists():
        return None
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        runs = [r for r in db.runs(kind="mine") if r.id in mined]
    for row in reversed(runs):
        config = row.settings
        if isinstance(config, MineConfig) and config.judge:
            version = None
            if row.version is not None:
                version = next((v for v in store.versions() if v.number == row.version), None)
            return _MiningJudge(config.judge, version, config.sampler or None)
    return None
