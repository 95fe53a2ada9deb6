"""The ``simpo`` trainer: continue the current adapter with SimPO, through TRL's CPOTrainer.

SimPO (Meng et al., 2024, arXiv:2405.14734) needs no reference model. Its
reward is the policy's *mean* per-token log-probability of an answer, scaled
by ``beta``, and the loss asks the chosen answer's reward to beat the
rejected one's by a target margin ``gamma``:
``-log σ(beta·(mean log p(chosen) - mean log p(rejected)) - gamma)``.
TRL 1.16 implements it as ``CPOTrainer`` with ``loss_type="simpo"``
(``simpo_gamma`` is gamma, ``cpo_alpha`` the optional NLL term).

The pairs train on the exact token ids dlm built (``prompt_ids``,
``chosen_ids``, ``rejected_ids``), never re-tokenized text. The session's
base model is lent, not owned: the LoRA layers and everything PEFT and TRL
changed on it are taken off again however the run ends. Under DDP
(``dlm train --num-processes N``) rank 0 alone reports the steps and writes
the adapter.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.tuners_utils import BaseTunerLayer
from transformers import TrainerCallback, set_seed
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from dlm_core.context import PluginContext
from dlm_core.errors import TrainingError
from dlm_core.protocols import PreferenceRow, StepLog, TrainJob, TrainResult
from dlm_trainer_simpo.settings import SimpoSettings, simpo_settings

with warnings.catch_warnings():  # "experimental APIs may change": the TRL minor version is pinned
    warnings.simplefilter("ignore")
    from trl.experimental.cpo import CPOConfig, CPOTrainer

DEFAULT_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]
_STEP_KEYS = {"loss", "learning_rate", "grad_norm"}
_LIBRARY_LOGGERS = ("transformers", "trl", "peft", "accelerate", "datasets")


class SimpoTrainer:
    """dlm's ``Trainer`` protocol for the preference phase, with SimPO's loss."""

    def __init__(self, context: PluginContext | None = None) -> None:
        self.context = context

    def train(self, job: TrainJob) -> TrainResult:
        simpo = simpo_settings(job.settings)  # a bad option fails before the model is touched
        pairs, dropped = pair_rows(job.preference_rows, job.settings.sequence_len)
        if dropped and self.context is not None:
            self.context.say(
                f"simpo: left out {dropped} pair(s) whose prompt fills sequence_len={job.settings.sequence_len}"
            )
        base = job.session.base_model
        with quiet_libraries(), lent_base_model(base), tempfile.TemporaryDirectory(prefix="dlm-simpo-") as scratch:
            set_seed(job.seed)  # a new adapter's LoRA init, then TRL's own seeding
            model = trainable_model(job, base)
            trainer = _CPOTrainer(
                model=model,
                args=cpo_config(job, simpo, Path(scratch), len(pairs)),
                train_dataset=Dataset.from_list(pairs),
                processing_class=job.session.tokenizer,
            )
            reporter = StepReporter(job.on_step)
            trainer.add_callback(reporter)
            trainer.remove_callback(PrinterCallback)  # prints every step's log dict
            trainer.remove_callback(ProgressCallback)
            if job.progress:
                trainer.add_callback(_StepBar())
            trainer.train()
            accelerator = trainer.accelerator
            if accelerator.is_main_process:  # under DDP every process holds the same adapter
                save_adapter(model, job.output_dir)
            accelerator.wait_for_everyone()
            tokens = int(accelerator.reduce(torch.tensor(trainer.tokens_seen, device=accelerator.device), "sum"))
        settings = job.settings
        last = reporter.last_extra
        return TrainResult(
            steps=trainer.state.global_step,
            final_loss=reporter.last_loss,
            adapter_path=job.output_dir,
            tokens=tokens,
            effective_batch_size=settings.batch_size * settings.grad_accum * max(job.num_processes, 1),
            extra={
                "pairs": len(pairs),
                "pairs_dropped": dropped,
                "beta": simpo.beta,
                "gamma": simpo.gamma,
                "sft_weight": simpo.sft_weight,
                **{key: last[key] for key in ("rewards/margins", "rewards/accuracies") if key in last},
            },
        )


def pair_rows(rows: list[PreferenceRow], max_length: int) -> tuple[list[dict[str, list[int]]], int]:
    """CPOTrainer's tokenized layout from dlm's token ids, and how many pairs were left out.

    Each side is prompt + answer cut to ``max_length`` keeping the start,
    labelled only on the answer. A pair whose prompt fills ``max_length``
    has no answer left to score and is left out.
    """
    examples, dropped = [], 0
    for row in rows:
        prompt = list(row.prompt_ids)
        if len(prompt) >= max_length or not row.chosen_ids or not row.rejected_ids:
            dropped += 1
            continue
        example: dict[str, list[int]] = {}
        for side, answer in (("chosen", row.chosen_ids), ("rejected", row.rejected_ids)):
            ids = [*prompt, *answer][:max_length]
            example[f"{side}_input_ids"] = ids
            example[f"{side}_attention_mask"] = [1] * len(ids)
            example[f"{side}_labels"] = ([-100] * len(prompt) + list(answer))[:max_length]
        examples.append(example)
    if not examples:
        raise TrainingError(
            f"the simpo trainer has no preference pair that fits in sequence_len={max_length} with room "
            "for an answer; raise training.sequence_len or add ::preference:: records"
        )
    return examples, dropped


def trainable_model(job: TrainJob, base: Any) -> Any:
    """The start adapter loaded trainable onto the base, or a new LoRA adapter without one."""
    if job.start_adapter is None:
        lora = job.lora
        config = LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules or DEFAULT_TARGET_MODULES,
            task_type="CAUSAL_LM",
        )
        return get_peft_model(base, config)
    path = job.start_adapter
    if not (path / "adapter_config.json").is_file():
        raise TrainingError(f"the start adapter {path} has no adapter_config.json; is it a PEFT adapter folder?")
    try:
        return PeftModel.from_pretrained(base, str(path), is_trainable=True)
    except Exception as exc:
        raise TrainingError(f"cannot load the start adapter {path}: {exc}") from exc


def cpo_config(job: TrainJob, simpo: SimpoSettings, scratch: Path, pairs: int) -> CPOConfig:
    """TRL's arguments: SimPO's loss, the phase's schedule, one log per step, nothing written."""
    settings = job.settings
    per_step = settings.batch_size * settings.grad_accum * max(job.num_processes, 1)
    total = settings.max_steps or -(-pairs // per_step) * settings.num_epochs
    return CPOConfig(
        output_dir=str(scratch),
        loss_type="simpo",
        beta=simpo.beta,
        simpo_gamma=simpo.gamma,
        cpo_alpha=simpo.sft_weight,
        max_length=settings.sequence_len,
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.num_epochs,
        max_steps=settings.max_steps if settings.max_steps is not None else -1,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        # Whole steps, rounded down: transformers rounds a ratio up, which spends a
        # short run's first step at learning rate 0.
        warmup_steps=int(settings.warmup_ratio * total),
        lr_scheduler_type=settings.lr_scheduler,
        optim=settings.optimizer,
        seed=job.seed,
        data_seed=job.seed,
        use_cpu=str(job.session.device) == "cpu",
        bf16=False,  # not TRL's default autocast: dlm's session already picked the dtype for its device
        fp16=False,
        activation_checkpointing=False,  # TRL turns it on; LoRA on a small model does not need it
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        disable_tqdm=not job.progress,
        ddp_find_unused_parameters=False,  # every LoRA weight takes part in each forward pass
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
    )


class _CPOTrainer(CPOTrainer):
    """TRL's CPOTrainer on rows that are tokenized already; counts the tokens it trains on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.tokens_seen = 0
        super().__init__(*args, **kwargs)

    def tokenize_row(self, feature: dict[str, Any], model: Any = None) -> dict[str, Any]:
        return feature  # built by pair_rows from dlm's exact token ids

    def compute_loss(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if model.training:
            self.tokens_seen += int(inputs["chosen_attention_mask"].sum() + inputs["rejected_attention_mask"].sum())
        return super().compute_loss(model, inputs, *args, **kwargs)

    def _send_telemetry(self) -> None:
        pass  # a dlm run reports to the user's own metrics database, nowhere else


class StepReporter(TrainerCallback):
    """Each optimizer step's log as a ``StepLog``: loss, lr, grad norm, and SimPO's rewards in ``extra``."""

    def __init__(self, on_step: Callable[[StepLog], None]) -> None:
        self.on_step = on_step
        self.last_loss: float | None = None
        self.last_extra: dict[str, float] = {}

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or "loss" not in logs or not state.is_world_process_zero:
            return  # the end-of-training summary, or a step that rank 0 reports
        self.last_loss = _number(logs["loss"])
        self.last_extra = {
            key: float(value)
            for key, value in logs.items()
            if key not in _STEP_KEYS and isinstance(value, int | float) and not isinstance(value, bool)
        }
        self.on_step(
            StepLog(
                step=int(state.global_step),
                loss=self.last_loss,
                learning_rate=_number(logs.get("learning_rate")),
                grad_norm=_number(logs.get("grad_norm")),
                extra=self.last_extra,
            )
        )


def _number(value: Any) -> float | None:
    if value is None:
        return None
    return float(value.item() if isinstance(value, torch.Tensor) else value)


class _StepBar(ProgressCallback):
    """transformers' step bar without the log dict it prints at every step."""

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        pass


def save_adapter(model: Any, output_dir: Path) -> None:
    """The trained adapter alone, in PEFT format: adapter_config.json and adapter_model.safetensors."""
    output_dir.mkdir(parents=True, exist_ok=True)
    had_card = (output_dir / "README.md").exists()
    model.save_pretrained(str(output_dir))
    if not had_card:
        (output_dir / "README.md").unlink(missing_ok=True)  # PEFT's generated model card


@contextlib.contextmanager
def lent_base_model(base: torch.nn.Module) -> Iterator[None]:
    """Hand the session's base model back as it was lent, however the run ends.

    PEFT wraps the base's layers in place, freezes its weights and may leave
    attributes on it; TRL sets dropout to 0, tags the model and mirrors the
    pad token into its configs; training turns ``use_cache`` off. All of that
    is undone, so a following phase (or the sampler) in the same command
    starts from the bare base.
    """
    if _has_lora_layers(base):
        raise TrainingError(
            "the session's base model already carries adapter layers (was the session's adapter "
            "loaded before training?); train on a session whose base model is still bare"
        )
    attributes = set(vars(base))
    requires_grad = {name: p.requires_grad for name, p in base.named_parameters()}
    dropouts = {name: m.p for name, m in base.named_modules() if isinstance(m, torch.nn.Dropout)}
    configs = [c for c in (getattr(base, "config", None), getattr(base, "generation_config", None)) if c is not None]
    config_values = [dict(vars(c)) for c in configs]  # TRL mirrors the pad token in, training turns use_cache off
    training = base.training
    try:
        yield
    finally:
        _strip_lora_layers(base)
        for name in set(vars(base)) - attributes:
            delattr(base, name)
        for name, param in base.named_parameters():
            param.requires_grad_(requires_grad.get(name, param.requires_grad))
        for name, module in base.named_modules():
            if name in dropouts and isinstance(module, torch.nn.Dropout):
                module.p = dropouts[name]
        for config, values in zip(configs, config_values, strict=True):
            vars(config).clear()
            vars(config).update(values)
        base.train(training)


def _has_lora_layers(model: torch.nn.Module) -> bool:
    return any(isinstance(m, BaseTunerLayer) for m in model.modules())


def _strip_lora_layers(model: torch.nn.Module) -> None:
    """Put each wrapped layer's original module back: PEFT's ``unload()``, also when no PeftModel was made."""
    for name, module in list(model.named_modules()):
        if name and isinstance(module, BaseTunerLayer):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name)
            if getattr(parent, child, None) is module:
                setattr(parent, child, module.get_base_layer())


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Keep library advice, warnings and dataset progress bars off the user's terminal during a run."""
    import datasets

    loggers = [logging.getLogger(name) for name in _LIBRARY_LOGGERS]
    levels = [lg.level for lg in loggers]
    bars = datasets.is_progress_bar_enabled()
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            for module in (*_LIBRARY_LOGGERS, "torch"):
                warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        if bars:
            datasets.enable_progress_bars()
