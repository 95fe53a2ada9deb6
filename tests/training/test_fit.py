"""The answer fit: the mean loss on a document's answer tokens, under the base and an adapter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft.tuners.tuners_utils import BaseTunerLayer

from dlm_core.models.registry import parse_base
from dlm_core.models.session import ModelSession
from dlm_core.protocols import LmRow
from dlm_core.training.fit import adapter_applied, answer_loss, answer_rows, sft_fit

QA = [
    ("How should release notes read?", "Short, factual, and low-drama."),
    ("What goes first?", "Breaking changes, under their own heading."),
    ("Can we call a release amazing?", "No. Describe what changed instead."),
]


@pytest.fixture
def session(tiny_base: Path, tmp_path: Path) -> ModelSession:
    return ModelSession(parse_base(f"hf:{tiny_base}"), home=tmp_path, system_prompt="Be brief.")


@pytest.fixture
def rows(session: ModelSession) -> list[LmRow]:
    chat = session.chat
    out = []
    for question, answer in QA:
        prompt, reply = chat.prompt_ids(question), chat.answer_ids(question, answer)
        out.append(LmRow([*prompt, *reply], [0] * len(prompt) + [1] * len(reply), "instruction"))
    prose = chat.encode("Release notes are short.")
    out.append(LmRow(prose, [1] * len(prose), "prose"))
    return out


def hf_loss(model: torch.nn.Module, row: LmRow) -> tuple[float, int]:
    """transformers' own loss on one row, labels -100 where the mask is 0, and its token count."""
    ids = torch.tensor([row.input_ids])
    labels = ids.masked_fill(torch.tensor([row.loss_mask]) == 0, -100)
    with torch.no_grad():
        loss = model(input_ids=ids, labels=labels).loss
    return float(loss), sum(row.loss_mask[1:])


def test_the_answer_loss_is_the_token_weighted_mean_of_transformers_loss(
    session: ModelSession, rows: list[LmRow]
) -> None:
    model = session.base_model
    per_row = [hf_loss(model, row) for row in rows[:3]]
    expected = sum(loss * n for loss, n in per_row) / sum(n for _, n in per_row)
    fit = answer_loss(model, rows[:3], batch_size=2)  # padded batches of unequal rows
    assert fit.loss == pytest.approx(expected, rel=1e-4)
    assert (fit.tokens, fit.rows) == (sum(n for _, n in per_row), 3)


def test_the_answers_are_the_rows_with_a_prompt() -> None:
    qa = LmRow([1, 2, 3], [0, 1, 1], "instruction")
    prose = LmRow([4, 5], [1, 1], "prose")
    assert answer_rows([qa, prose]) == [qa]
    assert answer_rows([prose]) == [prose]  # a document of prose only: its text is the answer


def train_adapter(session: ModelSession, rows: list[LmRow], folder: Path) -> Path:
    """A LoRA trained for a few plain torch steps on the answer rows, saved in PEFT format."""
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(
        session.base_model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(3):
        for row in rows[:3]:
            ids = torch.tensor([row.input_ids])
            labels = ids.masked_fill(torch.tensor([row.loss_mask]) == 0, -100)
            model(input_ids=ids, labels=labels).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    model.save_pretrained(str(folder))
    model.unload()
    return folder


def test_a_trained_adapter_lowers_the_answer_loss_and_the_base_comes_back_bare(
    session: ModelSession, rows: list[LmRow], tmp_path: Path
) -> None:
    base = session.base_model
    before = answer_loss(base, rows[:3]).loss
    adapter = train_adapter(session, rows, tmp_path / "adapter")

    change = sft_fit(base, rows, adapter)

    assert change.before.loss == pytest.approx(before, rel=1e-5)
    assert change.after.loss < change.before.loss - 0.1
    assert change.fell_by == pytest.approx(change.before.loss - change.after.loss)
    assert change.after.rows == 3  # the prose row is not an answer
    assert not any(isinstance(m, BaseTunerLayer) for m in base.modules())
    assert answer_loss(base, rows[:3]).loss == pytest.approx(before, rel=1e-5)


def test_the_adapter_is_removed_even_when_scoring_fails(
    session: ModelSession, rows: list[LmRow], tmp_path: Path
) -> None:
    adapter = train_adapter(session, rows, tmp_path / "adapter")
    base = session.base_model
    with pytest.raises(RuntimeError), adapter_applied(base, adapter):
        raise RuntimeError("scoring failed")
    assert not any(isinstance(m, BaseTunerLayer) for m in base.modules())
