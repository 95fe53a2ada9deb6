"""The protocols plugins implement: samplers, judges and trainers.

These are structural (``typing.Protocol``): a plugin needs no base class,
only the methods below. Values passed to trainers (:class:`TrainJob`,
:class:`TrainResult`, the rows) are attrs classes so they are typed and
documented in one place; docs/plugins.md describes each.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from dlm_core.models.session import ModelSession


class Sample(str):
    """A sampled candidate that knows whether generation cut it off.

    A sampler may return plain ``str`` (taken as complete answers). Returning
    ``Sample(text, truncated=True)`` for an answer that hit ``max_new_tokens``
    before its end of turn keeps it out of mined pairs: written into the
    document, it would be trained with an end of turn it never had, and a
    preference phase would learn that stopping is what made it bad.
    """

    truncated: bool

    def __new__(cls, text: str, *, truncated: bool = False) -> Sample:
        sample = super().__new__(cls, text)
        sample.truncated = truncated
        return sample


def is_truncated(candidate: str) -> bool:
    """Whether a sampler marked ``candidate`` as cut off at ``max_new_tokens``."""
    return getattr(candidate, "truncated", False) is True


@runtime_checkable
class Sampler(Protocol):
    """Generates candidate answers for mining."""

    def sample(
        self,
        prompts: list[str],
        n: int,
        *,
        temperature: float,
        top_p: float | None,
        max_new_tokens: int,
        seed: int | None,
    ) -> list[list[str]]:
        """``n`` candidates for each prompt, in prompt order.

        Prompts are plain user text; the sampler applies the chat template and
        the document's system prompt itself. Candidates may be :class:`Sample`
        objects that say whether ``max_new_tokens`` cut them off.
        """


@runtime_checkable
class Judge(Protocol):
    """Scores candidates pointwise; higher is better."""

    name: str
    default_threshold: float

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        """One score per candidate, each candidate scored once."""


@attrs.frozen
class LmRow:
    """A tokenized training sequence; ``loss_mask[i]`` is 1 where token i carries loss."""

    input_ids: list[int]
    loss_mask: list[int]
    source: str  # the section type it came from


@attrs.frozen
class PreferenceRow:
    """A preference pair, as text and as exact token ids under the chat template.

    ``prompt_ids`` is the templated conversation up to the assistant turn;
    ``chosen_ids``/``rejected_ids`` are the answers including end-of-turn.
    """

    system: str | None
    prompt: str
    chosen: str
    rejected: str
    prompt_ids: list[int]
    chosen_ids: list[int]
    rejected_ids: list[int]
    auto_mined: bool = False


@attrs.frozen
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | None = None  # None: q/k/v/o projections


@attrs.frozen
class TrainSettings:
    """Hyper-parameters of one phase, resolved from frontmatter and flags."""

    learning_rate: float
    num_epochs: int
    max_steps: int | None = None
    batch_size: int = 8
    grad_accum: int = 1
    warmup_ratio: float = 0.1
    lr_scheduler: str = "cosine"
    sequence_len: int = 1024
    optimizer: str = "adamw_torch"
    beta: float = 0.1
    alpha: float = 0.1
    loss_type: str = "sigmoid"
    reference: Literal["pre_adapter", "base"] = "pre_adapter"
    options: dict[str, Any] = attrs.Factory(dict)  # training.preference.options, for plugin trainers


@attrs.frozen
class StepLog:
    """One optimizer step, reported to the metrics callback."""

    step: int
    loss: float | None
    learning_rate: float | None
    grad_norm: float | None
    extra: dict[str, float] = attrs.Factory(dict)


@attrs.define
class TrainJob:
    """Everything a trainer needs for one phase.

    :ivar phase: ``sft`` or ``preference``.
    :ivar method: the trainer name that was selected.
    :ivar session: the command's model session (tokenizer, base model, device).
    :ivar lm_rows: tokenized rows for ``sft``.
    :ivar preference_rows: pairs for ``preference``.
    :ivar start_adapter: the adapter to continue from, or None for a new one.
    :ivar output_dir: where the trained adapter is saved (PEFT format).
    :ivar on_step: called once per optimizer step.
    :ivar progress: show a progress bar.
    """

    phase: Literal["sft", "preference"]
    method: str
    session: ModelSession
    output_dir: Path
    settings: TrainSettings
    lora: LoraSettings
    seed: int
    lm_rows: list[LmRow] = attrs.Factory(list)
    preference_rows: list[PreferenceRow] = attrs.Factory(list)
    start_adapter: Path | None = None
    on_step: Callable[[StepLog], None] = lambda _step: None
    progress: bool = True
    num_processes: int = 1


@attrs.frozen
class TrainResult:
    """What a trainer reports back.

    :ivar tokens: tokens processed per epoch pass, summed (for tokens/s).
    :ivar extra: anything else worth recording (reward margins...).
    """

    steps: int
    final_loss: float | None
    adapter_path: Path
    tokens: int
    effective_batch_size: int | None = None
    extra: dict[str, Any] = attrs.Factory(dict)


@runtime_checkable
class Trainer(Protocol):
    """Runs one training phase and saves a PEFT adapter."""

    def train(self, job: TrainJob) -> TrainResult:
        """Train, save the adapter to ``job.output_dir``, and report."""
