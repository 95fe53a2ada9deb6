"""The judge against a real server: llama.cpp serving SmolLM2-135M-Instruct.

llama.cpp's server refuses OpenAI's ``json_schema`` response format (422)
and takes its own ``json_object`` + ``schema`` form, which constrains the
reply to the schema: so the judge settles on that. A rubric that asks for
prose with no response format gives replies that are not JSON: one retry
each, then no score, counted by mining as ``unscored``.
"""

from __future__ import annotations

import math
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlm_core import hookimpl
from dlm_core.api import JudgeError
from dlm_core.document.io import read_document
from dlm_core.errors import MiningError
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.plugins import PluginHost, SamplerSpec
from dlm_core.store.store import Store
from dlm_core.testing import (
    LlamaServer,
    copy_trained,
    tiny_document_text,
    train_template,
)
from dlm_core.workspace import Workspace

PROMPT = "How should release notes read?"
TERSE = "Short, factual, and low-drama."
OFF_TOPIC = "Bananas are yellow and grow in bunches on tall plants."
HAIKU_RUBRIC = "Write a haiku about this question: {prompt}\nand this answer: {candidate}\n"


@pytest.fixture
def judge_at(host: PluginHost, context):  # type: ignore[no-untyped-def]
    def make(server: LlamaServer, **options: str):  # type: ignore[no-untyped-def]
        return host.judge(f"openai:{server.model}", context(base_url=server.base_url, **options))

    return make


def test_pointwise_scores_are_rubric_points_from_a_schema_constrained_reply(
    judge_at, llama_server: LlamaServer
) -> None:  # type: ignore[no-untyped-def]
    judge = judge_at(llama_server)
    assert judge.name == "openai:smollm2-135m" and judge.default_threshold == 1.0
    scores = judge.score(PROMPT, [TERSE, OFF_TOPIC])
    assert all(s == int(s) and 0 <= s <= 5 for s in scores)
    assert judge.response_format == "json_object"  # json_schema was refused, then never tried again
    assert judge.served_model == llama_server.model
    assert judge.unscored == 0 and judge.requests == 2 + 1  # one refused json_schema request
    assert judge.score(PROMPT, [TERSE, OFF_TOPIC]) == scores  # temperature 0
    assert judge.requests == 5


def test_pairwise_asks_both_orders_of_every_pair(judge_at, llama_server: LlamaServer) -> None:  # type: ignore[no-untyped-def]
    judge = judge_at(llama_server, mode="pairwise", response_format="json_object")
    assert judge.default_threshold == 0.5
    scores = judge.score(PROMPT, [TERSE, OFF_TOPIC, "Long."])
    assert judge.requests == 6  # 3 candidates: 3 pairs, both orders
    assert all(0 <= s <= 1 for s in scores)
    # Each comparison gives one win: the shares add up to the comparisons per candidate.
    assert sum(scores) * 4 == pytest.approx(6)


