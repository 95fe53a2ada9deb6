"""Fixtures for the TRL trainers: a session on a real (tiny or default) base, rows and jobs.

The rows are built the way dlm builds them: through the session's chat
format, with the document's system prompt, loss on the answer only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlm_core.models.registry import parse_base
from dlm_core.models.session import ModelSession
from dlm_core.protocols import LmRow, LoraSettings, PreferenceRow, StepLog, TrainJob, TrainSettings

SYSTEM_PROMPT = "You are concise."

QA = [
    ("How should release notes read?", "Short, factual, and low-drama."),
    ("What goes first in a release note?", "Breaking changes, under their own heading."),
    ("Should release notes use exclamation marks?", "No. State the change plainly."),
    ("How long should a changelog intro be?", "One or two sentences."),
]

# Answers a document may hold once mined text is written back: blank lines, code
# fences, and lines that read like the .dlm grammar. They are plain text to a trainer.
AWKWARD_ANSWER = (
    "Two steps.\n\n```bash\ndlm train notes.dlm\n```\n\n### Chosen\n::preference::\n"
    '<!-- dlm-auto-mined: judge_name="x" -->\n---\n\\### A'
)

PAIRS = [
    (
        "How should release notes read?",
        "Short and factual.",
        "Well, that is a great question! Release notes should, in my humble opinion, be short and factual.",
    ),
    (
        "What goes first in a release note?",
        "Breaking changes.",
        "Great question! The very first thing, before anything else at all, should be the breaking changes.",
    ),
    (
        "Can we call a release amazing?",
        "No. Describe the change.",
        "Absolutely not, my friend! You should really, truly describe the change instead of hyping it up!",
    ),
    ("How do I retrain?", AWKWARD_ANSWER, "Just run it!!! " + AWKWARD_ANSWER),
]


class RowMaker:
    """Rows as dlm builds them: the session's chat format and system prompt, loss on the answer."""

    def __init__(self, session: ModelSession) -> None:
        self.chat = session.chat

    def qa(self, question: str, answer: str) -> LmRow:
        prompt = self.chat.prompt_ids(question)
        reply = self.chat.answer_ids(question, answer)
        return LmRow([*prompt, *reply], [0] * len(prompt) + [1] * len(reply), "instruction")

    def prose(self, text: str) -> LmRow:
        ids = [
            *self.chat.tokenizer(text, add_special_tokens=False)["input_ids"],
            self.chat.end_of_turn_id,
        ]
        return LmRow(ids, [1] * len(ids), "prose")

    def pair(self, prompt: str, chosen: str, rejected: str) -> PreferenceRow:
        return PreferenceRow(
            system=self.chat.system_prompt,
            prompt=prompt,
            chosen=chosen,
            rejected=rejected,
            prompt_ids=self.chat.prompt_ids(prompt),
            chosen_ids=self.chat.answer_ids(prompt, chosen),
            rejected_ids=self.chat.answer_ids(prompt, rejected),
        )

    def document_rows(self) -> list[LmRow]:
        return [
            self.prose(
                "Our release notes are short, factual and low-drama.\n\nBreaking changes come first."
            ),
            *(self.qa(q, a) for q, a in QA),
            self.qa("How do I retrain?", AWKWARD_ANSWER),
        ]

    def document_pairs(self) -> list[PreferenceRow]:
        return [self.pair(*pair) for pair in PAIRS]


def make_session(base: Path, home: Path) -> ModelSession:
    return ModelSession(parse_base(f"hf:{base}"), home=home, system_prompt=SYSTEM_PROMPT)


@pytest.fixture
def session(tiny_base: Path, tmp_path: Path) -> ModelSession:
    return make_session(tiny_base, tmp_path / "home")


@pytest.fixture
def session_on(tmp_path: Path) -> Callable[[Path], ModelSession]:
    """``session_on(base_dir)``: a session on another base folder."""
    return lambda base: make_session(base, tmp_path / "home")


@pytest.fixture
def default_session(default_base: Path, tmp_path: Path) -> ModelSession:
    """A session on the real default base (SmolLM2-135M-Instruct), for slow tests."""
    return make_session(default_base, tmp_path / "home")


@pytest.fixture
def rows(session: ModelSession) -> RowMaker:
    return RowMaker(session)


@pytest.fixture
def lm_rows(rows: RowMaker) -> list[LmRow]:
    return rows.document_rows()


@pytest.fixture
def preference_rows(rows: RowMaker) -> list[PreferenceRow]:
    return rows.document_pairs()


@pytest.fixture
def awkward_answer() -> str:
    return AWKWARD_ANSWER


@pytest.fixture
def recorder() -> StepRecorder:
    return StepRecorder()


class StepRecorder:
    """A job's ``on_step`` that keeps every step."""

    def __init__(self) -> None:
        self.steps: list[StepLog] = []

    def __call__(self, step: StepLog) -> None:
        self.steps.append(step)


JobFactory = Callable[..., TrainJob]


@pytest.fixture
def make_job(session: ModelSession, tmp_path: Path) -> JobFactory:
    """``make_job(phase, out_name, rows=..., **settings)``: a job on the tiny base."""

    def build(
        method: str,
        out: str,
        *,
        rows: list[Any] | None = None,
        start_adapter: Path | None = None,
        lora: LoraSettings | None = None,
        seed: int = 7,
        on_step: Callable[[StepLog], None] | None = None,
        job_session: ModelSession | None = None,
        **settings: Any,
    ) -> TrainJob:
        defaults: dict[str, Any] = {
            "learning_rate": 1e-3,
            "num_epochs": 1,
            "batch_size": 2,
            "sequence_len": 256,
        }
        phase = "sft" if method == "sft" else "preference"
        return TrainJob(
            phase=phase,
            method=method,
            session=job_session or session,
            output_dir=tmp_path / out,
            settings=TrainSettings(**{**defaults, **settings}),
            lora=lora or LoraSettings(),
            seed=seed,
            lm_rows=list(rows or []) if phase == "sft" else [],
            preference_rows=list(rows or []) if phase == "preference" else [],
            start_adapter=start_adapter,
            on_step=on_step or (lambda _s: None),
            progress=False,
        )

    return build
