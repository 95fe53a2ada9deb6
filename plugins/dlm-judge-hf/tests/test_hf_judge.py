"""The ``hf`` judge: tiny real reward models, scored through a fresh plugin host.

Each reward model is a random-weight sequence classifier built here from a
small config, with the real SmolLM2 tokenizer of the ``tiny_base`` fixture,
and saved with ``save_pretrained`` like a model from the hub. The expected
scores are computed straight from the model, one candidate at a time.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import dlm_judge_hf
import pytest

from dlm_core.context import PluginContext
from dlm_core.document.parser import parse
from dlm_core.errors import DlmError, JudgeError, ModelError
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.protocols import Judge
from dlm_core.testing import TINY_CONFIG

PROMPT = "How should release notes read?"
CANDIDATES = [
    "Short.",
    "Short, factual, and low-drama.",
    "Release notes should be long, thorough and full of adjectives, " * 3,
    "Breaking changes first.\n\n```\nunclosed code",
]


def build_reward_model(
    folder: Path, tokenizer, *, num_labels: int, arch: str = "llama", chat: bool = True
) -> Path:  # type: ignore[no-untyped-def]
    import torch
    from transformers import (
        GPT2Config,
        GPT2ForSequenceClassification,
        LlamaConfig,
        LlamaForSequenceClassification,
    )

    torch.manual_seed(num_labels)
    if arch == "llama":
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            num_labels=num_labels,
            **TINY_CONFIG,
        )
        model = LlamaForSequenceClassification(config)
    else:  # absolute positions and a 64-token context: padding and truncation must be right
        config = GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=64,
            n_embd=32,
            n_layer=2,
            n_head=2,
            pad_token_id=tokenizer.pad_token_id,
            num_labels=num_labels,
        )
        model = GPT2ForSequenceClassification(config)
    model.save_pretrained(folder)
    template = tokenizer.chat_template
    tokenizer.chat_template = template if chat else None
    try:
        tokenizer.save_pretrained(folder)
    finally:
        tokenizer.chat_template = template
    return folder


@pytest.fixture(scope="module")
def reward_models(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> dict[str, Path]:
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("reward-models")
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    return {
        "one": build_reward_model(root / "one-label", tokenizer, num_labels=1),
        "two": build_reward_model(root / "two-labels", tokenizer, num_labels=2),
        "three": build_reward_model(root / "three-labels", tokenizer, num_labels=3),
        "plain": build_reward_model(root / "no-template", tokenizer, num_labels=1, chat=False),
        "short": build_reward_model(root / "gpt2-64", tokenizer, num_labels=2, arch="gpt2"),
    }


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost.with_builtins()
    host.register(dlm_judge_hf, "dlm-judge-hf-test")
    return host


def context(tmp_path: Path, tiny_base: Path, **options: object) -> PluginContext:
    return PluginContext(
        document=parse("::instruction::\n### Q\nq\n### A\na\n"),
        document_path=None,
        base=parse_base(f"hf:{tiny_base}"),
        adapter_path=None,
        home=tmp_path,
        options=dict(options),
    )


def expected_scores(
    folder: Path,
    prompt: str,
    candidates: list[str],
    *,
    chat: bool = True,
    max_length: int | None = None,
) -> list[float]:
    """The model's own output for each candidate alone: no padding, no batching."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    scores = []
    for candidate in candidates:
        if chat:
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}, {"role": "assistant", "content": candidate}],
                tokenize=False,
            )
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = tokenizer(f"{prompt}\n\n{candidate}")["input_ids"]
        ids = ids[:max_length] if max_length else ids
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0]
        scores.append(float(logits[0]) if len(logits) == 1 else float(logits[1] - logits[0]))
    return scores