def test_a_reply_that_is_not_json_is_retried_once_then_left_unscored(
    judge_at, llama_server: LlamaServer, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    rubric = tmp_path / "haiku.txt"
    rubric.write_text(HAIKU_RUBRIC, encoding="utf-8")
    judge = judge_at(llama_server, rubric=str(rubric), response_format="none", max_tokens="48")
    scores = judge.score(PROMPT, [TERSE, OFF_TOPIC])
    assert all(math.isnan(s) for s in scores)
    assert judge.retried == 2 and judge.requests == 4 and judge.unscored == 2
    assert all(reply for reply in judge.last_replies)  # it did answer, only not in JSON


def test_an_unknown_model_is_refused_before_any_request(
    host: PluginHost, context, llama_server: LlamaServer
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(JudgeError) as caught:
        host.judge("openai:gpt-9", context(base_url=llama_server.base_url))
    assert str(caught.value) == (
        f"judge 'openai:gpt-9': the server at {llama_server.base_url} does not serve model "
        f"'gpt-9'; it serves: {llama_server.model}"
    )


@pytest.fixture(scope="module")
def keyed_server(
    served_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    server = LlamaServer(
        served_gguf, tmp_path_factory.mktemp("keyed") / "server.log", api_key="sk-judge"
    )
    try:
        yield server
    finally:
        server.stop()


def test_the_judge_key_comes_from_its_own_variable_then_the_shared_one(
    judge_at, keyed_server: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with pytest.raises(JudgeError) as caught:
        judge_at(keyed_server)
    assert f"the server at {keyed_server.base_url} refused the API key (401: " in str(caught.value)
    assert str(caught.value).endswith("set DLM_OPENAI_JUDGE_API_KEY or OPENAI_API_KEY")
    monkeypatch.setenv("DLM_OPENAI_JUDGE_API_KEY", "sk-judge")
    assert len(judge_at(keyed_server).score(PROMPT, [TERSE])) == 1


# -- inside the mining loop -------------------------------------------------------

CANDIDATES = [TERSE, OFF_TOPIC, "Release notes should be long, thorough and full of adjectives!"]
QUESTIONS = ["How should release notes read?", "What goes first?"]


class FixedSampler:
    def sample(self, prompts, n, *, temperature, top_p, max_new_tokens, seed):  # type: ignore[no-untyped-def]
        return [list(CANDIDATES) for _ in prompts]


@pytest.fixture
def mining_host(host: PluginHost) -> PluginHost:
    @hookimpl
    def dlm_samplers() -> list[SamplerSpec]:
        return [SamplerSpec(name="fixed", factory=lambda ctx: FixedSampler())]

    host.register(types.SimpleNamespace(dlm_samplers=dlm_samplers), "test-fixed-sampler")
    return host


@pytest.fixture(scope="module")
def trained_template(
    tmp_path_factory: pytest.TempPathFactory, tiny_base: Path
) -> tuple[Path, Path]:
    """A document and its store with one real adapter version, trained once."""
    return train_template(
        tmp_path_factory.mktemp("trained"), "doc.dlm", tiny_document_text(tiny_base)
    )


@pytest.fixture
def trained(trained_template: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    return copy_trained(trained_template, tmp_path)


def mine(doc: Path, home: Path, host: PluginHost, server: LlamaServer, **judge_options: str):  # type: ignore[no-untyped-def]
    options = MineOptions(
        sampler="fixed",
        judge=f"openai:{server.model}",
        judge_options={"base_url": server.base_url, **judge_options},
        samples=3,
        apply=True,
        progress=False,
    )
    said: list[str] = []
    return mine_document(Workspace(home, host, say=said.append), doc, options), said


def snapshot(doc: Path, home: Path) -> dict[str, object]:
    store = Store(home, read_document(doc).dlm_id)  # type: ignore[arg-type]
    return {
        "document": doc.read_bytes(),
        "beside the document": sorted(p.name for p in doc.parent.iterdir()),
        "staged": sorted(p.name for p in store.staged_dir.iterdir())
        if store.staged_dir.exists()
        else [],
    }


def test_mining_counts_unreadable_replies_as_unscored_and_writes_nothing_for_them(
    trained: tuple[Path, Path], mining_host: PluginHost, llama_server: LlamaServer, tmp_path: Path
) -> None:
    doc, home = trained
    rubric = tmp_path / "haiku.txt"
    rubric.write_text(HAIKU_RUBRIC, encoding="utf-8")
    before = doc.read_bytes()
    outcome, said = mine(
        doc,
        home,
        mining_host,
        llama_server,
        rubric=str(rubric),
        response_format="none",
        max_tokens="32",
    )
    assert outcome.skipped == {"unscored": 2} and outcome.unscored_candidates == 6
    assert outcome.pairs == 0 and doc.read_bytes() == before
    assert any("the judge gave no score to 6 of 6 candidates" in line for line in said)


def test_a_judge_server_killed_mid_run_stops_it_and_writes_nothing(
    trained: tuple[Path, Path],
    mining_host: PluginHost,
    served_gguf: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    doc, home = trained
    before = snapshot(doc, home)
    server = LlamaServer(served_gguf, tmp_path_factory.mktemp("dying") / "server.log")

    def kill_after_the_first_verdict() -> None:
        deadline = time.monotonic() + 600
        while server.completions_answered() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()

    killer = threading.Thread(target=kill_after_the_first_verdict)
    killer.start()
    try:
        with pytest.raises(JudgeError) as caught:
            mine(doc, home, mining_host, server, max_retries="1", response_format="json_object")
    finally:
        killer.join()
        server.stop()
    message = str(caught.value)
    assert message.startswith(
        f"judge 'openai:{server.model}': cannot reach the server at {server.base_url}"
    )
    assert "\n" not in message and isinstance(caught.value, MiningError)
    assert snapshot(doc, home) == before
