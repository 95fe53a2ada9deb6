"""A throwaway plugin distribution whose trainer, sampler and judge can be made slow.

Installed on PYTHONPATH as a real dist-info (like a third party's package),
so the tests drive the real `dlm` CLI in subprocesses and send real signals.
The trainer is real (the loop trainer: a PEFT LoRA trained a few steps);
before training it writes a marker file and sleeps, which gives the test a
window to kill it mid-run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

PLUGIN = """
import os, time, types
from dlm_core import hookimpl
from dlm_core.plugins import JudgeSpec, SamplerSpec, TrainerSpec
from dlm_core.testing import LoopTrainer


def _ready(name):
    marker = os.environ.get("DLM_TEST_READY")
    if marker:
        with open(marker + "." + name, "w") as handle:
            handle.write(str(os.getpid()))


class SleepyTrainer(LoopTrainer):
    def train(self, job):
        (job.output_dir / "adapter_model.safetensors").write_bytes(b"half-written")
        _ready("train")
        time.sleep(float(os.environ.get("DLM_TEST_SLEEP", "0")))
        return super().train(job)


class ListSampler:
    def __init__(self, ctx):
        pass

    def sample(self, prompts, n, *, temperature, top_p, max_new_tokens, seed):
        return [[f"Short answer {i}." if j == 0 else "A much longer and wordier answer " * (j + 1) for j in range(n)]
                for i, _ in enumerate(prompts)]


class SlowJudge:
    name = "slow"
    default_threshold = 0.0

    def __init__(self):
        self.calls = 0

    def score(self, prompt, candidates):
        self.calls += 1
        if self.calls == 2:
            _ready("judge")
            time.sleep(float(os.environ.get("DLM_TEST_SLEEP", "0")))
        return [-float(len(c)) for c in candidates]


@hookimpl
def dlm_trainers():
    return [TrainerSpec(name=n, factory=lambda ctx: SleepyTrainer()) for n in ("sft", "dpo")]


@hookimpl
def dlm_samplers():
    return [SamplerSpec(name="list", factory=ListSampler)]


@hookimpl
def dlm_judges():
    return [JudgeSpec(name="slow", factory=lambda ctx, arg: SlowJudge())]
"""


@pytest.fixture(scope="session")
def sleepy_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sleepy-dist")
    (root / "dlm_test_sleepy.py").write_text(PLUGIN, encoding="utf-8")
    info = root / "dlm_test_sleepy-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: dlm-test-sleepy\nVersion: 0.0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text("[dlm]\nsleepy = dlm_test_sleepy\n", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    return root


def _take_sigint() -> None:
    """In the child: take SIGINT, as a command started from a terminal does.

    A test suite launched in the background of a non-interactive shell
    inherits SIGINT ignored, and so would the command, so the tests that send
    it one would test nothing (they time out instead).
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Dlm:
    """Runs the real `dlm` executable with the throwaway plugin and the tiny base."""

    def __init__(self, dist: Path, home: Path, work: Path) -> None:
        self.home = home
        self.work = work
        self.ready = work / "ready"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(dist),
            "DLM_HOME": str(home),
            "DLM_DISABLE_PLUGINS": "trainer-trl,sampler-hf,judge-hf,judge-sway,judge-cli,judge-reference,judge-target-length",
            "DLM_TEST_READY": str(self.ready),
            "HF_HUB_OFFLINE": "1",
        }
        self.exe = str(Path(sys.executable).with_name("dlm"))

    def run(
        self, *args: str, sleep: float = 0, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "DLM_TEST_SLEEP": str(sleep)}
        return subprocess.run(
            [self.exe, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.work,
        )

    def start(self, *args: str, sleep: float = 60) -> subprocess.Popen[str]:
        for stale in self.work.glob(f"{self.ready.name}.*"):
            stale.unlink()
        env = {**self.env, "DLM_TEST_SLEEP": str(sleep)}
        return subprocess.Popen(
            [self.exe, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.work,
            preexec_fn=_take_sigint,
        )

    def wait_ready(self, name: str, process: subprocess.Popen[str], timeout: float = 120) -> None:
        marker = Path(f"{self.ready}.{name}")
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if process.poll() is not None:
                out, err = process.communicate()
                raise AssertionError(
                    f"process ended before {name} started: {process.returncode}\n{out}\n{err}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} never started")
            time.sleep(0.1)
        marker.unlink()


@pytest.fixture
def dlm(sleepy_dist: Path, tmp_path: Path) -> Dlm:
    home = tmp_path / "home"
    home.mkdir()
    return Dlm(sleepy_dist, home, tmp_path)


# -- a fresh host with a scripted sampler and judge, and a store with one version ------------

SCRIPTED_DOCUMENT = """---
dlm_id: 01KPM5CXB51GRX86Q25AKERN6E
base_model: smollm2-135m
---
# Release notes

Short, factual and low-drama.

::instruction::
### Q
How should release notes read?
### A
Short, factual, and low-drama.
"""
QUESTION = "How should release notes read?"


class ScriptedSampler:
    """Returns the candidates the test set for each prompt."""

    def __init__(self) -> None:
        self.candidates: dict[str, list[str]] = {}
        self.calls = 0

    def sample(self, prompts, n, *, temperature, top_p, max_new_tokens, seed):  # type: ignore[no-untyped-def]
        self.calls += 1
        return [list(self.candidates.get(p, ["same"] * n)) for p in prompts]


class TerseJudge:
    """Scores -len(text): prefers terse answers."""

    name = "terse"
    default_threshold = 1.0

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        return [-float(len(c)) for c in candidates]


@pytest.fixture
def scripted_sampler() -> ScriptedSampler:
    return ScriptedSampler()


@pytest.fixture
def scripted_host(dlm_host, scripted_sampler: ScriptedSampler):  # type: ignore[no-untyped-def]
    """A fresh host with the built-ins, sampler ``scripted`` and judge ``terse``."""
    import types

    from dlm_core import hookimpl
    from dlm_core.plugins import JudgeSpec, SamplerSpec

    @hookimpl
    def dlm_samplers():  # type: ignore[no-untyped-def]
        return [SamplerSpec(name="scripted", factory=lambda ctx: scripted_sampler)]

    @hookimpl
    def dlm_judges():  # type: ignore[no-untyped-def]
        return [JudgeSpec(name="terse", factory=lambda ctx, arg: TerseJudge())]

    dlm_host.register(
        types.SimpleNamespace(dlm_samplers=dlm_samplers, dlm_judges=dlm_judges), "test-scripted"
    )
    return dlm_host


def give_a_version(path: Path, home: Path) -> Path:
    """Make ``path``'s store with one adapter version as ``current`` (the folder is a stand-in:
    the scripted sampler and judge never load it)."""
    from dlm_core.document.io import read_document
    from dlm_core.store.store import Store

    document = read_document(path)
    store = Store(home, document.dlm_id)  # type: ignore[arg-type]
    with store.lock():
        store.ensure(path, document.frontmatter.base_model)  # type: ignore[union-attr]
        with store.new_version() as (_number, folder):
            (folder / "adapter_config.json").write_text("{}", encoding="utf-8")
        store.set_current(store.versions()[-1])
    return store.root


@pytest.fixture
def scripted_doc(tmp_path: Path, dlm_home: Path) -> Path:
    """A document whose store has a current version, for the scripted host."""
    path = tmp_path / "doc.dlm"
    path.write_text(SCRIPTED_DOCUMENT, encoding="utf-8")
    give_a_version(path, dlm_home)
    return path
