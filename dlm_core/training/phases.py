"""``dlm train``: run the SFT and preference phases, each as a new version.

The orchestration is the same for every trainer plugin: open the document
(locks first, then one read), decide the phases and check their trainers
before anything is written, give a new document its identity, and for each
phase build its rows, hand a :class:`~dlm_core.protocols.TrainJob` to the
trainer picked by name, and record the result. A version is written to a
temporary folder and renamed into place; ``current`` moves only after the
phase succeeded; every phase is a metrics run, failed or interrupted ones too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from dlm_core import __version__
from dlm_core.document.frontmatter import Frontmatter
from dlm_core.document.model import Document
from dlm_core.document.types import SectionType
from dlm_core.errors import TrainingError
from dlm_core.evaluation.heldout import held_out_check
from dlm_core.fileformat import write_json
from dlm_core.models.session import ModelSession
from dlm_core.outcomes import PhaseConfig, PhaseOutcome
from dlm_core.protocols import StepLog, TrainResult
from dlm_core.specs import TrainerSpec
from dlm_core.store.records import RunRecord
from dlm_core.store.store import AdapterVersion, utc_now
from dlm_core.training import rows as rowsmod
from dlm_core.training.distributed import gpu_ids, run_workers
from dlm_core.training.fit import FitChange, sft_fit
from dlm_core.training.job import (
    PhaseName,
    PreparedPhase,
    checked_train,
    prepare_phase,
    start_version,
    trainer_name,
)
from dlm_core.training.job import (
    TrainOptions as TrainOptions,  # train_document's argument: imported from here by callers
)
from dlm_core.training.schedule import few_steps_note
from dlm_core.visual.tensorboard import TensorBoardSink, require_tensorboard, tensorboard_dir
from dlm_core.workspace import DocumentRun, Recording, Workspace


def plan_phases(
    document: Document,
    types: dict[str, SectionType],
    options: TrainOptions,
    current: AdapterVersion | None,
    path: Path,
    say: Callable[[str], None],
) -> list[PhaseName]:
    """Which phases run, or a clear error before anything is loaded."""
    frontmatter = document.frontmatter or Frontmatter()
    phases: list[PhaseName] = []
    if options.phase in ("sft", "all"):
        if rowsmod.count_sft_examples(document, types) == 0:
            raise TrainingError(f"{path} has no prose or instruction text to train on")
        phases.append("sft")
    records = rowsmod.count_preference_records(document, types, include_mined=options.include_mined)
    if options.phase == "preference":
        if current is None:
            raise TrainingError(
                f"--phase preference needs a trained adapter to start from; run `dlm train {path}` first"
            )
        if records == 0:
            left_out = rowsmod.count_preference_records(document, types, include_mined=True)
            why = f" ({left_out} auto-mined left out by --no-mined)" if left_out else ""
            raise TrainingError(
                f"{path} has no ::preference:: records to train on{why}; "
                f"add some or run `dlm preference mine {path} --apply`"
            )
        phases.append("preference")
    elif options.phase == "all" and records:
        if frontmatter.training.preference.enabled is False:
            say("skipping the preference phase: training.preference.enabled is false")
        else:
            phases.append("preference")
    return phases


def train_document(workspace: Workspace, path: Path, options: TrainOptions) -> list[PhaseOutcome]:
    """``dlm train``: open the document (locks first) and train its phases."""
    if options.tensorboard:
        require_tensorboard()  # before the document is touched or a model is loaded
    if options.gpus is not None:
        options = attrs.evolve(options, num_processes=len(gpu_ids(options.gpus)))
    elif options.accelerate_config is not None and options.num_processes == 1:
        raise TrainingError(
            "--accelerate-config needs --num-processes N (or --gpus) for the processes it describes"
        )
    with workspace.open(path, wait=options.wait) as run:
        return train(run, options)


def train(run: DocumentRun, options: TrainOptions) -> list[PhaseOutcome]:
    """Train the run's document: one outcome per phase, each a new current version."""
    if options.start_version is not None and options.phase != "preference":
        raise TrainingError(
            "--from picks the adapter a preference phase starts from; use it with --phase preference"
        )
    if options.continue_sft and options.phase != "sft":
        raise TrainingError(
            "--continue trains SFT further from the current adapter; use it with --phase sft"
        )
    # Only a preference phase on its own continues an existing adapter; SFT starts from the base.
    existing = run.store if run.store is not None and run.store.exists() else None
    continues = options.phase == "preference" or options.continue_sft
    start = start_version(existing, options) if existing and continues else None
    if options.continue_sft and start is None:
        raise TrainingError(
            f"--continue needs a trained adapter to continue; run `dlm train {run.path}` first"
        )
    phases = plan_phases(run.document, run.types, options, start, run.path, run.say)
    for phase in phases:  # an unknown trainer fails now, before the document or store is touched
        run.workspace.host.spec(TrainerSpec, trainer_name(run.document, phase))
    store = run.create_store()
    frontmatter = run.document.frontmatter
    assert frontmatter is not None
    for key in frontmatter.training.unsupported_keys():
        run.say(f"note: {key} is accepted for compatibility but has no effect in dlm")
    store.remove_stale_temporaries()
    session = run.session(None, device=options.device)
    return [_PhaseRunner(run, options, session).train(phase) for phase in phases]


