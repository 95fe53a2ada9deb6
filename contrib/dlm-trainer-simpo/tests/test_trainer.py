"""The simpo trainer on its own: what it trains from, what it reports, what it saves, what it leaves."""

from __future__ import annotations

import pytest
import torch
from dlm_trainer_simpo.trainer import SimpoTrainer, pair_rows
from peft.tuners.tuners_utils import BaseTunerLayer
from safetensors.torch import load_file

from dlm_core.errors import TrainingError
from dlm_core.models.session import ModelSession
from dlm_core.protocols import PreferenceRow


def test_it_reports_each_optimizer_step_with_simpos_rewards(
    make_job, start_adapter, recorder
) -> None:
    job = make_job("out", start_adapter=start_adapter, on_step=recorder, batch_size=2, max_steps=3)
    result = SimpoTrainer().train(job)

    assert result.steps == 3 and [s.step for s in recorder.steps] == [1, 2, 3]
    assert result.final_loss == recorder.steps[-1].loss
    assert result.adapter_path == job.output_dir and result.tokens > 0
    assert result.extra["gamma"] == 1.0 and result.extra["pairs"] == 6
    first = recorder.steps[0]
    assert first.learning_rate is not None and first.grad_norm is not None
    assert {
        "rewards/margins",
        "rewards/accuracies",
        "logps/chosen",
        "logps/rejected",
    } <= first.extra.keys()
    # SimPO's loss is -log σ(β·Δ - γ), where Δ is the mean-log-prob margin and β·Δ is the logged reward margin.
    expected = -torch.nn.functional.logsigmoid(
        torch.tensor(first.extra["rewards/margins"] - 1.0)
    ).item()
    assert first.loss == pytest.approx(expected, rel=0.05)


def test_it_saves_the_adapter_alone_in_peft_format(make_job, start_adapter) -> None:
    job = make_job("out", start_adapter=start_adapter, max_steps=1)
    SimpoTrainer().train(job)
    assert sorted(p.name for p in job.output_dir.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]


def test_it_continues_the_start_adapter_rather_than_a_new_one(make_job, start_adapter) -> None:
    job = make_job("out", start_adapter=start_adapter, learning_rate=1e-9, max_steps=1)
    SimpoTrainer().train(job)

    start, trained = (
        load_file(str(start_adapter / "adapter_model.safetensors")),
        load_file(str(job.output_dir / "adapter_model.safetensors")),
    )
    assert start.keys() == trained.keys()
    assert any(
        start[key].abs().max() > 1e-3 for key in start if "lora_B" in key
    )  # a new adapter's B is zero
    assert all(torch.allclose(start[key], trained[key], atol=1e-6) for key in start)


def test_sft_weight_adds_the_chosen_answers_nll_to_the_loss(
    make_job, start_adapter, recorder
) -> None:
    SimpoTrainer().train(
        make_job(
            "out",
            start_adapter=start_adapter,
            on_step=recorder,
            max_steps=1,
            options={"gamma": 1.0, "sft_weight": 0.5},
        )
    )
    (step,) = recorder.steps
    assert step.extra["nll_loss"] > 0
    simpo = -torch.nn.functional.logsigmoid(
        torch.tensor(step.extra["rewards/margins"] - 1.0)
    ).item()
    assert step.loss == pytest.approx(simpo + 0.5 * step.extra["nll_loss"], rel=0.05)


def test_without_a_start_adapter_it_trains_a_new_one(make_job) -> None:
    job = make_job("out", max_steps=1)
    SimpoTrainer().train(job)
    assert (job.output_dir / "adapter_model.safetensors").exists()


def base_state(session: ModelSession) -> tuple[torch.Tensor, dict, list[bool], int]:
    model = session.base_model
    probe = torch.tensor([[1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        logits = model(input_ids=probe).logits
    return (
        logits,
        model.config.to_dict(),
        [p.requires_grad for p in model.parameters()],
        len(vars(model)),
    )


def assert_base_is_clean(
    session: ModelSession, before: tuple[torch.Tensor, dict, list[bool], int]
) -> None:
    model = session.base_model
    assert not any(isinstance(m, BaseTunerLayer) for m in model.modules())
    assert not hasattr(model, "peft_config")
    assert not model.training
    logits, config, grads, attributes = base_state(session)
    assert torch.equal(logits, before[0])
    assert (config, grads, attributes) == before[1:]


def test_the_base_model_is_clean_after_training(
    make_job, start_adapter, session: ModelSession
) -> None:
    before = base_state(session)
    SimpoTrainer().train(make_job("out", start_adapter=start_adapter, max_steps=2))
    assert_base_is_clean(session, before)


def test_the_base_model_is_clean_after_a_failed_run(
    make_job, start_adapter, session: ModelSession
) -> None:
    before = base_state(session)

    def fail(_step: object) -> None:
        raise RuntimeError("metrics database went away")

    job = make_job("out", start_adapter=start_adapter, on_step=fail)
    with pytest.raises(RuntimeError, match="went away"):
        SimpoTrainer().train(job)
    assert_base_is_clean(session, before)
    assert not (job.output_dir / "adapter_config.json").exists()


def test_a_prompt_that_fills_sequence_len_leaves_nothing_to_train_on(
    make_job, start_adapter
) -> None:
    with pytest.raises(TrainingError, match=r"no preference pair that fits in sequence_len=8"):
        SimpoTrainer().train(make_job("out", start_adapter=start_adapter, sequence_len=8))


def test_pairs_are_cut_to_sequence_len_keeping_their_start_and_labelled_on_the_answer() -> None:
    fits = PreferenceRow(None, "q", "c", "r", [1, 2, 3], [4, 5, 6, 7], [8, 9])
    no_room = PreferenceRow(None, "q", "c", "r", [1, 2, 3, 4, 5], [6], [7])
    (example,), dropped = pair_rows([fits, no_room], max_length=5)

    assert dropped == 1
    assert example["chosen_input_ids"] == [1, 2, 3, 4, 5]
    assert example["chosen_labels"] == [-100, -100, -100, 4, 5]
    assert example["rejected_input_ids"] == [1, 2, 3, 8, 9]
    assert example["rejected_labels"] == [-100, -100, -100, 8, 9]
    assert example["rejected_attention_mask"] == [1, 1, 1, 1, 1]
