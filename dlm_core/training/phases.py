"""``dlm train``: run the SFT and preference phases, each as a new version.

The orchestration is the same for every trainer plugin: read the document
(giving it an identity on first use), decide the phases, and for each one
build its rows, hand a :class:`~dlm_core.protocols.TrainJob` to the trainer
picked by name, and record the result. A version is written to a temporary
folder and renamed into place; ``current`` moves only after the phase
succeeded; every phase is a metrics run, failed or interrupted ones too.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from dlm_core import __version__
from dlm_core.document.frontmatter import Frontmatter
from dlm_core.document.identity import with_identity
from dlm_core.document.io import read_text, write_document
from dlm_core.document.model import Document
from dlm_core.document.parser import parse
from dlm_core.document.types import SectionType
from dlm_core.errors import TrainingError
from dlm_core.fileformat import write_json
from dlm_core.metrics.db import MetricsDB
from dlm_core.models.registry import parse_base
from dlm_core.models.session import ModelSession
from dlm_core.plugins import PluginHost, TrainerSpec
from dlm_core.protocols import StepLog
from dlm_core.store.records import RunRecord
from dlm_core.store.store import AdapterVersion, Store, utc_now
from dlm_core.training import rows as rowsmod
from dlm_core.training.distributed import gpu_ids, run_workers
from dlm_core.training.job import (
    PhaseName,
    checked_train,
    prepare_phase,
    start_version,
    trainer_name,
)
from dlm_core.training.job import (
    TrainOptions as TrainOptions,  # train_document's argument: imported from here by callers
)
from dlm_core.visual.tensorboard import TensorBoardSink, require_tensorboard, tensorboard_dir


@attrs.frozen
class PhaseOutcome:
    """One finished phase, as reported to the user."""

    phase: str
    trainer: str
    version: int
    steps: int
    final_loss: float | None
    tokens: int
    wall_seconds: float
    rows: dict[str, int]
    mined_included: int
    mined_excluded: int
    metrics_run_id: int

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.wall_seconds if self.wall_seconds > 0 else 0.0


def prepare_document(
    path: Path, types: dict[str, SectionType], say: Callable[[str], None]
) -> tuple[Document, str]:
    """Read the document; give it frontmatter/dlm_id on first use (and say so)."""
    text = read_text(path)
    document = parse(text, path=path, types=types)
    document, note = with_identity(document)
    if note is not None:
        write_document(path, document, types)
        say(f"{path}: {note}")
        text = read_text(path)
    return document, text


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


def train_document(
    path: Path,
    options: TrainOptions,
    *,
    home: Path,
    host: PluginHost,
    say: Callable[[str], None] = print,
) -> list[PhaseOutcome]:
    """Train the document's phases; returns one outcome per phase."""
    if options.tensorboard:
        require_tensorboard()  # before the document is touched or a model is loaded
    if options.gpus is not None:
        options = attrs.evolve(options, num_processes=len(gpu_ids(options.gpus)))
    elif options.accelerate_config is not None and options.num_processes == 1:
        raise TrainingError("--accelerate-config needs --num-processes N (or --gpus) for the processes it describes")
    types = host.section_types()
    # Refuse impossible requests before the document is touched (identity is written next).
    draft = parse(read_text(path), path=path, types=types)
    if options.start_version is not None and options.phase != "preference":
        raise TrainingError("--from picks the adapter a preference phase starts from; use it with --phase preference")
    draft_store = Store(home, draft.dlm_id) if draft.dlm_id else None
    draft_start = start_version(draft_store, options) if draft_store and draft_store.exists() else None
    planned = plan_phases(draft, types, options, draft_start, path, lambda _m: None)
    for phase in planned:  # an unknown trainer fails now, not after an SFT phase has run
        host.spec(TrainerSpec, trainer_name(draft, phase))
    document, text = prepare_document(path, types, say)
    frontmatter = document.frontmatter
    assert frontmatter is not None and frontmatter.dlm_id is not None
    for key in frontmatter.training.unsupported_keys():
        say(f"note: {key} is accepted for compatibility but has no effect in dlm")
    base = parse_base(frontmatter.base_model, relative_to=path.parent)
    store = Store(home, frontmatter.dlm_id)
    with store.lock(wait=options.wait, on_wait=say):
        store.ensure(path, frontmatter.base_model)
        store.remove_stale_temporaries()
        phases = plan_phases(document, types, options, start_version(store, options), path, say)
        session = ModelSession(
            base,
            home=home,
            device=options.device,
            system_prompt=frontmatter.system_prompt,
            precision=frontmatter.training.precision,
            say=say,
        )
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        outcomes = []
        for phase in phases:
            runner = _PhaseRunner(path, document, types, options, store, session, host, digest, say)
            outcomes.append(runner.run(phase))
    return outcomes


