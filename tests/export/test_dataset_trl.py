"""The dataset export feeds TRL as it is: ``load_dataset("json")`` then a real DPO step.

No conversion between the export and the trainer: the preference file is
handed to TRL's DPOTrainer exactly as ``datasets`` reads it, on the tiny
base with SmolLM2's real tokenizer and chat template.
"""

from __future__ import annotations

from pathlib import Path

from dlm_core.export import ExportOptions, export_document
from dlm_core.plugins import PluginHost
from dlm_core.workspace import Workspace


def test_one_trl_dpo_step_runs_on_the_exported_preference_file(
    trained_doc: Path, export_home: Path, dlm_host: PluginHost, tiny_base: Path, tmp_path: Path
) -> None:
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    out = export_document(
        Workspace(export_home, dlm_host, say=lambda _m: None),
        trained_doc,
        ExportOptions(target="dataset", out=export_home / "ds", progress=False),
    ).out
    pairs = load_dataset("json", data_files=str(out / "preference.jsonl"), split="train")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    args = DPOConfig(
        output_dir=str(tmp_path / "dpo"),
        max_steps=1,
        per_device_train_batch_size=2,
        learning_rate=1e-2,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        use_cpu=True,
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=pairs,
        processing_class=AutoTokenizer.from_pretrained(tiny_base),
    )
    result = trainer.train()
    assert result.global_step == 1
    moved = [n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert moved  # the step trained on the exported pairs
