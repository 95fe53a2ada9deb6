"""The three trainers on the real default base (SmolLM2-135M-Instruct): they learn what they should.

Marked slow: each test trains the 135M model on the CPU for up to a couple of minutes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from dlm_trainer_trl.dpo import DpoTrainer
from dlm_trainer_trl.orpo import OrpoTrainer
from dlm_trainer_trl.sft import SftTrainer
from peft import PeftModel
from transformers import AutoModelForCausalLM

from dlm_core.models.session import ModelSession
from dlm_core.protocols import LmRow, LoraSettings, PreferenceRow, StepLog
from dlm_core.testing import STYLE_PAIRS

pytestmark = pytest.mark.slow


def answer_logprob(model: torch.nn.Module, prompt: list[int], answer: list[int]) -> float:
    ids = torch.tensor([[*prompt, *answer]])
    with torch.no_grad():
        logps = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
    targets = ids[0, 1:]
    picked = logps.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return float(picked[len(prompt) - 1 :].sum())


def mean_margin(model: torch.nn.Module, pairs: list[PreferenceRow]) -> float:
    """Mean log p(chosen) - log p(rejected), each summed over the answer's tokens."""
    model.eval()
    margins = [
        answer_logprob(model, p.prompt_ids, p.chosen_ids)
        - answer_logprob(model, p.prompt_ids, p.rejected_ids)
        for p in pairs
    ]
    return sum(margins) / len(margins)


def masked_nll(model: torch.nn.Module, rows: list[LmRow]) -> float:
    """Mean negative log-likelihood over the tokens that carry loss."""
    model.eval()
    total, count = 0.0, 0
    for row in rows:
        ids = torch.tensor([row.input_ids])
        with torch.no_grad():
            logps = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
        picked = logps.gather(-1, ids[0, 1:].unsqueeze(-1)).squeeze(-1)
        mask = torch.tensor(row.loss_mask[1:], dtype=torch.bool)
        total -= float(picked[mask].sum())
        count += int(mask.sum())
    return total / count


def with_adapter(base_dir: Path, adapter: Path) -> torch.nn.Module:
    """The adapter as a plain PEFT user would load it: a fresh base, then from_pretrained."""
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    return PeftModel.from_pretrained(base, str(adapter)).eval()


@pytest.fixture
def style_pairs(default_session: ModelSession) -> list[PreferenceRow]:
    chat = default_session.chat
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


@pytest.fixture
def start_adapter(make_job, default_session: ModelSession, default_base: Path) -> Path:
    """A barely trained SFT adapter on the document's Q/A: where a preference phase starts."""
    rows = [_qa(default_session, q, c) for q, c, _r in STYLE_PAIRS]
    job = make_job(
        "sft", "start", rows=rows, job_session=default_session, learning_rate=1e-4, max_steps=1
    )
    SftTrainer().train(job)
    return job.output_dir


def _qa(session: ModelSession, question: str, answer: str) -> LmRow:
    prompt, reply = session.chat.prompt_ids(question), session.chat.answer_ids(question, answer)
    return LmRow([*prompt, *reply], [0] * len(prompt) + [1] * len(reply), "instruction")


def test_sft_lowers_the_loss_on_the_documents_rows(
    make_job, default_session: ModelSession, default_base: Path
) -> None:
    rows = [_qa(default_session, q, c) for q, c, _r in STYLE_PAIRS]
    before = masked_nll(default_session.base_model, rows)
    job = make_job(
        "sft",
        "sft",
        rows=rows,
        job_session=default_session,
        learning_rate=1e-3,
        num_epochs=3,
        batch_size=3,
    )
    SftTrainer().train(job)

    after = masked_nll(with_adapter(default_base, job.output_dir), rows)
    assert after < before - 0.5, (before, after)


def test_the_saved_adapter_gives_the_logits_of_the_model_it_was_saved_from(
    make_job, default_session: ModelSession, default_base: Path
) -> None:
    rows = [_qa(default_session, q, c) for q, c, _r in STYLE_PAIRS[:4]]
    probe = torch.tensor([rows[0].input_ids])
    base = default_session.base_model
    captured: list[torch.Tensor] = []

    def capture_after_last_step(step: StepLog) -> None:
        # on_step runs after the optimizer step: the base still carries the trained LoRA layers
        if step.step == 2:
            base.eval()
            with torch.no_grad():
                captured.append(base(input_ids=probe).logits)
            base.train()

    job = make_job(
        "sft",
        "sft",
        rows=rows,
        job_session=default_session,
        lora=LoraSettings(dropout=0.0),
        learning_rate=1e-3,
        max_steps=2,
        on_step=capture_after_last_step,
    )
    SftTrainer().train(job)

    with torch.no_grad():
        reloaded = with_adapter(default_base, job.output_dir)(input_ids=probe).logits
    assert len(captured) == 1
    torch.testing.assert_close(reloaded, captured[0], atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # and the session's base went back to the bare model
        assert not torch.allclose(base(input_ids=probe).logits, captured[0], atol=1e-3)


def test_dpo_raises_the_chosen_minus_rejected_margin(
    make_job, default_session: ModelSession, default_base: Path, style_pairs, start_adapter: Path
) -> None:
    before = mean_margin(with_adapter(default_base, start_adapter), style_pairs)
    job = make_job(
        "dpo",
        "dpo",
        rows=style_pairs,
        job_session=default_session,
        start_adapter=start_adapter,
        learning_rate=5e-4,
        num_epochs=3,
        batch_size=3,
        beta=0.1,
    )
    DpoTrainer().train(job)

    after = mean_margin(with_adapter(default_base, job.output_dir), style_pairs)
    assert after > before + 2.0, (before, after)


def test_orpo_raises_the_chosen_minus_rejected_margin(
    make_job, default_session: ModelSession, default_base: Path, style_pairs, start_adapter: Path
) -> None:
    before = mean_margin(with_adapter(default_base, start_adapter), style_pairs)
    job = make_job(
        "orpo",
        "orpo",
        rows=style_pairs,
        job_session=default_session,
        start_adapter=start_adapter,
        learning_rate=5e-4,
        num_epochs=3,
        batch_size=3,
        alpha=0.5,
    )
    OrpoTrainer().train(job)

    after = mean_margin(with_adapter(default_base, job.output_dir), style_pairs)
    assert after > before + 1.0, (before, after)