def test_one_output_scores_are_the_models_logit(
    host: PluginHost, reward_models, tmp_path: Path, tiny_base: Path
) -> None:  # type: ignore[no-untyped-def]
    judge = host.judge(f"hf:{reward_models['one']}", context(tmp_path, tiny_base))
    assert judge.score(PROMPT, CANDIDATES) == pytest.approx(
        expected_scores(reward_models["one"], PROMPT, CANDIDATES), abs=1e-4
    )


def test_two_outputs_score_the_logit_difference(
    host: PluginHost, reward_models, tmp_path: Path, tiny_base: Path
) -> None:  # type: ignore[no-untyped-def]
    judge = host.judge(f"hf:{reward_models['two']}", context(tmp_path, tiny_base))
    scores = judge.score(PROMPT, CANDIDATES)
    assert scores == pytest.approx(
        expected_scores(reward_models["two"], PROMPT, CANDIDATES), abs=1e-4
    )
    assert len(set(scores)) == len(CANDIDATES)  # the candidates really were told apart


def test_batching_does_not_change_scores(
    host: PluginHost, reward_models, tmp_path: Path, tiny_base: Path
) -> None:  # type: ignore[no-untyped-def]
    selector = f"hf:{reward_models['two']}"
    together = host.judge(selector, context(tmp_path, tiny_base)).score(PROMPT, CANDIDATES)
    one_by_one = host.judge(selector, context(tmp_path, tiny_base, judge_batch_size=1)).score(
        PROMPT, CANDIDATES
    )
    in_threes = host.judge(selector, context(tmp_path, tiny_base, judge_batch_size=3)).score(
        PROMPT, CANDIDATES
    )
    assert together == pytest.approx(one_by_one, abs=1e-4)
    assert in_threes == pytest.approx(one_by_one, abs=1e-4)


def test_one_score_per_candidate_in_order(
    host: PluginHost, reward_models, tmp_path: Path, tiny_base: Path
) -> None:  # type: ignore[no-untyped-def]
    judge = host.judge(
        f"hf:{reward_models['one']}", context(tmp_path, tiny_base, judge_batch_size=2)
    )
    forward = judge.score(PROMPT, CANDIDATES)
    backward = judge.score(PROMPT, CANDIDATES[::-1])
    assert len(forward) == len(CANDIDATES) and all(isinstance(s, float) for s in forward)
    assert backward == pytest.approx(forward[::-1], abs=1e-4)
    assert judge.score(PROMPT, []) == []


def test_a_tokenizer_without_chat_template_scores_prompt_blank_line_candidate(
    host: PluginHost, reward_models, tmp_path: Path, tiny_base: Path
) -> None:  # type: ignore[no-untyped-def]
    judge = host.judge(f"hf:{reward_models['plain']}", context(tmp_path, tiny_base))
    expected = expected_scores(reward_models["plain"], PROMPT, CANDIDATES, chat=False)
    assert judge.score(PROMPT, CANDIDATES) == pytest.approx(expected, abs=1e-4)


def test_long_candidates_are_truncated_to_the_models_context(
    host: PluginHost, reward_models, tmp_path: Path, tiny_base: Path
) -> None:  # type: ignore[no-untyped-def]
    long = "word " * 400  # far past the 64 positions this GPT-2 has
    candidates = ["Short.", long, "Medium, but still fine."]
    judge = host.judge(f"hf:{reward_models['short']}", context(tmp_path, tiny_base))
    expected = expected_scores(reward_models["short"], PROMPT, candidates, max_length=64)
    assert judge.score(PROMPT, candidates) == pytest.approx(expected, abs=1e-4)


def test_name_and_default_threshold(
    host: PluginHost, reward_models, tmp_path: Path, tiny_base: Path
) -> None:  # type: ignore[no-untyped-def]
    judge = host.judge(f"hf:{reward_models['one']}", context(tmp_path, tiny_base))
    assert isinstance(judge, Judge)
    assert judge.name == f"hf:{reward_models['one']}"
    assert judge.default_threshold == 1.0


