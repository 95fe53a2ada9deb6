"""SPIN-style pairs (``--pairs reference``): the document's answer against the adapter's worst.

The scripted ``terse`` judge (shorter is better) picks which candidate is
worst; the chosen answer is always the document's own, and the provenance
written into the document says so.
"""

from __future__ import annotations

from pathlib import Path

from dlm_core.document.io import read_document
from dlm_core.document.parser import parse
from dlm_core.document.provenance import MinedProvenance
from dlm_core.document.serializer import serialize
from dlm_core.mining.listing import mined_listing
from dlm_core.mining.pairing import Pairing, select_reference_pair
from dlm_core.mining.review import apply_staged, revert_mined
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.mining.selection import Candidate, MinedPair, Skip, SkipReason
from dlm_core.plugins import PluginHost
from dlm_core.workspace import Workspace

from .test_mine_run import Q1, Q2, review, store_of

ANSWER_1, ANSWER_2 = "Short, factual, and low-drama.", "Breaking changes."  # the tiny document's
RAMBLING = "Release notes should be long, enthusiastic and full of exciting adjectives!"


def mine_spin(path: Path, host: PluginHost, home: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    options = MineOptions(
        sampler="scripted", judge="terse", progress=False, pairs="reference", **kwargs
    )  # type: ignore[arg-type]
    return mine_document(Workspace(home, host, say=lambda m: None), path, options)


def test_the_chosen_answer_is_the_documents_and_the_rejected_the_worst_candidate(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler, judge
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {
        Q1: ["Short.", RAMBLING, "Factual."],
        Q2: ["Breaking changes first.", "x" * 40],
    }
    outcome = mine_spin(trained_doc, mining_host, dlm_home)
    assert [(p.prompt, p.chosen, p.rejected) for p in outcome.mined_pairs] == [
        (Q1, ANSWER_1, RAMBLING),
        (Q2, ANSWER_2, "x" * 40),
    ]
    assert judge.scored[0] == [ANSWER_1, "Short.", RAMBLING, "Factual."]  # the answer is scored too
    (pair,) = [p for p in outcome.mined_pairs if p.prompt == Q1]
    assert pair.score_chosen == -len(ANSWER_1) and pair.score_rejected == -len(RAMBLING)
    (plan,) = store_of(trained_doc, dlm_home).plans()
    assert plan.chosen_from == "document"


def test_a_candidate_that_repeats_the_documents_answer_is_never_rejected() -> None:
    pairing = Pairing("reference", 0.0, {"q": ["Within one working day."]})
    scores = {"Within one working day.": 1.0, "Within one working day!": -5.0, "In two days.": -1.0}

    def score(_prompt: str, texts: list[str]) -> list[float]:
        return [scores[t] for t in texts]

    pair = pairing.pair("q", ["Within one working day!", "In two days."], score, set())
    assert isinstance(pair, MinedPair)
    assert (pair.chosen.text, pair.rejected.text) == ("Within one working day.", "In two days.")
    learned = pairing.pair("q", ["Within one working day!"], score, set())
    assert isinstance(learned, Skip) and learned.reason is SkipReason.TOO_SIMILAR


def test_spin_pairs_say_so_in_the_document_and_read_back_unchanged(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: ["Short.", RAMBLING], Q2: ["First.", "x" * 40]}
    outcome = mine_spin(trained_doc, mining_host, dlm_home, apply=True)
    assert outcome.applied == 2
    text = trained_doc.read_text(encoding="utf-8")
    assert text.count('chosen_from="document"') == 2
    document = read_document(trained_doc)
    assert serialize(parse(text)) == text
    mined = [s for s in document.sections if s.auto_mined]
    assert all(isinstance(s.provenance, MinedProvenance) and s.provenance.is_spin for s in mined)
    listing = mined_listing(Workspace(dlm_home, mining_host), trained_doc)
    assert [(a.prompt, a.chosen, a.chosen_from) for a in listing.applied] == [
        (Q1, ANSWER_1, "document"),
        (Q2, ANSWER_2, "document"),
    ]
    assert review(revert_mined, trained_doc, mining_host, dlm_home) == 2


def test_staged_spin_plans_apply_with_their_provenance_and_judged_ones_without(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: ["Short.", RAMBLING], Q2: ["First.", "x" * 40]}
    mine_spin(trained_doc, mining_host, dlm_home)
    judged = mine_document(
        Workspace(dlm_home, mining_host, say=lambda m: None),
        trained_doc,
        MineOptions(sampler="scripted", judge="terse", progress=False),
    )
    assert judged.mined_pairs and store_of(trained_doc, dlm_home).plans()[-1].chosen_from is None
    review(apply_staged, trained_doc, mining_host, dlm_home)
    mined = [s.provenance for s in read_document(trained_doc).sections if s.auto_mined]
    assert [p.chosen_from for p in mined] == ["document", "document", None, None]  # type: ignore[union-attr]
    assert "chosen_from" not in mined[-1].to_json()  # type: ignore[union-attr]


def test_select_reference_pair_keeps_the_thresholds_rules() -> None:
    answer = Candidate("The document's answer.", 1.0)
    worse, close = Candidate("Wrong.", -2.0), Candidate("Nearly the answer.", 0.9)
    pair = select_reference_pair("q", answer, [close, worse], threshold=0.5)
    assert isinstance(pair, MinedPair) and pair.chosen is answer and pair.rejected is worse
    below = select_reference_pair("q", answer, [close], threshold=0.5)
    assert isinstance(below, Skip) and below.reason is SkipReason.BELOW_THRESHOLD
    above = select_reference_pair("q", answer, [Candidate("Better?", 3.0)], threshold=0.0)
    assert isinstance(above, Skip) and "at least as high" in above.detail
    none = select_reference_pair("q", answer, [], threshold=0.0)
    assert isinstance(none, Skip) and none.reason is SkipReason.TOO_SIMILAR
    present = select_reference_pair("q", answer, [worse], threshold=0.0, existing={pair.key})
    assert isinstance(present, Skip) and present.reason is SkipReason.ALREADY_PRESENT
