"""The reference judge, specified on tiny real models and on the real default base."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from dlm_judge_reference.judge import RESTATE

from dlm_core.api import Judge, JudgeError, JudgeSpec, PluginContext
from dlm_core.plugins import PluginHost

ContextFactory = Callable[..., PluginContext]

PROMPT = "How long should a code review take?"
ANSWERS = ["Within one working day of the request.", "A working day at most."]
CANDIDATES = [
    "Within one working day.",
    "No.",
    "A code review should ideally take 2 to 3 days.",
    "Plainly:\n\nwithin a day — ✅",
]


def definition(context: PluginContext, prompt: str, candidate: str, answer: str) -> float:
    """The score, one unpadded sequence at a time: mean log p(answer | ..., candidate, RESTATE) on the base."""
    import torch

    session = context.session
    tokenizer = session.tokenizer
    messages = [
        {"role": "system", "content": "You are concise."},
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": candidate},
        {"role": "user", "content": RESTATE},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    context_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([context_ids + answer_ids])
    with torch.no_grad(), session.base_view() as base:
        logits = base(input_ids=ids).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    start = len(context_ids) - 1  # position t predicts token t + 1
    total = sum(float(logprobs[start + k, token]) for k, token in enumerate(answer_ids))
    return total / len(answer_ids)


def test_importing_the_plugin_imports_no_torch() -> None:
    code = "import sys, dlm_judge_reference; sys.exit('torch' in sys.modules or 'transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_hook_registers_the_reference_judge(host: PluginHost) -> None:
    assert "document's own answer" in host.specs(JudgeSpec)["reference"].description


def test_judge_satisfies_the_protocol_and_needs_no_adapter(
    host: PluginHost, reference_context: ContextFactory, tiny_base: Path
) -> None:
    judge = host.judge("reference", reference_context(tiny_base))
    assert isinstance(judge, Judge)
    assert judge.name == "reference" and judge.default_threshold > 0


def test_score_is_the_best_mean_log_prob_of_a_document_answer_after_the_candidate(
    host: PluginHost, reference_context: ContextFactory, tiny_base: Path, tiny_adapter: Path
) -> None:
    context = reference_context(tiny_base, tiny_adapter)
    scores = host.judge("reference", context).score(PROMPT, CANDIDATES)
    expected = [
        max(definition(context, PROMPT, candidate, answer) for answer in ANSWERS)
        for candidate in CANDIDATES
    ]
    assert scores == pytest.approx(expected, abs=1e-4)
    assert len(set(round(s, 4) for s in scores)) == len(CANDIDATES)  # the candidate matters


def test_the_base_scores_whether_or_not_an_adapter_is_loaded(
    host: PluginHost, reference_context: ContextFactory, tiny_base: Path, tiny_adapter: Path
) -> None:
    with_adapter = host.judge("reference", reference_context(tiny_base, tiny_adapter))
    without = host.judge("reference", reference_context(tiny_base))
    assert with_adapter.score(PROMPT, CANDIDATES) == pytest.approx(
        without.score(PROMPT, CANDIDATES), abs=1e-5
    )


def test_batching_and_left_padding_do_not_change_scores(
    host: PluginHost, reference_context: ContextFactory, tiny_base: Path
) -> None:
    one_by_one = host.judge("reference", reference_context(tiny_base, judge_batch_size=1))
    together = host.judge("reference", reference_context(tiny_base))
    single = one_by_one.score(PROMPT, CANDIDATES)
    assert one_by_one.batch_rows == [1] * len(CANDIDATES) * len(ANSWERS)
    batched = together.score(PROMPT, CANDIDATES)
    assert together.batch_rows == [len(CANDIDATES)] * len(ANSWERS)
    assert batched == pytest.approx(single, abs=1e-4)


def test_each_distinct_candidate_is_scored_once_in_order(
    host: PluginHost, reference_context: ContextFactory, tiny_base: Path
) -> None:
    judge = host.judge("reference", reference_context(tiny_base))
    first, second = judge.score(PROMPT, CANDIDATES[:2])
    assert judge.score(PROMPT, [CANDIDATES[1], CANDIDATES[0], CANDIDATES[1]]) == pytest.approx(
        [second, first, second], abs=1e-5
    )
    assert sum(judge.batch_rows) == 2 * len(ANSWERS)
    assert judge.score(PROMPT, []) == []


def test_a_prompt_is_found_however_its_whitespace_reads(
    host: PluginHost, reference_context: ContextFactory, tiny_base: Path
) -> None:
    judge = host.judge("reference", reference_context(tiny_base))
    # Found, and scored against the same answers (the prompt text itself is rendered as given).
    assert judge.references(f"  {PROMPT}\n") == ANSWERS
    assert judge.score(f"  {PROMPT}\n", ["No."]) == pytest.approx(
        judge.score(PROMPT, ["No."]), abs=0.05
    )


def test_a_prompt_the_document_does_not_answer_is_a_clear_error(
    host: PluginHost, reference_context: ContextFactory, tiny_base: Path
) -> None:
    judge = host.judge("reference", reference_context(tiny_base))
    held_out = "A reviewer is away until next week. What should they do?"  # an ::eval:: prompt
    with pytest.raises(JudgeError, match=r"no answer for .*::instruction:: record.*another judge"):
        judge.score(held_out, ["Hand it to someone else."])


def test_a_document_without_answers_is_refused_when_the_judge_is_built(
    host: PluginHost, reference_context: ContextFactory, tiny_base: Path
) -> None:
    with pytest.raises(JudgeError, match="no ::instruction:: records"):
        host.judge("reference", reference_context(tiny_base, text="# Only prose\n"))


def test_an_argument_is_refused(
    host: PluginHost, reference_context: ContextFactory, tiny_base: Path
) -> None:
    with pytest.raises(JudgeError, match="no argument"):
        host.judge("reference:strict", reference_context(tiny_base))


def test_scoring_leaves_the_shared_model_usable_for_training(
    host: PluginHost, reference_context: ContextFactory, tiny_base: Path, tiny_adapter: Path
) -> None:
    context = reference_context(tiny_base, tiny_adapter)
    host.judge("reference", context).score(PROMPT, CANDIDATES[:1])
    assert not any(parameter.is_inference() for parameter in context.session.model.parameters())


# -- on the real default base: answers that agree with the document win --------------------

KNOWN = {
    "How long should a code review take?": (
        ["Within one working day of the request.", "A review should be done within a working day."],
        ["No.", "A code review should ideally take 2 to 3 days.", "About a week."],
    ),
    "Can a change merge without a review?": (
        ["No. Every change needs one approving review.", "No, it needs an approving review first."],
        ["Yes", "Yes, small changes can merge without one."],
    ),
    "Should a review comment mention the author?": (
        [
            "No. Comments are about the code, never about the author.",
            "No, talk about the code, not the person.",
        ],
        ["Yes", "Yes, address the author by name."],
    ),
}
"""Prompt -> (answers that agree with the document, answers that contradict it)."""


@pytest.mark.slow
def test_on_the_real_base_every_agreeing_answer_beats_every_contradicting_one(
    host: PluginHost, reference_context: ContextFactory, default_base: Path
) -> None:
    judge = host.judge("reference", reference_context(default_base))
    for prompt, (agree, contradict) in KNOWN.items():
        scores = judge.score(prompt, agree + contradict)
        worst_agreeing = min(scores[: len(agree)])
        best_contradicting = max(scores[len(agree) :])
        assert worst_agreeing > best_contradicting, (prompt, scores)


@pytest.mark.slow
def test_on_the_real_base_the_document_check_skips_the_pairs_of_issue_15(
    host: PluginHost, reference_context: ContextFactory, default_base: Path
) -> None:
    from dlm_core.mining.guard import DocumentCheck, JudgeAgreement
    from dlm_core.mining.selection import Candidate, MinedPair, Skip, SkipReason

    check = DocumentCheck(
        (JudgeAgreement(host.judge("reference", reference_context(default_base))),)
    )
    contradicting = [
        (
            "How long should a code review take?",
            "No.",
            "A code review should be done within one working day.",
        ),
        ("Can a change merge without a review?", "Yes", "No, it needs one approving review first."),
    ]
    for prompt, chosen, rejected in contradicting:
        result = check(MinedPair(prompt, Candidate(chosen, 2.7), Candidate(rejected, 1.0)))
        assert isinstance(result, Skip) and result.reason is SkipReason.CONTRADICTS_DOCUMENT
        swapped = MinedPair(prompt, Candidate(rejected, 2.7), Candidate(chosen, 1.0))
        assert check(swapped) is swapped