@attrs.define
class _PhaseRunner:
    path: Path
    document: Document
    types: dict[str, SectionType]
    options: TrainOptions
    store: Store
    session: ModelSession
    host: PluginHost
    digest: str
    say: Callable[[str], None]

    def run(self, phase: PhaseName) -> PhaseOutcome:
        frontmatter = self.document.frontmatter
        assert frontmatter is not None
        prepared = prepare_phase(self.document, self.types, phase, self.options, self.store, self.session)
        trainer_name, start, settings, rowset, seed, lora = (
            prepared.trainer_name, prepared.start, prepared.settings, prepared.rowset, prepared.seed, prepared.lora
        )
        distributed = self.options.num_processes > 1
        trainer = None if distributed else self.host.trainer(trainer_name, prepared.context(self.path, self.say))
        if settings.max_steps is None:
            per_step = settings.batch_size * settings.grad_accum * self.options.num_processes
            steps = -(-rowset.size // per_step) * settings.num_epochs
            if steps < 5:
                where = "training.preference.hyperparams" if phase == "preference" else "training"
                self.say(
                    f"note: {phase} will take only {steps} optimizer step(s) ({rowset.size} rows, batch "
                    f"{settings.batch_size}, {settings.num_epochs} epoch(s)); raise {where}.num_epochs "
                    "or learning_rate for a stronger effect"
                )
        described = ", ".join(f"{kind} {n}" for kind, n in sorted(rowset.rows.items()))
        extra = f"; {rowset.mined_excluded} auto-mined left out" if rowset.mined_excluded else ""
        where_run = f" on {self.options.num_processes} processes" if distributed else ""
        self.say(f"{phase}: {rowset.size} rows ({described}{extra}) with trainer {trainer_name!r}{where_run}")
        config = {
            "trainer": trainer_name,
            "settings": attrs.asdict(settings),
            "lora": attrs.asdict(lora),
            "rows": rowset.rows,
            "mined_included": rowset.mined_included,
            "mined_excluded": rowset.mined_excluded,
            "start_version": start.number if start else None,
            "base_model": frontmatter.base_model,
            "num_processes": self.options.num_processes,
        }
        with MetricsDB.open(self.store.metrics_path) as db:
            run_id = db.start_run("train", phase=phase, seed=seed, config=config)
            sink: TensorBoardSink | None = None

            def on_step(step: StepLog) -> None:
                db.log_steps(run_id, [(step.step, step.loss, step.learning_rate, step.grad_norm, step.extra)])
                if sink is not None:
                    sink(step)

            started, clock = utc_now(), time.perf_counter()
            try:
                with db.stops_recorded(run_id):
                    if self.options.tensorboard:
                        sink = TensorBoardSink(tensorboard_dir(self.store.root, run_id))
                        self.say(f"{phase}: TensorBoard events in {sink.log_dir}")
                    with self.store.new_version() as (number, folder):
                        if distributed:
                            result = run_workers(self.path, self.store, phase, self.options, folder, run_id, self.say)
                        else:
                            job = prepared.job(folder, on_step, self.options.progress)
                            result = checked_train(trainer, job, trainer_name)
                        wall = time.perf_counter() - clock
                        record = RunRecord(
                            version=number,
                            phase=phase,
                            trainer=trainer_name,
                            parent_version=start.number if start else None,
                            base_model=frontmatter.base_model,
                            seed=seed,
                            rows=rowset.rows,
                            mined_included=rowset.mined_included,
                            mined_excluded=rowset.mined_excluded,
                            hyperparameters={**attrs.asdict(settings), "lora": attrs.asdict(lora)},
                            steps=result.steps,
                            final_loss=result.final_loss,
                            tokens=result.tokens,
                            wall_seconds=round(wall, 3),
                            started_at=started,
                            finished_at=utc_now(),
                            metrics_run_id=run_id,
                            document_sha256=self.digest,
                            dlm_version=__version__,
                            effective_batch_size=result.effective_batch_size,
                            num_processes=self.options.num_processes,
                        )
                        write_json(folder / "run.json", record)
                    version = self.store.version(number)
                    self.store.set_current(version)
            finally:
                if sink is not None:
                    sink.close()
            outcome = PhaseOutcome(
                phase=phase,
                trainer=trainer_name,
                version=number,
                steps=result.steps,
                final_loss=result.final_loss,
                tokens=result.tokens,
                wall_seconds=wall,
                rows=rowset.rows,
                mined_included=rowset.mined_included,
                mined_excluded=rowset.mined_excluded,
                metrics_run_id=run_id,
            )
            summary = attrs.asdict(outcome)
            summary["tokens_per_second"] = round(outcome.tokens_per_second, 2)
            summary.update({f"final_{k}": v for k, v in result.extra.items() if isinstance(v, int | float)})
            db.finish_run(run_id, "succeeded", summary=summary, version=number)
        return outcome
