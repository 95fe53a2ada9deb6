"""What the three phases share: one TRL run from a dlm ``TrainJob``.

A phase (:mod:`~dlm_trainer_trl.sft`, :mod:`~dlm_trainer_trl.dpo`,
:mod:`~dlm_trainer_trl.orpo`) only says how to turn the job's rows into a
dataset, which TRL trainer to build and how to put the adapter on the
session's base model. Everything else happens here, once: TRL's arguments
from the job's settings (no checkpoints, no reporting, no gradient
checkpointing, bf16 autocast only where the CPU computes bf16 natively),
per-step reports to ``job.on_step``, a quiet terminal, length-grouped
batches, an LM head that scores only labelled positions, token counting,
saving the adapter alone, and handing the session's base model back exactly
as it was lent.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch.utils.data import Sampler
from transformers import TrainerCallback, set_seed
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from dlm_core.api import (
    PluginContext,
    StepLog,
    TrainingError,
    TrainJob,
    TrainResult,
    cpu_has_native_bf16,
)
from dlm_trainer_trl.guard import ChosenGuard

ADAPTER_NAME = "default"
"""The adapter that trains and gets saved; PEFT's and TRL's default name."""

_CORE_LOG_KEYS = {"loss", "learning_rate", "grad_norm"}
FINAL_FIGURES = ("rewards/margins", "rewards/accuracies")
"""A preference run's last logged figures, kept in its result (and the phase summary)."""
_NOISY_LOGGERS = ("transformers", "trl", "peft", "accelerate", "datasets", "torch.utils.data")


class TrlPhase:
    """A dlm trainer that runs one TRL trainer; subclasses fill in the phase.

    Subclasses set :attr:`phase` and implement :meth:`build`, which returns the
    TRL trainer (a class that mixes in :class:`DlmTrainerMixin`) around a PEFT
    model that wraps ``job.session.base_model``.
    """

    phase: ClassVar[str]

    def __init__(self, context: PluginContext | None = None) -> None:
        self.context = context

    def check(self, job: TrainJob) -> None:
        """Refuse a job this phase cannot run, before anything is loaded."""

    def build(self, job: TrainJob, scratch: Path) -> Any:
        raise NotImplementedError

    def guard(self, job: TrainJob, trainer: Any) -> ChosenGuard | None:
        """The overshoot guard of a preference phase (:mod:`~dlm_trainer_trl.guard`); None for SFT."""
        return None

    def arguments(self, job: TrainJob, scratch: Path) -> dict[str, Any]:
        """TRL arguments for ``job``, honouring a ``precision`` option from the command's context."""
        options = self.context.options if self.context is not None else {}
        return trl_arguments(job, scratch, precision=str(options.get("precision", "auto")))

    def train(self, job: TrainJob) -> TrainResult:
        """Train, save the adapter to ``job.output_dir`` and report."""
        self.check(job)
        with (
            quiet_libraries(),
            job.session.lend_base(),
            scored_where_labelled(),
            tempfile.TemporaryDirectory(prefix="dlm-trl-") as scratch,
        ):
            set_seed(job.seed)
            trainer = self.build(job, Path(scratch))
            trainer.dlm_extra["precision"] = (
                "bf16-autocast" if trainer.args.bf16 else str(job.session.dtype)
            )
            reporter = StepReporter(job.on_step)
            trainer.add_callback(reporter)
            guard = self.guard(job, trainer)
            if guard is not None:
                trainer.add_callback(guard)
            quiet_progress(trainer, job.progress)
            started = time.perf_counter()
            trainer.train()
            seconds = time.perf_counter() - started
            accelerator = trainer.accelerator
            # Under DDP every process trained the same adapter: rank 0 alone writes it.
            if accelerator.is_main_process:
                save_adapter(accelerator.unwrap_model(trainer.model), job.output_dir)
            accelerator.wait_for_everyone()
            tokens = total_tokens(accelerator, trainer.dlm_tokens)
            final = {k: v for k, v in reporter.last_extra.items() if k in FINAL_FIGURES}
            extra = {"train_seconds": round(seconds, 3), **final, **trainer.dlm_extra}
            if guard is not None:
                extra.update(guard.report(trainer.state.max_steps))
            accelerator.unwrap_model(trainer.model).unload()
        settings = job.settings
        return TrainResult(
            steps=trainer.state.global_step,
            final_loss=reporter.last_loss,
            adapter_path=job.output_dir,
            tokens=tokens,
            effective_batch_size=settings.batch_size
            * settings.grad_accum
            * max(job.num_processes, 1),
            extra=extra,
        )


