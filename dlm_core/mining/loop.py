"""``dlm loop``: mine, apply, train the preference phase, check, and again, for several rounds.

Each round mines pairs from the current adapter and writes them into the
document, trains the preference phase on them (a new version), and checks
that version against its parent on held-out prompts (the check every
preference phase ends with). The loop holds the document's locks for all
its rounds and stops early, saying why, when:

- a round's version does not beat its parent (the 95% interval of its win
  rate reaches down to one half or below): that version stays in the store,
  but ``current`` goes back to its parent;
- no new pair clears the judge's threshold;
- the user presses Ctrl-C: finished rounds stay, the document and the store
  stay consistent (an interrupted mine keeps its judged pairs staged, an
  interrupted phase writes no version).

The best version (the newest that beat its parent, else the one the loop
started from) is current at the end. The loop is a metrics run of its own
whose summary is the round table.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from dlm_core.errors import EvaluationError
from dlm_core.evaluation.heldout import HeldOutOptions, held_out_prompts
from dlm_core.mining.run import MineOptions, mine
from dlm_core.outcomes import LoopConfig, LoopRound, LoopSummary
from dlm_core.training.job import TrainOptions
from dlm_core.training.phases import train
from dlm_core.workspace import DocumentRun, Recording, Workspace

NO_PAIRS = "no new pair cleared the judge's threshold"
INTERRUPTED = "interrupted"


@attrs.frozen
class LoopOptions:
    """``dlm loop``: the rounds, the mining options, and the held-out check."""

    rounds: int
    mine: MineOptions
    held_out: HeldOutOptions = attrs.Factory(HeldOutOptions)
    include_mined: bool = True
    seed: int | None = None
    device: str | None = None
    wait: bool = True
    progress: bool = True


def run_loop(workspace: Workspace, path: Path, options: LoopOptions) -> LoopSummary:
    """``dlm loop``: open the document (locks held for every round) and run the rounds."""
    with workspace.open(path, wait=options.wait) as run:
        return loop(run, options)


def loop(run: DocumentRun, options: LoopOptions) -> LoopSummary:
    """Run up to ``options.rounds`` rounds on the run's document (see the module docstring)."""
    start = run.current(" before looping")
    if not held_out_prompts(run, options.held_out):
        raise EvaluationError(
            f"{run.path} has no ::eval:: prompts, and the loop decides each round on them: add an "
            "::eval:: section of ### Q questions it never trains on, or pass --eval-prompts FILE"
        )
    config = LoopConfig(
        rounds=options.rounds,
        judge=options.mine.judge,
        eval_judge=options.held_out.judge,
        samples=options.mine.samples,
        max_pairs=options.mine.max_pairs,
    )
    with run.recorded("loop", seed=options.seed, version=start.number, config=config) as recording:
        summary = _Rounds(run, options, recording, start.number).play()
        status = "interrupted" if summary.stopped == INTERRUPTED else "succeeded"
        recording.finish(summary, status=status, version=summary.best_version)
    return summary


@attrs.define
class _Rounds:
    run: DocumentRun
    options: LoopOptions
    recording: Recording
    best: int
    rounds: list[LoopRound] = attrs.Factory(list)

    def play(self) -> LoopSummary:
        stopped = f"ran all {self.options.rounds} rounds"
        try:
            for number in range(1, self.options.rounds + 1):
                reason = self._round(number)
                if reason is not None:
                    stopped = reason
                    break
        except KeyboardInterrupt:
            stopped = INTERRUPTED
            self.run.say(f"interrupted: keeping the {len(self.rounds)} finished round(s)")
        store = self.run.trained_store()
        store.set_current(store.version(self.best))
        return LoopSummary(rounds=list(self.rounds), stopped=stopped, best_version=self.best)

    def _round(self, number: int) -> str | None:
        """One round; the reason to stop, or None to go on."""
        total, say = self.options.rounds, self.run.say
        parent = self.run.current()
        say(f"round {number}/{total}: mining pairs from {parent.name}...")
        mined = mine(self.run, attrs.evolve(self.options.mine, apply=True, wait=True))
        if mined.interrupted:
            raise KeyboardInterrupt
        if mined.applied == 0:
            self._record(LoopRound(round=number, mine_run_id=mined.run_id, parent=parent.number))
            return f"round {number}: {NO_PAIRS}"
        say(
            f"round {number}/{total}: training the preference phase on {mined.applied} new pairs..."
        )
        train_options = TrainOptions(
            phase="preference",
            include_mined=self.options.include_mined,
            seed=self.options.seed,
            device=self.options.device,
            progress=self.options.progress,
            held_out=attrs.evolve(
                self.options.held_out,
                gate=True,
                # The check speaks to the same servers as mining did, unless told otherwise.
                sampler_options=self.options.held_out.sampler_options
                or self.options.mine.sampler_options,
                judge_options=self.options.held_out.judge_options
                or self.options.mine.judge_options,
            ),
        )
        (phase,) = train(self.run, train_options)
        verdict = phase.held_out
        self._record(
            LoopRound(
                round=number,
                mine_run_id=mined.run_id,
                pairs=mined.applied,
                parent=parent.number,
                version=phase.version,
                train_run_id=phase.metrics_run_id,
                verdict=verdict,
            )
        )
        if verdict is None or not verdict.better:
            return (
                f"round {number}: v{phase.version:04d} did not beat {parent.name} on held-out "
                "prompts (95% CI low at or below 50%)"
            )
        self.best = phase.version
        return None

    def _record(self, row: LoopRound) -> None:
        self.rounds.append(row)
        self.run.say(row.describe())
        if row.verdict is not None:
            db, run_id = self.recording.db, self.recording.run_id
            db.log_eval(run_id, "win_rate", row.verdict.win_rate, step=row.round)
            db.log_eval(run_id, "ci_low", row.verdict.ci_low, step=row.round)
            db.log_eval(run_id, "ci_high", row.verdict.ci_high, step=row.round)
