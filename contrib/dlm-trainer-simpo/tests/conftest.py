"""Fixtures for the simpo trainer: a session on a real base, pairs built as dlm builds them, jobs.

dlm's own fixtures (``tiny_base``, ``default_base``, ``dlm_host``, ``dlm_home``)
come from ``dlm_core.testing``, loaded by the repository's root conftest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlm_core.models.registry import parse_base
from dlm_core.models.session import ModelSession
from dlm_core.protocols import LoraSettings, PreferenceRow, StepLog, TrainJob, TrainSettings
from dlm_core.testing import STYLE_PAIRS

SYSTEM_PROMPT = "You are concise."


def make_session(base: Path, home: Path) -> ModelSession:
    return ModelSession(parse_base(f"hf:{base}"), home=home, system_prompt=SYSTEM_PROMPT)


def pairs_for(session: ModelSession) -> list[PreferenceRow]:
    """The pairs as dlm's preference rows: exact token ids under the session's chat format."""
    chat = session.chat
    return [
        PreferenceRow(
            chat.system_prompt,
            q,
            c,
            r,
            chat.prompt_ids(q),
            chat.answer_ids(q, c),
            chat.answer_ids(q, r),
        )
        for q, c, r in STYLE_PAIRS
    ]


def save_start_adapter(base_dir: Path, folder: Path, *, random_b: bool) -> Path:
    """A LoRA adapter on a fresh copy of the base, saved in PEFT format.

    ``random_b``: non-zero LoRA B matrices, so the adapter is told apart from a new one.
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(
        r=8,
        lora_alpha=16,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        init_lora_weights=not random_b,
    )
    get_peft_model(base, config).save_pretrained(str(folder))
    return folder


@pytest.fixture
def session(tiny_base: Path, tmp_path: Path) -> ModelSession:
    return make_session(tiny_base, tmp_path / "home")


@pytest.fixture
def pairs(session: ModelSession) -> list[PreferenceRow]:
    return pairs_for(session)


@pytest.fixture
def start_adapter(tiny_base: Path, tmp_path: Path) -> Path:
    return save_start_adapter(tiny_base, tmp_path / "start", random_b=True)


@pytest.fixture
def default_session(default_base: Path, tmp_path: Path) -> ModelSession:
    """A session on the real default base (SmolLM2-135M-Instruct), for slow tests."""
    return make_session(default_base, tmp_path / "home")


@pytest.fixture
def default_pairs(default_session: ModelSession) -> list[PreferenceRow]:
    return pairs_for(default_session)


@pytest.fixture
def default_start_adapter(default_base: Path, tmp_path: Path) -> Path:
    """A new (zero) LoRA adapter on the default base: the model it starts from is the base itself."""
    return save_start_adapter(default_base, tmp_path / "default-start", random_b=False)


class StepRecorder:
    """A job's ``on_step`` that keeps every step."""

    def __init__(self) -> None:
        self.steps: list[StepLog] = []

    def __call__(self, step: StepLog) -> None:
        self.steps.append(step)


@pytest.fixture
def recorder() -> StepRecorder:
    return StepRecorder()


JobFactory = Callable[..., TrainJob]


@pytest.fixture
def make_job(session: ModelSession, pairs: list[PreferenceRow], tmp_path: Path) -> JobFactory:
    """``make_job(out, start_adapter=..., on_step=..., **settings)``: a simpo job on the tiny base."""

    def build(
        out: str,
        *,
        start_adapter: Path | None = None,
        on_step: Callable[[StepLog], None] = lambda _step: None,
        job_session: ModelSession | None = None,
        rows: list[PreferenceRow] | None = None,
        **settings: Any,
    ) -> TrainJob:
        defaults: dict[str, Any] = {
            "learning_rate": 1e-3,
            "num_epochs": 1,
            "batch_size": 3,
            "sequence_len": 256,
            "beta": 2.0,
            "options": {"gamma_beta_ratio": 0.5},
        }
        return TrainJob(
            phase="preference",
            method="simpo",
            session=job_session or session,
            output_dir=tmp_path / out,
            settings=TrainSettings(**{**defaults, **settings}),
            lora=LoraSettings(),
            seed=7,
            preference_rows=rows if rows is not None else pairs,
            start_adapter=start_adapter,
            on_step=on_step,
            progress=False,
        )

    return build