@attrs.define
class _PhaseRunner:
    """One phase's steps: prepare, announce, train into a new version, record."""

    run: DocumentRun
    options: TrainOptions
    session: ModelSession

    def train(self, phase: PhaseName) -> PhaseOutcome:
        run = self.run
        assert run.store is not None
        prepared = prepare_phase(
            run.document, run.types, phase, self.options, run.store, self.session
        )
        self._announce(prepared)
        config = self._config(prepared)
        with run.recorded("train", phase=phase, seed=prepared.seed, config=config) as recording:
            outcome = self._train(prepared, recording)
            for note in outcome.notes:
                run.say(f"{phase}: {note}")
            if prepared.phase == "preference" and prepared.start is not None:
                outcome = self._held_out(prepared.start, outcome)
            recording.finish(outcome, version=outcome.version)
        return outcome

    def _held_out(self, parent: AdapterVersion, outcome: PhaseOutcome) -> PhaseOutcome:
        """Check the new version against its parent on held-out prompts.

        With the gate (``--gate`` or ``training.preference.gate``), ``current``
        stays on the parent while the check runs and moves to the new version
        only if it wins, so it never points at a version that failed, or was
        not given, the check.
        """
        store, options = self.run.store, self.options.held_out
        assert store is not None and self.run.document.frontmatter is not None
        new = store.version(outcome.version)
        gate = options.gate
        if gate is None:
            gate = self.run.document.frontmatter.training.preference.gate
        if gate:
            store.set_current(parent)
        verdict = held_out_check(self.run, parent, new, options)
        if verdict is None:
            if gate:
                self.run.say(f"gate: kept {parent.name} current; nothing checked {new.name}")
            return attrs.evolve(outcome, current=not gate)
        current = not gate or verdict.better
        if current:
            store.set_current(new)
        else:
            verdict = attrs.evolve(verdict, gated=True)
            self.run.say(
                f"gate: kept {parent.name} current; {new.name} did not beat it on held-out "
                f"prompts (95% CI low {verdict.ci_low:.0%}, needs above 50%)"
            )
        record = new.run
        if record is not None:
            write_json(new.path / "run.json", attrs.evolve(record, held_out=verdict))
        return attrs.evolve(outcome, held_out=verdict, current=current)

    def _announce(self, prepared: PreparedPhase) -> None:
        settings, rowset, phase = prepared.settings, prepared.rowset, prepared.phase
        note = few_steps_note(phase, prepared.plan, rowset.size, settings.batch_size)
        if note is not None:
            self.run.say(note)
        described = ", ".join(f"{kind} {n}" for kind, n in sorted(rowset.rows.items()))
        extra = f"; {rowset.mined_excluded} auto-mined left out" if rowset.mined_excluded else ""
        processes = self.options.num_processes
        where_run = f" on {processes} processes" if processes > 1 else ""
        if phase == "sft":
            origin = (
                f"continuing {prepared.start.name}"
                if prepared.start
                else "a new adapter from the base"
            )
        else:
            origin = f"continuing {prepared.start.name}" if prepared.start else "from the base"
        self.run.say(
            f"{phase}: {rowset.size} rows ({described}{extra}) "
            f"with trainer {prepared.trainer_name!r}{where_run}, {origin}"
        )

    def _config(self, prepared: PreparedPhase) -> PhaseConfig:
        frontmatter = self.run.document.frontmatter
        assert frontmatter is not None
        return PhaseConfig(
            trainer=prepared.trainer_name,
            settings=prepared.settings,
            lora=prepared.lora,
            rows=prepared.rowset.rows,
            mined_included=prepared.rowset.mined_included,
            mined_excluded=prepared.rowset.mined_excluded,
            start_version=prepared.start.number if prepared.start else None,
            base_model=frontmatter.base_model,
            num_processes=self.options.num_processes,
        )

    def _train(self, prepared: PreparedPhase, recording: Recording) -> PhaseOutcome:
        """Train into a new version folder, write its run.json, and make it current."""
        store = self.run.store
        assert store is not None
        sink = self._sink(recording.run_id, prepared.phase)
        started, clock = utc_now(), time.perf_counter()
        try:
            with store.new_version() as (number, folder):
                result = self._call_trainer(prepared, folder, recording, sink)
                fit = (  # SFT: how far the loss on the document's own answers fell
                    sft_fit(self.session.base_model, prepared.rowset.lm_rows, folder)
                    if prepared.phase == "sft" and self.options.num_processes == 1
                    else None
                )
                record = self._record(
                    prepared, result, number, started, time.perf_counter() - clock
                )
                record = attrs.evolve(record, metrics_run_id=recording.run_id)
                write_json(folder / "run.json", record)
            store.set_current(store.version(number))
        finally:
            if sink is not None:
                sink.close()
        return _outcome(record, result, fit)

    def _sink(self, run_id: int, phase: str) -> TensorBoardSink | None:
        if not self.options.tensorboard:
            return None
        assert self.run.store is not None
        sink = TensorBoardSink(tensorboard_dir(self.run.store.root, run_id))
        self.run.say(f"{phase}: TensorBoard events in {sink.log_dir}")
        return sink

    def _call_trainer(
        self,
        prepared: PreparedPhase,
        folder: Path,
        recording: Recording,
        sink: TensorBoardSink | None,
    ) -> TrainResult:
        run, options = self.run, self.options
        assert run.store is not None
        if options.num_processes > 1:
            return run_workers(
                run.path, run.store, prepared.phase, options, folder, recording.run_id, run.say
            )

        def on_step(step: StepLog) -> None:
            recording.db.log_steps(
                recording.run_id,
                [(step.step, step.loss, step.learning_rate, step.grad_norm, step.extra)],
            )
            if sink is not None:
                sink(step)

        trainer = run.trainer(prepared.trainer_name, prepared.context(run.path, run.say))
        job = prepared.job(folder, on_step, options.progress)
        return checked_train(trainer, job, prepared.trainer_name)

    def _record(
        self, prepared: PreparedPhase, result: TrainResult, number: int, started: str, wall: float
    ) -> RunRecord:
        frontmatter = self.run.document.frontmatter
        assert frontmatter is not None
        rowset = prepared.rowset
        return RunRecord(
            version=number,
            phase=prepared.phase,
            trainer=prepared.trainer_name,
            parent_version=prepared.start.number if prepared.start else None,
            base_model=frontmatter.base_model,
            seed=prepared.seed,
            rows=rowset.rows,
            mined_included=rowset.mined_included,
            mined_excluded=rowset.mined_excluded,
            hyperparameters={
                **attrs.asdict(prepared.settings),
                "lora": attrs.asdict(prepared.lora),
            },
            steps=result.steps,
            final_loss=result.final_loss,
            tokens=result.tokens,
            wall_seconds=round(wall, 3),
            started_at=started,
            finished_at=utc_now(),
            document_sha256=self.run.digest,
            dlm_version=__version__,
            effective_batch_size=result.effective_batch_size,
            num_processes=self.options.num_processes,
        )


def _outcome(record: RunRecord, result: TrainResult, fit: FitChange | None) -> PhaseOutcome:
    """What the user and the metrics database see of a finished phase.

    The trainer's notes (``extra["notes"]``: the TRL guard's, for one) are said after the phase.
    """
    extra: dict[str, Any] = {
        key: float(value)
        for key, value in result.extra.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    notes = [str(note) for note in result.extra.get("notes", [])]
    if fit is not None:
        extra.update(fit.summary())
        notes.insert(0, fit.describe())
    return PhaseOutcome(
        phase=record.phase,
        trainer=record.trainer,
        version=record.version,
        steps=record.steps,
        final_loss=record.final_loss,
        tokens=record.tokens,
        wall_seconds=record.wall_seconds,
        rows=record.rows,
        mined_included=record.mined_included,
        mined_excluded=record.mined_excluded,
        metrics_run_id=record.metrics_run_id or 0,
        extra=extra,
        notes=notes,
    )
