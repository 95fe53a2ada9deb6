"""The llamacpp sampler: the same answers as the hf sampler, seeded, batched, cut-offs reported.

Runs llama.cpp for real on GGUFs converted by llama.cpp's own converter
from the tiny test models; the converted file is cached per adapter, so
each model converts once per session.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from dlm_sampler_llamacpp import make_sampler
from dlm_sampler_llamacpp.sampler import LlamaCppSampler

from dlm_core.context import PluginContext
from dlm_core.document.parser import parse
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.protocols import Sampler, is_truncated

DOCUMENT = "---\nsystem_prompt: You are concise.\n---\n# Notes\n\nShort.\n"
PROMPTS = ["How should release notes read?", "What goes first?", "Can we say amazing?"]


def context(
    base: Path, home: Path, adapter: Path | None = None, **options: object
) -> PluginContext:
    return PluginContext(
        document=parse(DOCUMENT),
        document_path=None,
        base=parse_base(f"hf:{base}"),
        adapter_path=adapter,
        home=home,
        options=dict(options),
        say=lambda _m: None,
        show_progress=False,
    )


def test_the_plugin_registers_a_sampler_that_satisfies_the_protocol(
    dlm_host: PluginHost, taught_base: Path, llamacpp_home: Path
) -> None:
    import dlm_sampler_llamacpp

    dlm_host.register(dlm_sampler_llamacpp, "sampler-llamacpp")
    sampler = dlm_host.sampler("llamacpp", context(taught_base, llamacpp_home, batch_size=3))
    assert isinstance(sampler, Sampler)
    assert isinstance(sampler, LlamaCppSampler) and sampler.max_sequences == 3


def test_greedy_answers_are_the_hf_samplers_answers(
    taught_base: Path, llamacpp_home: Path, dlm_host: PluginHost, taught: dict[str, str]
) -> None:
    import dlm_sampler_hf

    dlm_host.register(dlm_sampler_hf, "sampler-hf")
    prompts = list(taught)
    hf = dlm_host.sampler("hf", context(taught_base, llamacpp_home))
    expected = hf.sample(prompts, 2, temperature=0, top_p=None, max_new_tokens=32, seed=None)
    got = make_sampler(context(taught_base, llamacpp_home)).sample(
        prompts, 2, temperature=0, top_p=None, max_new_tokens=32, seed=None
    )
    assert got == expected == [[answer, answer] for answer in taught.values()]
    assert [[c.tokens for c in row] for row in got] == [[c.tokens, 0] for c, _ in expected]


def test_an_answer_cut_off_at_max_new_tokens_says_so(
    taught_base: Path, llamacpp_home: Path
) -> None:
    sampler = make_sampler(context(taught_base, llamacpp_home))
    prompt = "What goes first in a release note?"
    [[complete]] = sampler.sample([prompt], 1, temperature=0, top_p=None, max_new_tokens=32, seed=0)
    [[cut]] = sampler.sample([prompt], 1, temperature=0, top_p=None, max_new_tokens=3, seed=0)
    assert not is_truncated(complete)
    assert is_truncated(cut) and cut.tokens == 3
    assert complete.startswith(cut)
    assert sampler.generated_tokens == 3


def test_a_seed_fixes_the_candidates_whatever_the_batch(
    tiny_base: Path, llamacpp_home: Path
) -> None:
    def draw(prompts: list[str], seed: int, waves: int | None) -> list[list[str]]:
        sampler = LlamaCppSampler(context(tiny_base, llamacpp_home), max_sequences=waves)
        return sampler.sample(prompts, 3, temperature=0.9, top_p=0.95, max_new_tokens=12, seed=seed)

    first = draw(PROMPTS, 7, None)
    assert [len(row) for row in first] == [3, 3, 3]
    assert len({c for row in first for c in row}) == 9  # a random model: every draw differs
    assert draw(PROMPTS, 7, 2) == first  # five waves of two sequences
    assert draw(list(reversed(PROMPTS)), 7, 4) == list(reversed(first))
    assert draw(PROMPTS, 8, None) != first


def test_a_top_p_this_small_keeps_only_the_most_likely_token(
    tiny_base: Path, llamacpp_home: Path
) -> None:
    sampler = make_sampler(context(tiny_base, llamacpp_home))
    greedy = sampler.sample(PROMPTS, 1, temperature=0, top_p=None, max_new_tokens=10, seed=0)
    narrow = sampler.sample(PROMPTS, 2, temperature=1.0, top_p=1e-6, max_new_tokens=10, seed=3)
    assert narrow == [[g, g] for [g] in greedy]


def test_bad_arguments_are_refused(tiny_base: Path, llamacpp_home: Path) -> None:
    sampler = make_sampler(context(tiny_base, llamacpp_home))
    for kwargs in ({"n": 0}, {"max_new_tokens": 0}, {"temperature": -1.0}, {"top_p": 0.0}):
        args = {"n": 1, "temperature": 0.5, "top_p": None, "max_new_tokens": 4, "seed": 0} | kwargs
        with pytest.raises(ValueError):
            sampler.sample(["q"], **args)  # type: ignore[arg-type]
    assert sampler.sample([], 2, temperature=0.5, top_p=None, max_new_tokens=4, seed=0) == []


def test_the_gguf_is_converted_once_per_adapter_version_and_kept_in_the_store(
    taught_doc: Path, taught_base: Path, llamacpp_home: Path
) -> None:
    store = next((llamacpp_home / "store").glob("*/adapters")).parent
    adapter = store / "adapters" / "v0002"
    sampler = make_sampler(context(taught_base, llamacpp_home, adapter=adapter))
    sampler.sample(["q"], 1, temperature=0, top_p=None, max_new_tokens=2, seed=0)
    assert sampler.gguf_path is not None
    assert sampler.gguf_path.is_relative_to(store / "cache" / "gguf")
    assert sampler.gguf_path.parent.name.startswith("v0002-f16-")
    written = sampler.gguf_path.stat().st_mtime_ns
    again = make_sampler(context(taught_base, llamacpp_home, adapter=adapter))
    again.sample(["q"], 1, temperature=0, top_p=None, max_new_tokens=2, seed=0)
    assert again.gguf_path == sampler.gguf_path
    assert again.gguf_path.stat().st_mtime_ns == written


def test_dlm_prompt_answers_through_llamacpp(
    taught_doc: Path, llamacpp_home: Path, taught: dict[str, str]
) -> None:
    from dlm_core.cli.main import cli

    prompt = "Can we call a release amazing?"
    args = ["--home", str(llamacpp_home), "prompt", str(taught_doc), prompt]
    result = CliRunner().invoke(cli, [*args, "--sampler", "llamacpp"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == taught[prompt]


def test_dlm_compare_answers_both_sides_through_llamacpp(
    taught_doc: Path, llamacpp_home: Path, taught: dict[str, str]
) -> None:
    from dlm_core.cli.main import cli

    shortest = f"{sys.executable} -c \"import json,sys; d=json.load(sys.stdin); print(json.dumps({{'score': -len(d['candidate'])}}))\""
    result = CliRunner().invoke(
        cli,
        [
            "--home",
            str(llamacpp_home),
            "compare",
            str(taught_doc),
            "--a",
            "1",
            "--b",
            "2",
            "--judge",
            f"cli:{shortest}",
            "--sampler",
            "llamacpp",
            "--max-new-tokens",
            "32",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    answers = {item["prompt"]: (item["answer_a"], item["answer_b"]) for item in report["items"]}
    assert answers == {prompt: (answer, answer) for prompt, answer in taught.items()}
    assert report["ties"] == 2
