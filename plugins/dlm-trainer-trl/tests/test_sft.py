"""The sft trainer: a new LoRA adapter on the bare base, loss on the answer only."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from dlm_trainer_trl.sft import SftTrainer
from peft import PeftModel
from transformers import AutoModelForCausalLM

from dlm_core.context import PluginContext
from dlm_core.document.model import Document
from dlm_core.errors import TrainingError
from dlm_core.models.lending import has_adapter_layers, lent_base_model
from dlm_core.models.session import ModelSession
from dlm_core.protocols import LmRow, LoraSettings, StepLog


def logits_of(model: torch.nn.Module, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits


def test_sft_saves_a_peft_adapter_that_plain_peft_loads_and_that_changes_the_logits(
    make_job, lm_rows, tiny_base: Path
) -> None:
    job = make_job("sft", "adapter", rows=lm_rows, learning_rate=5e-3, num_epochs=3)
    result = SftTrainer().train(job)

    assert result.adapter_path == job.output_dir
    assert sorted(p.name for p in job.output_dir.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    before = logits_of(base, lm_rows[1].input_ids)
    tuned = PeftModel.from_pretrained(base, str(job.output_dir)).eval()
    assert not torch.allclose(logits_of(tuned, lm_rows[1].input_ids), before)


def test_the_new_adapter_has_the_documents_lora_shape(make_job, lm_rows) -> None:
    lora = LoraSettings(r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"])
    job = make_job("sft", "adapter", rows=lm_rows, lora=lora, max_steps=1)
    SftTrainer().train(job)

    config = PeftModel.from_pretrained(job.session.base_model, str(job.output_dir)).peft_config[
        "default"
    ]
    assert (config.r, config.lora_alpha, sorted(config.target_modules)) == (
        4,
        8,
        ["q_proj", "v_proj"],
    )
    assert config.task_type == "CAUSAL_LM"


def test_tokens_outside_the_loss_mask_do_not_change_the_loss(make_job, rows, recorder) -> None:
    # The same answer followed by different trailing text that carries no loss: a causal
    # model's loss on the answer cannot see it, so only masking decides whether it counts.
    row = rows.qa("What goes first?", "Breaking changes.")
    tails = [
        rows.chat.tokenizer(t, add_special_tokens=False)["input_ids"]
        for t in ("zebra quartz", "ok")
    ]

    def first_loss(tail: list[int], tail_mask: int) -> float:
        padded = LmRow(
            [*row.input_ids, *tail], [*row.loss_mask, *[tail_mask] * len(tail)], "instruction"
        )
        steps = []
        SftTrainer().train(make_job("sft", "out", rows=[padded], max_steps=1, on_step=steps.append))
        return steps[0].loss

    masked = [first_loss(tail, 0) for tail in tails]
    assert masked[0] == pytest.approx(masked[1], abs=1e-5)
    assert first_loss(tails[0], 1) != pytest.approx(masked[0], abs=1e-3)


def test_labels_are_ignored_wherever_the_loss_mask_is_zero(
    make_job, lm_rows, tmp_path: Path
) -> None:
    job = make_job("sft", "out", rows=lm_rows, batch_size=len(lm_rows))
    with lent_base_model(job.session.base_model):
        trainer = SftTrainer().build(job, tmp_path / "scratch")
        batch = next(iter(trainer.get_train_dataloader()))
    masks = {tuple(r.input_ids): r.loss_mask for r in lm_rows}
    for ids, labels, attention in zip(
        batch["input_ids"], batch["labels"], batch["attention_mask"], strict=True
    ):
        n = int(attention.sum())
        mask = masks[tuple(ids[:n].tolist())]
        expected = [t if m else -100 for t, m in zip(ids[:n].tolist(), mask, strict=True)]
        assert labels[:n].tolist() == expected
        assert (labels[n:] == -100).all()


def test_on_step_is_called_once_per_optimizer_step_with_loss_and_lr(
    make_job, lm_rows, recorder
) -> None:
    # 6 rows, batch 2, accumulation 2: ceil(3 / 2) = 2 steps an epoch.
    job = make_job(
        "sft", "out", rows=lm_rows, batch_size=2, grad_accum=2, num_epochs=2, on_step=recorder
    )
    result = SftTrainer().train(job)

    assert [s.step for s in recorder.steps] == [1, 2, 3, 4] and result.steps == 4
    assert all(s.loss is not None and math.isfinite(s.loss) for s in recorder.steps)
    assert all(s.learning_rate is not None and s.grad_norm is not None for s in recorder.steps)
    assert result.final_loss == recorder.steps[-1].loss
    assert result.effective_batch_size == 4


def test_max_steps_stops_training_before_the_epochs_end(make_job, lm_rows, recorder) -> None:
    job = make_job("sft", "out", rows=lm_rows, num_epochs=50, max_steps=2, on_step=recorder)
    assert SftTrainer().train(job).steps == 2
    assert len(recorder.steps) == 2


def test_the_result_counts_every_non_padding_token_trained(make_job, lm_rows) -> None:
    job = make_job("sft", "out", rows=lm_rows, num_epochs=2)
    assert SftTrainer().train(job).tokens == 2 * sum(len(r.input_ids) for r in lm_rows)


def test_rows_are_cut_to_the_sequence_length(make_job, lm_rows) -> None:
    job = make_job("sft", "out", rows=lm_rows, sequence_len=16)
    assert SftTrainer().train(job).tokens == sum(
        min(len(r.input_ids), 16) for r in lm_rows if 1 in r.loss_mask[1:16]
    )


def test_the_base_model_is_handed_back_bare(make_job, lm_rows, session: ModelSession) -> None:
    base = session.base_model
    probe = lm_rows[1].input_ids
    before = logits_of(base, probe)
    attributes = set(vars(base))

    SftTrainer().train(make_job("sft", "out", rows=lm_rows, learning_rate=5e-2))

    assert not has_adapter_layers(base)
    assert set(vars(base)) == attributes  # no patched forward, no peft_config, no tags
    assert not base.training
    assert all(p.requires_grad for p in base.parameters())
    assert torch.equal(logits_of(base, probe), before)


def test_a_second_phase_in_the_same_process_starts_from_the_bare_base(
    make_job, lm_rows, recorder
) -> None:
    first, second = [], []
    SftTrainer().train(make_job("sft", "a", rows=lm_rows, learning_rate=5e-2, on_step=first.append))
    SftTrainer().train(
        make_job("sft", "b", rows=lm_rows, learning_rate=5e-2, on_step=second.append)
    )
    assert second[0].loss == pytest.approx(first[0].loss, abs=1e-6)


def test_training_writes_nothing_outside_the_output_folder(
    make_job, lm_rows, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    SftTrainer().train(make_job("sft", "out", rows=lm_rows))
    assert list(workdir.iterdir()) == []


def test_rows_with_nothing_to_learn_are_a_clear_error(make_job, rows) -> None:
    row = rows.qa("Q?", "A.")
    silent = LmRow(row.input_ids, [0] * len(row.input_ids), "instruction")
    with pytest.raises(TrainingError, match="no SFT row has a token to learn from"):
        SftTrainer().train(make_job("sft", "out", rows=[silent]))


def test_a_run_shows_a_step_bar_and_keeps_log_lines_off_the_terminal(
    make_job, lm_rows, capfd: pytest.CaptureFixture[str]
) -> None:
    job = make_job("sft", "out", rows=lm_rows, max_steps=2)
    job.progress = True
    SftTrainer().train(job)

    out, err = capfd.readouterr()
    assert "2/2" in err  # the bar
    assert "'loss'" not in out + err and "{" not in out
    assert "Warning" not in out + err


def test_a_base_whose_config_still_names_its_gguf_source_trains(
    make_job, lm_rows, tiny_base: Path, tmp_path: Path, session_on
) -> None:
    # A GGUF base converted to safetensors may keep quantization_config (quant_method: gguf);
    # transformers then attaches a quantizer that packs nothing and the Trainer refuses it.
    converted = tmp_path / "converted"
    shutil.copytree(tiny_base, converted)
    config = json.loads((converted / "config.json").read_text())
    config["quantization_config"] = {
        "quant_method": "gguf",
        "dequantize": False,
        "gguf_file": "x.gguf",
    }
    (converted / "config.json").write_text(json.dumps(config))
    session = session_on(converted)
    quantizer = session.base_model.hf_quantizer
    assert quantizer is not None

    job = make_job("sft", "out", rows=lm_rows, max_steps=1, job_session=session)
    assert SftTrainer().train(job).steps == 1
    assert session.base_model.hf_quantizer is quantizer and session.base_model.is_quantized


def context_with(session: ModelSession, tmp_path: Path, **options: object) -> PluginContext:
    return PluginContext(
        document=Document(),
        document_path=None,
        base=session.base,
        adapter_path=None,
        home=tmp_path,
        options=dict(options),
        session=session,
    )


def test_the_precision_option_forces_float32(
    make_job, lm_rows, session: ModelSession, tmp_path: Path
) -> None:
    trainer = SftTrainer(context_with(session, tmp_path, precision="fp32"))
    result = trainer.train(make_job("sft", "out", rows=lm_rows, max_steps=1))
    assert result.extra["precision"] == "torch.float32"


def test_an_unknown_precision_is_a_clear_error(
    make_job, lm_rows, session: ModelSession, tmp_path: Path
) -> None:
    trainer = SftTrainer(context_with(session, tmp_path, precision="fp8"))
    with pytest.raises(TrainingError, match="unknown precision 'fp8'"):
        trainer.train(make_job("sft", "out", rows=lm_rows, max_steps=1))
    assert not has_adapter_layers(session.base_model)


def test_sft_with_a_start_adapter_continues_it_rather_than_starting_again(
    make_job, lm_rows
) -> None:
    """``dlm train --phase sft --continue``: the second pass starts where the first ended."""
    first = SftTrainer().train(make_job("sft", "first", rows=lm_rows, max_steps=12))
    fresh: list[StepLog] = []
    continued: list[StepLog] = []
    SftTrainer().train(make_job("sft", "fresh", rows=lm_rows, max_steps=1, on_step=fresh.append))
    SftTrainer().train(
        make_job(
            "sft",
            "continued",
            rows=lm_rows,
            max_steps=1,
            start_adapter=first.adapter_path,
            on_step=continued.append,
        )
    )
    assert continued[0].loss is not None and fresh[0].loss is not None
    assert continued[0].loss < fresh[0].loss  # it learned from the first pass already
