"""The hf sampler, specified on tiny real models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dlm_core.plugins import PluginHost, SamplerSpec
from dlm_core.protocols import Sampler, is_truncated
from dlm_core.testing import ContextFactory

PROMPTS = [
    "Hi",
    "What goes first in a release note, and why does it go there?",
    "How should release notes read?",
]


def sample(sampler: Sampler, prompts: list[str], n: int, **kwargs: object) -> list[list[str]]:
    settings: dict = {"temperature": 1.0, "top_p": None, "max_new_tokens": 8, "seed": 7}
    settings.update(kwargs)
    return sampler.sample(prompts, n, **settings)


def test_importing_the_plugin_imports_no_torch() -> None:
    code = "import sys, dlm_sampler_hf; sys.exit('torch' in sys.modules or 'transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_hook_registers_the_hf_sampler(host: PluginHost) -> None:
    spec = host.specs(SamplerSpec)["hf"]
    assert spec.description


def test_sampler_satisfies_the_protocol(
    host: PluginHost, tiny_base: Path, make_context: ContextFactory
) -> None:
    assert isinstance(host.sampler("hf", make_context(tiny_base)), Sampler)


def test_returns_n_candidates_per_prompt_in_prompt_order(
    host: PluginHost, tiny_base: Path, tiny_adapter: Path, make_context: ContextFactory
) -> None:
    sampler = host.sampler("hf", make_context(tiny_base, tiny_adapter))
    together = sample(sampler, PROMPTS, 3)
    alone = [sample(sampler, [prompt], 3)[0] for prompt in PROMPTS]
    assert [len(candidates) for candidates in together] == [3, 3, 3]
    assert all(isinstance(text, str) for candidates in together for text in candidates)
    assert together == alone


def test_same_seed_gives_the_same_candidates(
    host: PluginHost, tiny_base: Path, tiny_adapter: Path, make_context: ContextFactory
) -> None:
    sampler = host.sampler("hf", make_context(tiny_base, tiny_adapter))
    first = sample(sampler, PROMPTS, 2, seed=11)
    assert sample(sampler, PROMPTS, 2, seed=11) == first
    assert sample(sampler, PROMPTS, 2, seed=12) != first
    assert len(set(first[1])) == 2  # the samples of one prompt differ


def test_temperature_zero_is_greedy_and_ignores_the_seed(
    host: PluginHost, tiny_base: Path, tiny_adapter: Path, make_context: ContextFactory
) -> None:
    sampler = host.sampler("hf", make_context(tiny_base, tiny_adapter))
    first = sample(sampler, PROMPTS, 3, temperature=0, seed=1)
    assert all(len(set(candidates)) == 1 for candidates in first)
    assert sample(sampler, PROMPTS, 3, temperature=0, seed=2) == first
    assert sample(sampler, PROMPTS, 3, temperature=0, seed=None) == first


def test_batched_greedy_equals_one_prompt_at_a_time(
    host: PluginHost, tiny_base: Path, tiny_adapter: Path, make_context: ContextFactory
) -> None:
    # The prompts differ in length, so the batch is left padded.
    sampler = host.sampler("hf", make_context(tiny_base, tiny_adapter))
    batched = sample(sampler, PROMPTS, 1, temperature=0, max_new_tokens=16)
    assert sampler.batch_rows[0] == len(PROMPTS)
    alone = [
        sample(sampler, [prompt], 1, temperature=0, max_new_tokens=16)[0] for prompt in PROMPTS
    ]
    assert batched == alone


def test_tiny_top_p_keeps_only_the_most_likely_token(
    host: PluginHost, tiny_base: Path, tiny_adapter: Path, make_context: ContextFactory
) -> None:
    sampler = host.sampler("hf", make_context(tiny_base, tiny_adapter))
    greedy = sample(sampler, PROMPTS, 1, temperature=0)
    assert sample(sampler, PROMPTS, 2, top_p=1e-6) == [[c, c] for [c] in greedy]


def test_batch_size_option_caps_rows_per_generate_call(
    host: PluginHost, tiny_base: Path, tiny_adapter: Path, make_context: ContextFactory
) -> None:
    capped = host.sampler("hf", make_context(tiny_base, tiny_adapter, batch_size=2))
    free = host.sampler("hf", make_context(tiny_base, tiny_adapter))
    result = sample(capped, PROMPTS, 2)
    assert max(capped.batch_rows) <= 2
    assert len(capped.batch_rows) >= 3
    # Each candidate has its own generator: the batch size never changes what is sampled.
    assert sample(free, PROMPTS, 2) == result
    assert free.batch_rows[0] == 6


def test_rounds_do_not_change_candidates(
    host: PluginHost, tiny_base: Path, tiny_adapter: Path, make_context: ContextFactory
) -> None:
    sampler = host.sampler("hf", make_context(tiny_base, tiny_adapter))
    sampler.round_tokens = None
    whole = sample(sampler, PROMPTS, 2, max_new_tokens=12)
    assert len(sampler.batch_rows) == 1
    sampler.round_tokens = 3
    assert sample(sampler, PROMPTS, 2, max_new_tokens=12) == whole
    assert len(sampler.batch_rows) == 4


def test_stops_at_end_of_turn_without_special_tokens(
    host: PluginHost, taught_base: Path, make_context: ContextFactory, taught: dict[str, str]
) -> None:
    sampler = host.sampler("hf", make_context(taught_base))
    prompts = list(taught)
    candidates = sample(sampler, prompts, 2, temperature=0, max_new_tokens=64)
    assert candidates == [[answer, answer] for answer in taught.values()]
    # Answer tokens plus the end-of-turn token, once per prompt (greedy generates once).
    chat = sampler.session.chat
    expected = sum(len(chat.answer_ids(prompt, answer)) for prompt, answer in taught.items())
    assert sampler.generated_tokens == expected


def test_answers_cut_off_at_max_new_tokens_say_so(
    host: PluginHost, taught_base: Path, make_context: ContextFactory, taught: dict[str, str]
) -> None:
    sampler = host.sampler("hf", make_context(taught_base))
    prompts = list(taught)  # "No." is 2 tokens with its end of turn; the other answer is longer
    short, long = sample(sampler, prompts, 2, temperature=0, max_new_tokens=3)
    assert short == [taught[prompts[0]]] * 2 and not any(is_truncated(c) for c in short)
    assert all(is_truncated(c) for c in long)
    assert taught[prompts[1]].startswith(long[0]) and long[0] != taught[prompts[1]]
    whole = sample(sampler, prompts, 1, temperature=0, max_new_tokens=64)
    assert not any(is_truncated(c) for cands in whole for c in cands)


def test_finished_rows_leave_the_batch(
    host: PluginHost, taught_base: Path, make_context: ContextFactory, taught: dict[str, str]
) -> None:
    sampler = host.sampler("hf", make_context(taught_base))
    sampler.round_tokens = 2
    candidates = sample(sampler, list(taught), 1, temperature=0, max_new_tokens=64)
    assert candidates == [[answer] for answer in taught.values()]
    assert sampler.batch_rows[0] == 2
    assert sampler.batch_rows[-1] == 1  # the short answer finished first


def test_generated_tokens_counts_the_new_tokens_of_the_last_call(
    host: PluginHost, tiny_base: Path, tiny_adapter: Path, make_context: ContextFactory
) -> None:
    sampler = host.sampler("hf", make_context(tiny_base, tiny_adapter))
    sample(sampler, PROMPTS, 2, max_new_tokens=5)
    assert 0 < sampler.generated_tokens <= len(PROMPTS) * 2 * 5
    sample(sampler, PROMPTS[:1], 1, max_new_tokens=3)
    assert 0 < sampler.generated_tokens <= 3


def test_candidate_text_is_stripped_with_plain_newlines() -> None:
    from dlm_sampler_hf.sampler import normalize_text  # the mining loop's own normalization

    assert normalize_text("  one\r\ntwo\rthree \n\n") == "one\ntwo\nthree"


def test_draws_follow_the_temperature_and_top_p_distribution() -> None:
    import torch
    from dlm_sampler_hf.sampler import _RowDraw

    rows = 4000
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).expand(rows, -1).contiguous()
    generators = [torch.Generator().manual_seed(i) for i in range(rows)]

    def frequencies(temperature: float, top_p: float | None) -> list[float]:
        picked = _RowDraw(generators, temperature, top_p)(None, logits).argmax(dim=-1)
        return (torch.bincount(picked, minlength=4) / rows).tolist()

    assert frequencies(1.0, None) == pytest.approx([0.5, 0.3, 0.15, 0.05], abs=0.03)
    # Temperature 0.5 squares the probabilities before renormalising.
    squared = [p * p / 0.365 for p in (0.5, 0.3, 0.15, 0.05)]
    assert frequencies(0.5, None) == pytest.approx(squared, abs=0.03)
    # top_p 0.6: 0.5 alone falls short, so 0.3 joins the nucleus; the rest is cut.
    assert frequencies(1.0, 0.6) == pytest.approx([0.625, 0.375, 0.0, 0.0], abs=0.03)


def test_generate_one_gives_one_answer(
    host: PluginHost, taught_base: Path, make_context: ContextFactory, taught: dict[str, str]
) -> None:
    from dlm_sampler_hf import generate_one

    session = make_context(taught_base).session
    prompt, answer = next(iter(taught.items()))
    assert generate_one(session, prompt, temperature=0, max_new_tokens=32) == answer


@pytest.mark.parametrize(
    ("n", "settings"),
    [
        (0, {}),
        (1, {"max_new_tokens": 0}),
        (1, {"temperature": -0.5}),
        (1, {"top_p": 0.0}),
        (1, {"top_p": 1.5}),
    ],
)
def test_invalid_arguments_are_refused(
    host: PluginHost, tiny_base: Path, make_context: ContextFactory, n: int, settings: dict
) -> None:
    sampler = host.sampler("hf", make_context(tiny_base))
    with pytest.raises(ValueError):
        sample(sampler, PROMPTS, n, **settings)


def test_no_prompts_give_no_candidates(
    host: PluginHost, tiny_base: Path, make_context: ContextFactory
) -> None:
    sampler = host.sampler("hf", make_context(tiny_base))
    assert sample(sampler, [], 4) == []
    assert sampler.generated_tokens == 0


def test_sampling_leaves_the_shared_model_usable_for_training(
    host: PluginHost, tiny_base: Path, tiny_adapter: Path, make_context: ContextFactory
) -> None:
    # The sampler may be the first to load the session's model; it must not do so
    # in inference mode, or the weights become tensors that autograd refuses.
    context = make_context(tiny_base, tiny_adapter)
    sample(host.sampler("hf", context), PROMPTS[:1], 1, max_new_tokens=2)
    assert not any(parameter.is_inference() for parameter in context.session.model.parameters())


def test_the_base_models_own_generation_defaults_are_not_applied(
    host: PluginHost, tiny_base: Path, make_context: ContextFactory, tmp_path: Path
) -> None:
    import json
    import shutil

    opinionated = tmp_path / "opinionated-base"
    shutil.copytree(tiny_base, opinionated)
    config_path = opinionated / "generation_config.json"
    config = json.loads(config_path.read_text())
    config.update(
        do_sample=True, temperature=0.3, top_k=5, repetition_penalty=1.5, max_new_tokens=2
    )
    config_path.write_text(json.dumps(config))

    plain = host.sampler("hf", make_context(tiny_base))
    other = host.sampler("hf", make_context(opinionated))
    for settings in ({"temperature": 0}, {"temperature": 1.0}):
        assert sample(other, PROMPTS, 2, max_new_tokens=12, **settings) == sample(
            plain, PROMPTS, 2, max_new_tokens=12, **settings
        )


def test_sampling_draws_a_bar_over_the_candidates_on_stderr(
    host: PluginHost,
    tiny_base: Path,
    make_context: ContextFactory,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sampler = host.sampler("hf", make_context(tiny_base))
    sample(sampler, PROMPTS, 2)
    err = capfd.readouterr().err
    assert "sampling" in err and "6/6" in err and "candidate" in err and "tokens" in err


def test_no_bar_when_the_command_turned_bars_off(
    host: PluginHost,
    tiny_base: Path,
    make_context: ContextFactory,
    capfd: pytest.CaptureFixture[str],
) -> None:
    context = make_context(tiny_base)
    context.show_progress = False
    sample(host.sampler("hf", context), PROMPTS, 2)
    assert "sampling" not in capfd.readouterr().err
