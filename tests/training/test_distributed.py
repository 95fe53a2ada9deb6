"""`dlm train --num-processes 2`: two real gloo processes through Accelerate, on the tiny model.

Needs the TRL trainer plugin installed (as CI installs every distribution):
the workers are real `accelerate launch` processes that find it by entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlm_core.document.io import read_document
from dlm_core.errors import TrainingError
from dlm_core.metrics.db import MetricsDB
from dlm_core.store.store import Store
from dlm_core.training.distributed import gpu_ids, launch_command

pytest.importorskip("dlm_trainer_trl", reason="the TRL trainer plugin is not installed")

PAIRS = """
::preference::
### Prompt
How should release notes read?
### Chosen
Short.
### Rejected
Long and winding and full of adjectives.
"""


def dlm(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DLM_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("dlm")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_two_cpu_processes_write_one_version_with_one_loss_curve(
    tiny_doc: Path, tmp_path: Path, tiny_base: Path
) -> None:
    home = tmp_path / "home"
    tiny_doc.write_text(tiny_doc.read_text(encoding="utf-8") + PAIRS, encoding="utf-8")
    result = dlm(home, "train", str(tiny_doc), "--num-processes", "2", "--max-steps", "3", "--json")
    assert result.returncode == 0, result.stderr
    sft, pref = json.loads(result.stdout)
    assert (sft["phase"], sft["version"], sft["steps"], pref["phase"], pref["version"]) == (
        "sft",
        1,
        3,
        "preference",
        2,
    )
    store = Store(home, read_document(tiny_doc).dlm_id)  # type: ignore[arg-type]
    assert [v.number for v in store.versions()] == [1, 2] and store.current().number == 2  # type: ignore[union-attr]
    run = store.version(1).run
    assert run is not None and run.num_processes == 2
    assert run.effective_batch_size == 2 * 8  # per-process batch x processes
    assert sorted(p.name for p in store.version(1).path.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "run.json",
    ]
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        runs = db.runs()
        assert [r.status for r in runs] == ["succeeded", "succeeded"]
        assert [s.step for s in db.steps(runs[0].id)] == [1, 2, 3]  # recorded once, by rank 0
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_base), str(store.version(1).path)
    )
    assert "default" in model.peft_config
    assert not list(store.root.glob(".workers-*"))


def test_the_launch_command_uses_gloo_on_a_cpu(tmp_path: Path) -> None:
    command, env = launch_command(tmp_path / "spec.json", 2, None, None)
    assert command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert command[command.index("--num_processes") + 1] == "2"
    assert command[-3:] == [
        "--module",
        "dlm_core.training.distributed",
        str(tmp_path / "spec.json"),
    ]
    assert env["ACCELERATE_USE_CPU"] == "true"


def test_an_accelerate_config_file_passes_through(tmp_path: Path) -> None:
    config = tmp_path / "fsdp.yaml"
    command, _env = launch_command(tmp_path / "spec.json", 4, None, config)
    assert command[command.index("--config_file") + 1] == str(config)
    assert "--multi_gpu" not in command


def test_gpus_need_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(TrainingError, match="--gpus needs CUDA"):
        gpu_ids("all")
