"""The document check (``--document-check``, off by default): a judged pair whose chosen
answer contradicts the document is skipped.

The mining judge here is the scripted ``terse`` judge (shorter is better),
which, like ``sway`` in issue 15, happily prefers "No." to the document's
own answer. The check judge is a stand-in ``reference`` judge with a rule
the tests state: an answer agrees with the document by the number of words
it shares with the document's answer. The real ``reference`` judge has its
own tests on a real model in plugins/dlm-judge-reference.
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from dlm_core import hookimpl
from dlm_core.context import PluginContext
from dlm_core.metrics.db import MetricsDB
from dlm_core.mining.guard import DocumentCheck, JudgeAgreement
from dlm_core.mining.prompts import reference_answers
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.mining.selection import Candidate, MinedPair, Skip, SkipReason
from dlm_core.plugins import JudgeSpec, PluginHost
from dlm_core.workspace import Workspace

from .test_mine_run import Q1, Q2, store_of

DOCUMENT_ANSWER = "Short, factual, and low-drama."  # the tiny document's answer to Q1


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z-]+", text.lower()))


class OverlapJudge:
    """Stand-in for ``reference``: words shared with the document's answer to the prompt."""

    name = "reference"
    default_threshold = 0.5

    def __init__(self, context: PluginContext) -> None:
        self.answers = reference_answers(context.document)
        self.scored: list[list[str]] = []

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        self.scored.append(list(candidates))
        reference = words(self.answers[prompt][0])
        return [float(len(words(c) & reference)) for c in candidates]


@pytest.fixture
def checking_host(mining_host: PluginHost) -> PluginHost:
    made: list[OverlapJudge] = []

    def factory(context: PluginContext, _argument: str | None) -> OverlapJudge:
        made.append(OverlapJudge(context))
        return made[-1]

    @hookimpl
    def dlm_judges():  # type: ignore[no-untyped-def]
        return [JudgeSpec(name="reference", factory=factory)]

    mining_host.register(types.SimpleNamespace(dlm_judges=dlm_judges), "test-reference")
    mining_host.made_reference_judges = made  # type: ignore[attr-defined]
    return mining_host


