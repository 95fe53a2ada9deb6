"""The sway judge, specified on tiny real models (and once on the real default base)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dlm_core.context import PluginContext
from dlm_core.errors import JudgeError
from dlm_core.plugins import JudgeSpec, PluginHost
from dlm_core.protocols import Judge
from dlm_core.testing import ContextFactory

PROMPT = "How should release notes read?"
CANDIDATES = [
    "Short, factual, and low-drama.",
    "Plainly.\n\nName the change, the reason, and what the user must do — in that order.",
    "ok",
    "Les notes de version doivent être brèves. 🙂",
]


def reference_score(context: PluginContext, prompt: str, candidate: str) -> float:
    """The definition, one unpadded sequence at a time: mean log p_adapter - log p_base."""
    import torch

    session = context.session
    prompt_ids = session.chat.prompt_ids(prompt)
    answer_ids = session.chat.answer_ids(prompt, candidate)
    assert answer_ids[-1] == session.chat.end_of_turn_id

    def logprob(model: object) -> float:
        ids = torch.tensor([prompt_ids + answer_ids])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0].double()  # type: ignore[operator]
        logprobs = torch.log_softmax(logits, dim=-1)
        start = len(prompt_ids) - 1  # position t predicts token t + 1
        return sum(float(logprobs[start + k, token]) for k, token in enumerate(answer_ids))

    tuned = logprob(session.model)
    with session.base_view() as base:
        untuned = logprob(base)
    return (tuned - untuned) / len(answer_ids)


def test_importing_the_plugin_imports_no_torch() -> None:
    code = "import sys, dlm_judge_sway; sys.exit('torch' in sys.modules or 'transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_hook_registers_the_sway_judge(host: PluginHost) -> None:
    assert host.specs(JudgeSpec)["sway"].description


def test_judge_satisfies_the_protocol(
    host: PluginHost, make_context: ContextFactory, tiny_base: Path, tiny_adapter: Path
) -> None:
    judge = host.judge("sway", make_context(tiny_base, tiny_adapter))
    assert isinstance(judge, Judge)
    assert judge.name == "sway"
    assert judge.default_threshold > 0


def test_score_is_the_mean_log_prob_gain_over_the_exact_answer_tokens(
    host: PluginHost, make_context: ContextFactory, tiny_base: Path, tiny_adapter: Path
) -> None:
    context = make_context(tiny_base, tiny_adapter)
    scores = host.judge("sway", context).score(PROMPT, CANDIDATES)
    expected = [reference_score(context, PROMPT, candidate) for candidate in CANDIDATES]
    assert scores == pytest.approx(expected, abs=1e-5)
    assert all(abs(score) > 1e-4 for score in scores)  # the random adapter does move things


def test_batching_does_not_change_scores(
    host: PluginHost, make_context: ContextFactory, tiny_base: Path, tiny_adapter: Path
) -> None:
    one_by_one = host.judge("sway", make_context(tiny_base, tiny_adapter, judge_batch_size=1))
    together = host.judge("sway", make_context(tiny_base, tiny_adapter))
    single = one_by_one.score(PROMPT, CANDIDATES)
    assert one_by_one.batch_rows == [1] * len(CANDIDATES)
    batched = together.score(PROMPT, CANDIDATES)
    assert sum(together.batch_rows) == len(CANDIDATES) and len(together.batch_rows) < len(
        CANDIDATES
    )
    assert batched == pytest.approx(single, abs=1e-5)


def test_an_adapter_that_changes_nothing_scores_zero(
    host: PluginHost, make_context: ContextFactory, tiny_base: Path, identity_adapter: Path
) -> None:
    scores = host.judge("sway", make_context(tiny_base, identity_adapter)).score(PROMPT, CANDIDATES)
    assert scores == pytest.approx([0.0] * len(CANDIDATES), abs=1e-6)


def test_each_candidate_gets_one_score_in_order(
    host: PluginHost, make_context: ContextFactory, tiny_base: Path, tiny_adapter: Path
) -> None:
    judge = host.judge("sway", make_context(tiny_base, tiny_adapter))
    first, second = judge.score(PROMPT, CANDIDATES[:2])
    assert judge.score(PROMPT, [CANDIDATES[1], CANDIDATES[0], CANDIDATES[1]]) == pytest.approx(
        [second, first, second], abs=1e-5
    )
    assert sum(judge.batch_rows) == 2  # the repeated text was scored once
    assert judge.score(PROMPT, []) == []


def test_without_an_adapter_it_asks_for_dlm_train(
    host: PluginHost, make_context: ContextFactory, tiny_base: Path
) -> None:
    with pytest.raises(JudgeError, match="dlm train"):
        host.judge("sway", make_context(tiny_base))


def test_an_argument_is_refused(
    host: PluginHost, make_context: ContextFactory, tiny_base: Path, tiny_adapter: Path
) -> None:
    with pytest.raises(JudgeError, match="no argument"):
        host.judge("sway:strict", make_context(tiny_base, tiny_adapter))


def test_scoring_leaves_the_shared_model_usable_for_training(
    host: PluginHost, make_context: ContextFactory, tiny_base: Path, tiny_adapter: Path
) -> None:
    # The judge may be the first to load the session's model; it must not do so
    # in inference mode, or the weights become tensors that autograd refuses.
    context = make_context(tiny_base, tiny_adapter)
    host.judge("sway", context).score(PROMPT, CANDIDATES[:1])
    assert not any(parameter.is_inference() for parameter in context.session.model.parameters())


@pytest.mark.slow
def test_after_sft_toward_an_answer_sway_prefers_it(
    host: PluginHost, default_base: Path, tmp_path: Path
) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from dlm_core.document.parser import parse
    from dlm_core.models.chat import ChatFormat
    from dlm_core.models.registry import parse_base

    document = parse((Path(__file__).parents[3] / "examples" / "release-notes.dlm").read_text())
    record = document.of_type("instruction")[0].records[1]
    prompt, answer = record["Q"], record["A"]
    unrelated = "Bananas grow in tropical climates and are rich in potassium."

    # A short SFT toward the document's answer, with a plain torch loop.
    chat = ChatFormat(AutoTokenizer.from_pretrained(default_base), None)
    prompt_ids, answer_ids = chat.prompt_ids(prompt), chat.answer_ids(prompt, answer)
    input_ids = torch.tensor([prompt_ids + answer_ids])
    labels = torch.tensor([[-100] * len(prompt_ids) + answer_ids])
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(default_base)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    model = get_peft_model(base, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    for _ in range(24):
        model(input_ids=input_ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(tmp_path / "adapter")

    context = PluginContext(
        document=document,
        document_path=None,
        base=parse_base(f"hf:{default_base}"),
        adapter_path=tmp_path / "adapter",
        home=tmp_path,
    )
    judge = host.judge("sway", context)
    trained, other = judge.score(prompt, [answer, unrelated])
    assert trained > other + judge.default_threshold
    assert trained > 0.5  # nats per token: the adapter learned this answer


def test_answers_of_similar_length_share_a_batch_and_a_much_longer_one_does_not(
    host: PluginHost, make_context: ContextFactory, tiny_base: Path, tiny_adapter: Path
) -> None:
    judge = host.judge("sway", make_context(tiny_base, tiny_adapter))
    similar = ["Short and factual.", "Short and plain.", "Brief and factual."]
    judge.score(PROMPT, similar)
    assert judge.batch_rows == [3]
    judge.score(PROMPT, [*similar, " ".join(["A much longer answer that rambles on."] * 12)])
    assert judge.batch_rows == [
        3,
        1,
    ]  # padding three short rows to its length would waste most of the batch