def trl_arguments(job: TrainJob, scratch: Path, *, precision: str = "auto") -> dict[str, Any]:
    """The ``TrainingArguments`` every phase shares, from the job's settings.

    TRL's own defaults suit a GPU (gradient checkpointing, logging every 10
    steps); here nothing is recomputed and every optimizer step is logged so
    that ``job.on_step`` sees each one. See :func:`bf16_autocast` for the dtype.
    """
    settings = job.settings
    return {
        "output_dir": str(scratch),
        "seed": job.seed,
        "data_seed": job.seed,
        "learning_rate": settings.learning_rate,
        "num_train_epochs": settings.num_epochs,
        "max_steps": settings.max_steps if settings.max_steps is not None else -1,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        # A float below 1 is a ratio of the total steps in transformers 5.
        "warmup_steps": min(float(settings.warmup_ratio), 0.999),
        "lr_scheduler_type": settings.lr_scheduler,
        "optim": settings.optimizer,
        "max_length": settings.sequence_len,
        "use_cpu": str(job.session.device) == "cpu",
        "bf16": bf16_autocast(job, precision),
        "fp16": False,
        "activation_checkpointing": False,
        "logging_strategy": "steps",
        "logging_steps": 1,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": [],
        "push_to_hub": False,
        "disable_tqdm": not job.progress,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": False,
        "skip_memory_metrics": True,
        # Under DDP only the LoRA weights train and every one of them gets a gradient.
        "ddp_find_unused_parameters": False,
    }


def bf16_autocast(job: TrainJob, precision: str = "auto") -> bool:
    """Whether matrix products run in bf16 autocast (weights and LoRA stay in their dtype).

    ``auto``: on a CPU that multiplies bf16 natively (AVX512-BF16 or AMX), a
    float32 session trains under bf16 autocast, as TRL does by default: about
    twice the tokens per second of float32 there, with float32 master weights.
    Elsewhere, and on GPUs (where the session already loaded bf16 or fp16
    weights), the session's dtype is used as is. ``fp32`` and ``bf16`` force it.
    """
    if precision not in ("auto", "fp32", "bf16"):
        raise TrainingError(f"unknown precision {precision!r}; use auto, fp32 or bf16")
    if precision != "auto":
        return precision == "bf16"
    if str(job.session.device) != "cpu" or job.session.dtype != torch.float32:
        return False
    return cpu_has_native_bf16()


class DlmTrainerMixin:
    """Mixed into each TRL trainer class: what dlm needs from every run.

    - batches of rows of similar length (less padding);
    - warmup rounded down, so a short run does not spend its steps at learning rate 0;
    - a count of the non-padding tokens each training forward pass sees;
    - no telemetry ping and no model card.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before TRL's __init__, which may already run forward passes (DPO's reference).
        self.dlm_tokens = 0
        self.dlm_extra: dict[str, Any] = {}
        super().__init__(*args, **kwargs)

    def dlm_row_lengths(self, dataset: Any) -> list[int] | None:
        """Each example's token count, for grouping batches by length (None: TRL's sampler)."""
        return None

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        dataset = train_dataset if train_dataset is not None else self.train_dataset  # type: ignore[attr-defined]
        lengths = self.dlm_row_lengths(dataset)
        if lengths is None:
            return super()._get_train_sampler(train_dataset)  # type: ignore[misc]
        args = self.args  # type: ignore[attr-defined]
        seed = args.data_seed if args.data_seed is not None else args.seed
        return LengthBuckets(lengths, args.train_batch_size, seed=seed)

    def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
        args = self.args  # type: ignore[attr-defined]
        if 0 < args.warmup_steps < 1:
            # A ratio. transformers rounds it up, so a one-step run would spend its only
            # step at learning rate 0; round down instead.
            args.warmup_steps = int(args.warmup_steps * num_training_steps)
        return super().create_scheduler(num_training_steps, optimizer)  # type: ignore[misc]

    def compute_loss(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if model.training:
            self.dlm_tokens += count_tokens(inputs)
        return super().compute_loss(model, inputs, *args, **kwargs)  # type: ignore[misc]

    def _send_telemetry(self) -> None:
        pass

    def create_model_card(self, *args: Any, **kwargs: Any) -> None:
        pass


class LengthBuckets(Sampler[int]):
    """Batches of rows of similar length, in a fresh random order each epoch.

    Rows are shuffled, cut into windows of 50 batches, sorted by length inside
    each window and chunked into batches; the batches are then shuffled. Only
    the last batch may be short, and it goes last so the data loader's
    chunking stays aligned with the buckets. Unlike transformers'
    ``LengthGroupedSampler`` the short remainder holds the longest rows of its
    window, not the shortest, so it pads less.
    """

    def __init__(
        self, lengths: Sequence[int], batch_size: int, *, seed: int, window: int = 50
    ) -> None:
        self.lengths = list(lengths)
        self.batch_size = max(int(batch_size), 1)
        self.window = window * self.batch_size
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        full, short = [], []
        for start in range(0, len(order), self.window):
            ranked = sorted(order[start : start + self.window], key=self.lengths.__getitem__)
            for i in range(0, len(ranked), self.batch_size):
                batch = ranked[i : i + self.batch_size]
                (full if len(batch) == self.batch_size else short).append(batch)
        shuffled = [full[i] for i in torch.randperm(len(full), generator=self.generator).tolist()]
        for batch in [*shuffled, *short]:
            yield from batch


def count_tokens(inputs: dict[str, Any]) -> int:
    """Non-padding tokens in one collated batch, whichever layout the collator used."""
    if "attention_mask" in inputs:
        return int(inputs["attention_mask"].sum())
    masks = [
        v for k, v in inputs.items() if k.endswith("attention_mask") and not k.startswith("prompt")
    ]
    if masks:  # ORPO: chosen_attention_mask + rejected_attention_mask (prompt included)
        return sum(int(m.sum()) for m in masks)
    if "position_ids" in inputs:  # padding-free: one flat row of real tokens
        return int(inputs["position_ids"].numel())
    return int(inputs["input_ids"].numel())


class StepReporter(TrainerCallback):
    """Turns each logged optimizer step into a :class:`StepLog` for ``job.on_step``."""

    def __init__(self, on_step: Callable[[StepLog], None]) -> None:
        self.on_step = on_step
        self.last_loss: float | None = None
        self.last_extra: dict[str, float] = {}

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not logs or "loss" not in logs:
            return  # the end-of-training summary, not a step
        if not state.is_world_process_zero:
            return  # under DDP each step is reported once, by rank 0
        extra = {
            key: float(value)
            for key, value in logs.items()
            if key not in _CORE_LOG_KEYS
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        }
        self.last_loss = _number(logs.get("loss"))
        self.last_extra = extra
        self.on_step(
            StepLog(
                step=int(state.global_step),
                loss=self.last_loss,
                learning_rate=_number(logs.get("learning_rate")),
                grad_norm=_number(logs.get("grad_norm")),
                extra=extra,
            )
        )


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.item()
    return float(value)


class _StepBar(ProgressCallback):
    """transformers' step bar without the dict it prints at every log."""

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        pass


