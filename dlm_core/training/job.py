"""One training phase as a job: settings, rows, start adapter, and the trainer call.

The same in the coordinating ``dlm`` process and in every worker that
``dlm train --num-processes`` starts, so both build identical jobs from the
document.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import attrs

from dlm_core.context import PluginContext
from dlm_core.document.frontmatter import Frontmatter
from dlm_core.document.model import Document
from dlm_core.document.types import SectionType
from dlm_core.errors import DlmError, TrainingError
from dlm_core.evaluation.heldout import HeldOutOptions
from dlm_core.models.session import ModelSession
from dlm_core.protocols import LoraSettings, StepLog, TrainJob, TrainResult, TrainSettings
from dlm_core.store.store import AdapterVersion, Store
from dlm_core.training import rows as rowsmod
from dlm_core.training.schedule import StepPlan
from dlm_core.training.settings import (
    lora_settings,
    preference_settings,
    sft_settings,
    step_plan,
)

PhaseName = Literal["sft", "preference"]


@attrs.frozen
class TrainOptions:
    """What ``dlm train`` was asked to do."""

    phase: Literal["sft", "preference", "all"] = "all"
    include_mined: bool = True
    max_steps: int | None = None
    seed: int | None = None
    device: str | None = None
    wait: bool = True
    progress: bool = True
    tensorboard: bool = False  # also write each step to <store>/tensorboard/run-N/
    start_version: int | None = None  # --from N: the adapter the preference phase continues
    num_processes: int = 1  # >1: launch that many training processes through Accelerate
    gpus: str | None = None  # CUDA devices for those processes: "all", a count, or "0,1"
    accelerate_config: Path | None = None  # an `accelerate config` file (FSDP, several machines...)
    held_out: HeldOutOptions = attrs.Factory(HeldOutOptions)  # the check after a preference phase
    continue_sft: bool = False  # --continue: SFT continues the current adapter instead of a new one


def trainer_name(document: Document, phase: PhaseName) -> str:
    frontmatter = document.frontmatter or Frontmatter()
    return "sft" if phase == "sft" else frontmatter.training.preference.method


def start_version(store: Store, options: TrainOptions) -> AdapterVersion | None:
    """The adapter a preference phase continues: ``--from N``, else ``current``."""
    if options.start_version is not None:
        return store.version(options.start_version)
    return store.current()


def _start(store: Store, options: TrainOptions, phase: PhaseName) -> AdapterVersion | None:
    """The adapter a phase continues: preference always, SFT only with ``--continue``."""
    if phase == "preference" or (phase == "sft" and options.continue_sft):
        return start_version(store, options)
    return None


@attrs.frozen
class PreparedPhase:
    """Everything one phase needs before a trainer runs: the same in every process."""

    phase: PhaseName
    trainer_name: str
    document: Document
    session: ModelSession
    home: Path
    device: str | None
    start: AdapterVersion | None
    settings: TrainSettings
    lora: LoraSettings
    rowset: rowsmod.RowSet
    seed: int
    plan: StepPlan  # the passes and steps the settings make over these rows

    def context(self, path: Path, say: Callable[[str], None]) -> PluginContext:
        return PluginContext(
            document=self.document,
            document_path=path,
            base=self.session.base,
            adapter_path=self.start.path if self.start else None,
            home=self.home,
            device=self.device,
            say=say,
            session=self.session,
        )

    def job(
        self,
        output_dir: Path,
        on_step: Callable[[StepLog], None],
        progress: bool,
        num_processes: int = 1,
    ) -> TrainJob:
        return TrainJob(
            phase=self.phase,
            method=self.trainer_name,
            session=self.session,
            output_dir=output_dir,
            settings=self.settings,
            lora=self.lora,
            seed=self.seed,
            lm_rows=self.rowset.lm_rows,
            preference_rows=self.rowset.preference_rows,
            start_adapter=self.start.path if self.start else None,
            on_step=on_step,
            progress=progress,
            num_processes=num_processes,
        )


def prepare_phase(
    document: Document,
    types: dict[str, SectionType],
    phase: PhaseName,
    options: TrainOptions,
    store: Store,
    session: ModelSession,
) -> PreparedPhase:
    """Settings, rows and the start adapter of one phase (tokenizer only, no model)."""
    frontmatter = document.frontmatter
    assert frontmatter is not None
    training = frontmatter.training
    if phase == "sft":
        rowset = rowsmod.sft_rows(document, session.chat, types, sequence_len=training.sequence_len)
    else:
        rowset = rowsmod.preference_rows(
            document, session.chat, types, include_mined=options.include_mined
        )
    if rowset.size == 0:
        raise TrainingError(f"no {phase} rows to train on after tokenizing the document")
    plan = step_plan(
        training,
        phase,
        rows=rowset.size,
        processes=options.num_processes,
        max_steps=options.max_steps,
    )
    settings = (
        sft_settings(training, plan) if phase == "sft" else preference_settings(training, plan)
    )
    return PreparedPhase(
        phase=phase,
        trainer_name=trainer_name(document, phase),
        document=document,
        session=session,
        home=store.home,
        device=options.device,
        start=_start(store, options, phase),
        settings=settings,
        lora=lora_settings(training),
        rowset=rowset,
        seed=options.seed if options.seed is not None else training.seed,
        plan=plan,
    )


def checked_train(trainer: object, job: TrainJob, name: str) -> TrainResult:
    """Run a trainer and hold it to its contract: an adapter saved, a TrainResult returned."""
    try:
        result = trainer.train(job)  # type: ignore[attr-defined]
    except (DlmError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise TrainingError(f"the {name!r} trainer failed: {type(exc).__name__}: {exc}") from exc
    if not (job.output_dir / "adapter_config.json").exists():
        raise TrainingError(f"the {name!r} trainer did not save an adapter in {job.output_dir}")
    if not isinstance(result, TrainResult):
        raise TrainingError(
            f"the {name!r} trainer returned {type(result).__name__}, not a TrainResult"
        )
    return result
