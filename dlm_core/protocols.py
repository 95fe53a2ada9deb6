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
    ``tokens`` (the number of tokens generated for it) lets the run report
    generated tokens per second; None when the sampler does not know.
    """

    truncated: bool
    tokens: int | None

    def __new__(cls, text: str, *, truncated: bool = False, tokens: int | None = None) -> Sample:
        sample = super().__new__(cls, text)
        sample.truncated = truncated
        sample.tokens = tokens
        return sample


def is_truncated(candidate: str) -> bool:
    """Whether a sampler marked ``candidate`` as cut off at ``max_new_tokens``."""
    return getattr(candidate, "truncated", False) is True


def generated_tokens(candidates: list[list[str]]) -> int | None:
    """Tokens generated for ``candidates``, or None when the sampler did not count them."""
    counts = [getattr(c, "tokens", None) for row in candidates for c in row]
    if not counts or any(not isinstance(n, int) for n in counts):
        return None
    return sum(counts)  # type: ignore[arg-type]


def check_sample_arguments(
    n: int, *, temperature: float, top_p: float | None, max_new_tokens: int
) -> None:
    """Refuse arguments outside :meth:`Sampler.sample`'s contract, in words every sampler shares.

    :raises ValueError: ``n`` or ``max_new_tokens`` below 1, a ``temperature``
        below 0 (or NaN), or a ``top_p`` outside (0, 1].
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, not {max_new_tokens}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be 0 (greedy) or more, not {temperature}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], not {top_p}")


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
class PlansBatches(Protocol):
    """Optional for a sampler: how many rows it would batch, so ``dlm doctor`` can show it."""

    def auto_batch_rows(self, sequence_tokens: int) -> int:
        """Rows per batch for sequences of ``sequence_tokens`` when no batch size was given."""


@runtime_checkable
class NamesItsModel(Protocol):
    """Optional for a sampler or judge behind a server: which model answered (after a call).

    Mining records it beside the run, so a served loop shows whether the
    server really answered with the current adapter.
    """

    served_model: str | None


def served_model(plugin: object) -> str | None:
    """The model a served sampler or judge said answered, or None."""
    return plugin.served_model if isinstance(plugin, NamesItsModel) else None


@runtime_checkable
class Judge(Protocol):
    """Scores candidates pointwise; higher is better.

    A judge may also set ``uses_current_adapter = True`` (``sway`` does): it
    scores with the very adapter being judged, so ``dlm compare`` warns that
    it favours that adapter's own answers.
    """

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


DEFAULT_LORA_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
"""The modules a new adapter wraps when the document names none (``target_modules: auto``)."""


@attrs.frozen
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | None = None  # None: DEFAULT_LORA_TARGETS

    @property
    def targets(self) -> list[str]:
        """The modules to wrap: the document's, else :data:`DEFAULT_LORA_TARGETS`."""
        return list(self.target_modules or DEFAULT_LORA_TARGETS)


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
    options: dict[str, Any] = attrs.Factory(
        dict
    )  # training.preference.options, for plugin trainers


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