def quiet_progress(trainer: Any, show: bool) -> None:
    """A plain step bar when ``show``, nothing otherwise; never the per-step log dicts."""
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if show:
        trainer.add_callback(_StepBar())


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Keep TRL/transformers/PEFT advice and dataset progress bars off the terminal.

    Errors still surface as exceptions; only log records below ERROR and
    library warnings are held back, and only for the duration of a run.
    """
    import datasets

    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    bars = datasets.is_progress_bar_enabled()
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            for module in ("trl", "transformers", "peft", "accelerate", "datasets", "torch"):
                warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        if bars:
            datasets.enable_progress_bars()


@contextlib.contextmanager
def scored_where_labelled() -> Iterator[None]:
    """Let TRL's fused LM head score only the positions that carry a label, on any device.

    TRL projects hidden states through the LM head in chunks and, on CUDA/XPU,
    only at positions whose label is not -100 (prompt and padding tokens have
    none). Elsewhere it scores every position, to keep tile shapes fixed for
    compilers (Neuron). In eager mode on a CPU that only costs: the vocabulary
    projection and its softmax, entropy and top-1 passes are a large share of a
    small model's step, and most positions of a chat row are prompt. The
    selection is TRL's own code path; this only widens where it applies, for
    the duration of a run.
    """
    import trl.trainer.utils as trl_utils

    original = trl_utils._use_triton

    def compact(device: torch.device) -> bool:
        return device.type == "cpu" or original(device)

    trl_utils._use_triton = compact
    try:
        yield
    finally:
        trl_utils._use_triton = original


def total_tokens(accelerator: Any, tokens: int) -> int:
    """Tokens trained by all processes together (one process: its own count)."""
    if accelerator.num_processes == 1:
        return tokens
    summed = accelerator.reduce(torch.tensor(tokens, device=accelerator.device), reduction="sum")
    return int(summed.item())


def save_adapter(model: Any, output_dir: Path) -> None:
    """Save the trained adapter alone, in PEFT format: its config and weights, nothing else."""
    output_dir.mkdir(parents=True, exist_ok=True)
    before = set(output_dir.iterdir())
    model.save_pretrained(str(output_dir), selected_adapters=[ADAPTER_NAME])
    card = output_dir / "README.md"
    if card.exists() and card not in before:  # PEFT's generated model card
        card.unlink()