def mine(path: Path, host: PluginHost, home: Path, said: list[str] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    kwargs = {"judge": "terse", "check_document": True, **kwargs}
    options = MineOptions(sampler="scripted", progress=False, **kwargs)  # type: ignore[arg-type]
    return mine_document(
        Workspace(home, host, say=(said.append if said is not None else lambda m: None)),
        path,
        options,
    )


def test_a_pair_whose_chosen_answer_contradicts_the_document_is_skipped_and_counted(
    trained_doc: Path, checking_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: ["No.", "Release notes read short, factual and low-drama."]}
    outcome = mine(trained_doc, checking_host, dlm_home, apply=True)
    assert outcome.mined_pairs == [] and outcome.applied == 0
    assert outcome.skipped["contradicts_document"] == 1
    with MetricsDB.open(store_of(trained_doc, dlm_home).metrics_path, readonly=True) as db:
        run = db.runs(kind="mine")[-1]
        events = db.mining_events(run.id)
    (event,) = [e for e in events if e.prompt == Q1]
    assert event.reason == "contradicts_document"
    assert "rejected answer" in event.data["detail"] and event.data["margin"] > 0
    assert run.config["document_check"] is True


@pytest.mark.parametrize("asked", [{"check_document": False}, {}], ids=["turned-off", "default"])
def test_without_the_check_the_contradicting_pair_is_kept(
    trained_doc: Path, checking_host: PluginHost, dlm_home: Path, sampler, asked
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: ["No.", "Release notes read short, factual and low-drama."]}
    options = MineOptions(sampler="scripted", judge="terse", progress=False, **asked)
    outcome = mine_document(
        Workspace(dlm_home, checking_host, say=lambda m: None), trained_doc, options
    )
    (pair,) = outcome.mined_pairs
    assert (pair.chosen, pair.rejected) == (
        "No.",
        "Release notes read short, factual and low-drama.",
    )
    assert checking_host.made_reference_judges == []  # type: ignore[attr-defined]


def test_a_pair_that_agrees_at_least_as_well_passes_whatever_its_style(
    trained_doc: Path, checking_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {
        Q1: ["Short and factual.", "They should be long and full of adjectives, really."],
        Q2: ["Breaking changes.", "Breaking changes come first, under a heading of their own."],
    }
    outcome = mine(trained_doc, checking_host, dlm_home)
    assert [(p.prompt, p.chosen) for p in outcome.mined_pairs] == [
        (Q1, "Short and factual."),
        (Q2, "Breaking changes."),  # a tie on agreement: the terse judge's taste decides
    ]
    assert "contradicts_document" not in outcome.skipped


def test_the_check_scores_the_best_pair_and_all_candidates_only_when_that_pair_fails(
    trained_doc: Path, checking_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {
        Q1: ["No.", "Short.", "Long, factual, low-drama answer."],
        Q2: ["Breaking changes.", "Breaking changes come first, under a heading of their own."],
    }
    outcome = mine(trained_doc, checking_host, dlm_home)
    (check,) = checking_host.made_reference_judges  # type: ignore[attr-defined]
    assert check.scored == [
        ["No.", "Long, factual, low-drama answer."],  # Q1's best pair fails...
        ["No.", "Short.", "Long, factual, low-drama answer."],  # ...so every candidate is read
        ["Breaking changes.", "Breaking changes come first, under a heading of their own."],
    ]
    assert outcome.skipped["contradicts_document"] == 1  # no pair of Q1's agrees
    assert [p.prompt for p in outcome.mined_pairs] == [Q2]


def test_when_the_best_pair_contradicts_the_largest_margin_pair_that_agrees_is_kept(
    trained_doc: Path, checking_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    wordy = "They should be long and full of adjectives, really."
    sampler.candidates = {Q1: ["No.", "Short, factual, low-drama.", wordy]}
    outcome = mine(trained_doc, checking_host, dlm_home)
    (pair,) = outcome.mined_pairs
    assert (pair.chosen, pair.rejected) == ("Short, factual, low-drama.", wordy)
    assert "contradicts_document" not in outcome.skipped


def test_the_fallback_pair_clears_the_threshold_and_is_not_already_present() -> None:
    class Fixed:
        name, default_threshold = "reference", 0.0

        def score(self, prompt: str, candidates: list[str]) -> list[float]:
            return [{"wrong": 0.0, "right": 3.0, "wordy": 1.0}[c] for c in candidates]

    check = DocumentCheck((JudgeAgreement(Fixed()),))
    wrong, right, wordy = Candidate("wrong", 9.0), Candidate("right", 5.0), Candidate("wordy", 1.0)
    best = MinedPair("q", wrong, wordy)
    assert check.choose(best, [wrong, right, wordy], threshold=1.0) == MinedPair("q", right, wordy)
    too_close = check.choose(best, [wrong, right, wordy], threshold=4.5)
    assert isinstance(too_close, Skip) and too_close.reason is SkipReason.CONTRADICTS_DOCUMENT
    assert "no other pair of the 3 candidates agrees" in too_close.detail
    present = check.choose(
        best, [wrong, right, wordy], threshold=1.0, existing={("q", "right", "wordy")}
    )
    assert isinstance(present, Skip) and present.reason is SkipReason.ALREADY_PRESENT


def test_mining_with_the_reference_judge_needs_no_second_check(
    trained_doc: Path, checking_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: ["No.", "Short, factual."]}
    outcome = mine(trained_doc, checking_host, dlm_home, judge="reference")
    (judge,) = checking_host.made_reference_judges  # type: ignore[attr-defined]
    assert judge.scored == [["No.", "Short, factual."]]  # scored once, as the judge
    assert outcome.mined_pairs[0].chosen == "Short, factual."


def test_without_the_reference_judge_installed_mining_says_the_pairs_are_unchecked(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: ["No.", "Short, factual, and low-drama, as the house style says."]}
    said: list[str] = []
    outcome = mine(trained_doc, mining_host, dlm_home, said)
    assert outcome.mined_pairs[0].chosen == "No."
    assert any(
        "not checked against the document" in line and "dlm-judge-reference" in line
        for line in said
    )


def test_the_check_compares_the_two_answers_of_a_pair() -> None:
    class Fixed:
        name, default_threshold = "reference", 0.0

        def score(self, prompt: str, candidates: list[str]) -> list[float]:
            return [{"agrees": 2.0, "contradicts": -1.0, "also agrees": 2.0}[c] for c in candidates]

    check = DocumentCheck((JudgeAgreement(Fixed()),))
    bad = MinedPair("q", Candidate("contradicts", 5.0), Candidate("agrees", 1.0))
    good = MinedPair("q", Candidate("agrees", 5.0), Candidate("contradicts", 1.0))
    tie = MinedPair("q", Candidate("agrees", 5.0), Candidate("also agrees", 1.0))
    skipped = check(bad)
    assert isinstance(skipped, Skip) and skipped.reason is SkipReason.CONTRADICTS_DOCUMENT
    assert skipped.margin == 4.0
    assert check(good) is good and check(tie) is tie
