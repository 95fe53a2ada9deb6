"""The dpo and orpo trainers: continue the start adapter on exact-token preference pairs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from dlm_trainer_trl.dpo import DpoTrainer
from dlm_trainer_trl.orpo import OrpoTrainer
from dlm_trainer_trl.sft import SftTrainer
from peft import PeftModel
from safetensors.torch import load_file

from dlm_core.errors import TrainingError
from dlm_core.models.lending import has_adapter_layers
from dlm_core.models.session import ModelSession
from dlm_core.protocols import LoraSettings

LOG_2 = math.log(2)


@pytest.fixture
def start_adapter(make_job, lm_rows) -> Path:
    """An SFT adapter far enough from the base that "reference = base" and "= adapter" differ."""
    job = make_job("sft", "start", rows=lm_rows, learning_rate=5e-2, num_epochs=2)
    SftTrainer().train(job)
    return job.output_dir


def adapter_weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


def test_dpo_against_its_own_start_adapter_begins_at_log_2(
    make_job, preference_rows, start_adapter, recorder
) -> None:
    job = make_job(
        "dpo",
        "dpo",
        rows=preference_rows,
        start_adapter=start_adapter,
        on_step=recorder,
        batch_size=len(preference_rows),
        learning_rate=1e-4,
    )
    DpoTrainer().train(job)

    first = recorder.steps[0]
    assert first.loss == pytest.approx(LOG_2, abs=1e-4)
    assert first.extra["rewards/margins"] == pytest.approx(0.0, abs=1e-4)
    assert first.extra["rewards/chosen"] == pytest.approx(0.0, abs=1e-4)
    assert first.extra["rewards/rejected"] == pytest.approx(0.0, abs=1e-4)
    assert "rewards/accuracies" in first.extra


def test_dpo_with_reference_base_scores_against_the_base(
    make_job, preference_rows, start_adapter, recorder
) -> None:
    job = make_job(
        "dpo",
        "dpo",
        rows=preference_rows,
        start_adapter=start_adapter,
        on_step=recorder,
        batch_size=len(preference_rows),
        reference="base",
    )
    result = DpoTrainer().train(job)

    assert abs(recorder.steps[0].extra["rewards/chosen"]) > 1e-3
    assert result.extra["reference"] == "base"


def test_dpo_continues_the_start_adapter_rather_than_a_new_one(
    make_job, preference_rows, start_adapter
) -> None:
    job = make_job(
        "dpo",
        "dpo",
        rows=preference_rows,
        start_adapter=start_adapter,
        learning_rate=1e-6,
        max_steps=1,
    )
    DpoTrainer().train(job)

    start, trained = adapter_weights(start_adapter), adapter_weights(job.output_dir)
    assert start.keys() == trained.keys()
    lora_b = [k for k in start if "lora_B" in k]
    assert any(start[k].abs().max() > 1e-3 for k in lora_b)  # a new adapter would start at zero
    assert all(torch.allclose(start[k], trained[k], atol=1e-4) for k in start)


def test_dpo_saves_only_the_trained_adapter(
    make_job, preference_rows, start_adapter, session: ModelSession
) -> None:
    job = make_job("dpo", "dpo", rows=preference_rows, start_adapter=start_adapter, max_steps=1)
    DpoTrainer().train(job)

    assert sorted(p.name for p in job.output_dir.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    loaded = PeftModel.from_pretrained(session.base_model, str(job.output_dir))
    assert list(loaded.peft_config) == ["default"]
    loaded.unload()


def test_dpo_reports_reward_metrics_on_every_step(
    make_job, preference_rows, start_adapter, recorder
) -> None:
    job = make_job(
        "dpo",
        "dpo",
        rows=preference_rows,
        start_adapter=start_adapter,
        on_step=recorder,
        num_epochs=2,
    )
    result = DpoTrainer().train(job)

    assert [s.step for s in recorder.steps] == [1, 2, 3, 4] and result.steps == 4
    for step in recorder.steps:
        assert {
            "rewards/margins",
            "rewards/accuracies",
            "rewards/chosen",
            "rewards/rejected",
        } <= step.extra.keys()
        assert step.loss is not None and step.learning_rate is not None
    # chosen and rejected sequences both count, prompt included
    pairs = sum(
        2 * len(p.prompt_ids) + len(p.chosen_ids) + len(p.rejected_ids) for p in preference_rows
    )
    assert result.tokens == 2 * pairs


def test_dpo_from_no_start_adapter_trains_a_new_one(make_job, preference_rows, recorder) -> None:
    job = make_job("dpo", "dpo", rows=preference_rows, on_step=recorder, max_steps=1)
    DpoTrainer().train(job)
    assert recorder.steps[0].loss == pytest.approx(LOG_2, abs=1e-4)
    assert (job.output_dir / "adapter_model.safetensors").is_file()


def test_orpo_trains_from_the_start_adapter_and_logs_its_metrics(
    make_job, preference_rows, start_adapter, recorder
) -> None:
    job = make_job(
        "orpo",
        "orpo",
        rows=preference_rows,
        start_adapter=start_adapter,
        on_step=recorder,
        num_epochs=2,
        alpha=0.25,
    )
    result = OrpoTrainer().train(job)

    assert result.steps == 4 and [s.step for s in recorder.steps] == [1, 2, 3, 4]
    assert {"log_odds_ratio", "nll_loss", "rewards/margins"} <= recorder.steps[0].extra.keys()
    assert sorted(p.name for p in job.output_dir.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    assert result.tokens == 2 * sum(
        2 * len(p.prompt_ids) + len(p.chosen_ids) + len(p.rejected_ids) for p in preference_rows
    )


def test_orpo_weighs_the_odds_ratio_by_alpha(make_job, preference_rows, start_adapter) -> None:
    # loss = nll - alpha * mean(log sigmoid(log odds)); alpha 0 leaves the nll alone
    def first(alpha: float):
        steps = []
        OrpoTrainer().train(
            make_job(
                "orpo",
                f"orpo-{alpha}",
                rows=preference_rows,
                start_adapter=start_adapter,
                max_steps=1,
                alpha=alpha,
                on_step=steps.append,
            )
        )
        return steps[0]

    plain, weighted = first(0.0), first(0.5)
    assert plain.loss == pytest.approx(plain.extra["nll_loss"], abs=1e-4)
    expected = weighted.extra["nll_loss"] - 0.5 * weighted.extra["log_odds_ratio"]
    assert weighted.loss == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("trainer", [DpoTrainer, OrpoTrainer])
def test_preference_phases_hand_the_base_model_back_bare(
    make_job, preference_rows, start_adapter, session: ModelSession, trainer
) -> None:
    base = session.base_model
    attributes = set(vars(base))
    trainer().train(
        make_job("x", "out", rows=preference_rows, start_adapter=start_adapter, max_steps=1)
    )
    assert not has_adapter_layers(base)
    assert set(vars(base)) == attributes
    assert all(p.requires_grad for p in base.parameters())


@pytest.mark.parametrize("trainer", [DpoTrainer, OrpoTrainer])
def test_a_missing_start_adapter_is_a_clear_error_and_leaves_the_base_bare(
    make_job, preference_rows, tmp_path: Path, session: ModelSession, trainer
) -> None:
    job = make_job("x", "out", rows=preference_rows, start_adapter=tmp_path / "nowhere")
    with pytest.raises(TrainingError, match=r"has no adapter_config\.json"):
        trainer().train(job)
    assert not has_adapter_layers(session.base_model)


def test_pairs_whose_prompt_fills_the_sequence_length_are_left_out(
    make_job, rows, preference_rows
) -> None:
    long_prompt = rows.pair("word " * 300, "Yes.", "No.")
    job = make_job("dpo", "out", rows=[*preference_rows, long_prompt], max_steps=1)
    assert DpoTrainer().train(job).extra["pairs_dropped"] == 1


def test_an_unknown_reference_is_a_clear_error(make_job, preference_rows) -> None:
    with pytest.raises(TrainingError, match="unknown DPO reference"):
        DpoTrainer().train(make_job("dpo", "out", rows=preference_rows, reference="frozen"))


def test_an_unknown_loss_type_is_a_clear_error(make_job, preference_rows) -> None:
    with pytest.raises(TrainingError, match="unknown DPO loss_type 'sigmoidal'"):
        DpoTrainer().train(make_job("dpo", "out", rows=preference_rows, loss_type="sigmoidal"))


def test_dpo_losses_combine_with_commas(make_job, preference_rows, recorder) -> None:
    job = make_job(
        "dpo", "out", rows=preference_rows, loss_type="sigmoid, sft", max_steps=1, on_step=recorder
    )
    DpoTrainer().train(job)
    assert recorder.steps[0].loss > math.log(2)  # the sft term adds the chosen answers' NLL


def test_a_new_preference_adapter_takes_the_documents_lora_shape(make_job, preference_rows) -> None:
    job = make_job(
        "orpo", "out", rows=preference_rows, max_steps=1, lora=LoraSettings(r=2, alpha=4)
    )
    OrpoTrainer().train(job)
    weights = adapter_weights(job.output_dir)
    assert all(t.shape[0] == 2 for k, t in weights.items() if "lora_A" in k)


def test_awkward_document_text_trains_in_every_phase(make_job, rows, awkward_answer: str) -> None:
    # Blank lines, a code fence and lines that read like .dlm grammar, in answers and pairs alike.
    sft_rows = [rows.qa("How do I retrain?", awkward_answer), rows.prose(awkward_answer)]
    pairs = [rows.pair("How do I retrain?", awkward_answer, "Just run it!!!\n\n" + awkward_answer)]
    assert "### Chosen\n::preference::" in rows.chat.tokenizer.decode(pairs[0].chosen_ids)

    sft = make_job("sft", "sft", rows=sft_rows, max_steps=1)
    SftTrainer().train(sft)
    for method, trainer in (("dpo", DpoTrainer), ("orpo", OrpoTrainer)):
        job = make_job(method, method, rows=pairs, start_adapter=sft.output_dir, max_steps=1)
        assert trainer().train(job).steps == 1
