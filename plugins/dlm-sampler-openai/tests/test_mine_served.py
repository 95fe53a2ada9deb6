"""``dlm preference mine --sampler openai --judge openai:<model>`` through the real CLI.

The document has a real adapter version (trained for one step by the core's
loop trainer on the tiny base); candidates and scores come from llama.cpp's
server serving SmolLM2-135M-Instruct, the sampler and the judge both over
HTTP. A server killed mid-run stops the run with one ``error:`` line and
leaves the document and the store as they were.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlm_core.document.io import read_document
from dlm_core.plugins import PluginHost
from dlm_core.store.store import Store
from dlm_core.testing import (
    LlamaServer,
    LoopTrainer,
    copy_trained,
    loop_trainer_plugin,
    train_template,
)
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

QUESTIONS = [
    "How should release notes read?",
    "What goes first in a release note?",
    "Can we call a release amazing?",
]


def document_text(base: Path) -> str:
    records = "\n".join(f"### Q\n{q}\n### A\nShort and factual.\n" for q in QUESTIONS)
    return f"""---
dlm_id: 01KPM5CXB51GRX86Q25AKERN6F
base_model: hf:{base}
system_prompt: You are concise.
training: {{num_epochs: 1, sequence_len: 256}}
---
# Release notes

Short, factual and low-drama.

::instruction::
{records}"""


@pytest.fixture(scope="module")
def trained_template(
    tmp_path_factory: pytest.TempPathFactory, tiny_base: Path
) -> tuple[Path, Path]:
    """A document and its store with one real adapter version, trained once."""
    return train_template(tmp_path_factory.mktemp("trained"), "notes.dlm", document_text(tiny_base))


@pytest.fixture
def trained(trained_template: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    return copy_trained(trained_template, tmp_path)


def mine_command(doc: Path, home: Path, sampler_url: str, judge_url: str, *extra: str) -> list[str]:
    return [
        str(Path(sys.executable).with_name("dlm")),
        "--home",
        str(home),
        "preference",
        "mine",
        str(doc),
        "--sampler",
        "openai",
        "--sampler-option",
        f"base_url={sampler_url}",
        "--judge",
        "openai:smollm2-135m",
        "--judge-option",
        f"base_url={judge_url}",
        "--samples",
        "3",
        "--max-new-tokens",
        "64",
        "--seed",
        "1",
        *extra,
    ]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLM_OPENAI", "OPENAI_"))}
    env["TOKENIZERS_PARALLELISM"] = "false"
    return env


def snapshot(doc: Path, home: Path) -> dict[str, object]:
    """What a failed run must leave as it was: the document, its folder, the staged plans."""
    store = Store(home, read_document(doc).dlm_id)  # type: ignore[arg-type]
    return {
        "document": doc.read_bytes(),
        "beside the document": sorted(p.name for p in doc.parent.iterdir()),
        "staged": sorted(p.name for p in store.staged_dir.iterdir())
        if store.staged_dir.exists()
        else [],
    }


def test_mining_against_a_served_model_writes_pairs_judged_by_it(
    trained: tuple[Path, Path], llama_server: LlamaServer
) -> None:
    doc, home = trained
    url = llama_server.base_url
    done = subprocess.run(
        mine_command(doc, home, url, url, "--apply", "--threshold", "1", "--json"),
        capture_output=True,
        text=True,
        env=environment(),
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["prompts"] == 3 and outcome["candidates"] == 9
    assert outcome["judge"] == "openai:smollm2-135m" and outcome["threshold"] == 1.0
    assert len(outcome["pairs"]) + sum(outcome["skipped"].values()) == 3
    assert outcome["generated_tokens"] > 0  # usage reported by the server
    mined = [s for s in read_document(doc).sections if s.auto_mined]
    assert len(mined) == outcome["applied"] == len(outcome["pairs"]) >= 1
    for section in mined:
        provenance = section.provenance
        assert provenance.judge_name == "openai:smollm2-135m"  # type: ignore[union-attr]
        margin = provenance.judge_score_chosen - provenance.judge_score_rejected  # type: ignore[union-attr]
        assert margin >= 1 and 0 <= provenance.judge_score_rejected <= 5  # type: ignore[union-attr]
        assert section.records[0]["Prompt"] in QUESTIONS


def wait_for(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_a_sampler_server_killed_mid_run_stops_it_and_writes_nothing(
    trained: tuple[Path, Path], served_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    doc, home = trained
    before = snapshot(doc, home)
    server = LlamaServer(served_gguf, tmp_path_factory.mktemp("dying") / "server.log")
    try:
        run = subprocess.Popen(
            mine_command(
                doc,
                home,
                server.base_url,
                server.base_url,
                "--apply",
                "--sampler-option",
                "max_retries=1",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
        )
        # Killed once some candidates are in and others are still being generated.
        wait_for(
            lambda: server.completions_answered() >= 1 or run.poll() is not None,
            600,
            "a first candidate",
        )
        server.kill()
        _out, err = run.communicate(timeout=300)
    finally:
        server.stop()
    assert run.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: sampler 'openai' (smollm2-135m) failed after ")
    assert f"cannot reach the server at {server.base_url}" in last
    assert snapshot(doc, home) == before


def test_compare_through_the_served_model_uses_sampler_and_judge_options(
    trained: tuple[Path, Path], llama_server: LlamaServer, tmp_path: Path
) -> None:
    # Both versions are answered by the one served model (a server serving each
    # version under its own name would be asked with model=notes-{version}), so
    # greedy answers are the same on both sides and every comparison is a tie.
    doc, home = trained
    host = PluginHost.with_builtins()
    host.register(loop_trainer_plugin(LoopTrainer()), "test-loop-trainer")
    train_document(
        Workspace(home, host, say=lambda _m: None),
        doc,
        TrainOptions(phase="sft", progress=False, max_steps=1),
    )
    prompts = tmp_path / "held-out.txt"
    prompts.write_text("Say hi.\nName one colour.\n", encoding="utf-8")
    url = llama_server.base_url
    command = [
        str(Path(sys.executable).with_name("dlm")),
        "--home",
        str(home),
        "compare",
        str(doc),
        "--a",
        "1",
        "--b",
        "2",
        "--prompts",
        str(prompts),
        "--max-new-tokens",
        "32",
        "--sampler",
        "openai",
        "--sampler-option",
        f"base_url={url}",
        "--judge",
        f"openai:{llama_server.model}",
        "--judge-option",
        f"base_url={url}",
        "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=environment(), timeout=900)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["a"], report["b"], report["judge"]) == ("v0001", "v0002", "openai:smollm2-135m")
    assert report["comparisons"] == 2 and report["ties"] == 2
    assert all(item["answer_a"] == item["answer_b"] for item in report["items"])