def test_more_than_two_outputs_is_a_clear_error(
    host: PluginHost, reward_models, tmp_path: Path, tiny_base: Path
) -> None:  # type: ignore[no-untyped-def]
    judge = host.judge(f"hf:{reward_models['three']}", context(tmp_path, tiny_base))
    with pytest.raises(JudgeError, match="has 3 outputs") as caught:
        judge.score(PROMPT, CANDIDATES)
    assert "\n" not in str(caught.value)


def test_a_model_without_a_trained_head_is_refused(
    host: PluginHost, tmp_path: Path, tiny_base: Path
) -> None:
    # tiny_base is a causal LM: as a classifier its score head would be random noise.
    judge = host.judge(f"hf:{tiny_base}", context(tmp_path, tiny_base))
    with pytest.raises(ModelError, match=r"is not a reward model.*score\.weight") as caught:
        judge.score(PROMPT, CANDIDATES)
    assert "\n" not in str(caught.value)


def test_a_missing_folder_is_a_one_line_error_naming_it(
    host: PluginHost, tmp_path: Path, tiny_base: Path
) -> None:
    missing = tmp_path / "no-such-reward-model"
    with pytest.raises(ModelError) as caught:
        host.judge(f"hf:{missing}", context(tmp_path, tiny_base))
    message = str(caught.value)
    assert str(missing) in message and "does not exist" in message and "\n" not in message


def test_a_folder_that_is_not_a_model_is_a_one_line_error(
    host: PluginHost, tmp_path: Path, tiny_base: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match=r"no config\.json") as caught:
        host.judge(f"hf:{empty}", context(tmp_path, tiny_base))
    assert "\n" not in str(caught.value)


def test_a_model_that_fails_to_load_is_a_one_line_error(
    host: PluginHost, tmp_path: Path, tiny_base: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(
        '{"model_type": "llama", "num_labels": 1}', encoding="utf-8"
    )
    judge = host.judge(f"hf:{broken}", context(tmp_path, tiny_base))  # found: the check is cheap
    with pytest.raises(ModelError, match=f"cannot load reward model '{broken}'") as caught:
        judge.score(PROMPT, CANDIDATES)
    assert "\n" not in str(caught.value)


def test_an_unknown_hub_id_offline_is_a_one_line_error(
    host: PluginHost, tmp_path: Path, tiny_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ModelError,
        match=r"'nobody/no-such-reward-model'.*not in the Hugging Face cache.*HF_HUB_OFFLINE",
    ) as caught:
        host.judge("hf:nobody/no-such-reward-model", context(tmp_path, tiny_base))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("selector", ["hf", "hf:", "hf:   "])
def test_a_missing_model_argument_says_how_to_name_one(
    host: PluginHost, tmp_path: Path, tiny_base: Path, selector: str
) -> None:
    with pytest.raises(
        JudgeError, match=r"needs a reward model: use --judge hf:<hub id or local folder>"
    ):
        host.judge(selector, context(tmp_path, tiny_base))


@pytest.mark.parametrize("size", [0, -1, 1.5, "4", True])
def test_a_bad_judge_batch_size_is_refused(
    host: PluginHost, reward_models, tmp_path: Path, tiny_base: Path, size: object
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DlmError, match="judge_batch_size"):
        host.judge(
            f"hf:{reward_models['one']}", context(tmp_path, tiny_base, judge_batch_size=size)
        )


def test_importing_the_plugin_imports_no_torch() -> None:
    code = "import sys, dlm_judge_hf; dlm_judge_hf.dlm_judges(); import dlm_judge_hf.judge; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_distribution_registers_the_hf_entry_point() -> None:
    (entry,) = [
        ep
        for ep in importlib.metadata.distribution("dlm-judge-hf").entry_points
        if ep.group == "dlm"
    ]
    assert (entry.name, entry.value) == ("judge-hf", "dlm_judge_hf")
