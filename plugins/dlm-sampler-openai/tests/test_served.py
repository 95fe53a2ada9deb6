"""The sampler against a real server: llama.cpp serving SmolLM2-135M-Instruct.

llama.cpp's server ignores ``n`` and answers one choice per request, so
these tests also cover the sampler finding that out and sending one request
per candidate. It honours ``seed``, so seeded candidates are reproducible.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlm_core.api import SamplerError, is_truncated
from dlm_core.plugins import PluginHost
from dlm_core.testing import LlamaServer

PROMPTS = ["How should release notes read?", "What goes first in a release note?"]


def sample(sampler, prompts: list[str], n: int, **settings: object) -> list[list[str]]:  # type: ignore[no-untyped-def]
    chosen: dict = {"temperature": 0.8, "top_p": None, "max_new_tokens": 48, "seed": 5}
    chosen.update(settings)
    return sampler.sample(prompts, n, **chosen)


@pytest.fixture
def sampler(host: PluginHost, context, llama_server: LlamaServer):  # type: ignore[no-untyped-def]
    return host.sampler("openai", context(base_url=llama_server.base_url))


def test_n_candidates_per_prompt_in_prompt_order(sampler, llama_server: LlamaServer) -> None:  # type: ignore[no-untyped-def]
    result = sample(sampler, PROMPTS, 3)
    assert [len(candidates) for candidates in result] == [3, 3]
    assert all(isinstance(c, str) and c.strip() == c and c for cands in result for c in cands)
    # The server answered one choice to n=3: the rest came one request per candidate.
    assert sampler.takes_n is False and sampler.requests == 2 + 2 * 2
    assert sampler.served_model == llama_server.model
    tokens = [c.tokens for cands in result for c in cands]
    assert all(isinstance(t, int) and 0 < t <= 48 for t in tokens)
    assert sampler.generated_tokens == sum(tokens)
    # Prompt order: each prompt's candidates answer that prompt, whatever finished first.
    assert sample(sampler, PROMPTS[1:], 3) == result[1:]
    assert sampler.requests == 3  # now known: one request per candidate from the start


def test_the_same_seed_gives_the_same_candidates(sampler) -> None:  # type: ignore[no-untyped-def]
    first = sample(sampler, PROMPTS, 3, seed=11)
    assert sample(sampler, PROMPTS, 3, seed=11) == first
    assert sample(sampler, PROMPTS, 3, seed=12) != first
    assert len(set(first[0])) > 1  # the candidates of a prompt differ


def test_temperature_zero_is_one_request_per_prompt(sampler) -> None:  # type: ignore[no-untyped-def]
    greedy = sample(sampler, PROMPTS, 4, temperature=0, seed=1)
    assert sampler.requests == len(PROMPTS)
    assert all(len(set(candidates)) == 1 and len(candidates) == 4 for candidates in greedy)
    assert sample(sampler, PROMPTS, 4, temperature=0, seed=None) == greedy


def test_answers_cut_off_at_max_new_tokens_say_so(sampler) -> None:  # type: ignore[no-untyped-def]
    cut = sample(sampler, PROMPTS, 2, max_new_tokens=3)
    assert all(is_truncated(c) and c.tokens == 3 for cands in cut for c in cands)
    whole = sample(sampler, ["Say hi."], 1, temperature=0, max_new_tokens=200)
    assert not is_truncated(whole[0][0]) and whole[0][0].tokens < 200


def test_the_only_served_model_is_used_when_none_is_named(
    sampler, llama_server: LlamaServer
) -> None:  # type: ignore[no-untyped-def]
    assert sampler.model == llama_server.model


def test_an_unknown_model_is_refused_naming_what_is_served(
    host: PluginHost, context, llama_server: LlamaServer
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SamplerError) as caught:
        host.sampler("openai", context(base_url=llama_server.base_url, model="gpt-9"))
    assert str(caught.value) == (
        f"sampler 'openai': the server at {llama_server.base_url} does not serve model 'gpt-9'; "
        f"it serves: {llama_server.model}"
    )


@pytest.fixture(scope="module")
def keyed_server(
    served_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    """A second server that wants the key ``sk-right``."""
    server = LlamaServer(
        served_gguf, tmp_path_factory.mktemp("keyed") / "server.log", api_key="sk-right"
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("key", [None, "sk-wrong"])
def test_a_refused_api_key_is_one_line_naming_the_variable(
    host: PluginHost,
    context,
    keyed_server: LlamaServer,
    monkeypatch: pytest.MonkeyPatch,
    key: str | None,
) -> None:  # type: ignore[no-untyped-def]
    if key is not None:
        monkeypatch.setenv("OPENAI_API_KEY", key)
    with pytest.raises(SamplerError) as caught:
        host.sampler("openai", context(base_url=keyed_server.base_url))
    assert str(caught.value).startswith(
        f"sampler 'openai': the server at {keyed_server.base_url} refused the API key (401: "
    )
    assert str(caught.value).endswith("); set OPENAI_API_KEY")


def test_the_right_api_key_comes_from_the_environment(
    host: PluginHost, context, keyed_server: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-right")
    sampler = host.sampler("openai", context(base_url=keyed_server.base_url))
    [[answer]] = sample(sampler, PROMPTS[:1], 1, temperature=0)
    assert answer


def test_dlm_prompt_answers_through_the_server(llama_server: LlamaServer, tmp_path: Path) -> None:
    document = tmp_path / "notes.dlm"
    document.write_text("---\nsystem_prompt: You are concise.\n---\nNotes.\n", encoding="utf-8")
    env = {
        **os.environ,
        "DLM_HOME": str(tmp_path / "home"),
        "DLM_OPENAI_BASE_URL": llama_server.base_url,
    }
    command = [
        str(Path(sys.executable).with_name("dlm")),
        "prompt",
        str(document),
        "Say hi.",
        "--base",
        "--sampler",
        "openai",
        "--max-tokens",
        "32",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    direct = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.stdout.strip() and direct.stdout == done.stdout  # greedy by default


@pytest.mark.parametrize(("adapter", "asked"), [("v0003", "notes-v0003"), (None, "notes-base")])
def test_version_in_the_model_name_asks_for_the_adapter_version_of_the_command(
    host: PluginHost,
    context,
    llama_server: LlamaServer,
    tmp_path: Path,
    adapter: str | None,
    asked: str,
) -> None:  # type: ignore[no-untyped-def]
    import attrs

    chosen = context(base_url=llama_server.base_url, model="notes-{version}")
    chosen = attrs.evolve(chosen, adapter_path=tmp_path / adapter if adapter else None)
    with pytest.raises(
        SamplerError, match=f"does not serve model '{asked}'; it serves: {llama_server.model}"
    ):
        host.sampler("openai", chosen)
