"""SimPO on the real default base (SmolLM2-135M-Instruct) learns the preference it is shown.

Marked slow: it trains the 135M model on the CPU (about 20 s on an idle 2-core box).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from dlm_trainer_simpo.trainer import SimpoTrainer
from peft import PeftModel

from dlm_core.models.session import ModelSession
from dlm_core.protocols import PreferenceRow

pytestmark = pytest.mark.slow


def mean_answer_logprob(model: torch.nn.Module, prompt: list[int], answer: list[int]) -> float:
    """The answer's log-probability per token: SimPO's (unscaled) reward."""
    ids = torch.tensor([[*prompt, *answer]])
    with torch.no_grad():
        logps = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
    picked = logps.gather(-1, ids[0, 1:].unsqueeze(-1)).squeeze(-1)
    return float(picked[len(prompt) - 1 :].mean())


def normalised_margin(model: torch.nn.Module, pairs: list[PreferenceRow]) -> float:
    """Mean over pairs of per-token log p(chosen) minus per-token log p(rejected)."""
    model.eval()
    margins = [
        mean_answer_logprob(model, p.prompt_ids, p.chosen_ids)
        - mean_answer_logprob(model, p.prompt_ids, p.rejected_ids)
        for p in pairs
    ]
    return sum(margins) / len(margins)


def test_simpo_raises_the_length_normalised_margin_of_terse_over_verbose(
    make_job,
    default_session: ModelSession,
    default_pairs: list[PreferenceRow],
    default_start_adapter: Path,
) -> None:
    base = default_session.base_model
    before = normalised_margin(base, default_pairs)  # the start adapter is new: its LoRA B is zero

    job = make_job(
        "simpo",
        job_session=default_session,
        rows=default_pairs,
        start_adapter=default_start_adapter,
        learning_rate=1e-3,
        num_epochs=3,
        batch_size=6,
        beta=2.0,
        options={"gamma_beta_ratio": 0.5},
    )
    result = SimpoTrainer().train(job)

    trained = PeftModel.from_pretrained(base, str(job.output_dir))
    try:
        after = normalised_margin(trained, default_pairs)
    finally:
        trained.unload()
    assert result.steps == 3
    assert after > before + 0.3, (before, after)
