"""The yes/no check (on by default): on a question the document answers yes or no, a judged
pair whose chosen answer gives that yes or no less clearly than the rejected one is replaced
by the prompt's next best pair that passes, or skipped as ``contradicts_document``.

The mining judge is the scripted ``terse`` judge (shorter is better), which,
like ``sway`` in issue 15, prefers "Yes." to the document's "No, ...".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core.metrics.db import MetricsDB
from dlm_core.mining.yes_no import YesNoAgreement, polarity
from dlm_core.plugins import PluginHost

from .conftest import first_adapter
from .test_mine_run import Q1, mine, store_of

Q3 = "Can a change merge without a review?"
YES_NO_RECORD = f"""
### Q
{Q3}
### A
No. Every change needs one approving review.
"""
LONG_MAYBE = "It can, if the team lead says so and someone looks at it afterwards."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No.", -1),
        ("no, never without one", -1),
        ("**No** - it needs a review.", -1),
        ("Never.", -1),
        ("Don\u2019t.", -1),
        ("Yes.", 1),
        ('"Yes," said the reviewer.', 1),
        ("Sure, go ahead.", 1),
        ("Nothing goes first.", 0),  # "no" must be the whole first word
        ("1. No", 0),  # a list item is not an answer's first word
        ("It depends.", 0),
        ("", 0),
    ],
)
def test_polarity_reads_the_first_word(text: str, expected: int) -> None:
    assert polarity(text) == expected


def test_agreement_is_the_documents_yes_or_no_times_the_answers() -> None:
    agreement = YesNoAgreement({Q3: ["No. Every change needs one approving review."]})
    assert agreement.scores(Q3, ["Yes.", "No, never.", "It depends."]) == [-1.0, 1.0, 0.0]


def test_a_question_the_document_does_not_answer_yes_or_no_never_fails() -> None:
    agreement = YesNoAgreement(
        {Q1: ["Short, factual, and low-drama."], "Mixed?": ["Yes, mostly.", "No, not always."]}
    )
    assert agreement.scores(Q1, ["No.", "Yes."]) == [0.0, 0.0]
    assert agreement.scores("Mixed?", ["No.", "Yes."]) == [0.0, 0.0]  # its answers disagree


@pytest.fixture
def yes_no_doc(tiny_doc: Path, mining_host: PluginHost, dlm_home: Path) -> Path:
    return first_adapter(tiny_doc, mining_host, dlm_home, YES_NO_RECORD)


def test_the_chosen_yes_against_the_documents_no_gives_way_to_the_next_best_pair(
    yes_no_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q3: ["Yes.", "No, never without one.", LONG_MAYBE]}
    outcome = mine(yes_no_doc, mining_host, dlm_home)
    (pair,) = [p for p in outcome.mined_pairs if p.prompt == Q3]
    assert (pair.chosen, pair.rejected) == ("No, never without one.", LONG_MAYBE)
    assert "contradicts_document" not in outcome.skipped
    with MetricsDB.open(store_of(yes_no_doc, dlm_home).metrics_path, readonly=True) as db:
        run = db.runs(kind="mine")[-1]
    assert run.config["yes_no_check"] is True and run.config["document_check"] is False


def test_with_no_passing_pair_the_prompt_is_skipped_and_counted(
    yes_no_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q3: ["Yes.", "No, it needs one approving review."]}
    outcome = mine(yes_no_doc, mining_host, dlm_home)
    assert [p for p in outcome.mined_pairs if p.prompt == Q3] == []
    assert outcome.skipped["contradicts_document"] == 1
    with MetricsDB.open(store_of(yes_no_doc, dlm_home).metrics_path, readonly=True) as db:
        run = db.runs(kind="mine")[-1]
        (event,) = [e for e in db.mining_events(run.id) if e.prompt == Q3]
    assert event.reason == "contradicts_document"
    assert "the other way" in event.data["detail"]


def test_turned_off_the_judges_pair_is_kept(
    yes_no_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q3: ["Yes.", "No, never without one.", LONG_MAYBE]}
    outcome = mine(yes_no_doc, mining_host, dlm_home, check_yes_no=False)
    (pair,) = [p for p in outcome.mined_pairs if p.prompt == Q3]
    assert (pair.chosen, pair.rejected) == ("Yes.", LONG_MAYBE)
