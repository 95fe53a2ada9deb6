"""``simpo`` picked by a document's frontmatter and run by dlm's own orchestration.

The SFT phase runs dlm's small ``LoopTrainer`` (registered for ``sft`` only),
so the preference phase continues a real adapter, as ``dlm train`` does.
"""

from __future__ import annotations

import types
from pathlib import Path

import dlm_trainer_simpo
import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from dlm_core import hookimpl
from dlm_core.errors import TrainingError
from dlm_core.metrics.db import MetricsDB
from dlm_core.plugins import PluginHost, TrainerSpec
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer
from dlm_core.training.phases import PhaseOutcome, TrainOptions, train_document
from dlm_core.workspace import Workspace

DLM_ID = "01KPM5CXB51GRX86Q25AKERN6E"
SIMPO = (
    "{method: simpo, hyperparams: {beta: 2.0, learning_rate: 1.0e-3, num_epochs: 2}, options: {%s}}"
)


def document_text(base: Path, options: str = "gamma_beta_ratio: 0.5") -> str:
    return f"""---
dlm_id: {DLM_ID}
base_model: hf:{base}
system_prompt: You are concise.
training: {{num_epochs: 1, sequence_len: 256, preference: {SIMPO % options}}}
---
# Release notes

Short, factual and low-drama.

::instruction::
### Q
How should release notes read?
### A
Short, factual, and low-drama.

::preference::
### Prompt
How should release notes read?
### Chosen
Short and factual.
### Rejected
Oh, what a wonderful question! Release notes should really be as exciting as possible!

### Prompt
What goes first in a release note?
### Chosen
Breaking changes.
### Rejected
Great question! Honestly, start with a fun story about the release before anything else.

### Prompt
Can we call a release amazing?
### Chosen
No. Describe the change.
### Rejected
Absolutely, yes! Calling it amazing gets everyone super excited, so use exclamation marks!
"""


def sft_only(trainer: LoopTrainer) -> types.SimpleNamespace:
    """dlm's test loop trainer, registered for the SFT phase alone (it would also claim ``simpo``)."""

    @hookimpl
    def dlm_trainers() -> list[TrainerSpec]:
        return [
            TrainerSpec(
                name="sft", factory=lambda _context: trainer, description="test loop, sft only"
            )
        ]

    return types.SimpleNamespace(dlm_trainers=dlm_trainers)


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost.with_builtins()
    host.register(sft_only(LoopTrainer()), "sft-loop")
    host.register(dlm_trainer_simpo, "simpo-under-test")
    return host


def write_document(tmp_path: Path, tiny_base: Path, **kwargs: str) -> Path:
    path = tmp_path / "notes.dlm"
    path.write_text(document_text(tiny_base, **kwargs), encoding="utf-8")
    return path


def train(path: Path, host: PluginHost, home: Path) -> list[PhaseOutcome]:
    return train_document(
        Workspace(home, host, say=lambda _m: None), path, TrainOptions(progress=False)
    )


def test_the_preference_phase_writes_v0002_with_simpo_continuing_v0001(
    tmp_path: Path, tiny_base: Path, host: PluginHost, dlm_home: Path
) -> None:
    sft, preference = train(write_document(tmp_path, tiny_base), host, dlm_home)

    assert (sft.version, sft.trainer, preference.version, preference.trainer) == (
        1,
        "sft",
        2,
        "simpo",
    )
    store = Store(dlm_home, DLM_ID)
    v1, v2 = store.version(1), store.version(2)
    assert store.current() == v2
    run = v2.run
    assert run is not None
    assert (run.phase, run.trainer, run.parent_version) == ("preference", "simpo", 1)
    assert run.hyperparameters["beta"] == 2.0
    assert run.hyperparameters["options"] == {"gamma_beta_ratio": 0.5}
    assert sorted(p.name for p in v2.path.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "run.json",
    ]

    # A plain PEFT user loads it; it continued v0001 (same LoRA modules) and moved away from it.
    loaded = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_base), str(v2.path)
    )
    assert list(loaded.peft_config) == ["default"]
    before, after = (
        load_file(str(v1.path / "adapter_model.safetensors")),
        load_file(str(v2.path / "adapter_model.safetensors")),
    )
    assert before.keys() == after.keys()
    assert any(not torch.allclose(before[key], after[key]) for key in before)


def test_every_simpo_step_is_recorded_with_its_rewards(
    tmp_path: Path, tiny_base: Path, host: PluginHost, dlm_home: Path
) -> None:
    _sft, preference = train(write_document(tmp_path, tiny_base), host, dlm_home)

    with MetricsDB.open(Store(dlm_home, DLM_ID).metrics_path) as db:
        steps = db.steps(preference.metrics_run_id)
        (run,) = db.runs(run_id=preference.metrics_run_id)
    assert preference.steps == 2  # 3 pairs, batch 4, 2 epochs
    assert [s.step for s in steps] == [1, 2]
    assert all(
        s.loss is not None and s.learning_rate is not None and s.grad_norm is not None
        for s in steps
    )
    assert all(
        {"rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected"}
        <= s.extra.keys()
        for s in steps
    )
    assert run.status == "succeeded"
    assert run.summary["final_gamma"] == 1.0
    assert preference.tokens > 0


def test_a_bad_gamma_option_is_a_clear_error_and_leaves_current_at_v0001(
    tmp_path: Path, tiny_base: Path, host: PluginHost, dlm_home: Path
) -> None:
    path = write_document(tmp_path, tiny_base, options="gamma_beta_ratio: lots")
    with pytest.raises(
        TrainingError,
        match=r"training\.preference\.options\.gamma_beta_ratio must be a number of at least 0, got 'lots'",
    ):
        train(path, host, dlm_home)

    store = Store(dlm_home, DLM_ID)
    assert [v.number for v in store.versions()] == [1]
    assert store.current() == store.version(1)
