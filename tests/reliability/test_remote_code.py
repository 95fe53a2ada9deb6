"""A document never leads to running a model folder's own code (issue 11, item 3).

The model folder here is real: its ``config.json`` (and tokenizer config)
name Python classes through ``auto_map``, and the ``.py`` beside them
writes a marker file the moment it is imported. transformers asks on a
terminal whether to run such code; the tests answer ``y`` on stdin, as a
user might, and the code must still never run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CUSTOM_CODE = """
import pathlib
pathlib.Path({marker!r}).write_text("the model folder's code ran")

from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerFast


class CustomConfig(PretrainedConfig):
    model_type = "custom-llm"


class CustomModel(PreTrainedModel):
    config_class = CustomConfig


class CustomTokenizer(PreTrainedTokenizerFast):
    pass
"""


@pytest.fixture
def custom_code_model(tmp_path: Path, tiny_base: Path) -> tuple[Path, Path]:
    """``(model folder, marker file)``: a folder whose config asks to run its own code."""
    folder = tmp_path / "custom-model"
    folder.mkdir()
    marker = tmp_path / "custom-code-ran"
    for name in ("tokenizer.json", "special_tokens_map.json"):
        if (tiny_base / name).exists():
            shutil.copy(tiny_base / name, folder / name)
    tokenizer_config = json.loads((tiny_base / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokenizer_config["auto_map"] = {"AutoTokenizer": [None, "custom.CustomTokenizer"]}
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config), encoding="utf-8")
    config = {
        "model_type": "custom-llm",
        "architectures": ["CustomModel"],
        "auto_map": {
            "AutoConfig": "custom.CustomConfig",
            "AutoModelForCausalLM": "custom.CustomModel",
            "AutoModelForSequenceClassification": "custom.CustomModel",
        },
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "custom.py").write_text(CUSTOM_CODE.format(marker=str(marker)), encoding="utf-8")
    return folder, marker


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DLM_HOME": str(tmp_path / "home"),
        "HF_HUB_OFFLINE": "1",
        "HF_MODULES_CACHE": str(tmp_path / "hf-modules"),
        "TRANSFORMERS_VERBOSITY": "error",
    }


def _refused(result: subprocess.CompletedProcess[str], marker: Path) -> str:
    assert not marker.exists(), "the model folder's code ran"
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "unexpected" not in lines[0]
    assert "trust_remote_code" in lines[0] and "not supported" in lines[0]
    return lines[0]


@pytest.mark.parametrize("command", ["prompt", "train"])
def test_a_base_model_with_custom_code_is_refused_even_when_stdin_says_yes(
    tmp_path: Path, custom_code_model: tuple[Path, Path], command: str
) -> None:
    folder, marker = custom_code_model
    document = tmp_path / "doc.dlm"
    document.write_text(
        f"---\nbase_model: hf:{folder}\n---\n::instruction::\n### Q\nq?\n### A\na.\n",
        encoding="utf-8",
    )
    args = {
        "prompt": ["prompt", str(document), "hello", "--base"],
        "train": ["train", str(document), "--max-steps", "1"],
    }[command]
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dlm")), *args],
        input="y\ny\ny\n",
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=300,
    )
    line = _refused(result, marker)
    assert str(folder) in line


JUDGE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import dlm_judge_hf
    from dlm_core.api import DlmError, PluginContext
    from dlm_core.document.parser import parse
    from dlm_core.models.registry import parse_base

    context = PluginContext(
        document=parse("::instruction::\\n### Q\\nq\\n### A\\na\\n"), document_path=None,
        base=parse_base("smollm2-135m"), adapter_path=None, home=Path(sys.argv[2]),
    )
    try:
        judge = dlm_judge_hf.make_judge(context, sys.argv[1])
        judge.score("q", ["a", "b"])
    except DlmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    """
)


def test_a_reward_model_with_custom_code_is_refused_even_when_stdin_says_yes(
    tmp_path: Path, custom_code_model: tuple[Path, Path]
) -> None:
    folder, marker = custom_code_model
    script = tmp_path / "judge.py"
    script.write_text(JUDGE_SCRIPT, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script), str(folder), str(tmp_path)],
        input="y\ny\ny\n",
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=300,
    )
    _refused(result, marker)
